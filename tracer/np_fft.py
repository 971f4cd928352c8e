"""np.fft on tracers: numpy's signatures and defaults, written over the `fft`, `rfft` and
`irfft` primitives (ir/prims/fft.py).

`n=` / `s=` truncate or zero-pad the input along the transformed axes (numpy's rule) before
the primitive; `norm=None` is "backward". Repeated axes (which numpy transforms twice) and
the Hermitian transforms hfft/ihfft are TraceErrors. fftfreq/rfftfreq take no array and run
as numpy. `FUNCTIONS` is merged into numpy_api's table.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from adjit.ir import Value, current_loc, ops
from adjit.ir.errors import ShapeError, TraceError
from adjit.ir.prims.fft import NORMS, resize

from .values import Tracer, wrap


def _t(x: Any) -> Tracer:
    from .numpy_api import _t as t

    return t(x)


def _norm(norm: Any) -> str:
    norm = "backward" if norm is None else norm
    if norm not in NORMS:
        raise TraceError(f"np.fft: norm must be one of {NORMS} or None, got {norm!r}",
                         loc=current_loc())
    return norm


def _no_out(out: Any, name: str) -> None:
    if out is not None:
        raise TraceError(f"np.fft.{name}(..., out=...) writes in place, which adjit cannot "
                         "trace", loc=current_loc(), hint="use the returned value instead")


def _plan(x: Value, s: Sequence[int] | None, axes: Sequence[int] | None,
          name: str) -> tuple[tuple[int, ...], list[int]]:
    """numpy's (axes, sizes) for an n-d transform of x."""
    nd = x.type.ndim
    if axes is None:
        axes = list(range(nd - len(s), nd)) if s is not None else list(range(nd))
    axes = [int(a) for a in ([axes] if isinstance(axes, (int, np.integer)) else axes)]
    for a in axes:
        if not -nd <= a < nd:
            raise ShapeError(f"np.fft.{name}: axis {a} is out of bounds for an array of "
                             f"dimension {nd}", loc=current_loc())
    axes = [a % nd for a in axes]
    if len(set(axes)) != len(axes):
        raise TraceError(f"np.fft.{name} over a repeated axis {tuple(axes)} is not supported "
                         "by adjit", loc=current_loc(), hint="apply the transform twice")
    if s is None:
        sizes = [x.shape[a] for a in axes]
    else:
        sizes = [int(n) for n in s]
        if len(sizes) != len(axes):
            raise ShapeError(f"np.fft.{name}: s and axes have different lengths",
                             loc=current_loc())
    if not axes:
        raise ShapeError(f"np.fft.{name} needs at least one axis", loc=current_loc())
    if any(n < 1 for n in sizes):
        raise ShapeError(f"np.fft.{name}: invalid number of data points {sizes}",
                         loc=current_loc())
    return tuple(axes), sizes


def _inexact(v: Value) -> Value:
    return v if v.type.is_float else ops.convert(v, "f64")


def _c2c(inverse: bool) -> Callable[..., Tracer]:
    def fftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None, out: Any = None) -> Tracer:
        name = "ifftn" if inverse else "fftn"
        _no_out(out, name)
        x = ops.to_complex(_inexact(_t(a).val))
        axes, sizes = _plan(x, s, axes, name)
        for ax, n in zip(axes, sizes, strict=True):
            x = resize(x, ax, n)
        return wrap(ops.emit("fft", x, axes=axes, inverse=inverse, norm=_norm(norm)))

    return fftn


def _rfftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None, out: Any = None) -> Tracer:
    _no_out(out, "rfftn")
    x = _inexact(_t(a).val)
    if x.type.is_complex:
        raise TraceError("np.fft.rfft of a complex array: numpy requires a real input",
                         loc=current_loc(), hint="use np.fft.fft, or pass z.real")
    axes, sizes = _plan(x, s, axes, "rfftn")
    for ax, n in zip(axes, sizes, strict=True):
        x = resize(x, ax, n)
    return wrap(ops.emit("rfft", x, axes=axes, norm=_norm(norm)))


def _irfftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None,
            out: Any = None) -> Tracer:
    _no_out(out, "irfftn")
    x = ops.to_complex(_inexact(_t(a).val))
    axes, sizes = _plan(x, s, axes, "irfftn")
    if s is None:
        sizes[-1] = 2 * (x.shape[axes[-1]] - 1)
        if sizes[-1] < 1:
            raise ShapeError(f"np.fft.irfftn: invalid number of data points {sizes[-1]}",
                             loc=current_loc())
    n = sizes[-1]
    for ax, m in zip(axes[:-1], sizes[:-1], strict=True):
        x = resize(x, ax, m)
    x = resize(x, axes[-1], n // 2 + 1)
    return wrap(ops.emit("irfft", x, axes=axes, norm=_norm(norm), n=n))


def _one_d(nd: Callable[..., Tracer]) -> Callable[..., Tracer]:
    def f(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Tracer:
        return nd(a, None if n is None else (n,), (axis,), norm, out)

    return f


def _two_d(nd: Callable[..., Tracer]) -> Callable[..., Tracer]:
    def f(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None,
          out: Any = None) -> Tracer:
        return nd(a, s, axes, norm, out)

    return f


def _shift(sign: int) -> Callable[..., Tracer]:
    def shift(x: Any, axes: Any = None) -> Tracer:
        from .numpy_api import roll

        t = _t(x)
        if axes is None:
            axes = tuple(range(t.ndim))
        elif isinstance(axes, (int, np.integer)):
            axes = (int(axes),)
        shifts = tuple(sign * (t.shape[a] // 2) for a in axes)
        return roll(t, shifts, tuple(axes))

    return shift


def _unsupported(name: str) -> Callable[..., Any]:
    def f(*args: Any, **kwargs: Any) -> Any:
        raise TraceError(f"np.fft.{name} is not supported by adjit yet", loc=current_loc(),
                         hint="np.fft.fft/ifft/rfft/irfft and their 2-d and n-d forms trace")

    return f


fftn, ifftn = _c2c(False), _c2c(True)
FUNCTIONS: dict[Any, Callable[..., Any]] = {
    np.fft.fft: _one_d(fftn), np.fft.ifft: _one_d(ifftn), np.fft.rfft: _one_d(_rfftn),
    np.fft.irfft: _one_d(_irfftn), np.fft.fft2: _two_d(fftn), np.fft.ifft2: _two_d(ifftn),
    np.fft.rfft2: _two_d(_rfftn), np.fft.irfft2: _two_d(_irfftn), np.fft.fftn: fftn,
    np.fft.ifftn: ifftn, np.fft.rfftn: _rfftn, np.fft.irfftn: _irfftn,
    np.fft.fftshift: _shift(1), np.fft.ifftshift: _shift(-1),
    np.fft.hfft: _unsupported("hfft"), np.fft.ihfft: _unsupported("ihfft"),
}
