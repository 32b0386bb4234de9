"""gannotes: the tested package behind a course on Generative Adversarial Networks.

Modules, one concept each: ``data`` (Fashion-MNIST offline, 2-D toy sets), ``models`` (one file
per architecture: MLP, DCGAN, conditional DCGAN, pix2pix's U-Net and PatchGAN, CycleGAN's
ResNet generator, StyleGAN's style-based generator), ``losses`` (GAN
objectives and regularisers), ``tricks`` (the training tips, each a small piece), ``config``
(knobs: each training option declared once), ``gans`` (GAN families: what one training step
means, one file each), ``training`` (the Trainer: time and state of a run, for every family),
``checkpoint`` (atomic files, safe loading), ``metrics`` (FID, KID, precision/recall,
density/coverage, IS, mode coverage, label accuracy, FID per class), ``classifiers`` (GAN-train:
classifiers trained on generated images), ``edges`` (the edge maps of the edges -> garment
task), ``translation`` (scoring translations against hidden partners, checkerboards,
hidden codes), ``style`` (StyleGAN's latent-space measurements: truncated z, perceptual path
length, redraw std), ``features`` (our Fashion-MNIST feature network), ``evaluation`` (scoring samples),
``quality`` (memorisation check, the real-or-fake game), ``viz`` (grids, curves, animations),
``widgets`` (the in-notebook GAN Lab), ``exercises`` (checks for the notebooks' exercises),
``wasserstein`` (W1 in closed form and a critic that estimates it), ``hardware`` (CPU threads),
``bench`` (steps/s, memory, profiles, data loading, live readings), ``parallel`` (data-parallel
training under torchrun), ``detection`` (a real-vs-generated detector and image degradations),
``privacy`` (the memorisation audit, membership inference), ``fairness`` (class shares, skewed
and rebalanced data, z-truncation), ``watermark`` (a keyed invisible watermark and its
detector), ``card`` (model cards, measured) and ``cli`` (``python -m gannotes``). Importing it
needs no Jupyter.
"""

__version__ = "0.1.0"
