"""Small labelled folders written with Pillow: the product's own texture pair (``core.textures``)."""

from resnet_studio.core.textures import texture, texture_folder  # noqa: F401 - re-exported for the tests
