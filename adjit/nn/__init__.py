"""`adjit.nn`: PyTorch's modules and layers, on adjit's recorded Tensors.

    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    loss = nn.functional.cross_entropy(model(x), labels)
    loss.backward()                    # one compiled backward, cached across steps

Modules hold `Parameter`s (Tensors that require gradients); their `forward` calls
`adjit.nn.functional`, which records one node per layer on Tensors and runs directly on
numpy arrays and on tracers, so a model also works inside `@adjit.grad` functions.
"""
from . import functional, init
from .containers import ModuleDict, ModuleList, Sequential
from .layers import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    MaxPool2d,
    MSELoss,
    NLLLoss,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .module import Module, Parameter

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d",
           "CrossEntropyLoss", "Dropout", "Flatten", "Identity", "LeakyReLU", "Linear",
           "LogSoftmax", "MSELoss", "MaxPool2d", "Module", "ModuleDict", "ModuleList",
           "NLLLoss", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh",
           "functional", "init"]
