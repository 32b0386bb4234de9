"""gannotes: the tested package behind a course on Generative Adversarial Networks.

Modules, one concept each: ``data`` (Fashion-MNIST offline, 2-D toy sets), ``models`` (MLP and
DCGAN), ``losses`` (the GAN objective), ``tricks`` (the training tips, each a small piece),
``training`` (the adversarial step and a resumable loop), ``checkpoint`` (atomic files, safe
loading), ``metrics`` (FID, KID, precision/recall, density/coverage, IS, mode coverage),
``features`` (our Fashion-MNIST feature network), ``evaluation`` (scoring samples),
``quality`` (memorisation check, the real-or-fake game), ``viz`` (grids, curves, animations),
``widgets`` (the in-notebook GAN Lab), ``hardware`` (CPU threads) and ``cli``
(``python -m gannotes``). Importing it needs no Jupyter.
"""

__version__ = "0.1.0"
