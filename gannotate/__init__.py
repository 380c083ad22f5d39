"""gannotate: turn a folder of unlabeled photos into a foreground/background segmenter, with the GAN-based
unsupervised segmentation methods of five papers under one interface and one evaluation protocol.

Where to start (README.md, the rendering of nbs/index.ipynb, has the whole quick start):

    from gannotate.methods import METHODS, fit_method, load_segmenter
    sorted(METHODS)                                   # every method, GAN pipelines included
    seg = fit_method('grabcut', 'my_photos/')         # a folder of images (or a dataset) -> Segmenter
    seg.save('seg.pt')                                # shell: gannotate-segment --checkpoint seg.pt --input DIR --output DIR

Modules: core (conventions, I/O), data (datasets), metrics (evaluate), methods (the interface and the baselines),
benchmark (run_benchmark), cli (gannotate-segment), and one module per pipeline (layered_gan, move,
latent_directions, affine_search, labels4free). This file is written by hand; nbdev_export only updates the
__version__ line below (settings.ini: put_version_in_init).
"""
__version__ = "0.1.0"
