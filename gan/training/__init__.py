"""Training: the networks of every preset, the losses and augmentations, the step (one
definition for TensorFlow and JAX), its distribution and precision, and the loop that
writes a run's grids, checkpoints and logs."""
