"""The ResNet/ResNeXt family in PyTorch, with torchvision-compatible state dicts.

Names load lazily, so reading the registry (``resnet-export --list``) does not import torch.
"""

from importlib import import_module

_EXPORTS = {
    "VARIANTS": "registry", "Variant": "registry", "build_model": "registry", "get_variant": "registry",
    "BasicBlock": "resnet", "Bottleneck": "resnet", "ResNet": "resnet",
    "describe": "structure",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
