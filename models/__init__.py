"""The ResNet/ResNeXt family in PyTorch, with torchvision-compatible state dicts."""

from .registry import VARIANTS, Variant, build_model, get_variant
from .resnet import BasicBlock, Bottleneck, ResNet
from .structure import count_macs, count_params, describe

__all__ = ["VARIANTS", "Variant", "build_model", "get_variant", "BasicBlock", "Bottleneck", "ResNet",
           "describe", "count_params", "count_macs"]
