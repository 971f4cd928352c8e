"""numpy's complex-number functions on tracers, and the complex cases of elementwise ops.

np.real, np.imag, np.conj(ugate), np.angle, np.real_if_close, np.iscomplex, np.isreal and
the array attributes .real, .imag, .conj(), .conjugate(). Complex values follow numpy's
promotion (1j * float32 is complex64, NEP 50). What numpy defines by an ordering of complex
numbers (maximum, argmax, sort, clip, <) and what is real-only (arctan2, logaddexp,
floor, %) is a TraceError here, not a silent answer; np.max and np.min follow numpy's
lexicographic order (`complex_extremum`). `FUNCTIONS` is merged into
numpy_api's table.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from adjit.ir import Lit, Value, Var, current_loc, ops
from adjit.ir.errors import TraceError

from .values import Tracer, wrap

# Elementwise primitives numpy defines for complex values through an ordering, or not at all.
_ORDERED = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "maximum": "np.maximum",
            "minimum": "np.minimum"}
_REAL_ONLY = {"arctan2": "np.arctan2", "logaddexp": "np.logaddexp", "floor": "np.floor",
              "floor_divide": "//", "mod": "%", "fmod": "np.fmod", "logistic": "logistic"}


def _is_complex(v: Any) -> bool:
    return isinstance(v, complex) or (isinstance(v, (Var, Lit)) and v.type.is_complex)


def no_ordering(v: Value, what: str) -> None:
    """A TraceError for an operation that needs an ordering, on a complex value."""
    if v.type.is_complex:
        raise TraceError(f"{what} compares complex values, which adjit does not order",
                         loc=current_loc(),
                         hint="compare a real quantity instead: np.abs(z), z.real or z.imag")


def complex_extremum(prim: str, z: Value, axes: tuple[int, ...]) -> Value:
    """np.max / np.min of complex values over `axes`: numpy orders them lexicographically
    (real part first, then imaginary). The real parts' extremum, then the extremum of the
    imaginary parts among the elements that reach it; its derivative goes to the elements
    equal to the result (split between ties), as autograd's does."""
    re, im = ops.real(z), ops.imag(z)
    m_re = ops.emit(prim, re, axes=axes)
    kept = tuple(1 if i in axes else d for i, d in enumerate(z.shape))
    on = ops.ew("eq", re, ops.reshape(m_re, kept))
    fill = ops.lit(-np.inf if prim == "reduce_max" else np.inf, re.dtype)
    m_im = ops.emit(prim, ops.select(on, im, fill), axes=axes)
    # The value is (m_re, m_im); its derivative is the mean of the derivatives of the
    # elements equal to it: value + sum(w * (z - z)), with w and the value constants.
    value = ops.emit("stop_gradient", ops.emit("complex", m_re, m_im))
    hit = ops.convert(ops.ew("eq", z, ops.reshape(value, kept)), re.dtype)
    w = ops.div(hit, ops.reshape(ops.reduce_sum(hit, axes), kept))
    moved = ops.sub(z, ops.emit("stop_gradient", z))
    return ops.add(value, ops.reduce_sum(ops.mul(ops.to_complex(w), moved), axes))


def complex_elementwise(name: str, vals: list[Any]) -> Value | None:
    """The complex case of elementwise op `name`, where it differs from the primitive's own
    (None: emit the primitive as usual)."""
    if name in _ORDERED:
        raise TraceError(f"{_ORDERED[name]} compares complex values, which adjit does not "
                         "order", loc=current_loc(),
                         hint="compare a real quantity instead: np.abs(z), z.real or z.imag")
    if name in _REAL_ONLY:
        raise TraceError(f"{_REAL_ONLY[name]} is not defined for complex values",
                         loc=current_loc(), hint="apply it to z.real and z.imag")
    if name == "sign":  # numpy 2: z / |z|, and 0 at 0
        (z,) = ops.coerce(*vals)
        r = ops.ew("abs", z)
        zero = ops.ew("eq", r, 0.0)
        q = ops.div(z, ops.to_complex(ops.select(zero, ops.lit(1.0, r.dtype), r)))
        return ops.select(zero, ops.lit(0, z.dtype), q)
    return None


# ---- functions ---------------------------------------------------------------------------------

def _t(x: Any) -> Tracer:
    from .numpy_api import _t as t

    return t(x)


def real(val: Any) -> Tracer:
    t = _t(val)
    return wrap(ops.real(t.val), t.weak)


def imag(val: Any) -> Tracer:
    t = _t(val)
    return wrap(ops.imag(t.val), t.weak)


def conj(x: Any, *args: Any, **kwargs: Any) -> Tracer:
    t = _t(x)
    return wrap(ops.conj(t.val), t.weak)


def angle(z: Any, deg: bool = False) -> Tracer:
    t = _t(z)
    v = t.val if t.val.type.is_float else ops.convert(t.val, "f64")
    re = ops.real(v)
    a = ops.ew("arctan2", ops.imag(v) if v.type.is_complex else ops.zeros(re.type), re)
    return wrap(ops.mul(a, 180.0 / np.pi) if deg else a)


def real_if_close(a: Any, tol: float = 100) -> Tracer:
    # numpy drops the imaginary part only when all of it is tiny: that depends on the values,
    # which a traced function does not know; the type must be fixed when tracing.
    t = _t(a)
    if not t.val.type.is_complex:
        return t
    raise TraceError("np.real_if_close on a complex traced value: whether the result is real "
                     "depends on the values, which are not known while tracing",
                     loc=current_loc(), hint="use np.real(z) where the imaginary part is "
                                             "known to be negligible")


def iscomplex(x: Any) -> Tracer:
    t = _t(x)
    if not t.val.type.is_complex:
        return wrap(ops.broadcast_to(ops.lit(False, "bool"), t.shape))
    return wrap(ops.ew("ne", ops.imag(t.val), 0.0))


def isreal(x: Any) -> Tracer:
    t = _t(x)
    if not t.val.type.is_complex:
        return wrap(ops.broadcast_to(ops.lit(True, "bool"), t.shape))
    return wrap(ops.ew("eq", ops.imag(t.val), 0.0))


def iscomplexobj(x: Any) -> bool:
    return _t(x).val.type.is_complex  # the dtype is known while tracing: a Python bool


def isrealobj(x: Any) -> bool:
    return not iscomplexobj(x)


FUNCTIONS: dict[Any, Callable[..., Any]] = {
    np.real: real, np.imag: imag, np.angle: angle, np.real_if_close: real_if_close,
    np.iscomplex: iscomplex, np.isreal: isreal, np.iscomplexobj: iscomplexobj,
    np.isrealobj: isrealobj,
}


def install_methods(cls: type, method: Callable[..., Any]) -> None:
    """.real, .imag (properties), .conj(), .conjugate() on tracers."""
    from adjit.ir import context

    from .loc import user_loc

    def prop(fn: Callable[..., Any]) -> property:
        def get(self: Any) -> Any:
            with context(loc=user_loc(2)):
                return fn(self)

        return property(get)

    cls.real = prop(real)
    cls.imag = prop(imag)
    cls.conj = method(conj)
    cls.conjugate = method(conj)
