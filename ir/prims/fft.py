"""Discrete Fourier transforms: library-call primitives (`LIBRARY`) over numpy's pocketfft.

    fft[axes, inverse, norm]   x: complex -> complex, same shape (numpy's fftn / ifftn)
    rfft[axes, norm]           x: real -> complex, axis axes[-1]: n -> n // 2 + 1 (rfftn)
    irfft[axes, norm, n]       x: complex, axis axes[-1]: n // 2 + 1 -> n, real (irfftn)

Zero-padding or truncating the input to numpy's `n=` / `s=` is the tracer's work (slice and
unslice), so each primitive transforms exactly the array it is given.

Derivatives, with the cotangent pairing Re(c t) of complex.py (a complex-linear map's VJP is
its plain transpose). Each transform is linear, so its JVP is itself.
- fft: the DFT matrix is symmetric (F[j,k] = w^(jk)), in every norm, so the VJP of fftn
  over `axes` is the same fftn.
- rfft = (keep bins 0..n//2 of axis a) . fftn . (real -> complex): its transpose is the
  real part of fftn of the cotangent zero-padded back to n bins, computed as one irfftn of
  the conjugate cotangent with the bins irfft counts twice halved, in the dual norm.
- irfft(t)_j = sum over the full spectrum, rebuilt from the half by Hermitian symmetry, of
  which numpy reads only the real part of bins 0 and n/2: y = Re(sum_k w_k t_k e_k(j)) scaled
  as the norm says, w_k = 1 for bin 0 and (even n) bin n/2, else 2. Its transpose is
  w * ifftn(g) restricted to bins 0..n//2 (ifftn of the real cotangent g, same norm), that
  is w * conj(rfftn(g)) in the dual norm: one real transform.
These match autograd's rules (autograd/numpy/fft.py), which also allow odd n here.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..core import COMPLEX_DTYPES, COMPLEX_OF, REAL_OF, ArrayType, Value, Var
from ..primitive import LIBRARY, Primitive, register

NORMS = ("backward", "ortho", "forward")


def _check_axes(x: ArrayType, axes: tuple[int, ...], norm: str) -> None:
    if not axes or len(set(axes)) != len(axes) or not all(0 <= a < x.ndim for a in axes):
        raise ValueError(f"fft axes {axes} must be distinct axes of {x}")
    if norm not in NORMS:
        raise ValueError(f"fft norm must be one of {NORMS}, got {norm!r}")


def _fft_shape(x: ArrayType, *, axes: tuple[int, ...], inverse: bool, norm: str) -> ArrayType:
    _check_axes(x, axes, norm)
    if x.dtype not in COMPLEX_DTYPES:
        raise TypeError(f"fft takes a complex array, got {x}")
    return x


def _rfft_shape(x: ArrayType, *, axes: tuple[int, ...], norm: str) -> ArrayType:
    _check_axes(x, axes, norm)
    if x.dtype not in ("f32", "f64"):
        raise TypeError(f"rfft takes a real floating array, got {x}")
    shape = list(x.shape)
    shape[axes[-1]] = shape[axes[-1]] // 2 + 1
    return ArrayType(COMPLEX_OF[x.dtype], tuple(shape))


def _irfft_shape(x: ArrayType, *, axes: tuple[int, ...], norm: str, n: int) -> ArrayType:
    _check_axes(x, axes, norm)
    if x.dtype not in COMPLEX_DTYPES:
        raise TypeError(f"irfft takes a complex array, got {x}")
    if n < 1 or x.shape[axes[-1]] != n // 2 + 1:
        raise ValueError(f"irfft to n={n} needs {n // 2 + 1} bins on axis {axes[-1]}, got {x}")
    shape = list(x.shape)
    shape[axes[-1]] = n
    return ArrayType(REAL_OF[x.dtype], tuple(shape))


def fft_impl(x: np.ndarray, axes: tuple[int, ...], inverse: bool, norm: str) -> np.ndarray:
    f = np.fft.ifftn if inverse else np.fft.fftn
    return np.asarray(f(x, axes=axes, norm=norm)).astype(x.dtype, copy=False)


def rfft_impl(x: np.ndarray, axes: tuple[int, ...], norm: str) -> np.ndarray:
    out = np.fft.rfftn(x, axes=axes, norm=norm)
    return np.asarray(out).astype(np.result_type(x.dtype, np.complex64), copy=False)


def irfft_impl(x: np.ndarray, axes: tuple[int, ...], norm: str, n: int) -> np.ndarray:
    s = [x.shape[a] for a in axes[:-1]] + [n]
    out = np.fft.irfftn(x, s=s, axes=axes, norm=norm)
    return np.asarray(out).astype(REAL_DTYPE[x.dtype.char], copy=False)


REAL_DTYPE = {"F": np.float32, "D": np.float64}


def resize(x: Value, axis: int, n: int) -> Value:
    """x truncated, or zero-padded at the end, to length n along `axis` (numpy's fft `n=`)."""
    m = x.shape[axis]
    if m == n:
        return x
    nd = x.type.ndim
    if n < m:
        shape = tuple(n if a == axis else d for a, d in enumerate(x.shape))
        return ops.emit("slice", x, starts=(0,) * nd, steps=(1,) * nd, shape=shape)
    shape = tuple(n if a == axis else d for a, d in enumerate(x.shape))
    return ops.emit("unslice", x, starts=(0,) * nd, steps=(1,) * nd, shape=shape)


def _need(x: Value) -> bool:
    return isinstance(x, Var) and x.type.is_float


def _fft_vjp(ct: Value, x: Value, out: Var, axes: tuple[int, ...], inverse: bool,
             norm: str) -> tuple[Value | None]:
    return (ops.emit("fft", ct, axes=axes, inverse=inverse, norm=norm) if _need(x) else None,)


# The norm whose scale is the other one's inverse: a transform's transpose is the inverse
# transform with the dual normalization (backward <-> forward, ortho is its own).
_DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _half_weights(n: int, ndim: int, axis: int, first_last: float, inner: float) -> np.ndarray:
    """Weights over the n // 2 + 1 bins of a real transform of length n along `axis`: bin 0
    (and bin n/2 for even n), which appear once in the full spectrum, get `first_last`; the
    others, which stand for themselves and their mirror image, `inner`."""
    m = n // 2 + 1
    w = np.full(m, inner)
    w[0] = first_last
    if n % 2 == 0:
        w[-1] = first_last
    return w.reshape(tuple(m if d == axis else 1 for d in range(ndim)))


def _rfft_vjp(ct: Value, x: Value, out: Var, axes: tuple[int, ...],
              norm: str) -> tuple[Value | None]:
    """x_bar = Re(fftn(ct padded to the full spectrum)) = irfftn(conj(ct) * w) with the dual
    norm, w halving the bins irfft counts twice: one real transform, no padding."""
    if not _need(x):
        return (None,)
    a, n = axes[-1], x.shape[axes[-1]]
    w = _half_weights(n, x.type.ndim, a, 1.0, 0.5)
    spec = ops.mul(ops.conj(ct), ops.lit(w, ops.real_dtype(ct.dtype)))
    return (ops.emit("irfft", spec, axes=axes, norm=_DUAL[norm], n=n),)


def _irfft_vjp(g: Value, x: Value, out: Var, axes: tuple[int, ...], norm: str,
               n: int) -> tuple[Value | None]:
    """The bins of ifftn(g), weighted by how often irfft counts each (once for bin 0 and
    n/2, twice for the others): ifftn(g) = conj(rfftn(g)) with the dual norm, g real."""
    if not _need(x):
        return (None,)
    w = _half_weights(n, x.type.ndim, axes[-1], 1.0, 2.0)
    spec = ops.conj(ops.emit("rfft", g, axes=axes, norm=_DUAL[norm]))
    return (ops.mul(spec, ops.lit(w, g.dtype)),)


def _linear_jvp(name: str):  # noqa: ANN202
    return lambda ts, x, out, **p: None if ts[0] is None else ops.emit(name, ts[0], **p)


register(Primitive("fft", LIBRARY, shape=_fft_shape, impl=fft_impl, jvp=_linear_jvp("fft"),
                   vjp=_fft_vjp, params=("axes", "inverse", "norm"), linear=True))
register(Primitive("rfft", LIBRARY, shape=_rfft_shape, impl=rfft_impl, jvp=_linear_jvp("rfft"),
                   vjp=_rfft_vjp, params=("axes", "norm"), linear=True))
register(Primitive("irfft", LIBRARY, shape=_irfft_shape, impl=irfft_impl,
                   jvp=_linear_jvp("irfft"), vjp=_irfft_vjp, params=("axes", "n", "norm"),
                   linear=True))
