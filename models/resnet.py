"""The residual network family: one BasicBlock, one Bottleneck, one ResNet.

State-dict names match torchvision's, so its checkpoints load with strict=True.
ResNeXt and Wide ResNet are Bottleneck networks with other ``groups`` and
``width_per_group``; the small CIFAR-style networks of He et al. (2015, §4.2)
are the same class with a 3x3 stem, no max-pool and three stages.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor, nn

NormLayer = Callable[[int], nn.Module]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(
        in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
        groups=groups, bias=False, dilation=dilation,
    )


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """3x3 -> 3x3, with the shortcut added before the last ReLU."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: NormLayer | None = None,
        stride_in_1x1: bool = False,
        residual: bool = True,
    ) -> None:
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock supports only groups=1 and base_width=64")
        if dilation > 1:
            raise ValueError("BasicBlock does not support dilation")
        norm_layer = norm_layer or nn.BatchNorm2d
        # stride_in_1x1 is meaningless here (no 1x1 conv); accepted to keep one signature.
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride
        self.residual = residual

    def branch(self, x: Tensor) -> Tensor:
        """F(x): the residual function, up to its last BN, before the addition."""
        return self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))

    def shortcut(self, x: Tensor) -> Tensor:
        return x if self.downsample is None else self.downsample(x)

    def forward(self, x: Tensor) -> Tensor:
        out = self.branch(x)
        if self.residual:
            out = out + self.shortcut(x)
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (grouped for ResNeXt) -> 1x1, expanding channels by 4.

    By default the stride sits on the 3x3 conv ("ResNet v1.5", torchvision);
    ``stride_in_1x1=True`` moves it to the first 1x1 conv as in the paper.
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: NormLayer | None = None,
        stride_in_1x1: bool = False,
        residual: bool = True,
    ) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        stride_1x1, stride_3x3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(inplanes, width, stride_1x1)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride_3x3, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        self.residual = residual

    def branch(self, x: Tensor) -> Tensor:
        """F(x): the residual function, up to its last BN, before the addition."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))

    def shortcut(self, x: Tensor) -> Tensor:
        return x if self.downsample is None else self.downsample(x)

    def forward(self, x: Tensor) -> Tensor:
        out = self.branch(x)
        if self.residual:
            out = out + self.shortcut(x)
        return self.relu(out)


Block = type[BasicBlock] | type[Bottleneck]


class ResNet(nn.Module):
    """A stem, ``len(layers)`` stages of residual blocks, global pooling and a linear head.

    ``stem="imagenet"`` is the 7x7/2 conv plus 3x3/2 max-pool of the ImageNet models;
    ``stem="small"`` is the 3x3/1 conv with no pooling used for 28-32 px inputs.
    ``width_per_group`` counts the channels of one group in the first stage (64 for
    ResNet-50, 4 for ResNeXt-50 32x4d); it defaults to ``stage_planes[0]``.
    ``residual=False`` drops every shortcut, projections included: the "plain"
    networks of He et al. (2015, Fig. 3 and 6) that show the degradation problem.
    """

    def __init__(
        self,
        block: Block,
        layers: Sequence[int],
        num_classes: int = 1000,
        zero_init_residual: bool = False,
        groups: int = 1,
        width_per_group: int | None = None,
        stage_planes: Sequence[int] = (64, 128, 256, 512),
        stem: str = "imagenet",
        in_channels: int = 3,
        stride_in_1x1: bool = False,
        norm_layer: NormLayer | None = None,
        residual: bool = True,
    ) -> None:
        super().__init__()
        if len(layers) != len(stage_planes):
            raise ValueError(f"{len(layers)} stage depths given for {len(stage_planes)} stage widths")
        if stem not in ("imagenet", "small"):
            raise ValueError(f"unknown stem {stem!r}: expected 'imagenet' or 'small'")
        self._norm_layer = norm_layer or nn.BatchNorm2d
        self.groups = groups
        # Blocks measure width against 64 planes, as torchvision's do; rescale for narrower stems.
        self.base_width = (width_per_group or stage_planes[0]) * 64 // stage_planes[0]
        self.stride_in_1x1 = stride_in_1x1
        self.residual = residual
        self.inplanes = stage_planes[0]

        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
            self.maxpool: nn.Module = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        else:
            self.conv1 = conv3x3(in_channels, self.inplanes)
            self.maxpool = nn.Identity()
        self.bn1 = self._norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)

        self.stage_names: list[str] = []
        for index, (planes, depth) in enumerate(zip(stage_planes, layers)):
            name = f"layer{index + 1}"
            setattr(self, name, self._make_layer(block, planes, depth, stride=1 if index == 0 else 2))
            self.stage_names.append(name)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(self.inplanes, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            # Each block then starts as the identity, which helps deep nets early in training.
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block: Block, planes: int, blocks: int, stride: int) -> nn.Sequential:
        norm_layer = self._norm_layer
        downsample = None
        if self.residual and (stride != 1 or self.inplanes != planes * block.expansion):
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                norm_layer(planes * block.expansion),
            )
        shared = dict(
            groups=self.groups, base_width=self.base_width, norm_layer=norm_layer,
            stride_in_1x1=self.stride_in_1x1, residual=self.residual,
        )
        stage = [block(self.inplanes, planes, stride, downsample, **shared)]
        self.inplanes = planes * block.expansion
        stage.extend(block(self.inplanes, planes, **shared) for _ in range(1, blocks))
        return nn.Sequential(*stage)

    def stages(self) -> list[nn.Sequential]:
        return [getattr(self, name) for name in self.stage_names]

    def forward_features(self, x: Tensor) -> Tensor:
        """Everything up to global pooling: the last stage's feature map."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in self.stages():
            x = stage(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        x = self.forward_features(x)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)
