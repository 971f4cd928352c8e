"""Complex primitives: real, imag, conj, and complex (two reals make one complex value).

The derivative convention is JAX's and autograd's. A cotangent `c` of a value `w` pairs
with a tangent `t` as Re(c * t), without a conjugate. The VJP of a complex-linear map
t -> a * t is then c -> a * c, so every holomorphic primitive keeps its real rules
(`ct * f'(x)`), and `grad` of a real function f(z), z = x + iy, is df/dx - i df/dy
(2 conj(z) for |z|^2; the direction of steepest ascent is its conjugate). Only the
primitives that are not complex-linear need rules of their own: these four, `abs` and
`convert` (elementwise.py). With that pairing (t real, c complex):

    real:    Re(c_out * Re t)  = Re(Re(c_out) t)  -> ct = c_out            (as complex)
    imag:    c_out * Im t      = Re(-i c_out t)   -> ct = -i c_out
    conj:    Re(c conj(t))     = Re(conj(c) t)    -> ct = conj(c_out)
    complex: Re(c (tx + i ty)) = Re(c) tx - Im(c) ty -> ct_x = Re(c), ct_y = -Im(c)
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..core import COMPLEX_DTYPES, COMPLEX_OF, REAL_OF, ArrayType, Value, Var
from ..primitive import ELEMENTWISE, Primitive, register
from .elementwise import broadcast_rule


def _need(x: Value) -> bool:
    return isinstance(x, Var) and x.type.is_float


def _part_shape(x: ArrayType) -> ArrayType:
    if x.dtype not in COMPLEX_DTYPES:
        raise TypeError(f"expected a complex operand, got {x.dtype}")
    return x.with_dtype(REAL_OF[x.dtype])


def _conj_shape(x: ArrayType) -> ArrayType:
    if x.dtype not in COMPLEX_DTYPES:
        raise TypeError(f"expected a complex operand, got {x.dtype}")
    return x


def _complex_shape(x: ArrayType, y: ArrayType) -> ArrayType:
    if x.dtype not in ("f32", "f64"):
        raise TypeError(f"complex takes real floating operands, got {x.dtype}")
    return broadcast_rule(x, y, out_dtype=COMPLEX_OF[x.dtype])


def _real_jvp(tangents: list[Value | None], x: Value, out: Var) -> Value | None:
    (t,) = tangents
    return None if t is None else ops.real(t)


def _real_vjp(ct: Value, x: Value, out: Var) -> tuple[Value | None]:
    return (ops.to_complex(ct) if _need(x) else None,)


def _imag_jvp(tangents: list[Value | None], x: Value, out: Var) -> Value | None:
    (t,) = tangents
    return None if t is None else ops.imag(t)


def _imag_vjp(ct: Value, x: Value, out: Var) -> tuple[Value | None]:
    if not _need(x):
        return (None,)
    return (ops.emit("complex", ops.zeros(ct.type), ops.neg(ct)),)


def _conj_jvp(tangents: list[Value | None], x: Value, out: Var) -> Value | None:
    (t,) = tangents
    return None if t is None else ops.conj(t)


def _conj_vjp(ct: Value, x: Value, out: Var) -> tuple[Value | None]:
    return (ops.conj(ct) if _need(x) else None,)


def _complex_jvp(tangents: list[Value | None], x: Value, y: Value, out: Var) -> Value | None:
    tx, ty = tangents
    if tx is None and ty is None:
        return None
    tx = ops.zeros(out.type.with_dtype(x.dtype)) if tx is None else tx
    ty = ops.zeros(out.type.with_dtype(y.dtype)) if ty is None else ty
    return ops.broadcast_to(ops.emit("complex", tx, ty), out.shape)


def _complex_vjp(ct: Value, x: Value, y: Value, out: Var) -> tuple[Value | None, ...]:
    return (ops.unbroadcast(ops.real(ct), x.shape) if _need(x) else None,
            ops.unbroadcast(ops.neg(ops.imag(ct)), y.shape) if _need(y) else None)


register(Primitive("real", ELEMENTWISE, shape=_part_shape, impl=lambda x: np.asarray(np.real(x)),
                   jvp=_real_jvp, vjp=_real_vjp, code="({x}).real", args=("x",), linear=True))
register(Primitive("imag", ELEMENTWISE, shape=_part_shape, impl=lambda x: np.asarray(np.imag(x)),
                   jvp=_imag_jvp, vjp=_imag_vjp, code="({x}).imag", args=("x",), linear=True))
register(Primitive("conj", ELEMENTWISE, shape=_conj_shape, impl=lambda x: np.asarray(np.conj(x)),
                   jvp=_conj_jvp, vjp=_conj_vjp, code="({x}).conjugate()", args=("x",),
                   linear=True))
register(Primitive("complex", ELEMENTWISE, shape=_complex_shape,
                   impl=lambda x, y: np.asarray(x + 1j * y).astype(
                       np.result_type(x, y, np.complex64)),
                   jvp=_complex_jvp, vjp=_complex_vjp, code="complex({x}, {y})",
                   args=("x", "y"), linear=True))


# ---- abs of a complex value: |z|, real ---------------------------------------------------------
# d|z| = Re(conj(z) dz) / |z|, so the JVP is Re(conj(z) t) / |z| and the VJP c conj(z) / |z|
# (0 at z = 0, as the real abs's sign(0) = 0).

def _unit_conj(x: Value, out: Var) -> Value:
    """conj(x) / |x|, and 0 where x = 0."""
    safe = ops.select(ops.ew("eq", out, 0.0), ops.lit(1.0, out.dtype), out)
    q = ops.div(ops.conj(x), ops.to_complex(safe))
    return ops.select(ops.ew("eq", out, 0.0), ops.lit(0, x.dtype), q)


def abs_complex_jvp(t: Value, x: Value, out: Var) -> Value:
    return ops.real(ops.mul(t, _unit_conj(x, out)))


def abs_complex_vjp(ct: Value, x: Value, out: Var) -> Value:
    return ops.mul(ops.to_complex(ct), _unit_conj(x, out))
