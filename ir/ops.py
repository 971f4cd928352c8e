"""The array language of the IR: numpy-like functions that emit equations.

VJP and JVP rules are written with these, as are the tracer's numpy functions,
so a derivative is itself a graph. Python scalars are weakly typed (numpy's NEP 50):
they take the dtype of the array they meet, so `mul(2.0, x)` stays float32 for a
float32 `x`. Any elementwise primitive is available as `ops.<name>`.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .builder import emit
from .core import (
    COMPLEX_DTYPES,
    COMPLEX_OF,
    DTYPES,
    FLOAT_DTYPES,
    REAL_OF,
    ArrayType,
    Lit,
    Value,
    Var,
    dtype_name,
)
from .primitive import ELEMENTWISE, PRIMS

Scalar = int | float | bool
Operand = Value | Scalar | np.number


def lit(value: Any, dtype: str) -> Lit:
    return Lit.make(value, dtype)


def _is_value(x: Any) -> bool:
    return isinstance(x, (Var, Lit))


def _scalar_dtype(x: Any) -> str:
    if isinstance(x, (bool, np.bool_)):
        return "bool"
    if isinstance(x, (int, np.integer)):
        return "i64"
    if isinstance(x, (complex, np.complexfloating)):
        return "c128"
    return "f64"


def weak_result(strong: str, weak_kind: str) -> str:
    """The dtype of an array of dtype `strong` meeting a Python scalar of dtype `weak_kind`
    (NEP 50: the scalar's kind counts, not its precision: 1j * float32 is complex64)."""
    if weak_kind == "c128" and strong not in COMPLEX_DTYPES:
        return COMPLEX_OF.get(strong, "c128")
    if weak_kind == "f64" and strong not in FLOAT_DTYPES + COMPLEX_DTYPES:
        return "f64"
    if weak_kind == "i64" and strong == "bool":
        return "i64"
    return strong


def promote_dtypes(*dtypes: str) -> str:
    return dtype_name(np.result_type(*[DTYPES[d] for d in dtypes]))


def coerce(*args: Operand) -> list[Value]:
    """Give operands one dtype: arrays promote as numpy does, Python scalars are weak."""
    strong = [a for a in args if _is_value(a)]
    if strong:
        dt = promote_dtypes(*[a.dtype for a in strong])
        # A weak float meeting integer/bool arrays makes the result float64, as numpy does.
        for kind in sorted({_scalar_dtype(a) for a in args if not _is_value(a)}):
            dt = weak_result(dt, kind)
    else:
        dt = promote_dtypes(*[_scalar_dtype(a) for a in args])
    out: list[Value] = []
    for a in args:
        if _is_value(a):
            out.append(a if a.dtype == dt else convert(a, dt))
        else:
            out.append(lit(a, dt))
    return out


def ew(name: str, *args: Operand) -> Var:
    """Apply an elementwise primitive, coercing operands to one dtype."""
    prim = PRIMS[name]
    vals = coerce(*args)
    if prim.extra.get("float_only") and vals and vals[0].dtype not in FLOAT_DTYPES + COMPLEX_DTYPES:
        vals = [convert(v, "f64") for v in vals]
    return emit(name, *vals)


def __getattr__(name: str) -> Any:
    prim = PRIMS.get(name)
    if prim is not None and prim.kind == ELEMENTWISE:
        return lambda *args: ew(name, *args)
    raise AttributeError(f"module 'adjit.ir.ops' has no attribute {name!r}")


def convert(x: Value, dtype: str) -> Value:
    if x.dtype == dtype:
        return x
    if isinstance(x, Lit):
        return Lit.make(x.value.astype(DTYPES[dtype]), dtype)
    return emit("convert", x, dtype=dtype)


def real(x: Value) -> Value:
    """The real part (a real value is its own)."""
    return emit("real", x) if x.dtype in COMPLEX_DTYPES else x


def imag(x: Value) -> Value:
    if x.dtype in COMPLEX_DTYPES:
        return emit("imag", x)
    return zeros(x.type.with_dtype(x.dtype if x.dtype in FLOAT_DTYPES else "f64"))


def conj(x: Value) -> Value:
    return emit("conj", x) if x.dtype in COMPLEX_DTYPES else x


def to_complex(x: Value) -> Value:
    """x as complex of its precision (float32 -> complex64, others -> complex128)."""
    if x.dtype in COMPLEX_DTYPES:
        return x
    return convert(x, COMPLEX_OF.get(x.dtype, "c128"))


def real_dtype(dtype: str) -> str:
    return REAL_OF.get(dtype, dtype)


def select(c: Operand, x: Operand, y: Operand) -> Var:
    xv, yv = coerce(x, y)
    cv = c if _is_value(c) else lit(bool(c), "bool")
    if cv.dtype != "bool":
        cv = emit("ne", cv, lit(0, cv.dtype))
    return emit("select", cv, xv, yv)


def add(x: Operand, y: Operand) -> Var:
    return ew("add", x, y)


def sub(x: Operand, y: Operand) -> Var:
    return ew("sub", x, y)


def mul(x: Operand, y: Operand) -> Var:
    return ew("mul", x, y)


def div(x: Operand, y: Operand) -> Var:
    return ew("div", x, y)


def neg(x: Operand) -> Var:
    return ew("neg", x)


# ---- shapes ---------------------------------------------------------------------------------

def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(np.broadcast_shapes(*shapes))


def reshape(x: Value, shape: Sequence[int]) -> Value:
    shape = tuple(int(d) for d in shape)
    if x.shape == shape:
        return x
    return emit("reshape", x, shape=shape)


def transpose(x: Value, perm: Sequence[int]) -> Value:
    perm = tuple(int(p) for p in perm)
    if perm == tuple(range(len(perm))):
        return x
    return emit("transpose", x, perm=perm)


def broadcast_to(x: Operand, shape: Sequence[int], dtype: str | None = None) -> Value:
    shape = tuple(int(d) for d in shape)
    if not _is_value(x):
        x = lit(x, dtype or _scalar_dtype(x))
    if x.shape == shape:
        return x
    return emit("broadcast_to", x, shape=shape)


def reduce_sum(x: Value, axes: Sequence[int]) -> Value:
    axes = tuple(sorted(int(a) % max(x.type.ndim, 1) for a in axes))
    if not axes:
        return x
    return emit("reduce_sum", x, axes=axes)


def unbroadcast(ct: Value, shape: tuple[int, ...]) -> Value:
    """Undo numpy broadcasting: sum `ct` down to `shape` (the adjoint of broadcast_to)."""
    if ct.shape == shape:
        return ct
    lead = len(ct.shape) - len(shape)
    axes = list(range(lead))
    for i, d in enumerate(shape):
        if d == 1 and ct.shape[lead + i] != 1:
            axes.append(lead + i)
    summed = reduce_sum(ct, axes)
    return reshape(summed, shape)


def zeros(t: ArrayType) -> Value:
    return broadcast_to(lit(0, t.dtype), t.shape)


def ones_like(x: Value) -> Value:
    return broadcast_to(lit(1, x.dtype), x.shape)


def matmul(a: Value, b: Value, transpose_a: bool = False, transpose_b: bool = False) -> Var:
    return emit("matmul", a, b, transpose_a=transpose_a, transpose_b=transpose_b)


def add_any(x: Value | None, y: Value | None) -> Value | None:
    """Sum of two cotangents where None is a symbolic zero."""
    if x is None:
        return y
    if y is None:
        return x
    return add(x, y)
