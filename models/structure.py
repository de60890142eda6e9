"""A built network as data: stem -> stages -> blocks -> layers, with shapes, params and MACs.

This JSON-serialisable description is what an exported ONNX file carries and what
the app draws, so it must not need torch to read. MACs count the multiply-accumulates
of convolutions and the final linear layer, the convention of torchvision's GMACs.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from resnet_studio.core.architecture import SCHEMA_VERSION

from .resnet import BasicBlock, Bottleneck, ResNet



def _out_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class _Tracer:
    """Follows the feature-map shape through the modules it is shown, recording each as a layer."""

    def __init__(self, channels: int, height: int, width: int) -> None:
        self.shape = [channels, height, width]

    def layer(self, name: str, module: nn.Module) -> dict[str, Any]:
        c, h, w = self.shape
        entry: dict[str, Any] = {"name": name}
        if isinstance(module, nn.Conv2d):
            k, s, p, d = module.kernel_size[0], module.stride[0], module.padding[0], module.dilation[0]
            h, w = _out_size(h, k, s, p, d), _out_size(w, k, s, p, d)
            out = module.out_channels
            entry.update(kind="conv", in_channels=c, out_channels=out, kernel=k, stride=s, groups=module.groups,
                         macs=out * h * w * (c // module.groups) * k * k)
            c = out
        elif isinstance(module, nn.MaxPool2d):
            k, s, p = module.kernel_size, module.stride, module.padding
            h, w = _out_size(h, k, s, p), _out_size(w, k, s, p)
            entry.update(kind="maxpool", in_channels=c, out_channels=c, kernel=k, stride=s, groups=1, macs=0)
        elif isinstance(module, nn.ReLU):
            entry.update(kind="relu", in_channels=c, out_channels=c, kernel=1, stride=1, groups=1, macs=0)
        else:  # the injectable norm layer
            entry.update(kind="norm", norm=type(module).__name__, in_channels=c, out_channels=c,
                         kernel=1, stride=1, groups=1, macs=0)
        entry["params"] = _params(module)
        self.shape = [c, h, w]
        entry["output_shape"] = list(self.shape)
        return entry


def _block(name: str, block: BasicBlock | Bottleneck, shape: list[int]) -> dict[str, Any]:
    main = _Tracer(*shape)
    convs = ["conv1", "conv2"] + (["conv3"] if isinstance(block, Bottleneck) else [])
    layers = []
    for index, conv in enumerate(convs):
        layers.append(main.layer(f"{name}.{conv}", getattr(block, conv)))
        layers.append(main.layer(f"{name}.bn{index + 1}", getattr(block, f"bn{index + 1}")))
        if index < len(convs) - 1:
            layers.append(main.layer(f"{name}.relu", block.relu))
    if not block.residual:
        shortcut: dict[str, Any] = {"type": "none", "stride": 1, "layers": []}
    elif block.downsample is None:
        shortcut = {"type": "identity", "stride": 1, "layers": []}
    else:
        side = _Tracer(*shape)
        projection = [side.layer(f"{name}.downsample.{i}", m) for i, m in enumerate(block.downsample)]
        shortcut = {"type": "projection", "stride": block.downsample[0].stride[0], "layers": projection}
    if block.residual:
        layers.append({"name": f"{name}.add", "kind": "add", "in_channels": main.shape[0],
                       "out_channels": main.shape[0], "kernel": 1, "stride": 1, "groups": 1, "macs": 0,
                       "params": 0, "output_shape": list(main.shape)})
    layers.append(main.layer(f"{name}.relu_out", block.relu))
    conv2 = block.conv2
    return {
        "name": name, "type": type(block).__name__, "in_channels": shape[0], "out_channels": main.shape[0],
        "width": conv2.out_channels, "stride": block.stride, "groups": conv2.groups,
        "layers": layers, "shortcut": shortcut, "output_shape": list(main.shape),
        "params": _params(block),
        "macs": sum(layer["macs"] for layer in layers) + sum(layer["macs"] for layer in shortcut["layers"]),
    }


def describe(model: ResNet, input_size: int | tuple[int, int], in_channels: int | None = None,
             variant: str | None = None) -> dict[str, Any]:
    """Describe ``model`` for an input of ``input_size`` (square int or (H, W))."""
    height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
    channels = in_channels or model.conv1.in_channels
    stem = _Tracer(channels, height, width)
    stem_layers = [stem.layer("conv1", model.conv1), stem.layer("bn1", model.bn1), stem.layer("relu", model.relu)]
    if isinstance(model.maxpool, nn.MaxPool2d):
        stem_layers.append(stem.layer("maxpool", model.maxpool))
    stem_entry = {"name": "stem", "layers": stem_layers, "output_shape": list(stem.shape),
                  "params": sum(layer["params"] for layer in stem_layers),
                  "macs": sum(layer["macs"] for layer in stem_layers)}
    shape = list(stem.shape)
    stages = []
    for stage_name, stage in zip(model.stage_names, model.stages()):
        blocks = []
        for index, block in enumerate(stage):
            blocks.append(_block(f"{stage_name}.{index}", block, shape))
            shape = blocks[-1]["output_shape"]
        stages.append({"name": stage_name, "blocks": blocks, "output_shape": list(shape),
                       "params": sum(b["params"] for b in blocks), "macs": sum(b["macs"] for b in blocks)})
    fc = model.fc
    head = {"name": "head", "layers": [
        {"name": "avgpool", "kind": "avgpool", "in_channels": shape[0], "out_channels": shape[0], "kernel": 0,
         "stride": 1, "groups": 1, "macs": 0, "params": 0, "output_shape": [shape[0]]},
        {"name": "fc", "kind": "linear", "in_channels": fc.in_features, "out_channels": fc.out_features,
         "kernel": 1, "stride": 1, "groups": 1, "macs": fc.in_features * fc.out_features,
         "params": _params(fc), "output_shape": [fc.out_features]},
    ], "output_shape": [fc.out_features], "params": _params(fc), "macs": fc.in_features * fc.out_features}
    first = model.stages()[0][0]
    return {
        "schema": SCHEMA_VERSION,
        "variant": variant,
        "block": type(first).__name__,
        "stride_in_1x1": bool(getattr(model, "stride_in_1x1", False)),
        "residual": model.residual,
        "input_shape": [channels, height, width],
        "stem": stem_entry,
        "stages": stages,
        "head": head,
        "num_classes": fc.out_features,
        "params": _params(model),
        "macs": stem_entry["macs"] + sum(s["macs"] for s in stages) + head["macs"],
    }
