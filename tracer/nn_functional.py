"""Neural-network functions in PyTorch's `torch.nn.functional` spelling, for traced code.

Each function takes adjit Tracers (inside `@adjit.grad`, `adjit.jit`, ...) or plain numpy
arrays (then it computes with numpy), and is written against the numpy surface (`np.*`
calls, which dispatch on Tracers) plus the convolution and pooling primitives of
ir/prims/conv.py, which `_prim` emits on tracers or runs with their numpy `impl` on arrays.
The recorded Tensor API runs these same functions on tracers.

Layouts and conventions are PyTorch's: images NCHW, weights OIHW, `stride`/`padding`/`kernel_size`
an int or a pair, integer class targets, `reduction='mean'`. Differences:
- `batch_norm` returns `(y, new_running_mean, new_running_var)` instead of updating the
  running statistics in place (traced code has no in-place updates): in training mode they
  are `(1 - momentum) * running + momentum * batch`, the batch variance unbiased, as
  PyTorch's; in evaluation mode they are the running statistics passed in.
- `cross_entropy` with class targets compares them with every class (a one-hot mask) instead
  of indexing: a target outside [0, C) that is not `ignore_index` contributes 0 where PyTorch
  raises (concrete numpy targets are checked and raise IndexError).
- Operands of mixed float dtypes are promoted, as numpy does (PyTorch raises).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from adjit.ir import PRIMS, ArrayType, context, emit

from . import kernels
from .loc import user_loc
from .values import Tracer, unwrap

IntPair = int | Sequence[int]


def _traced(*xs: Any) -> bool:
    return any(isinstance(x, Tracer) for x in xs)


def _prim(name: str, *xs: Any, **params: Any) -> Any:
    """Apply primitive `name`: emitted as IR when any operand is traced, else its numpy impl
    (or the faster kernel the runtime installed for it, tracer/kernels.py). Float operands
    are promoted to one dtype (integers to float64) first."""
    floats = [np.dtype(x.dtype) for x in xs if np.dtype(x.dtype).kind == "f"]
    if name != "gather":
        dt = np.result_type(*floats) if floats else np.dtype(np.float64)
        xs = tuple(x if np.dtype(x.dtype) == dt else x.astype(dt) for x in xs)
    if not _traced(*xs):
        arrays = [np.asarray(x) for x in xs]
        fast = kernels.kernel(name)
        if fast is not None:
            prim = PRIMS[name]
            out = prim.out_types(tuple(ArrayType.of(a) for a in arrays), params)
            if len(out) == 1:
                return kernels.call(fast, out[0], arrays, params)
        return np.asarray(PRIMS[name].impl(*arrays, **params))
    with context(loc=user_loc(2)):
        return Tracer(emit(name, *[unwrap(x) for x in xs], **params))


def _stop(x: Any) -> Any:
    """x with no derivative (running statistics, softmax's shift)."""
    return _prim("stop_gradient", x) if _traced(x) else x


def _pair(v: IntPair, what: str) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    t = tuple(int(a) for a in v)
    if len(t) != 2:
        raise ValueError(f"{what} must be an int or a pair of ints, got {v!r}")
    return t


def _array(x: Any) -> Any:
    return x if isinstance(x, Tracer) or hasattr(x, "dtype") else np.asarray(x)


def _expect_4d(x: Any, what: str) -> None:
    if len(x.shape) != 4:
        raise ValueError(f"{what} expects a 4-d input (N, C, H, W), got shape {tuple(x.shape)}")


def _no(what: str, **unsupported: tuple[Any, Any]) -> None:
    for name, (value, default) in unsupported.items():
        if value != default:
            raise NotImplementedError(f"{what}: {name}={value!r} is not supported (only "
                                      f"{default!r})")


# ---- convolution and pooling ------------------------------------------------------------------

def conv2d(x: Any, w: Any, b: Any = None, stride: IntPair = 1, padding: IntPair = 0,
           dilation: IntPair = 1, groups: int = 1) -> Any:
    """2-d convolution (cross-correlation, as PyTorch's) of x (N, C, H, W) with w
    (O, C, KH, KW), zero padding, plus the bias b (O,) if given: (N, O, OH, OW)."""
    _no("conv2d", dilation=(_pair(dilation, "dilation"), (1, 1)), groups=(groups, 1))
    if isinstance(padding, str):
        raise NotImplementedError("conv2d: padding must be integers ('same'/'valid' are not "
                                  "supported)")
    x, w = _array(x), _array(w)
    _expect_4d(x, "conv2d")
    y = _prim("conv2d", x, w, stride=_pair(stride, "stride"), padding=_pair(padding, "padding"))
    if b is not None:
        y = y + np.reshape(b, (1, -1, 1, 1))
    return y


def _pool_params(kernel_size: IntPair, stride: IntPair | None,
                 padding: IntPair) -> dict[str, tuple[int, int]]:
    k = _pair(kernel_size, "kernel_size")
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else \
        _pair(stride, "stride")
    return {"kernel": k, "stride": s, "padding": _pair(padding, "padding")}


def max_pool2d(x: Any, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0, dilation: IntPair = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """The maximum of each window (padding never wins). The gradient goes to the window's
    first maximum (PyTorch's rule): the value is a gather at `max_pool2d_index`, whose
    gradient is a scatter-add onto those places."""
    _no("max_pool2d", dilation=(_pair(dilation, "dilation"), (1, 1)),
        ceil_mode=(ceil_mode, False), return_indices=(return_indices, False))
    x = _array(x)
    _expect_4d(x, "max_pool2d")
    if np.dtype(x.dtype).kind != "f":
        x = x.astype(np.float64)
    index = _prim("max_pool2d_index", x, **_pool_params(kernel_size, stride, padding))
    return _prim("gather", np.reshape(x, (-1,)), index, axis=0)


def avg_pool2d(x: Any, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Any:
    """The mean of each window; padded zeros count unless `count_include_pad=False`."""
    _no("avg_pool2d", ceil_mode=(ceil_mode, False))
    x = _array(x)
    _expect_4d(x, "avg_pool2d")
    p = _pool_params(kernel_size, stride, padding)
    y = _prim("avg_pool2d", x, **p)
    area = p["kernel"][0] * p["kernel"][1]
    if divisor_override is not None:
        return y * (area / divisor_override)
    if not count_include_pad and any(p["padding"]):
        # area / (the number of places of each window inside the image): a constant
        counts = PRIMS["avg_pool2d"].impl(np.ones((1, 1) + tuple(x.shape[2:])), **p) * area
        y = y * (area / counts).astype(y.dtype)
    return y


def adaptive_avg_pool2d(x: Any, output_size: IntPair) -> Any:
    """Mean pooling to `output_size`: 1 (global average pooling, a mean over H and W) or a
    size that divides the input's."""
    x = _array(x)
    _expect_4d(x, "adaptive_avg_pool2d")
    oh, ow = _pair(output_size, "output_size")
    h, w = x.shape[2:]
    if (oh, ow) == (1, 1):
        return np.mean(x, axis=(2, 3), keepdims=True)
    if h % oh or w % ow:
        raise NotImplementedError(f"adaptive_avg_pool2d: output size {(oh, ow)} must divide "
                                  f"the input size {(h, w)}")
    return avg_pool2d(x, (h // oh, w // ow))


# ---- normalization and activations ------------------------------------------------------------

def batch_norm(x: Any, running_mean: Any, running_var: Any, weight: Any = None,
               bias: Any = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> tuple[Any, Any, Any]:
    """Batch normalization over every axis but 1 (the channels): returns
    `(y, new_running_mean, new_running_var)` (see the module docstring).

    Training: y = (x - mean) / sqrt(var + eps) * weight + bias with the batch's mean and
    biased variance; the running statistics move towards the batch's (variance unbiased,
    n / (n - 1)) and carry no gradient. Evaluation: the running statistics normalize."""
    x = _array(x)
    c = x.shape[1]
    axes = (0,) + tuple(range(2, len(x.shape)))
    shape = (1, c) + (1,) * (len(x.shape) - 2)
    if training:
        if momentum is None:
            raise NotImplementedError("batch_norm: momentum=None (a cumulative average) is "
                                      "not supported")
        mean = np.mean(x, axis=axes)
        d = x - np.reshape(mean, shape)
        var = np.mean(d * d, axis=axes)
        n = x.size // c
        if running_mean is not None:
            running_mean = (1 - momentum) * running_mean + momentum * _stop(mean)
        if running_var is not None:
            unbiased = _stop(var) * (n / max(n - 1, 1))
            running_var = (1 - momentum) * running_var + momentum * unbiased
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm in evaluation mode needs running_mean and running_var")
        d = x - np.reshape(running_mean, shape)
        var = running_var
    scale = 1 / np.sqrt(np.reshape(var, shape) + eps)
    if weight is not None:
        scale = scale * np.reshape(weight, shape)
    y = d * scale
    if bias is not None:
        y = y + np.reshape(bias, shape)
    return y, running_mean, running_var


def relu(x: Any) -> Any:
    """PyTorch's relu, the `relu` primitive: max(x, 0) with NaN kept and relu(-0.0) = -0.0,
    its derivative 0 where x <= 0 (not a tie split) and 1 elsewhere, NaN included. One
    elementwise operation, which fuses as any other. Integers: np.maximum, exact for them."""
    x = _array(x)
    if np.dtype(x.dtype).kind != "f":
        return np.maximum(x, np.zeros((), x.dtype))
    return _prim("relu", x)


def linear(x: Any, w: Any, b: Any = None) -> Any:
    """x @ w.T + b, w of shape (out_features, in_features)."""
    y = _array(x) @ np.transpose(_array(w))
    return y if b is None else y + b


def softmax(x: Any, dim: int = -1) -> Any:
    """exp(x) / sum(exp(x)) along `dim`, shifted by the (gradient-free) maximum."""
    x = _array(x)
    e = np.exp(x - _stop(np.max(x, axis=dim, keepdims=True)))
    return e / np.sum(e, axis=dim, keepdims=True)


def log_softmax(x: Any, dim: int = -1) -> Any:
    """x - log(sum(exp(x))) along `dim`, computed stably."""
    x = _array(x)
    z = x - _stop(np.max(x, axis=dim, keepdims=True))
    return z - np.log(np.sum(np.exp(z), axis=dim, keepdims=True))


def _reduce(loss: Any, reduction: str, count: Any = None) -> Any:
    if reduction == "mean":
        return np.sum(loss) / count if count is not None else np.mean(loss)
    if reduction == "sum":
        return np.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


def cross_entropy(logits: Any, target: Any, reduction: str = "mean",
                  ignore_index: int = -100, weight: Any = None,
                  label_smoothing: float = 0.0) -> Any:
    """The negative log-likelihood of log_softmax(logits) over the classes (axis 1), as
    PyTorch's cross_entropy: `target` holds class indices (N,) or (N, d1, ...) of an integer
    dtype, or class probabilities of the logits' shape; see `nll_loss`."""
    logits = _array(logits)
    if len(logits.shape) == 1:  # one sample without a batch axis: (C,) and a 0-d target
        target = _array(target)
        out = cross_entropy(np.expand_dims(logits, 0), np.expand_dims(target, 0), reduction,
                            ignore_index, weight, label_smoothing)
        return out[0] if reduction == "none" else out
    return nll_loss(log_softmax(logits, dim=1), target, reduction, ignore_index, weight,
                    label_smoothing)


def nll_loss(logp: Any, target: Any, reduction: str = "mean", ignore_index: int = -100,
             weight: Any = None, label_smoothing: float = 0.0) -> Any:
    """PyTorch's nll_loss on log-probabilities `logp` (N, C, d1, ...), with its cross_entropy's
    label smoothing. Class indices: sample n's loss is -w[t_n] logp[n, t_n] (0 where t_n is
    `ignore_index`); 'mean' divides the sum by the sum of the weights w[t_n] of the kept
    samples (their count without `weight`). Label smoothing e mixes in e/C times the
    w-weighted sum of -logp over the classes, reduced the same way. Class probabilities:
    smoothed to t (1 - e) + e/C, and 'mean' divides by the number of samples."""
    logp, target = _array(logp), _array(target)
    if len(logp.shape) == 1:
        out = nll_loss(np.expand_dims(logp, 0), np.expand_dims(target, 0), reduction,
                       ignore_index, weight, label_smoothing)
        return out[0] if reduction == "none" else out
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    n_classes = logp.shape[1]
    per_class = (n_classes,) + (1,) * (len(logp.shape) - 2)  # w broadcast along axis 1
    if weight is not None and tuple(_array(weight).shape) != (n_classes,):
        raise ValueError(f"weight must have one entry per class ({n_classes}), got shape "
                         f"{tuple(_array(weight).shape)}")
    w = None if weight is None else np.reshape(_array(weight), per_class)
    weighted = logp if w is None else logp * w
    if np.dtype(target.dtype).kind == "f":
        if label_smoothing:
            target = target * (1.0 - label_smoothing) + label_smoothing / n_classes
        return _reduce(-np.sum(target * weighted, axis=1), reduction)
    if not _traced(target) and np.any((target != ignore_index)
                                      & ((target < 0) | (target >= n_classes))):
        raise IndexError(f"nll_loss: a target is outside [0, {n_classes})")
    classes = np.arange(n_classes).reshape(per_class)
    kept = target != ignore_index
    # an ignored target picks nothing, also when ignore_index is a class (0 <= it < C)
    onehot = (np.expand_dims(target, 1) == classes) & np.expand_dims(kept, 1)
    picked = -np.sum(np.where(onehot, weighted, 0), axis=1)
    # the denominator of 'mean': the kept samples' weights, or their count
    total = (np.sum(kept).astype(logp.dtype) if w is None else
             np.sum(np.where(onehot, w, 0)).astype(logp.dtype))
    loss = np.sum(picked) / total if reduction == "mean" else _reduce(picked, reduction)
    if not label_smoothing:
        return loss
    smooth = np.where(kept, -np.sum(weighted, axis=1), 0)
    smooth = np.sum(smooth) / total if reduction == "mean" else _reduce(smooth, reduction)
    return (1.0 - label_smoothing) * loss + smooth * (label_smoothing / n_classes)


def mse_loss(x: Any, y: Any, reduction: str = "mean") -> Any:
    """The mean (or sum) of the squared differences."""
    d = _array(x) - _array(y)
    return _reduce(d * d, reduction)


__all__ = ["adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "conv2d", "cross_entropy",
           "linear", "log_softmax", "max_pool2d", "mse_loss", "nll_loss", "relu", "softmax"]
