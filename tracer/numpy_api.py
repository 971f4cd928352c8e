"""numpy's functions, ufuncs and array methods on tracers, written with `ir.ops`.

Each supported numpy function maps to one Python function here (`FUNCTIONS`,
`UFUNCS`); anything else raises a `TraceError` naming the function and the user's
line. Semantics follow numpy: dtype promotion (NEP 50 for Python scalars),
broadcasting, negative axes, `keepdims`.
"""
from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from adjit.ir import Lit, Value, Var, current_loc, ops
from adjit.ir.builder import emit
from adjit.ir.errors import ImmutableError, ShapeError, TraceError

from . import masked, np_linalg
from .masked import Masked
from .np_complex import complex_extremum, no_ordering
from .values import Tracer, is_weak, pack_objects, unwrap, wrap

# ---- dtype handling ------------------------------------------------------------------------------


def _as_value(x: Any) -> Value | int | float | bool:
    return unwrap(x)


def _weak_kind(x: Any) -> str:
    v = x.val if isinstance(x, Tracer) else x
    if isinstance(v, (Var, Lit)):
        if v.dtype in ("f32", "f64"):
            return "float"
        if v.dtype in ("c64", "c128"):
            return "complex"
        return "int" if v.dtype in ("i32", "i64") else "bool"
    if isinstance(v, complex):
        return "complex"
    return "bool" if isinstance(v, bool) else "int" if isinstance(v, int) else "float"


def _operands(*xs: Any) -> tuple[list[Any], bool]:
    """Values for an elementwise op; weak tracers act like Python scalars (NEP 50)."""
    weak = all(is_weak(x) for x in xs)
    strong_dtypes = [unwrap(x).dtype for x in xs if not is_weak(x)]
    vals: list[Any] = []
    for x in xs:
        v = unwrap(x)
        if isinstance(x, Tracer) and x.weak and strong_dtypes:
            target = ops.promote_dtypes(*strong_dtypes)
            kind = _weak_kind(x)
            target = ops.weak_result(target, {"float": "f64", "complex": "c128", "int": "i64",
                                              "bool": "bool"}[kind])
            v = ops.convert(v, target)
        vals.append(v)
    return vals, weak


def elementwise(name: str, *xs: Any) -> Tracer:
    if any(isinstance(x, Masked) for x in xs):
        return masked.elementwise(name, xs, elementwise)
    vals, weak = _operands(*xs)
    if any(isinstance(v, (Var, Lit)) and v.type.is_complex or isinstance(v, complex)
           for v in vals):
        from .np_complex import complex_elementwise

        out = complex_elementwise(name, vals)
        if out is not None:
            return wrap(out, weak and name not in _COMPARISONS)
    if name == "matmul":
        return matmul(*xs)
    if name in ("floor_divide", "mod") and all(getattr(v, "dtype", "") == "bool" for v in vals):
        vals = [ops.convert(v, "i64") for v in vals]  # numpy: an integer, not a bool
    if name in ("logical_and", "logical_or", "logical_not"):
        vals = [ops.convert(v, "bool") if isinstance(v, (Var, Lit)) else bool(v) for v in vals]
        if not any(isinstance(v, (Var, Lit)) for v in vals):
            vals[0] = ops.lit(vals[0], "bool")
    return wrap(ops.ew(name, *vals), weak and name not in _COMPARISONS)


_COMPARISONS = {"lt", "le", "gt", "ge", "eq", "ne"}


# ---- ufuncs --------------------------------------------------------------------------------------

_UFUNC_PRIMS = {
    "add": "add", "subtract": "sub", "multiply": "mul", "divide": "div", "true_divide": "div",
    "power": "pow", "float_power": "pow", "negative": "neg", "exp": "exp", "exp2": "exp2",
    "expm1": "expm1", "log": "log", "log2": "log2", "log10": "log10", "log1p": "log1p",
    "sqrt": "sqrt", "sin": "sin", "cos": "cos", "tan": "tan", "sinh": "sinh", "cosh": "cosh",
    "tanh": "tanh", "arcsin": "arcsin", "arccos": "arccos", "arctan": "arctan",
    "arctan2": "arctan2", "absolute": "abs", "fabs": "abs", "sign": "sign", "maximum": "maximum",
    "minimum": "minimum", "fmax": "maximum", "fmin": "minimum", "logaddexp": "logaddexp",
    "less": "lt", "less_equal": "le", "greater": "gt", "greater_equal": "ge", "equal": "eq",
    "not_equal": "ne", "logical_and": "logical_and", "logical_or": "logical_or",
    "logical_not": "logical_not", "floor": "floor", "floor_divide": "floor_divide",
    "remainder": "mod", "matmul": "matmul",
}


def _square(x: Any) -> Tracer:
    return elementwise("mul", x, x)


def _reciprocal(x: Any) -> Tracer:
    return elementwise("div", 1.0, x)


def _positive(x: Any) -> Any:
    return x


def _ceil(x: Any) -> Tracer:
    return elementwise("neg", elementwise("floor", elementwise("neg", x)))


def _nan_ignoring(prim: str) -> Callable[..., Tracer]:
    """np.fmax / np.fmin: like maximum / minimum, but a NaN loses to a number."""
    def fn(x: Any, y: Any) -> Tracer:
        if any(isinstance(a, Masked) for a in (x, y)):
            return elementwise(prim, x, y)
        (xv, yv), weak = _operands(x, y)
        xv, yv = ops.coerce(xv, yv)
        no_ordering(xv, f"np.f{prim[:3]}")
        out = ops.ew(prim, xv, yv)
        if xv.dtype in ("f32", "f64"):
            out = ops.select(ops.ew("ne", yv, yv), ops.broadcast_to(xv, out.shape), out)
            out = ops.select(ops.ew("ne", xv, xv), ops.broadcast_to(yv, out.shape), out)
        return wrap(out, weak)

    return fn


_UFUNC_EXTRA: dict[str, Callable[..., Any]] = {"square": _square, "reciprocal": _reciprocal,
                                                "conjugate": lambda x: conj(x),
                                                "positive": _positive, "ceil": _ceil,
                                                "fmax": _nan_ignoring("maximum"),
                                                "fmin": _nan_ignoring("minimum")}


def apply_ufunc(ufunc: np.ufunc, method: str, inputs: tuple[Any, ...],
                kwargs: dict[str, Any]) -> Any:
    name = ufunc.__name__
    if kwargs.get("out") is not None:
        from .values import INPLACE_HINT, augmented_assignment

        if augmented_assignment():  # `y += x` with y a numpy array
            raise ImmutableError("in-place assignment into a numpy array is not traced: an "
                             "augmented assignment (`y += x`) on a numpy array writes into it",
                             loc=current_loc(), hint="write y = y + x (a new array); "
                                                     + INPLACE_HINT)
        raise ImmutableError(f"np.{name}(..., out=...) writes in place, which adjit cannot trace",
                         loc=current_loc(), hint="use the returned value instead of out=")
    dtype = kwargs.pop("dtype", None)
    if method == "reduce" and name in ("add", "multiply", "maximum", "minimum"):
        fn = {"add": sum_, "multiply": prod, "maximum": max_, "minimum": min_}[name]
        return fn(inputs[0], axis=kwargs.get("axis", 0), keepdims=kwargs.get("keepdims", False))
    if method == "accumulate" and name == "add":
        return cumsum(inputs[0], axis=kwargs.get("axis", 0))
    if method == "accumulate" and name == "multiply":
        return FUNCTIONS[np.cumprod](inputs[0], axis=kwargs.get("axis", 0))
    if method != "__call__":
        raise TraceError(f"{ufunc_name(ufunc)}.{method} is not supported by adjit",
                         loc=current_loc())
    if name == "float_power":
        inputs = tuple(astype(i, "f64") if isinstance(i, Tracer) else i for i in inputs)
    scipy_rule = None
    if getattr(np, name, None) is not ufunc:
        from .scipy_api import ufunc_rule

        scipy_rule = ufunc_rule(ufunc)
    if scipy_rule is not None:  # scipy.special's ufuncs (tracer/scipy_impl.py)
        out = scipy_rule(*inputs)
    elif name in _UFUNC_EXTRA:
        out = _UFUNC_EXTRA[name](*inputs)
    elif name in _UFUNC_PRIMS:
        out = elementwise(_UFUNC_PRIMS[name], *inputs)
    else:
        qual = ufunc_name(ufunc)
        hint = _UFUNC_REWRITES.get(qual, "write it with the numpy functions adjit supports "
                                         "(`python -m adjit numpy` lists them)")
        raise TraceError(f"{qual} is not supported by adjit yet", loc=current_loc(),
                         hint=hint)
    if isinstance(out, Tracer) and out.weak:
        # numpy turns Python scalars into numpy scalars (np.sin(0.5) is an np.float64),
        # which are strongly typed: np.sin(s) * float32 array is float64 (NEP 50).
        out = wrap(out.val, False)
    return astype(out, dtype) if dtype is not None else out


_UFUNC_REWRITES: dict[str, str] = {}  # ufunc name -> how to write it with supported ones


def ufunc_name(ufunc: np.ufunc) -> str:
    """Where a ufunc lives, as its users spell it: `np.exp`, `scipy.special.expit` (ufuncs
    do not record their module: the public module holding it is looked up)."""
    name = ufunc.__name__
    if getattr(np, name, None) is ufunc:
        return f"np.{name}"
    homes = [m for m, mod in list(sys.modules.items())
             if mod is not None and not any(p.startswith("_") for p in m.split("."))
             and getattr(mod, name, None) is ufunc]
    return f"{min(homes, key=len)}.{name}" if homes else f"the ufunc {name}"


# ---- helpers -------------------------------------------------------------------------------------

def _t(x: Any) -> Tracer:
    """Any array-like as a Tracer (constants become literal tracers)."""
    if isinstance(x, Masked):
        raise masked.unsupported("this operation")
    if isinstance(x, Tracer):
        return x
    if isinstance(x, np.ndarray) and x.dtype == object:
        return pack_objects(x)
    return Tracer(unwrap(x) if not isinstance(x, (bool, int, float, complex)) else Lit.make(x),
                  False)


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ShapeError(f"axis {a} is out of bounds for an array of dimension {ndim}",
                             loc=current_loc())
        out.append(a % max(ndim, 1))
    return tuple(sorted(set(out)))


def _keep(v: Value, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Value:
    if not keepdims:
        return v
    return ops.reshape(v, tuple(1 if i in axes else d for i, d in enumerate(shape)))


def _float(v: Value) -> Value:
    return v if v.dtype in ("f32", "f64", "c64", "c128") else ops.convert(v, "f64")


def _sum_dtype(v: Value) -> Value:
    return ops.convert(v, "i64") if v.dtype in ("bool", "i32") else v


# ---- reductions ----------------------------------------------------------------------------------

def _where_mask(where: Any, shape: tuple[int, ...]) -> Value | None:
    """A reduction's `where=`: a boolean mask broadcast to the reduced array's shape."""
    if where is None or where is True:
        return None
    w = _t(where).val
    if w.dtype != "bool":
        w = ops.ew("ne", w, ops.lit(0, w.dtype))
    try:
        np.broadcast_shapes(w.shape, shape)
    except ValueError:
        raise ShapeError(f"where= of shape {w.shape} does not broadcast to the array's shape "
                         f"{shape}", loc=current_loc()) from None
    return ops.broadcast_to(ops.reshape(w, (1,) * (len(shape) - len(w.shape)) + w.shape), shape)


def _fill(v: Value, mask: Value | None, fill: Any) -> Value:
    return v if mask is None else ops.select(mask, v, ops.lit(fill, v.dtype))


def sum_(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
         initial: Any = None, where: Any = None) -> Any:
    _no_out(out, "sum")
    if isinstance(a, Masked):
        _no_where(where, "sum")
        return masked.reduce("sum", a, axis, keepdims)
    x = _t(a)
    v = x.val if dtype is None else ops.convert(x.val, _dtype(dtype))
    v = _fill(_sum_dtype(v), _where_mask(where, x.shape), 0)
    axes = _axes(axis, x.ndim)
    r = ops.reduce_sum(v, axes) if x.ndim else v
    if initial is not None:
        r = ops.add(r, initial)
    return wrap(_keep(r, x.shape, axes, keepdims))


def _count(x: Tracer, axes: tuple[int, ...], mask: Value | None, dtype: str) -> Value | float:
    """How many elements a mean over `axes` averages: all of them, or where `mask` holds."""
    if mask is None:
        return float(int(np.prod([x.shape[i] for i in axes], dtype=np.int64)) if x.ndim else 1)
    m = ops.convert(mask, dtype)
    return ops.reduce_sum(m, axes) if x.ndim else m


def mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
         keepdims: bool = False, where: Any = None) -> Any:
    _no_out(out, "mean")
    if isinstance(a, Masked):
        _no_where(where, "mean")
        return masked.reduce("mean", a, axis, keepdims)
    x = _t(a)
    v = _float(x.val) if dtype is None else ops.convert(x.val, _dtype(dtype))
    mask = _where_mask(where, x.shape)
    v = _fill(v, mask, 0)
    axes = _axes(axis, x.ndim)
    r = ops.div(ops.reduce_sum(v, axes) if x.ndim else v, _count(x, axes, mask, v.dtype))
    return wrap(_keep(r, x.shape, axes, keepdims))


def var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
        keepdims: bool = False, where: Any = None, correction: Any = None) -> Any:
    _no_out(out, "var")
    ddof = _correction(ddof, correction)
    if isinstance(a, Masked):
        _no_where(where, "var")
        return masked.reduce("var", a, axis, keepdims, ddof)
    x = _t(a)
    v = _float(x.val) if dtype is None else ops.convert(x.val, _dtype(dtype))
    mask = _where_mask(where, x.shape)
    axes = _axes(axis, x.ndim)
    n = _count(x, axes, mask, v.dtype)
    m = ops.div(ops.reduce_sum(_fill(v, mask, 0), axes), n) if x.ndim else v
    d = _fill(ops.sub(v, _keep(m, x.shape, axes, True)), mask, 0)
    dd = ops.real(ops.mul(d, ops.conj(d)))  # |d|^2: numpy's var of complex values is real
    r = ops.div(ops.reduce_sum(dd, axes) if x.ndim else dd,
                ops.sub(n, float(ddof)) if mask is not None else float(n - ddof))
    return wrap(_keep(r, x.shape, axes, keepdims))


def _correction(ddof: Any, correction: Any) -> Any:
    """numpy 2's array-API spelling of ddof."""
    if correction is None:
        return ddof
    if ddof != 0:
        raise TraceError("ddof and correction are the same argument: give one",
                         loc=current_loc())
    return correction


def std(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
        keepdims: bool = False, where: Any = None, correction: Any = None) -> Any:
    ddof = _correction(ddof, correction)
    if isinstance(a, Masked):
        _no_where(where, "std")
        return masked.reduce("std", a, axis, keepdims, ddof)
    v = var(a, axis, dtype, out, ddof, keepdims, where)
    x = _t(a)
    if where is None and ddof == 0 and all(x.shape[i] == 1 for i in _axes(axis, x.ndim)):
        # One value per group: the deviation is identically 0, and so is its derivative
        # (sqrt's at 0 would make it 0 * inf = NaN).
        return v
    return wrap(ops.ew("sqrt", v.val))


def _reduce(prim: str) -> Callable[..., Any]:
    def reduce(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False,
               initial: Any = None, where: Any = None, dtype: Any = None) -> Any:
        _no_out(out, prim)
        if isinstance(a, Masked):
            _no_where(where, prim)
            return masked.reduce(prim.split("_")[1], a, axis, keepdims)
        x = _t(a)
        v = x.val if dtype is None else ops.convert(x.val, _dtype(dtype))
        if prim != "reduce_prod" and (where is not None or initial is not None):
            no_ordering(v, f"np.{prim.split('_')[1]} with where= or initial=")
        if prim == "reduce_prod":
            v = _sum_dtype(v)
        mask = _where_mask(where, x.shape)
        if mask is not None:
            if prim != "reduce_prod" and initial is None:
                raise TraceError(f"{prim.split('_')[1]} with where= needs initial= (numpy's "
                                 "rule: the reduction has no identity)", loc=current_loc())
            if isinstance(initial, Tracer):
                raise TraceError("a traced initial= with where= is not supported",
                                 loc=current_loc())
            v = _fill(v, mask, 1 if prim == "reduce_prod" else initial)
        axes = _axes(axis, x.ndim)
        if x.ndim and any(x.shape[i] == 0 for i in axes) and prim != "reduce_prod":
            raise ShapeError("zero-size array to reduction operation which has no identity",
                             loc=current_loc())
        if v.type.is_complex and prim != "reduce_prod" and x.ndim and axes:
            r = complex_extremum(prim, v, axes)
        else:
            r = emit(prim, v, axes=axes) if x.ndim and axes else v
        if initial is not None:
            combine = {"reduce_prod": "mul", "reduce_max": "maximum", "reduce_min": "minimum"}
            r = ops.ew(combine[prim], r, initial)
        return wrap(_keep(r, x.shape, axes, keepdims))

    return reduce


max_ = _reduce("reduce_max")
min_ = _reduce("reduce_min")
prod = _reduce("reduce_prod")


def _arg(prim: str) -> Callable[..., Any]:
    def arg(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
        _no_out(out, prim)
        x = _t(a)
        no_ordering(x.val, f"np.{prim}")
        if axis is None:
            v = ops.reshape(x.val, (x.size,))
            r = emit(prim, v, axis=0)
            return wrap(ops.reshape(r, (1,) * x.ndim) if keepdims else r)
        (ax,) = _axes(axis, x.ndim)
        r = emit(prim, x.val, axis=ax)
        return wrap(_keep(r, x.shape, (ax,), keepdims))

    return arg


argmax = _arg("argmax")
argmin = _arg("argmin")


def cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    _no_out(out, "cumsum")
    x = _t(a)
    v = _sum_dtype(x.val if dtype is None else ops.convert(x.val, _dtype(dtype)))
    if axis is None:
        v = ops.reshape(v, (x.size,))
        return wrap(emit("cumsum", v, axis=0))
    (ax,) = _axes(axis, x.ndim)
    return wrap(emit("cumsum", v, axis=ax))


def _no_where(where: Any, name: str) -> None:
    if where is not None and where is not True:
        raise TraceError(f"{name}(..., where=...) of a boolean-mask selection is not supported",
                         loc=current_loc(), hint="reduce np.where(mask, x, 0) instead")


def _no_out(out: Any, name: str) -> None:
    if out is not None:
        raise ImmutableError(f"{name}(..., out=...) writes in place, which adjit cannot trace",
                         loc=current_loc(), hint="use the returned value instead of out=")


def _dtype(dt: Any) -> str:
    from adjit.ir.core import dtype_name

    return dtype_name(dt)


def astype(x: Any, dtype: Any, copy: bool = True, **_: Any) -> Tracer:
    t = _t(x)
    return wrap(ops.convert(t.val, dtype if isinstance(dtype, str) and dtype in
                            ("f32", "f64", "c64", "c128", "i32", "i64", "bool")
                            else _dtype(dtype)), t.weak)


# ---- linear algebra ------------------------------------------------------------------------------

def matmul(a: Any, b: Any) -> Tracer:
    (x, y), _ = _operands(_t(a), _t(b))
    if x.dtype != y.dtype:  # float32 @ float64 is float64, as numpy promotes
        dt = ops.promote_dtypes(x.dtype, y.dtype)
        x, y = ops.convert(x, dt), ops.convert(y, dt)
    if x.type.ndim == 0 or y.type.ndim == 0:
        raise ShapeError("matmul: input operand does not have enough dimensions (a scalar); "
                         "use * for scalars", loc=current_loc())
    if x.type.ndim == 1 and y.type.ndim == 1:
        if x.shape != y.shape:
            raise ShapeError(f"matmul: vectors of lengths {x.shape[0]} and {y.shape[0]} differ",
                             loc=current_loc())
        return wrap(ops.reduce_sum(ops.mul(x, y), (0,)))
    xs = ops.reshape(x, (1,) + x.shape) if x.type.ndim == 1 else x
    ys = ops.reshape(y, y.shape + (1,)) if y.type.ndim == 1 else y
    if xs.shape[-1] != ys.shape[-2]:
        raise ShapeError(f"matmul: shapes {x.shape} and {y.shape} do not line up "
                         f"({xs.shape[-1]} != {ys.shape[-2]})", loc=current_loc())
    batch = tuple(np.broadcast_shapes(xs.shape[:-2], ys.shape[:-2]))
    xs = ops.broadcast_to(xs, batch + xs.shape[-2:])
    ys = ops.broadcast_to(ys, batch + ys.shape[-2:])
    r = ops.matmul(xs, ys)
    shape = (batch + (x.shape[-2:-1] if x.type.ndim > 1 else ())
             + (y.shape[-1:] if y.type.ndim > 1 else ()))
    return wrap(ops.reshape(r, shape))


def dot(a: Any, b: Any, out: Any = None) -> Tracer:
    _no_out(out, "dot")
    x, y = _t(a), _t(b)
    if x.ndim == 0 or y.ndim == 0:
        return elementwise("mul", x, y)
    if y.ndim <= 2:
        return matmul(x, y)
    # N-d dot: sum over the last axis of a and the second-to-last of b.
    return tensordot(x, y, axes=([x.ndim - 1], [y.ndim - 2]))


def vdot(a: Any, b: Any) -> Tracer:
    return dot(wrap(ops.conj(ravel(a).val)), ravel(b))  # numpy conjugates the first


def inner(a: Any, b: Any) -> Tracer:
    x, y = _t(a), _t(b)
    if x.ndim == 0 or y.ndim == 0:
        return elementwise("mul", x, y)
    return tensordot(x, y, axes=([x.ndim - 1], [y.ndim - 1]))


def outer(a: Any, b: Any, out: Any = None) -> Tracer:
    _no_out(out, "outer")
    x, y = ravel(a), ravel(b)
    return elementwise("mul", reshape(x, (x.shape[0], 1)), y)


def tensordot(a: Any, b: Any, axes: Any = 2) -> Tracer:
    x, y = _t(a), _t(b)
    if isinstance(axes, (int, np.integer)):
        ax_a = list(range(x.ndim - int(axes), x.ndim))
        ax_b = list(range(int(axes)))
    else:
        ax_a, ax_b = ([axes[0]] if isinstance(axes[0], int) else list(axes[0]),
                      [axes[1]] if isinstance(axes[1], int) else list(axes[1]))
    ax_a = [a_ % x.ndim for a_ in ax_a]
    ax_b = [b_ % y.ndim for b_ in ax_b]
    free_a = [i for i in range(x.ndim) if i not in ax_a]
    free_b = [i for i in range(y.ndim) if i not in ax_b]
    k = int(np.prod([x.shape[i] for i in ax_a], dtype=np.int64))
    m = int(np.prod([x.shape[i] for i in free_a], dtype=np.int64))
    n = int(np.prod([y.shape[i] for i in free_b], dtype=np.int64))
    xa = reshape(transpose(x, free_a + ax_a), (m, k))
    yb = reshape(transpose(y, ax_b + free_b), (k, n))
    r = matmul(xa, yb)
    return reshape(r, tuple(x.shape[i] for i in free_a) + tuple(y.shape[i] for i in free_b))


def einsum(*operands: Any, **kwargs: Any) -> Tracer:
    from .einsum import einsum as _einsum

    return _einsum(*operands, **kwargs)


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tracer:
    t = _t(x)
    v = _float(t.val)
    if v.type.is_complex:
        v = ops.ew("abs", v)
    axes = _axes(axis, t.ndim)
    if ord in (None, 2, "fro") and (ord != 2 or len(axes) == 1):
        r = ops.ew("sqrt", ops.reduce_sum(ops.mul(v, v), axes) if t.ndim else ops.mul(v, v))
    elif len(axes) == 1 and ord == 1:
        r = ops.reduce_sum(ops.ew("abs", v), axes)
    elif len(axes) == 1 and ord in (np.inf, float("inf")):
        r = emit("reduce_max", ops.ew("abs", v), axes=axes)
    elif len(axes) == 1 and ord in (-np.inf, float("-inf")):
        r = emit("reduce_min", ops.ew("abs", v), axes=axes)
    elif len(axes) == 1 and isinstance(ord, (int, float)) and ord not in (0,):
        p = float(ord)
        r = ops.pow(ops.reduce_sum(ops.pow(ops.ew("abs", v), p), axes), 1.0 / p)
    else:
        raise TraceError(f"np.linalg.norm with ord={ord!r} over axes {axes} is not supported",
                         loc=current_loc(), hint="vector norms (ord None, 1, 2, inf, p) and the "
                                                 "Frobenius norm are supported")
    return wrap(_keep(r, t.shape, axes, keepdims))


# ---- shapes -------------------------------------------------------------------------------------

def _norm_shape(shape: Any, size: int) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
    if shape.count(-1) > 1:
        raise ShapeError("can only specify one unknown dimension", loc=current_loc())
    if -1 in shape:
        known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
        if known == 0 or size % known:
            raise ShapeError(f"cannot reshape array of size {size} into shape {shape}",
                             loc=current_loc())
        shape = tuple(size // known if d == -1 else d for d in shape)
    if int(np.prod(shape, dtype=np.int64)) != size:
        raise ShapeError(f"cannot reshape array of size {size} into shape {shape}",
                         loc=current_loc())
    return shape


def _order(order: Any, name: str) -> str:
    order = "C" if order is None else order
    if order not in ("C", "F"):
        raise TraceError(f"{name} with order={order!r} is not supported (it depends on how "
                         "the array is laid out in memory)", loc=current_loc(),
                         hint="use order='C' or order='F'")
    return order


def reshape(a: Any, *shape: Any, order: str = "C", newshape: Any = None, **kw: Any) -> Tracer:
    if len(shape) == 2 and isinstance(shape[1], str):  # np.reshape(a, shape, order)
        shape, order = shape[:1], shape[1]
    order = _order(order, "reshape")
    x = _t(a)
    if newshape is not None:
        shape = (newshape,)
    if "shape" in kw:
        shape = (kw["shape"],)
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = tuple(shape[0])
    shape = _norm_shape(shape, x.size)
    if order == "F":  # Fortran order: reversed axes, C-order reshape, reversed back
        rev = ops.reshape(ops.transpose(x.val, tuple(reversed(range(x.ndim)))), shape[::-1])
        return wrap(ops.transpose(rev, tuple(reversed(range(len(shape))))), x.weak)
    return wrap(ops.reshape(x.val, shape), x.weak)


def ravel(a: Any, order: str = "C") -> Tracer:
    x = _t(a)
    if _order(order, "ravel") == "F":
        return reshape(x, (x.size,), order="F")
    return wrap(ops.reshape(x.val, (x.size,)), x.weak)


def transpose(a: Any, axes: Any = None) -> Tracer:
    x = _t(a)
    perm = tuple(reversed(range(x.ndim))) if axes is None else tuple(int(p) % x.ndim for p in axes)
    return wrap(ops.transpose(x.val, perm), x.weak)


def swapaxes(a: Any, axis1: int, axis2: int) -> Tracer:
    x = _t(a)
    perm = list(range(x.ndim))
    i, j = axis1 % x.ndim, axis2 % x.ndim
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(x, perm)


def moveaxis(a: Any, source: Any, destination: Any) -> Tracer:
    x = _t(a)
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [s % x.ndim for s in src]
    dst = [d % x.ndim for d in dst]
    order = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return transpose(x, order)


def expand_dims(a: Any, axis: Any) -> Tracer:
    x = _t(a)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    nd = x.ndim + len(axes)
    axes = tuple(sorted(a_ % nd for a_ in axes))
    shape = list(x.shape)
    for ax in axes:
        shape.insert(ax, 1)
    return wrap(ops.reshape(x.val, tuple(shape)), x.weak)


def squeeze(a: Any, axis: Any = None) -> Tracer:
    x = _t(a)
    if axis is None:
        shape = tuple(d for d in x.shape if d != 1)
    else:
        axes = _axes(axis, x.ndim)
        for ax in axes:
            if x.shape[ax] != 1:
                raise ShapeError("cannot select an axis to squeeze out which has size not equal "
                                 "to one", loc=current_loc())
        shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return wrap(ops.reshape(x.val, shape), x.weak)


def broadcast_to(a: Any, shape: Any, subok: bool = False) -> Tracer:
    x = _t(a)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    try:
        np.broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ShapeError(f"cannot broadcast shape {x.shape} to {shape}",
                         loc=current_loc()) from None
    return wrap(ops.broadcast_to(ops.reshape(x.val, (1,) * (len(shape) - x.ndim) + x.shape),
                                 shape), x.weak)


def atleast_1d(*arys: Any) -> Any:
    res = [reshape(a, (1,)) if _t(a).ndim == 0 else _t(a) for a in arys]
    return res[0] if len(res) == 1 else res


def atleast_2d(*arys: Any) -> Any:
    res = []
    for a in arys:
        x = _t(a)
        res.append(reshape(x, (1,) * (2 - x.ndim) + x.shape) if x.ndim < 2 else x)
    return res[0] if len(res) == 1 else res


def concatenate(arrays: Sequence[Any], axis: Any = 0, out: Any = None, dtype: Any = None,
                **_: Any) -> Tracer:
    _no_out(out, "concatenate")
    xs = [_t(a) for a in arrays]
    if axis is None:
        xs = [ravel(x) for x in xs]
        axis = 0
    vals, _ = _operands(*xs)
    dt = ops.promote_dtypes(*[v.dtype for v in vals]) if dtype is None else _dtype(dtype)
    vals = [ops.convert(v, dt) for v in vals]
    nd = vals[0].type.ndim
    if nd == 0:
        raise ShapeError("zero-dimensional arrays cannot be concatenated", loc=current_loc())
    ax = int(axis) % nd
    for v in vals[1:]:
        if v.type.ndim != nd or any(
                a != b for i, (a, b) in enumerate(zip(v.shape, vals[0].shape, strict=True))
                if i != ax):
            raise ShapeError(f"all the input array dimensions except for the concatenation axis "
                             f"must match exactly: {vals[0].shape} vs {v.shape}", loc=current_loc())
    if len(vals) == 1:
        return wrap(vals[0])
    return wrap(emit("concatenate", *vals, axis=ax))


def stack(arrays: Sequence[Any], axis: int = 0, out: Any = None, dtype: Any = None,
          **_: Any) -> Tracer:
    _no_out(out, "stack")
    xs = [_t(a) for a in arrays]
    shapes = {x.shape for x in xs}
    if len(shapes) != 1:
        raise ShapeError("all input arrays must have the same shape", loc=current_loc())
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis % (xs[0].ndim + 1),
                       dtype=dtype)


def vstack(tup: Sequence[Any], dtype: Any = None, **_: Any) -> Tracer:
    return concatenate([atleast_2d(a) for a in tup], axis=0, dtype=dtype)


def hstack(tup: Sequence[Any], dtype: Any = None, **_: Any) -> Tracer:
    xs = [atleast_1d(a) for a in tup]
    return concatenate(xs, axis=0 if xs[0].ndim == 1 else 1, dtype=dtype)


def column_stack(tup: Sequence[Any]) -> Tracer:
    xs = [_t(a) for a in tup]
    return concatenate([reshape(x, (x.size, 1)) if x.ndim < 2 else x for x in xs], axis=1)


def tile(a: Any, reps: Any) -> Tracer:
    x = _t(a)
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    nd = max(x.ndim, len(reps))
    shape = (1,) * (nd - x.ndim) + x.shape
    reps = (1,) * (nd - len(reps)) + reps
    inter = tuple(v for pair in zip((1,) * nd, shape, strict=True) for v in pair)
    target = tuple(v for pair in zip(reps, shape, strict=True) for v in pair)
    v = ops.broadcast_to(ops.reshape(x.val, inter), target)
    return wrap(ops.reshape(v, tuple(r * s for r, s in zip(reps, shape, strict=True))), x.weak)


def repeat(a: Any, repeats: Any, axis: Any = None) -> Tracer:
    x = _t(a)
    if axis is None:
        x, axis = ravel(x), 0
    ax = int(axis) % x.ndim
    n = x.shape[ax]
    if isinstance(repeats, (int, np.integer)):
        r = int(repeats)
        shape = x.shape[:ax + 1] + (1,) + x.shape[ax + 1:]
        full = x.shape[:ax + 1] + (r,) + x.shape[ax + 1:]
        v = ops.broadcast_to(ops.reshape(x.val, shape), full)
        return wrap(ops.reshape(v, x.shape[:ax] + (n * r,) + x.shape[ax + 1:]), x.weak)
    if isinstance(repeats, Tracer):
        raise TraceError("np.repeat with traced repeat counts makes the shape depend on data",
                         loc=current_loc(), hint="pass the repeats as a numpy array or list")
    idx = np.repeat(np.arange(n), np.asarray(repeats))
    return wrap(emit("gather", x.val, Lit.make(idx, "i64"), axis=ax), x.weak)


def flip(m: Any, axis: Any = None) -> Tracer:
    x = _t(m)
    axes = _axes(axis, x.ndim)
    starts = tuple(x.shape[i] - 1 if i in axes else 0 for i in range(x.ndim))
    steps = tuple(-1 if i in axes else 1 for i in range(x.ndim))
    if x.size == 0:
        return x
    return wrap(emit("slice", x.val, starts=starts, steps=steps, shape=x.shape), x.weak)


def fliplr(m: Any) -> Tracer:
    return flip(m, 1)


def flipud(m: Any) -> Tracer:
    return flip(m, 0)


def roll(a: Any, shift: Any, axis: Any = None) -> Tracer:
    x = _t(a)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), x.shape)
    shifts = (shift,) if isinstance(shift, int) else tuple(shift)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if len(shifts) == 1 and len(axes) > 1:
        shifts = shifts * len(axes)
    for s, ax in zip(shifts, axes, strict=True):
        ax %= x.ndim
        n = x.shape[ax]
        s = int(s) % n if n else 0
        if s == 0:
            continue
        tail = _slice_axis(x, ax, n - s, n)
        head = _slice_axis(x, ax, 0, n - s)
        x = wrap(emit("concatenate", tail.val, head.val, axis=ax), x.weak)
    return x


def _slice_axis(x: Tracer, ax: int, start: int, stop: int) -> Tracer:
    starts = tuple(start if i == ax else 0 for i in range(x.ndim))
    shape = tuple(stop - start if i == ax else d for i, d in enumerate(x.shape))
    return wrap(emit("slice", x.val, starts=starts, steps=(1,) * x.ndim, shape=shape), x.weak)


def take(a: Any, indices: Any, axis: Any = None, out: Any = None, mode: str = "raise") -> Tracer:
    from .indexing import index_value

    _no_out(out, "take")
    x = _t(a)
    if axis is None:
        x, axis = ravel(x), 0
    ax = int(axis) % x.ndim
    n = x.shape[ax]
    if mode in ("wrap", "clip") and n:
        if isinstance(indices, Tracer):
            iv = ops.convert(indices.val, "i64")
            iv = (ops.ew("mod", iv, n) if mode == "wrap" else
                  ops.ew("minimum", ops.ew("maximum", iv, 0), n - 1))
            indices = wrap(iv)
        else:
            arr = np.asarray(indices)
            if arr.dtype.kind in "iu":
                indices = arr % n if mode == "wrap" else np.clip(arr, 0, n - 1)
    elif mode != "raise":
        raise TraceError(f"np.take with mode={mode!r} is not supported", loc=current_loc())
    idx = index_value(indices, n)
    return wrap(emit("gather", x.val, idx, axis=ax), x.weak)


def take_along_axis(arr: Any, indices: Any, axis: Any) -> Tracer:
    from .indexing import take_along

    return take_along(_t(arr), indices, axis)


def where(condition: Any, x: Any = None, y: Any = None) -> Tracer:
    if x is None or y is None:
        raise TraceError("np.where(condition) with one argument returns data-dependent indices",
                         loc=current_loc(), hint="use np.where(condition, a, b)")
    c = _t(condition)
    cv = c.val if c.val.dtype == "bool" else ops.ew("ne", c.val, ops.lit(0, c.val.dtype))
    (xv, yv), weak = _operands(x, y)
    xv, yv = ops.coerce(xv, yv)
    return wrap(ops.select(cv, xv, yv), weak and c.weak)


def clip(a: Any, a_min: Any = None, a_max: Any = None, out: Any = None, **kw: Any) -> Tracer:
    _no_out(out, "clip")
    a_min = kw.get("min", a_min)
    a_max = kw.get("max", a_max)
    x = _t(a)
    if a_min is not None:
        x = elementwise("maximum", x, a_min)
    if a_max is not None:
        x = elementwise("minimum", x, a_max)
    return x


def _like(value: float) -> Callable[..., Tracer]:
    def like(a: Any, dtype: Any = None, order: Any = None, subok: bool = True,
             shape: Any = None, **_: Any) -> Tracer:
        x = _t(a)
        dt = _dtype(dtype) if dtype is not None else x.val.dtype
        shp = x.shape if shape is None else tuple(np.atleast_1d(shape))
        return wrap(ops.broadcast_to(ops.lit(value, dt), shp))

    return like


def full_like(a: Any, fill_value: Any, dtype: Any = None, **kw: Any) -> Tracer:
    x = _t(a)
    if isinstance(fill_value, Tracer):
        return broadcast_to(astype(fill_value, dtype or x.dtype), x.shape)
    return _like(fill_value)(a, dtype=dtype, **kw)


def shape(a: Any) -> tuple[int, ...]:
    return _t(a).shape


def ndim(a: Any) -> int:
    return _t(a).ndim


def size(a: Any, axis: Any = None) -> int:
    x = _t(a)
    return x.size if axis is None else x.shape[axis]


def copy(a: Any, **_: Any) -> Tracer:
    return _t(a)


# A weakly typed traced Python scalar (NEP 50: it takes the other operand's precision) stands
# for a Python number of its kind in dtype queries.
_WEAK_SCALARS = {"b": False, "i": 0, "u": 0, "f": 0.0, "c": 0j}


def _dtype_of(a: Any) -> Any:
    if isinstance(a, Tracer):
        return _WEAK_SCALARS[a.dtype.kind] if a.weak else a.dtype
    return a


def result_type(*arrays_and_dtypes: Any) -> np.dtype:
    """numpy's result_type: it reads only dtypes (and the weak Python scalars)."""
    return np.result_type(*(_dtype_of(a) for a in arrays_and_dtypes))


def can_cast(from_: Any, to: Any, casting: str = "safe") -> bool:
    return bool(np.can_cast(from_.dtype if isinstance(from_, Tracer) else from_, to,
                            casting=casting))


def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Tracer:
    x = _t(a)
    ax = axis % x.ndim
    if prepend is not None or append is not None:  # as numpy: broadcast 0-d ones, join
        parts = []
        for extra in (prepend, x, append):
            if extra is None:
                continue
            e = _t(extra)
            if e.ndim == 0:
                e = broadcast_to(e, x.shape[:ax] + (1,) + x.shape[ax + 1:])
            parts.append(e)
        x = concatenate(parts, axis=ax)
    for _ in range(n):
        m = x.shape[ax]
        x = elementwise("sub", _slice_axis(x, ax, 1, m), _slice_axis(x, ax, 0, m - 1))
    return x


def trace_(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
           out: Any = None) -> Tracer:
    _no_out(out, "trace")
    x = _t(a)
    if x.ndim != 2:
        raise TraceError("np.trace is supported for 2-d arrays", loc=current_loc())
    if axis1 % 2 == axis2 % 2:
        raise ShapeError("axis1 and axis2 cannot be the same", loc=current_loc())
    if axis1 % 2 == 1:
        x = transpose(x)
    return sum_(diag(x, offset), dtype=dtype)


def diag(v: Any, k: int = 0) -> Tracer:
    x = _t(v)
    k = int(k)
    if x.ndim == 1:
        n = x.shape[0]
        m = n + abs(k)
        i, j = np.indices((m, m))
        on = (j - i) == k
        src = np.clip(i if k >= 0 else j, 0, max(n - 1, 0))
        picked = take(x, src.reshape(-1)) if n else x
        return where(on, reshape(picked, (m, m)) if n else 0, 0)
    if x.ndim != 2:
        raise ShapeError("np.diag: input must be 1- or 2-d", loc=current_loc())
    rows, cols = x.shape
    i = np.arange(max(0, -k), min(rows, cols - k)) if -rows < k < cols else np.arange(0)
    idx = i * cols + (i + k)
    if idx.size == 0:
        return wrap(Lit.make(np.zeros(0, x.dtype), x.val.dtype))
    return take(ravel(x), idx)


def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False,
            keepdims: bool = False) -> Any:
    if returned:  # (the average, the sum of the weights in its shape), as numpy returns
        avg = average(a, axis, weights, keepdims=keepdims)
        if weights is None:
            x = _t(a)
            n = x.size // max(avg.size, 1) if x.size else 0
            scl = wrap(ops.broadcast_to(ops.lit(float(n), avg.val.dtype), avg.shape))
        else:
            w = _average_weights(_t(weights), _t(a), axis)
            scl = broadcast_to(astype(sum_(w, axis=axis, keepdims=keepdims), avg.dtype),
                               avg.shape)
        return avg, scl
    if weights is None:
        return mean(a, axis=axis, keepdims=keepdims)
    x = _t(a)
    w = _average_weights(_t(weights), x, axis)
    num = sum_(elementwise("mul", x, w), axis=axis, keepdims=keepdims)
    return elementwise("div", num, sum_(w, axis=axis, keepdims=keepdims))


def _average_weights(w: Tracer, x: Tracer, axis: Any) -> Tracer:
    if w.shape != x.shape:
        if axis is None or w.ndim != 1:
            raise TraceError("np.average: weights must have the array's shape, or be 1-d with "
                             "an axis", loc=current_loc())
        shp = [1] * x.ndim
        shp[int(axis) % x.ndim] = w.shape[0]
        w = broadcast_to(reshape(w, tuple(shp)), x.shape)
    return w


def conj(x: Any) -> Tracer:
    t = _t(x)
    return wrap(ops.conj(t.val), t.weak)


def stop_gradient(x: Any) -> Tracer:
    t = _t(x)
    return wrap(emit("stop_gradient", t.val), t.weak)


FUNCTIONS: dict[Any, Callable[..., Any]] = {
    np.sum: sum_, np.mean: mean, np.var: var, np.std: std, np.max: max_, np.amax: max_,
    np.min: min_, np.amin: min_, np.prod: prod, np.argmax: argmax, np.argmin: argmin,
    np.cumsum: cumsum, np.dot: dot, np.vdot: vdot, np.inner: inner, np.outer: outer,
    np.tensordot: tensordot, np.einsum: einsum, np.linalg.norm: norm, np.reshape: reshape,
    np.ravel: ravel, np.transpose: transpose, np.swapaxes: swapaxes, np.moveaxis: moveaxis,
    np.expand_dims: expand_dims, np.squeeze: squeeze, np.broadcast_to: broadcast_to,
    np.atleast_1d: atleast_1d, np.atleast_2d: atleast_2d, np.concatenate: concatenate,
    np.stack: stack, np.vstack: vstack, np.hstack: hstack, np.column_stack: column_stack,
    np.tile: tile, np.repeat: repeat, np.flip: flip, np.fliplr: fliplr, np.flipud: flipud,
    np.roll: roll, np.take: take, np.take_along_axis: take_along_axis, np.where: where,
    np.clip: clip, np.zeros_like: _like(0), np.ones_like: _like(1), np.empty_like: _like(0),
    np.full_like: full_like, np.shape: shape, np.ndim: ndim, np.size: size, np.copy: copy,
    np.result_type: result_type, np.can_cast: can_cast,
    np.diff: diff, np.trace: trace_, np.diag: diag, np.average: average,
}
FUNCTIONS.update(np_linalg.FUNCTIONS)  # numpy.linalg (and an n-d np.trace): tracer/np_linalg.py
if hasattr(np, "matrix_transpose"):
    FUNCTIONS[np.matrix_transpose] = lambda x: swapaxes(x, -1, -2)
if hasattr(np, "concat"):
    FUNCTIONS[np.concat] = concatenate
if hasattr(np, "permute_dims"):
    FUNCTIONS[np.permute_dims] = transpose


def _merge_modules() -> None:
    """The functions, ufuncs and methods that live in modules of their own (imported last:
    they use this module's helpers)."""
    from . import np_building, np_elementwise, np_sorting

    for mod in (np_sorting, np_elementwise, np_building):
        FUNCTIONS.update(mod.FUNCTIONS)
        _UFUNC_EXTRA.update(getattr(mod, "UFUNCS", {}))
        _METHODS.update(getattr(mod, "METHODS", {}))


def apply_function(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    impl = FUNCTIONS.get(func)
    if impl is None:
        mod = getattr(func, "__module__", "numpy") or "numpy"
        name = f"{mod.replace('numpy.linalg', 'np.linalg').replace('numpy', 'np')}."\
               f"{getattr(func, '__name__', func)}"
        raise TraceError(f"{name} is not supported by adjit", loc=current_loc(),
                         hint="rewrite it with supported numpy functions (`python -m adjit numpy` "
                              "lists them), or compute it outside the differentiated function")
    _bind(impl, f"np.{getattr(func, '__name__', func)}", args, kwargs)
    return impl(*args, **kwargs)


_SIGNATURES: dict[Any, inspect.Signature | None] = {}


def _bind(impl: Callable[..., Any], name: str, args: tuple[Any, ...],
          kwargs: dict[str, Any]) -> None:
    """An argument adjit's version of a numpy function does not take (numpy has many) is a
    TraceError naming it, not Python's TypeError from inside adjit."""
    sig = _SIGNATURES.get(impl, False)
    if sig is False:
        try:
            sig = inspect.signature(impl)
        except (TypeError, ValueError):
            sig = None
        _SIGNATURES[impl] = sig
    if sig is None:
        return
    try:
        sig.bind(*args, **kwargs)
    except TypeError as e:
        raise TraceError(f"{name}: {e} (adjit does not support this argument)",
                         loc=current_loc(),
                         hint="`python -m adjit numpy` lists what traces") from None


# ---- array methods ------------------------------------------------------------------------------

def _method(fn: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: Tracer, *args: Any, **kwargs: Any) -> Any:
        from adjit.ir import context

        from .loc import user_loc

        with context(loc=user_loc(2)):
            _bind(fn, f".{fn.__name__.rstrip('_')}()", (self,) + args, kwargs)
            return fn(self, *args, **kwargs)

    method.__name__ = fn.__name__
    return method


def _reshape_method(self: Tracer, *shape: Any, order: str = "C") -> Tracer:
    return reshape(self, *shape, order=order)


def _transpose_method(self: Tracer, *axes: Any) -> Tracer:
    if len(axes) == 1 and not isinstance(axes[0], int):
        axes = tuple(axes[0]) if axes[0] is not None else ()
    return transpose(self, axes or None)


_METHODS = {"sum": sum_, "mean": mean, "var": var, "std": std, "max": max_, "min": min_,
            "prod": prod, "argmax": argmax, "argmin": argmin, "cumsum": cumsum, "dot": dot,
            "reshape": _reshape_method, "ravel": ravel, "flatten": ravel,
            "transpose": _transpose_method, "swapaxes": swapaxes, "squeeze": squeeze,
            "astype": astype, "clip": clip, "copy": copy, "take": take, "repeat": repeat}
_merge_modules()
for _name, _fn in _METHODS.items():
    setattr(Tracer, _name, _method(_fn))

# numpy's object-dtype loops call a method of each element named after the ufunc
# (np.exp on an object array calls x.exp()): support them for `np.asarray(tracer)`.
def _unary_method(prim: str) -> Callable[..., Any]:
    def method(self: Tracer) -> Tracer:
        return elementwise(prim, self)

    method.__name__ = prim
    return method


for _uname, _prim in _UFUNC_PRIMS.items():
    if not hasattr(Tracer, _uname) and _prim not in ("matmul",):
        setattr(Tracer, _uname, _method(_unary_method(_prim)))
for _uname, _fn in _UFUNC_EXTRA.items():
    if not hasattr(Tracer, _uname):
        setattr(Tracer, _uname, _method(_fn))
from .np_complex import FUNCTIONS as _COMPLEX_FUNCTIONS, install_methods  # noqa: E402
from .np_fft import FUNCTIONS as _FFT_FUNCTIONS  # noqa: E402

FUNCTIONS.update(_COMPLEX_FUNCTIONS)
FUNCTIONS.update(_FFT_FUNCTIONS)
install_methods(Tracer, _method)
