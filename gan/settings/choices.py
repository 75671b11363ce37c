"""The allowed values of every enumerated setting, each in one place: TrainConfig
validates against them, the command line lists them in --help, and the modules that act
on them (named beside each) take their meaning from the same tuple."""

INITS = ("glorot", "dcgan")  # gan.training.networks: Keras' default, or N(0, 0.02)
UPSAMPLES = ("transpose", "bilinear")  # gan.training.networks: how a generator doubles its size
ON_NAN = ("stop", "skip")  # gan.training.loop
ON_TROUBLE = ("warn", "stop", "rollback")  # gan.training.health and gan.training.rollback
AUGMENT_POLICIES = ("color", "translation", "cutout")  # gan.training.augment.AUGMENTATIONS
LOSS_NAMES = ("bce", "logits", "hinge", "wgan-clip")  # gan.training.losses
DISTRIBUTE_MODES = ("off", "mirrored", "multiworker")  # gan.training.distribute
DATA_CACHES = ("memory", "none")  # gan.data.folders.open_training_data
PRECISIONS = ("auto", "off", "mixed_bfloat16", "mixed_float16")  # gan.training.precision
SCHEDULES = ("recipe", "summed", "generator_first", "simultaneous")  # gan.training.step: the order of a step's updates
