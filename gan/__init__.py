"""DCGAN studio: train the classic Keras DCGAN recipe on a folder of images.

The package is layered; a module imports only from its own layer and the layers above it
in this list (tests/test_layout.py walks every import to keep it so):

    errors, runtime   the user-facing exceptions; TensorFlow's quiet start-up
    settings          no Keras: allowed values, the recipe's numbers, presets, TrainConfig
    runs              the files of a run: folder, checkpoints, atomic writes, the text log
    data              images in: decoding, folders, tf.data batch streams
    pictures          grids, GIFs and videos, plots, diagrams, latent-space walks
    evaluation        the FID Inception network, FID/KID/precision/recall, the evaluator
    export            a trained generator as SavedModel, ONNX, TFLite or a static web page
    training          networks, losses, the step, engines, distribution, the loop
    web               the local page that makes faces: app, face maker, page
    cli               what the top-level scripts share: one-line errors, exit codes
"""
