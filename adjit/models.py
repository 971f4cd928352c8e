"""`adjit.models`: torchvision's ResNets, built from `adjit.nn` with random weights.

The architecture, the module names (`conv1`, `layer1.0.bn2`, `layer2.0.downsample.0`,
`fc`) and the initialization are torchvision's (resnet.py), so a torchvision state dict
loads into it (`model.load_state_dict({k: v.numpy() ...})`) and `resnet18()` has
torchvision's 11,689,512 parameters. No pretrained weights ship with adjit and nothing is
downloaded: asking for them warns and keeps the random weights.
"""
from __future__ import annotations

import warnings
from typing import Any

from . import nn

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet34", "resnet50"]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1,
                     bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, and the input added back (through a 1x1
    convolution when the shape changes)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Any) -> Any:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)  # torchvision writes `out += identity`


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (by 4), with the input added back."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Any) -> Any:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """A 7x7 stride-2 stem with max pooling, four stages of residual blocks (64, 128, 256,
    512 planes; stride 2 from the second), global average pooling and a linear classifier."""

    def __init__(self, block: type, layers: list[int], num_classes: int = 1000,
                 zero_init_residual: bool = False) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block: type, planes: int, blocks: int,
                    stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers.extend(block(self.inplanes, planes) for _ in range(1, blocks))
        return nn.Sequential(*layers)

    def forward(self, x: Any) -> Any:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x)
        x = nn.functional.flatten(x, 1)
        return self.fc(x)


def _resnet(block: type, layers: list[int], weights: Any, pretrained: bool,
            kwargs: dict[str, Any]) -> ResNet:
    kwargs.pop("progress", None)
    if pretrained or weights is not None:
        warnings.warn("adjit ships no pretrained weights and downloads nothing: the model "
                      "keeps its random initial weights (load a state dict to use trained "
                      "ones)", UserWarning, stacklevel=3)
    return ResNet(block, layers, **kwargs)


def resnet18(weights: Any = None, progress: bool = True, *, pretrained: bool = False,
             **kwargs: Any) -> ResNet:
    """torchvision's ResNet-18: BasicBlocks [2, 2, 2, 2]; `num_classes=1000`."""
    return _resnet(BasicBlock, [2, 2, 2, 2], weights, pretrained, kwargs)


def resnet34(weights: Any = None, progress: bool = True, *, pretrained: bool = False,
             **kwargs: Any) -> ResNet:
    """torchvision's ResNet-34: BasicBlocks [3, 4, 6, 3]."""
    return _resnet(BasicBlock, [3, 4, 6, 3], weights, pretrained, kwargs)


def resnet50(weights: Any = None, progress: bool = True, *, pretrained: bool = False,
             **kwargs: Any) -> ResNet:
    """torchvision's ResNet-50: Bottlenecks [3, 4, 6, 3]."""
    return _resnet(Bottleneck, [3, 4, 6, 3], weights, pretrained, kwargs)
