"""DCGAN studio: train the classic Keras DCGAN recipe on a folder of images.

Modules: `config` (settings), `data` (images in), `models` (networks), `gan` (the
training step), `trainer` (the loop), `run_dir` (files of a run), `images` (grids),
`training_log` (text log and TensorBoard), `runtime` (TensorFlow set-up).
"""
