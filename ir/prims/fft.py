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
  real part of fftn of the cotangent zero-padded back to n bins.
- irfft(t)_j = sum over the full spectrum, rebuilt from the half by Hermitian symmetry, of
  which numpy reads only the real part of bins 0 and n/2: y = Re(sum_k w_k t_k e_k(j)) scaled
  as the norm says, w_k = 1 for bin 0 and (even n) bin n/2, else 2. Its transpose is
  w * ifftn(g) restricted to bins 0..n//2 (ifftn of the real cotangent g, same norm).
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


def _rfft_vjp(ct: Value, x: Value, out: Var, axes: tuple[int, ...],
              norm: str) -> tuple[Value | None]:
    if not _need(x):
        return (None,)
    full = resize(ct, axes[-1], x.shape[axes[-1]])
    return (ops.real(ops.emit("fft", full, axes=axes, inverse=False, norm=norm)),)


def _irfft_vjp(g: Value, x: Value, out: Var, axes: tuple[int, ...], norm: str,
               n: int) -> tuple[Value | None]:
    if not _need(x):
        return (None,)
    spec = ops.emit("fft", ops.to_complex(g), axes=axes, inverse=True, norm=norm)
    a, m = axes[-1], x.shape[axes[-1]]
    w = np.full(m, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    w = w.reshape(tuple(m if d == a else 1 for d in range(x.type.ndim)))
    return (ops.mul(resize(spec, a, m), ops.lit(w, g.dtype)),)


def _linear_jvp(name: str):  # noqa: ANN202
    return lambda ts, x, out, **p: None if ts[0] is None else ops.emit(name, ts[0], **p)


register(Primitive("fft", LIBRARY, shape=_fft_shape, impl=fft_impl, jvp=_linear_jvp("fft"),
                   vjp=_fft_vjp, params=("axes", "inverse", "norm"), linear=True))
register(Primitive("rfft", LIBRARY, shape=_rfft_shape, impl=rfft_impl, jvp=_linear_jvp("rfft"),
                   vjp=_rfft_vjp, params=("axes", "norm"), linear=True))
register(Primitive("irfft", LIBRARY, shape=_irfft_shape, impl=irfft_impl,
                   jvp=_linear_jvp("irfft"), vjp=_irfft_vjp, params=("axes", "n", "norm"),
                   linear=True))
