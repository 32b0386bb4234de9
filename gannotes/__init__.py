"""gannotes: the tested package behind a course on Generative Adversarial Networks.

Modules, one concept each: ``data`` (Fashion-MNIST offline, 2-D toy sets), ``models`` (MLP and
DCGAN), ``losses`` (the GAN objective), ``training`` (the adversarial step and a resumable loop),
``checkpoint`` (atomic files, safe loading), ``viz`` (grids, curves, animations, widgets) and
``cli`` (``python -m gannotes``). Importing it needs no Jupyter.
"""

__version__ = "0.1.0"
