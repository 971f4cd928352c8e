"""Convolution and pooling over NCHW images: library-call primitives (`LIBRARY`).

Shapes: x is (N, C, H, W), a weight is (O, C, KH, KW) (PyTorch's layouts); `stride` and
`padding` are (rows, columns) pairs; dilation 1, one group. The output size along an axis is
(H + 2 ph - KH) // sh + 1, as PyTorch's (ceil_mode False). Padding is zeros, except for
max pooling, which never picks a padded place.

Convolution is three bilinear primitives, closed under differentiation (each one's VJP and
JVP are the other two, so gradients of gradients stay convolutions):

- `conv2d(x, w)`: out[n, o, i, j] = sum_{c, a, b} x_pad[n, c, i sh + a, j sw + b] w[o, c, a, b].
- `conv2d_input_grad(ct, w)[size=(H, W)]`: the transpose of conv2d in x, the VJP wrt x
  (a transposed convolution): <conv2d_input_grad(ct, w), g> = <ct, conv2d(g, w)>. `size`
  is the input's (H, W), which the output size does not determine when the stride is > 1.
- `conv2d_weight_grad(x, ct)[size=(KH, KW)]`: the VJP wrt w, a correlation of x with ct:
  <conv2d_weight_grad(x, ct), h> = <ct, conv2d(x, h)>.

Pooling:

- `avg_pool2d(x)[kernel, stride, padding]`: the mean of each window, padded zeros included
  in the count (PyTorch's count_include_pad=True); linear, its VJP `avg_pool2d_grad`
  spreads each cotangent evenly over its window, and the two are each other's transposes.
- `max_pool2d_index(x)[kernel, stride, padding]` (no derivative): for each window, the flat
  index into x (n, c, h, w in row-major order) of its maximum; ties go to the first in the
  window's row-major order, a NaN wins (the last one), and a window of -infs picks its first
  place inside the image: PyTorch's CPU kernel exactly. Max pooling is then
  `gather(reshape(x, (-1,)), index)`, so its VJP is gather's, a `scatter_add` of the
  cotangent onto the argmax places, and the forward's index serves the backward pass.

The `impl`s here are numpy (windows by stride tricks, contractions by tensordot): the reference
interpreter's semantics, independent of the compiled kernels in codegen/conv_kernels.py.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..builder import emit
from ..core import ArrayType, Value, Var
from ..primitive import LIBRARY, Primitive, register
from .. import ops

Pair = tuple[int, int]


def out_size(size: Pair, kernel: Pair, stride: Pair, padding: Pair) -> Pair:
    """The output's (OH, OW) for an input of `size`, or a ValueError."""
    for name, p in (("kernel", kernel), ("stride", stride)):
        if len(p) != 2 or min(p) < 1:
            raise ValueError(f"{name} must be two positive integers, got {p}")
    if len(padding) != 2 or min(padding) < 0:
        raise ValueError(f"padding must be two integers >= 0, got {padding}")
    oh, ow = ((n + 2 * p - k) // s + 1 for n, k, s, p in zip(size, kernel, stride, padding,
                                                            strict=True))
    if min(size) < 1 or oh < 1 or ow < 1:
        raise ValueError(f"a {kernel[0]}x{kernel[1]} window does not fit an input of "
                         f"{size[0]}x{size[1]} with padding {padding}")
    return oh, ow


def _float_pair(a: ArrayType, b: ArrayType, what: str) -> None:
    if a.ndim != 4 or b.ndim != 4:
        raise ValueError(f"{what} needs 4-d operands (NCHW and OIHW), got {a} and {b}")
    if a.dtype != b.dtype or not a.is_float:
        raise TypeError(f"{what} needs float operands of one dtype, got {a.dtype} and {b.dtype}")


def _conv_shape(x: ArrayType, w: ArrayType, *, stride: Pair, padding: Pair) -> ArrayType:
    _float_pair(x, w, "conv2d")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"conv2d: the input has {x.shape[1]} channels, the weight expects "
                         f"{w.shape[1]}")
    oh, ow = out_size(x.shape[2:], w.shape[2:], stride, padding)
    return x.with_shape((x.shape[0], w.shape[0], oh, ow))


def _input_grad_shape(ct: ArrayType, w: ArrayType, *, stride: Pair, padding: Pair,
                      size: Pair) -> ArrayType:
    _float_pair(ct, w, "conv2d_input_grad")
    if ct.shape[1] != w.shape[0] or ct.shape[2:] != out_size(size, w.shape[2:], stride,
                                                             padding):
        raise ValueError(f"conv2d_input_grad: {ct} is not the output of a conv2d of an input "
                         f"of size {size} with a weight of {w}")
    return ct.with_shape((ct.shape[0], w.shape[1]) + tuple(size))


def _weight_grad_shape(x: ArrayType, ct: ArrayType, *, stride: Pair, padding: Pair,
                       size: Pair) -> ArrayType:
    _float_pair(x, ct, "conv2d_weight_grad")
    if x.shape[0] != ct.shape[0] or ct.shape[2:] != out_size(x.shape[2:], size, stride,
                                                             padding):
        raise ValueError(f"conv2d_weight_grad: {ct} is not the output of a conv2d of {x} "
                         f"with a {size[0]}x{size[1]} kernel")
    return x.with_shape((ct.shape[1], x.shape[1]) + tuple(size))


# ---- numpy reference implementations ----------------------------------------------------------

def windows(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair,
            fill: float = 0.0) -> np.ndarray:
    """The (N, C, OH, OW, KH, KW) view of the windows of x padded with `fill`."""
    (ph, pw), (sh, sw) = padding, stride
    oh, ow = out_size(x.shape[2:], kernel, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    v = sliding_window_view(xp, kernel, axis=(2, 3))
    return v[:, :, ::sh, ::sw][:, :, :oh, :ow]


def unwindows(cols: np.ndarray, size: Pair, stride: Pair, padding: Pair) -> np.ndarray:
    """The transpose of `windows`: (N, C, OH, OW, KH, KW) summed back onto (N, C, H, W)."""
    n, c, oh, ow, kh, kw = cols.shape
    (ph, pw), (sh, sw) = padding, stride
    xp = np.zeros((n, c, size[0] + 2 * ph, size[1] + 2 * pw), cols.dtype)
    for a in range(kh):
        for b in range(kw):
            xp[:, :, a:a + sh * (oh - 1) + 1:sh, b:b + sw * (ow - 1) + 1:sw] += cols[..., a, b]
    return xp[:, :, ph:ph + size[0], pw:pw + size[1]]


def _conv_impl(x: np.ndarray, w: np.ndarray, stride: Pair, padding: Pair) -> np.ndarray:
    v = windows(x, w.shape[2:], stride, padding)
    return np.tensordot(v, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)


def _input_grad_impl(ct: np.ndarray, w: np.ndarray, stride: Pair, padding: Pair,
                     size: Pair) -> np.ndarray:
    cols = np.tensordot(ct, w, axes=([1], [0]))  # (N, OH, OW, C, KH, KW)
    return unwindows(cols.transpose(0, 3, 1, 2, 4, 5), size, stride, padding)


def _weight_grad_impl(x: np.ndarray, ct: np.ndarray, stride: Pair, padding: Pair,
                      size: Pair) -> np.ndarray:
    v = windows(x, size, stride, padding)
    return np.tensordot(ct, v, axes=([0, 2, 3], [0, 2, 3]))


# ---- rules --------------------------------------------------------------------------------

def _active(v: Value) -> bool:
    return isinstance(v, Var) and v.type.is_float


def _conv_vjp(ct: Value, x: Value, w: Value, out: Var, stride: Pair,
              padding: Pair) -> tuple[Value | None, Value | None]:
    p = {"stride": stride, "padding": padding}
    ct_x = emit("conv2d_input_grad", ct, w, size=x.shape[2:], **p) if _active(x) else None
    ct_w = emit("conv2d_weight_grad", x, ct, size=w.shape[2:], **p) if _active(w) else None
    return ct_x, ct_w


def _input_grad_vjp(g: Value, ct: Value, w: Value, out: Var, stride: Pair, padding: Pair,
                    size: Pair) -> tuple[Value | None, Value | None]:
    p = {"stride": stride, "padding": padding}
    ct_ct = emit("conv2d", g, w, **p) if _active(ct) else None
    ct_w = emit("conv2d_weight_grad", g, ct, size=w.shape[2:], **p) if _active(w) else None
    return ct_ct, ct_w


def _weight_grad_vjp(g: Value, x: Value, ct: Value, out: Var, stride: Pair, padding: Pair,
                     size: Pair) -> tuple[Value | None, Value | None]:
    p = {"stride": stride, "padding": padding}
    ct_x = emit("conv2d_input_grad", ct, g, size=x.shape[2:], **p) if _active(x) else None
    ct_ct = emit("conv2d", x, g, **p) if _active(ct) else None
    return ct_x, ct_ct


def _bilinear_jvp(name: str):  # noqa: ANN202
    """The JVP of a bilinear primitive f: f(t_a, b) + f(a, t_b)."""
    def jvp(ts: list[Value | None], a: Value, b: Value, out: Var, **params: object
            ) -> Value | None:
        ta, tb = ts
        total = None if ta is None else emit(name, ta, b, **params)
        if tb is not None:
            total = ops.add_any(total, emit(name, a, tb, **params))
        return total
    return jvp


CONV = ("padding", "stride")
register(Primitive("conv2d", LIBRARY, shape=_conv_shape, impl=_conv_impl,
                   jvp=_bilinear_jvp("conv2d"), vjp=_conv_vjp, params=CONV))
register(Primitive("conv2d_input_grad", LIBRARY, shape=_input_grad_shape,
                   impl=_input_grad_impl, jvp=_bilinear_jvp("conv2d_input_grad"),
                   vjp=_input_grad_vjp, params=CONV + ("size",)))
register(Primitive("conv2d_weight_grad", LIBRARY, shape=_weight_grad_shape,
                   impl=_weight_grad_impl, jvp=_bilinear_jvp("conv2d_weight_grad"),
                   vjp=_weight_grad_vjp, params=CONV + ("size",)))


# ---- pooling ------------------------------------------------------------------------------

def _pool_check(x: ArrayType, kernel: Pair, padding: Pair, what: str) -> None:
    if x.ndim != 4 or not x.is_float:
        raise TypeError(f"{what} needs a 4-d float array (NCHW), got {x}")
    if len(padding) == 2 and len(kernel) == 2 and any(
            p > k // 2 for p, k in zip(padding, kernel, strict=True)):
        raise ValueError(f"{what}: padding {padding} is more than half the kernel {kernel}")


def _pool_shape(x: ArrayType, *, kernel: Pair, stride: Pair, padding: Pair) -> ArrayType:
    _pool_check(x, kernel, padding, "pooling")
    return x.with_shape(x.shape[:2] + out_size(x.shape[2:], kernel, stride, padding))


def _avg_grad_shape(ct: ArrayType, *, kernel: Pair, stride: Pair, padding: Pair,
                    size: Pair) -> ArrayType:
    _pool_check(ct, kernel, padding, "avg_pool2d_grad")
    if ct.shape[2:] != out_size(size, kernel, stride, padding):
        raise ValueError(f"avg_pool2d_grad: {ct} is not the output of pooling an input of "
                         f"size {size}")
    return ct.with_shape(ct.shape[:2] + tuple(size))


def _avg_impl(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair) -> np.ndarray:
    return windows(x, kernel, stride, padding).mean(axis=(4, 5))


def _avg_grad_impl(ct: np.ndarray, kernel: Pair, stride: Pair, padding: Pair,
                   size: Pair) -> np.ndarray:
    share = ct / (kernel[0] * kernel[1])
    cols = np.broadcast_to(share[..., None, None], share.shape + tuple(kernel))
    return unwindows(cols, size, stride, padding)


POOL = ("kernel", "padding", "stride")
register(Primitive("avg_pool2d", LIBRARY, shape=_pool_shape, impl=_avg_impl,
                   jvp=lambda ts, x, out, **p: emit("avg_pool2d", ts[0], **p),
                   vjp=lambda ct, x, out, **p: (emit("avg_pool2d_grad", ct, size=x.shape[2:],
                                                     **p),),
                   params=POOL, linear=True))
register(Primitive("avg_pool2d_grad", LIBRARY, shape=_avg_grad_shape, impl=_avg_grad_impl,
                   jvp=lambda ts, ct, out, **p: emit("avg_pool2d_grad", ts[0], **p),
                   vjp=lambda g, ct, out, size, **p: (emit("avg_pool2d", g, **p),),
                   params=POOL + ("size",), linear=True))


def _index_shape(x: ArrayType, *, kernel: Pair, stride: Pair, padding: Pair) -> ArrayType:
    return _pool_shape(x, kernel=kernel, stride=stride, padding=padding).with_dtype("i64")


def _index_impl(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair) -> np.ndarray:
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    v = windows(x, kernel, stride, padding, fill=-np.inf)
    oh, ow = v.shape[2:4]
    v = v.reshape(n, c, oh, ow, kh * kw)
    rows = np.arange(oh)[:, None] * sh - ph + np.arange(kh)[None, :]  # (OH, KH)
    cols = np.arange(ow)[:, None] * sw - pw + np.arange(kw)[None, :]  # (OW, KW)
    valid = (((rows >= 0) & (rows < h))[:, None, :, None]
             & ((cols >= 0) & (cols < w))[None, :, None, :]).reshape(oh, ow, kh * kw)
    nan = np.isnan(v)
    last_nan = kh * kw - 1 - np.argmax(nan[..., ::-1], axis=-1)
    with np.errstate(invalid="ignore"):
        best = np.max(np.where(valid, v, -np.inf), axis=-1, keepdims=True)
        first_max = np.argmax(valid & (v == best), axis=-1)
    k = np.where(nan.any(axis=-1), last_nan, first_max)
    row = np.arange(oh)[:, None] * sh - ph + k // kw
    col = np.arange(ow)[None, :] * sw - pw + k % kw
    plane = (np.arange(n)[:, None] * c + np.arange(c)[None, :])[:, :, None, None]
    return ((plane * h + row) * w + col).astype(np.int64)


register(Primitive("max_pool2d_index", LIBRARY, shape=_index_shape, impl=_index_impl,
                   jvp=None, vjp=None, params=POOL, nondiff=True))
