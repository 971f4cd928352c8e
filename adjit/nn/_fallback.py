"""Stand-ins for `adjit.tracer.nn_functional` while it has not landed: the layers that need
no primitive of their own, written with numpy calls (so they run on arrays and tracers)."""
from __future__ import annotations

from typing import Any

import numpy as np


def linear(x: Any, w: Any, b: Any = None) -> Any:
    y = np.matmul(x, np.swapaxes(w, -1, -2))
    return y if b is None else y + b


def relu(x: Any) -> Any:
    return np.maximum(x, np.zeros((), x.dtype))


def sigmoid(x: Any) -> Any:
    return 1 / (1 + np.exp(-x))


def softmax(x: Any, dim: int = -1) -> Any:
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return e / np.sum(e, axis=dim, keepdims=True)


def log_softmax(x: Any, dim: int = -1) -> Any:
    shifted = x - np.max(x, axis=dim, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))


def _reduce(v: Any, reduction: str) -> Any:
    if reduction == "mean":
        return np.mean(v)
    if reduction == "sum":
        return np.sum(v)
    return v


def cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Any:
    logp = log_softmax(logits, 0 if logits.ndim == 1 else 1)
    if logits.ndim == 1:
        return -np.take_along_axis(logp, np.reshape(target, (1,)), axis=0)[0]
    picked = np.squeeze(np.take_along_axis(logp, np.expand_dims(target, 1), axis=1), axis=1)
    return _reduce(-picked, reduction)


def mse_loss(x: Any, target: Any, reduction: str = "mean") -> Any:
    d = x - target
    return _reduce(d * d, reduction)


def batch_norm(x: Any, running_mean: Any, running_var: Any, weight: Any = None,
               bias: Any = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Any:
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    y = (x - np.reshape(running_mean, shape)) / np.sqrt(np.reshape(running_var, shape) + eps)
    if weight is not None:
        y = y * np.reshape(weight, shape)
    if bias is not None:
        y = y + np.reshape(bias, shape)
    return y


def _missing(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError("convolution and pooling need adjit.tracer.nn_functional")


conv2d = max_pool2d = avg_pool2d = adaptive_avg_pool2d = _missing
