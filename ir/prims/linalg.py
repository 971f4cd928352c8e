"""Matrix products. `matmul` multiplies the last two axes, with equal batch axes in front;
the transpose flags let the adjoint use BLAS's transposed forms instead of copies."""
from __future__ import annotations

import numpy as np

from .. import batching, ops
from ..core import ArrayType, Value, Var
from ..primitive import LINALG, MATMUL, Lowering, Primitive, register


def _mat(t: tuple[int, ...], transposed: bool) -> tuple[int, int]:
    return (t[-1], t[-2]) if transposed else (t[-2], t[-1])


def _matmul_shape(a: ArrayType, b: ArrayType, *, transpose_a: bool,
                  transpose_b: bool) -> ArrayType:
    if a.ndim < 2 or a.ndim != b.ndim or a.shape[:-2] != b.shape[:-2]:
        raise ValueError(f"matmul needs operands of equal rank >= 2 and equal batch axes, "
                         f"got {a} and {b}")
    if a.dtype != b.dtype:
        raise TypeError(f"matmul operands have different dtypes {a.dtype}, {b.dtype}")
    m, k = _mat(a.shape, transpose_a)
    k2, n = _mat(b.shape, transpose_b)
    if k != k2:
        raise ValueError(f"matmul: inner dimensions {k} and {k2} differ")
    return a.with_shape(a.shape[:-2] + (m, n))


def _impl(a: np.ndarray, b: np.ndarray, transpose_a: bool, transpose_b: bool) -> np.ndarray:
    return np.matmul(np.swapaxes(a, -1, -2) if transpose_a else a,
                     np.swapaxes(b, -1, -2) if transpose_b else b)


def _vjp(ct: Value, a: Value, b: Value, out: Var, transpose_a: bool,
         transpose_b: bool) -> tuple[Value | None, Value | None]:
    need_a = isinstance(a, Var) and a.type.is_float
    need_b = isinstance(b, Var) and b.type.is_float
    ct_a = ct_b = None
    if need_a:
        ct_a = (ops.matmul(b, ct, transpose_a=transpose_b, transpose_b=True) if transpose_a
                else ops.matmul(ct, b, transpose_b=not transpose_b))
    if need_b:
        ct_b = (ops.matmul(ct, a, transpose_a=True, transpose_b=transpose_a) if transpose_b
                else ops.matmul(a, ct, transpose_a=not transpose_a))
    return ct_a, ct_b


def _jvp(ts: list[Value | None], a: Value, b: Value, out: Var, transpose_a: bool,
         transpose_b: bool) -> Value | None:
    ta, tb = ts
    total = None
    if ta is not None:
        total = ops.matmul(ta, b, transpose_a, transpose_b)
    if tb is not None:
        total = ops.add_any(total, ops.matmul(a, tb, transpose_a, transpose_b))
    return total


register(Primitive("matmul", LINALG, batch=batching.matmul, lowering=Lowering(MATMUL),
                   shape=_matmul_shape, impl=_impl, jvp=_jvp, vjp=_vjp,
                   params=("transpose_a", "transpose_b"),
                   extra={"defaults": {"transpose_a": False, "transpose_b": False}}))
