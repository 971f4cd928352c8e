"""`adjit.nn.functional`: PyTorch's functional layers, for every front end.

Each function is written once, with numpy calls and adjit's convolution and pooling
primitives (`adjit.tracer.nn_functional`), and so runs on numpy arrays and on tracers. Here
it is dispatched on what it is given:

- Tensors: `record.apply` runs it eagerly, or records it as one node named as PyTorch names
  it (`ConvolutionBackward0`) when an input requires a gradient;
- numpy arrays or tracers (inside `@adjit.grad`): it is called directly.

`batch_norm` in training mode also updates the running statistics it is given, in place and
unrecorded, from the batch statistics it computed. In traced code the statistics are
tracers, which cannot be written into the module's buffers: there the batch statistics
normalize and the running statistics are left as they are.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from adjit.tracer import nn_functional as _nf
from adjit.tracer.record import apply
from adjit.tracer.tensor import Tensor, no_grad
from adjit.tracer.values import Tracer

__all__ = ["adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "conv2d", "cross_entropy",
           "dropout", "flatten", "leaky_relu", "linear", "log_softmax", "max_pool2d",
           "mse_loss", "nll_loss", "relu", "sigmoid", "softmax", "tanh"]


def _dispatch(fn: Callable[..., Any], name: str, args: tuple[Any, ...],
              kwargs: dict[str, Any] | None = None) -> Any:
    """`fn` recorded on Tensors (one node called `name`), or called directly."""
    kwargs = kwargs or {}
    values = (*args, *kwargs.values())
    if any(isinstance(a, Tensor) for a in values):
        if any(isinstance(a, Tracer) for a in values):  # Tensors met inside a trace
            args = tuple(a._np if isinstance(a, Tensor) else a for a in args)
            kwargs = {k: v._np if isinstance(v, Tensor) else v for k, v in kwargs.items()}
            return fn(*args, **kwargs)
        return apply(fn, args, kwargs, name=name)
    return fn(*args, **kwargs)


# ---- layers -------------------------------------------------------------------------------------

def linear(input: Any, weight: Any, bias: Any = None) -> Any:
    """`input @ weight.T + bias`."""
    if bias is None:
        return _dispatch(_nf.linear, "MmBackward0", (input, weight))
    return _dispatch(_nf.linear, "AddmmBackward0", (input, weight, bias))


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Any:
    if dilation not in (1, (1, 1)) or groups != 1:
        raise NotImplementedError("conv2d: dilation and groups other than 1 are not "
                                  "supported")
    return _dispatch(_nf.conv2d, "ConvolutionBackward0", (input, weight, bias),
                     {"stride": stride, "padding": padding})


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    if dilation not in (1, (1, 1)) or ceil_mode or return_indices:
        raise NotImplementedError("max_pool2d: dilation, ceil_mode and return_indices are "
                                  "not supported")
    return _dispatch(_nf.max_pool2d, "MaxPool2DWithIndicesBackward0", (input, kernel_size),
                     {"stride": stride, "padding": padding})


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Any = None) -> Any:
    if ceil_mode or not count_include_pad or divisor_override is not None:
        raise NotImplementedError("avg_pool2d: ceil_mode, count_include_pad=False and "
                                  "divisor_override are not supported")
    return _dispatch(_nf.avg_pool2d, "AvgPool2DBackward0", (input, kernel_size),
                     {"stride": stride, "padding": padding})


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Any:
    name = "MeanBackward1" if output_size in (1, (1, 1)) else "AdaptiveAvgPool2DBackward0"
    return _dispatch(_nf.adaptive_avg_pool2d, name, (input, output_size))


def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None,
               bias: Any = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Any:
    """Normalize over every axis but 1 with the batch's statistics (`training`) or the
    running ones. In training the running statistics given are updated in place,
    unrecorded: `running = (1 - momentum) * running + momentum * batch` (the variance
    unbiased), as PyTorch's; in traced code they cannot be (see the module docstring)."""
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm in eval mode needs running_mean and running_var")
        y, _, _ = _dispatch(_nf.batch_norm, "NativeBatchNormBackward0",
                            (input, running_mean, running_var, weight, bias),
                            {"training": False, "eps": eps})
        return y
    # The recorded node reads the running statistics' arrays, not the Tensors: the update
    # below changes them in place, which must not look like a change to a saved input.
    stats = [s._np if isinstance(s, Tensor) else s for s in (running_mean, running_var)]
    y, new_mean, new_var = _dispatch(_nf.batch_norm, "NativeBatchNormBackward0",
                                     (input, *stats, weight, bias),
                                     {"training": True, "momentum": momentum, "eps": eps})
    for buf, new in ((running_mean, new_mean), (running_var, new_var)):
        if buf is not None:
            _write(buf, new)
    return y


def _write(buf: Any, new: Any) -> None:
    """buf[...] = new, in place and unrecorded, when both are values (not tracers)."""
    if isinstance(buf, Tracer) or isinstance(new, Tracer):
        return  # traced: a module's buffers cannot hold traced statistics
    value = new._np if isinstance(new, Tensor) else np.asarray(new)
    if isinstance(buf, Tensor):
        with no_grad():
            buf.copy_(Tensor(value, _array=True))
    else:
        buf[...] = value


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Any:
    """Zero each element with probability `p` and scale the rest by 1 / (1 - p); the mask is
    drawn from adjit's generator (`adjit.manual_seed`)."""
    if p < 0 or p > 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    from adjit.tracer import factories as _factories

    keep = _factories._RNG.random(tuple(input.shape)) >= p
    scale = (keep / (1 - p) if p < 1 else keep * 0.0).astype(np.dtype(str(input.dtype)))
    return _dispatch(_scaled, "NativeDropoutBackward0", (input, scale))


def _scaled(x: Any, scale: Any) -> Any:
    return x * scale


# ---- activations --------------------------------------------------------------------------------

def relu(input: Any, inplace: bool = False) -> Any:
    return _dispatch(_nf.relu, "ReluBackward0", (input,))


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> Any:
    return _dispatch(_leaky_relu, "LeakyReluBackward0", (input,),
                     {"negative_slope": float(negative_slope)})


def _leaky_relu(x: Any, negative_slope: float) -> Any:
    return np.where(x > 0, x, x * negative_slope)


def tanh(input: Any) -> Any:
    return _dispatch(np.tanh, "TanhBackward0", (input,))


def sigmoid(input: Any) -> Any:
    if isinstance(input, Tensor):
        return input.sigmoid()
    return 1 / (1 + np.exp(-input))


def softmax(input: Any, dim: int | None = None, dtype: Any = None) -> Any:
    return _dispatch(_nf.softmax, "SoftmaxBackward0", (input,), {"dim": _dim(input, dim)})


def log_softmax(input: Any, dim: int | None = None, dtype: Any = None) -> Any:
    return _dispatch(_nf.log_softmax, "LogSoftmaxBackward0", (input,),
                     {"dim": _dim(input, dim)})


def _dim(input: Any, dim: int | None) -> int:
    if dim is not None:
        return dim
    return 0 if len(input.shape) in (0, 1, 3) else 1  # PyTorch's implicit choice


def flatten(input: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    if isinstance(input, Tensor):
        return input.flatten(start_dim, end_dim)
    shape = tuple(input.shape)
    if not shape:
        return input.reshape(1)
    end = end_dim % len(shape)
    start = start_dim % len(shape)
    return input.reshape(shape[:start] + (-1,) + shape[end + 1:])


# ---- losses -------------------------------------------------------------------------------------

def cross_entropy(input: Any, target: Any, weight: Any = None, size_average: Any = None,
                  ignore_index: int = -100, reduce: Any = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Any:
    """`-log_softmax(input)[i, target[i]]` over the class axis 1, weighted by `weight` per
    class, averaged over the targets not equal to `ignore_index` (`reduction="mean"`, by the
    sum of their weights), summed, or per sample, with `label_smoothing` as PyTorch's;
    `target` holds class indices, or class probabilities of the input's shape."""
    _check_reduction(reduction)
    return _dispatch(_nf.cross_entropy, "NllLossBackward0", (input, target),
                     {"reduction": reduction, "ignore_index": ignore_index, "weight": weight,
                      "label_smoothing": label_smoothing})


def nll_loss(input: Any, target: Any, weight: Any = None, size_average: Any = None,
             ignore_index: int = -100, reduce: Any = None, reduction: str = "mean") -> Any:
    """The negative log-likelihood of log-probabilities `input` (N, C, ...), as PyTorch's."""
    _check_reduction(reduction)
    return _dispatch(_nf.nll_loss, "NllLossBackward0", (input, target),
                     {"reduction": reduction, "ignore_index": ignore_index, "weight": weight})


def mse_loss(input: Any, target: Any, size_average: Any = None, reduce: Any = None,
             reduction: str = "mean") -> Any:
    _check_reduction(reduction)
    return _dispatch(_nf.mse_loss, "MseLossBackward0", (input, target),
                     {"reduction": reduction})


def _check_reduction(reduction: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
