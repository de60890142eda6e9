"""Bounds that model files, images and command-line arguments are held to; one place, read by all."""

MAX_MODEL_BYTES = 2 * 1024**3
# The architecture of wide_resnet101_2 is the largest metadata we write (about 0.3 MB of JSON).
MAX_METADATA_BYTES = 8 * 1024**2
MAX_CLASSES = 100_000  # ImageNet-21k has 21,843
MAX_LABEL_CHARS = 500
MAX_INPUT_SIDE = 4096
# Fitting an int8 twin or the out-of-distribution warning to a user's folder needs at least this many images.
MIN_CALIBRATION_IMAGES = 64
