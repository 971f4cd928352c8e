"""numpy's array building, slicing and windowing functions on tracers, and the nan- and
peak-to-peak reductions.

Everything here is a composition of existing primitives, with every index computed while
tracing: masks (tril, triu) are constant `select`s; diagonals, padding by edge, reflect,
symmetric or wrap, insert and delete are `gather`s along one axis with a constant index
array (numpy itself computes it: `np.pad(np.arange(n), ...)` is exactly the source index
of each padded position); splits are slices; convolution gathers the windows of the
zero-padded signal into a matrix and multiplies; cumprod is a primitive of its own (a scan,
O(n), with derivatives exact at zeros); interp finds each
point's interval by counting (`searchsorted`) and gathers with the traced index.

Functions whose output size depends on values (histogram, bincount, nonzero, argwhere,
flatnonzero, np.where with one argument; compress and extract with a traced condition)
refuse with a TraceError saying so.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from adjit.ir import Lit, current_loc, ops
from adjit.ir.builder import emit
from adjit.ir.errors import ShapeError, TraceError

from .values import Tracer, wrap


def _api() -> Any:
    from . import numpy_api

    return numpy_api


def _t(x: Any) -> Tracer:
    return _api()._t(x)


def _e(name: str, *xs: Any) -> Tracer:
    return _api().elementwise(name, *xs)


def _where(c: Any, x: Any, y: Any) -> Tracer:
    return _api().where(c, x, y)


def _ax(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ShapeError(f"axis {axis} is out of bounds for an array of dimension {ndim}",
                         loc=current_loc())
    return axis % ndim


def _gather(x: Tracer, idx: np.ndarray, axis: int) -> Tracer:
    """x gathered along `axis` at constant in-range positions."""
    return wrap(emit("gather", x.val, Lit.make(np.asarray(idx, np.int64), "i64"), axis=axis),
                x.weak)


# ---- triangles and diagonals --------------------------------------------------------------------

def _tri_mask(x: Tracer, k: Any, lower: bool) -> np.ndarray:
    if isinstance(k, Tracer):
        raise TraceError("a traced diagonal offset k is not supported", loc=current_loc())
    if x.ndim == 0:
        raise ShapeError("tril/triu need at least one dimension", loc=current_loc())
    shp = x.shape[-2:]
    m = np.tri(*shp, k=int(k), dtype=bool) if lower else ~np.tri(*shp, k=int(k) - 1, dtype=bool)
    return m


def tril(m: Any, k: int = 0) -> Tracer:
    x = _t(m)
    return _where(_tri_mask(x, k, True), x, _zero(x))


def triu(m: Any, k: int = 0) -> Tracer:
    x = _t(m)
    return _where(_tri_mask(x, k, False), x, _zero(x))


def _zero(x: Tracer) -> Tracer:
    return wrap(ops.lit(0, x.val.dtype))


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tracer:
    api = _api()
    x = _t(a)
    if x.ndim < 2:
        raise ShapeError("diag requires an array of at least two dimensions", loc=current_loc())
    a1, a2 = _ax(axis1, x.ndim), _ax(axis2, x.ndim)
    if a1 == a2:
        raise ShapeError("axis1 and axis2 cannot be the same", loc=current_loc())
    rest = [i for i in range(x.ndim) if i not in (a1, a2)]
    y = api.transpose(x, rest + [a1, a2])
    rows, cols = x.shape[a1], x.shape[a2]
    k = int(offset)
    i = np.arange(max(0, -k), max(0, min(rows, cols - k)))
    idx = i * cols + (i + k)
    y = api.reshape(y, y.shape[:-2] + (rows * cols,))
    if idx.size == 0:
        return wrap(Lit.make(np.zeros(y.shape[:-1] + (0,), x.dtype), x.val.dtype))
    return _gather(y, idx, y.ndim - 1)


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
          out: Any = None) -> Tracer:
    _api()._no_out(out, "trace")
    d = diagonal(a, offset, axis1, axis2)
    if d.shape[-1] == 0:
        return _api().sum_(wrap(ops.broadcast_to(ops.lit(0, d.val.dtype), d.shape)), axis=-1,
                           dtype=dtype)
    return _api().sum_(d, axis=-1, dtype=dtype)


# ---- products -----------------------------------------------------------------------------------

def kron(a: Any, b: Any) -> Tracer:
    api = _api()
    x, y = _t(a), _t(b)
    nd = max(x.ndim, y.ndim)
    xs = (1,) * (nd - x.ndim) + x.shape
    ys = (1,) * (nd - y.ndim) + y.shape
    xe = api.reshape(x, tuple(v for d in xs for v in (d, 1)))
    ye = api.reshape(y, tuple(v for d in ys for v in (1, d)))
    return api.reshape(_e("mul", xe, ye), tuple(p * q for p, q in zip(xs, ys, strict=True)))


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: Any = None) -> Tracer:
    api = _api()
    if axis is not None:
        axisa = axisb = axisc = axis
    x = api.moveaxis(_t(a), axisa, -1)
    y = api.moveaxis(_t(b), axisb, -1)
    if x.shape[-1] not in (2, 3) or y.shape[-1] not in (2, 3):
        raise ShapeError("incompatible dimensions for cross product (dimension must be 2 or 3)",
                         loc=current_loc())

    def comp(v: Tracer, i: int) -> Tracer:
        return v[..., i] if i < v.shape[-1] else wrap(ops.lit(0, v.val.dtype))

    x0, x1, x2 = (comp(x, i) for i in range(3))
    y0, y1, y2 = (comp(y, i) for i in range(3))
    z = _e("sub", _e("mul", x0, y1), _e("mul", x1, y0))
    if x.shape[-1] == 2 and y.shape[-1] == 2:
        return z
    cx = _e("sub", _e("mul", x1, y2), _e("mul", x2, y1))
    cy = _e("sub", _e("mul", x2, y0), _e("mul", x0, y2))
    shape = tuple(np.broadcast_shapes(cx.shape, cy.shape, z.shape))
    out = api.stack([api.broadcast_to(c, shape) for c in (cx, cy, z)], axis=-1)
    return api.moveaxis(out, -1, axisc)


# ---- padding ------------------------------------------------------------------------------------

def _pairs(width: Any, ndim: int, what: str) -> list[tuple[Any, Any]]:
    if isinstance(width, Tracer):
        raise TraceError(f"a traced {what} is not supported", loc=current_loc())
    arr = np.asarray(width, dtype=object)
    try:
        arr = np.broadcast_to(arr, (ndim, 2)) if arr.ndim <= 2 else None
    except ValueError:
        arr = None
    if arr is None:
        raise ShapeError(f"{what} does not broadcast to ({ndim}, 2)", loc=current_loc())
    return [(arr[i, 0], arr[i, 1]) for i in range(ndim)]


_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap", "empty")


def pad(array: Any, pad_width: Any, mode: Any = "constant", **kwargs: Any) -> Tracer:
    api = _api()
    x = _t(array)
    if not isinstance(mode, str) or mode not in _PAD_MODES:
        raise TraceError(f"np.pad with mode={mode!r} is not supported", loc=current_loc(),
                         hint=f"modes: {', '.join(_PAD_MODES)}")
    if kwargs.get("reflect_type", "even") != "even":
        raise TraceError("np.pad with reflect_type='odd' is not supported", loc=current_loc())
    extra = set(kwargs) - {"constant_values", "reflect_type"}
    if extra:
        raise TraceError(f"np.pad: argument {sorted(extra)[0]} is not supported",
                         loc=current_loc())
    widths = [(int(b), int(a)) for b, a in _pairs(pad_width, x.ndim, "pad width")]
    if any(b < 0 or a < 0 for b, a in widths):
        raise ValueError("index can't contain negative values")
    if mode in ("constant", "empty"):
        cv = kwargs.get("constant_values", 0)
        values = ([(cv, cv)] * x.ndim if isinstance(cv, Tracer) and cv.ndim == 0
                  else _pairs(cv, x.ndim, "constant_values"))
        for ax, ((b, a), (vb, va)) in enumerate(zip(widths, values, strict=True)):
            parts = []
            for w, v in ((b, vb), (0, None), (a, va)):
                if v is None:
                    parts.append(x)
                elif w:
                    shape = x.shape[:ax] + (w,) + x.shape[ax + 1:]
                    v = 0 if mode == "empty" else v
                    parts.append(api.broadcast_to(api.astype(_t(v), x.dtype), shape))
            x = api.concatenate(parts, axis=ax) if len(parts) > 1 else x
        return x
    for ax, (b, a) in enumerate(widths):
        if b == 0 and a == 0:
            continue
        n = x.shape[ax]
        if n == 0:
            raise ValueError(f"can't extend empty axis {ax} using modes other than 'constant' "
                             "or 'empty'")
        idx = np.pad(np.arange(n), (b, a), mode=mode)
        x = _gather(x, idx, ax)
    return x


# ---- splitting ----------------------------------------------------------------------------------

def _split_points(n: int, sections: Any, exact: bool) -> list[int]:
    if isinstance(sections, Tracer):
        raise TraceError("traced split points are not supported", loc=current_loc())
    if isinstance(sections, (int, np.integer)):
        k = int(sections)
        if k <= 0:
            raise ValueError("number sections must be larger than 0.")
        if exact and n % k:
            raise ValueError("array split does not result in an equal division")
        each, extra = divmod(n, k)
        sizes = [0] + extra * [each + 1] + (k - extra) * [each]
        return list(np.cumsum(sizes))
    pts = [int(p) for p in sections]
    return [0] + pts + [n]


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0,
                _exact: bool = False) -> list[Tracer]:
    x = _t(ary)
    ax = _ax(axis, x.ndim)
    n = x.shape[ax]
    pts = _split_points(n, indices_or_sections, _exact)
    out = []
    for lo, hi in zip(pts[:-1], pts[1:], strict=True):
        lo = min(max(lo + n if lo < 0 else lo, 0), n)
        hi = min(max(hi + n if hi < 0 else hi, 0), n)
        hi = max(hi, lo)
        starts = tuple(lo if i == ax else 0 for i in range(x.ndim))
        shape = tuple(hi - lo if i == ax else d for i, d in enumerate(x.shape))
        if hi == lo or 0 in shape:
            out.append(wrap(Lit.make(np.zeros(shape, x.dtype), x.val.dtype)))
        else:
            out.append(wrap(emit("slice", x.val, starts=starts, steps=(1,) * x.ndim,
                                 shape=shape), x.weak))
    return out


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Tracer]:
    return array_split(ary, indices_or_sections, axis, _exact=True)


def hsplit(ary: Any, indices_or_sections: Any) -> list[Tracer]:
    x = _t(ary)
    if x.ndim == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return split(x, indices_or_sections, 1 if x.ndim > 1 else 0)


def vsplit(ary: Any, indices_or_sections: Any) -> list[Tracer]:
    if _t(ary).ndim < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return split(ary, indices_or_sections, 0)


def dsplit(ary: Any, indices_or_sections: Any) -> list[Tracer]:
    if _t(ary).ndim < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return split(ary, indices_or_sections, 2)


# ---- axes and stacking --------------------------------------------------------------------------

def rot90(m: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Tracer:
    api = _api()
    x = _t(m)
    a0, a1 = _ax(axes[0], x.ndim), _ax(axes[1], x.ndim)
    if a0 == a1:
        raise ValueError("Axes must be different.")
    k = int(k) % 4
    if k == 0:
        return x
    if k == 2:
        return api.flip(api.flip(x, a0), a1)
    perm = list(range(x.ndim))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return api.transpose(api.flip(x, a1), perm)
    return api.flip(api.transpose(x, perm), a1)


def rollaxis(a: Any, axis: int, start: int = 0) -> Tracer:
    x = _t(a)
    n = x.ndim
    axis = _ax(axis, n)
    if start < 0:
        start += n
    if not 0 <= start < n + 1:
        raise ShapeError(f"start={start} is out of range", loc=current_loc())
    if axis < start:
        start -= 1
    if axis == start:
        return x
    order = list(range(n))
    order.remove(axis)
    order.insert(start, axis)
    return _api().transpose(x, order)


def atleast_3d(*arys: Any) -> Any:
    api = _api()
    res = []
    for a in arys:
        x = _t(a)
        shape = {0: (1, 1, 1), 1: (1,) + x.shape + (1,), 2: x.shape + (1,)}.get(x.ndim, x.shape)
        res.append(api.reshape(x, shape) if shape != x.shape else x)
    return res[0] if len(res) == 1 else res


def dstack(tup: Sequence[Any]) -> Tracer:
    xs = [atleast_3d(a) for a in tup]
    return _api().concatenate(xs, axis=2)


def append(arr: Any, values: Any, axis: Any = None) -> Tracer:
    api = _api()
    if axis is None:
        return api.concatenate([api.ravel(arr), api.ravel(values)], axis=0)
    return api.concatenate([arr, values], axis=axis)


def _static_obj(obj: Any, what: str) -> Any:
    if isinstance(obj, Tracer):
        raise TraceError(f"np.{what} with traced positions is not supported", loc=current_loc(),
                         hint="pass the positions as integers, a slice, or a numpy array")
    return obj


def delete(arr: Any, obj: Any, axis: Any = None) -> Tracer:
    api = _api()
    x = _t(arr)
    obj = _static_obj(obj, "delete")
    if axis is None:
        x, axis = api.ravel(x), 0
    ax = _ax(axis, x.ndim)
    keep = np.delete(np.arange(x.shape[ax]), obj)
    if keep.size == 0:
        shape = x.shape[:ax] + (0,) + x.shape[ax + 1:]
        return wrap(Lit.make(np.zeros(shape, x.dtype), x.val.dtype))
    return _gather(x, keep, ax)


def insert(arr: Any, obj: Any, values: Any, axis: Any = None) -> Tracer:
    """Values appended after arr along the axis, then one gather puts every element where
    numpy's insert does (np.insert on the positions computes the order)."""
    api = _api()
    x = _t(arr)
    obj = _static_obj(obj, "insert")
    if axis is None:
        x, axis = api.ravel(x), 0
    ax = _ax(axis, x.ndim)
    n = x.shape[ax]
    v = api.astype(_t(values), x.dtype)
    v = api.reshape(v, (1,) * (x.ndim - v.ndim) + v.shape) if v.ndim < x.ndim else v
    scalar_obj = isinstance(obj, (int, np.integer)) or (isinstance(obj, np.ndarray)
                                                         and obj.ndim == 0)
    if scalar_obj:
        if _t(values).ndim > 0:
            v = api.moveaxis(v, 0, ax)
        k = v.shape[ax]
    else:
        pos = np.arange(n)[obj] if isinstance(obj, slice) else np.asarray(obj)
        k = pos.size
        obj = pos
    shape = x.shape[:ax] + (k,) + x.shape[ax + 1:]
    try:
        v = api.broadcast_to(v, shape)
    except ShapeError:
        raise ShapeError(f"np.insert: values of shape {_t(values).shape} do not fit "
                         f"{shape}", loc=current_loc()) from None
    order = np.insert(np.arange(n), obj, np.arange(n, n + k))
    return _gather(api.concatenate([x, v], axis=ax), order, ax)


# ---- ranges and grids ---------------------------------------------------------------------------

def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             retstep: bool = False, dtype: Any = None, axis: int = 0, *,
             device: Any = None) -> Any:
    api = _api()
    num = int(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    a, b = _t(start), _t(stop)
    a = a if a.val.dtype in ("f32", "f64") else api.astype(a, "f64")
    b = b if b.val.dtype in ("f32", "f64") else api.astype(b, "f64")
    div = (num - 1) if endpoint else num
    delta = _e("sub", b, a)
    shape = tuple(np.broadcast_shapes(a.shape, b.shape))
    frac = np.arange(num, dtype=np.float64) / div if div > 0 else np.zeros(num)
    frac = frac.reshape((num,) + (1,) * len(shape))
    y = _e("add", a, _e("mul", delta, wrap(Lit.make(frac.astype(delta.dtype), delta.val.dtype))))
    y = api.broadcast_to(y, (num,) + shape)
    if endpoint and num > 1:
        last = np.arange(num).reshape((num,) + (1,) * len(shape)) == num - 1
        y = _where(last, api.broadcast_to(b, shape), y)
    if axis != 0:
        y = api.moveaxis(y, 0, axis)
    if dtype is not None:
        if np.dtype(dtype).kind in "iu":  # numpy floors (rounds towards -inf) for integers
            y = _e("floor", y)
        y = api.astype(y, dtype)
    if retstep:
        step = _e("div", delta, float(div)) if div > 0 else wrap(ops.lit(np.nan, delta.val.dtype))
        return y, step
    return y


def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: Any = 10.0,
             dtype: Any = None, axis: int = 0) -> Tracer:
    y = linspace(start, stop, num, endpoint, axis=axis)
    out = _e("pow", base, y) if not isinstance(base, Tracer) else _e("pow", base, y)
    return _api().astype(out, dtype) if dtype is not None else out


def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> Any:
    api = _api()
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    xs = [api.ravel(x) for x in xi]
    nd = len(xs)
    out = []
    for i, x in enumerate(xs):
        shape = [1] * nd
        shape[i] = x.shape[0]
        if indexing == "xy" and nd > 1 and i < 2:
            shape[0], shape[1] = shape[1], shape[0]
        out.append(api.reshape(x, tuple(shape)))
    if not sparse:
        full = tuple(np.broadcast_shapes(*[o.shape for o in out]))
        out = [api.broadcast_to(o, full) for o in out]
    return tuple(out)


# ---- choosing -----------------------------------------------------------------------------------

def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0) -> Tracer:
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if len(choicelist) == 0:
        raise ValueError("select with an empty condition list is not possible")
    out = _t(default)
    for c, v in reversed(list(zip(condlist, choicelist, strict=True))):
        ct = _t(c)
        if ct.val.dtype != "bool":
            raise TypeError("invalid entry in condlist: should be boolean ndarray")
        out = _where(ct, v, out)
    shape = tuple(np.broadcast_shapes(*[_t(c).shape for c in condlist],
                                      *[_t(v).shape for v in choicelist], _t(default).shape))
    return _api().broadcast_to(out, shape)


def piecewise(x: Any, condlist: Any, funclist: Sequence[Any], *args: Any, **kw: Any) -> Tracer:
    """As numpy's, except that each function is applied to all of x (numpy applies it to
    the selected elements) and the selected results kept: a function must accept the whole
    array, and values it computes where its condition is false are discarded."""
    api = _api()
    xt = _t(x)
    if isinstance(condlist, (Tracer, np.ndarray, bool)) and np.ndim(condlist) == xt.ndim:
        condlist = [condlist]
    conds = [api.astype(_t(c), "bool") for c in condlist]
    n = len(conds)
    if len(funclist) == n + 1:
        anyc = conds[0]
        for c in conds[1:]:
            anyc = _e("logical_or", anyc, c)
        conds.append(_e("logical_not", anyc))
    elif len(funclist) != n:
        raise ValueError(f"with {n} condition(s), either {n} or {n + 1} functions are expected")
    y = wrap(ops.broadcast_to(ops.lit(0, xt.val.dtype), xt.shape))
    for c, f in zip(conds, funclist, strict=True):
        v = f(xt, *args, **kw) if callable(f) else f
        y = _where(c, api.astype(_t(v), xt.dtype), y)
    return y


def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: Any = None,
               neginf: Any = None) -> Tracer:
    t = _t(x)
    if t.val.dtype not in ("f32", "f64"):
        return t
    info = np.finfo(t.dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    out = _where(_e("ne", t, t), nan, t)
    out = _where(_e("eq", t, np.inf), posinf, out)
    return _where(_e("eq", t, -np.inf), neginf, out)


# ---- differences and windows --------------------------------------------------------------------

def gradient(f: Any, *varargs: Any, axis: Any = None, edge_order: int = 1) -> Any:
    api = _api()
    x = _t(f)
    x = x if x.val.dtype in ("f32", "f64") else api.astype(x, "f64")
    axes = list(api._axes(axis, x.ndim)) if axis is not None else list(range(x.ndim))
    if axis is not None and not isinstance(axis, (int, np.integer)):
        axes = [_ax(a, x.ndim) for a in axis]
    if len(varargs) == 0:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacing = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes) and all(np.ndim(v) == 0 for v in varargs):
        spacing = list(varargs)
    else:
        raise TraceError("np.gradient with coordinate arrays is not supported",
                         loc=current_loc(), hint="give scalar spacings")
    if edge_order not in (1, 2):
        raise ValueError("'edge_order' greater than 2 not supported")
    outs = []
    for ax, h in zip(axes, spacing, strict=True):
        n = x.shape[ax]
        if n < edge_order + 1:
            raise ValueError("Shape of array too small to calculate a numerical gradient, "
                             "at least (edge_order + 1) elements are required.")

        def s(lo: int, hi: int, ax: int = ax) -> Tracer:
            return api._slice_axis(x, ax, lo, hi)

        mid = _e("div", _e("sub", s(2, n), s(0, n - 2)), _e("mul", h, 2.0)) if n > 2 else None
        if edge_order == 1:
            first = _e("div", _e("sub", s(1, 2), s(0, 1)), h)
            last = _e("div", _e("sub", s(n - 1, n), s(n - 2, n - 1)), h)
        else:
            first = _e("div", _e("add", _e("mul", s(0, 1), -1.5),
                                 _e("sub", _e("mul", s(1, 2), 2.0), _e("mul", s(2, 3), 0.5))), h)
            last = _e("div", _e("add", _e("mul", s(n - 1, n), 1.5),
                                _e("sub", _e("mul", s(n - 3, n - 2), 0.5),
                                   _e("mul", s(n - 2, n - 1), 2.0))), h)
        parts = [first] + ([mid] if mid is not None else []) + [last]
        outs.append(api.concatenate(parts, axis=ax))
    return outs[0] if len(outs) == 1 else tuple(outs)


def _correlate_full(a: Tracer, v: Tracer) -> Tracer:
    """c[k] = sum_j a[k + j - (m - 1)] v[j] for k in 0 .. n + m - 2 (a zero outside)."""
    api = _api()
    (av, vv), _ = api._operands(a, v)
    av, vv = ops.coerce(av, vv)
    n, m = av.shape[0], vv.shape[0]
    zeros = ops.broadcast_to(ops.lit(0, av.dtype), (m - 1,))
    ap = emit("concatenate", zeros, av, zeros, axis=0) if m > 1 else av
    idx = np.arange(n + m - 1)[:, None] + np.arange(m)[None, :]
    windows = emit("gather", ap, Lit.make(idx.astype(np.int64), "i64"), axis=0)
    return api.matmul(wrap(windows), wrap(vv))


def _mode_slice(full: Tracer, n: int, m: int, mode: str) -> Tracer:
    api = _api()
    if mode == "full":
        return full
    if mode == "valid":
        lo, length = min(n, m) - 1, max(n, m) - min(n, m) + 1
    elif mode == "same":
        length = max(n, m)
        lo = (min(n, m) - 1) // 2 if n >= m else (min(n, m)) // 2
    else:
        raise ValueError(f"mode must be 'full', 'same' or 'valid' (got {mode!r})")
    return api._slice_axis(full, 0, lo, lo + length)


def _one_d(x: Any, name: str) -> Tracer:
    t = _t(x)
    if t.ndim != 1 or t.shape[0] == 0:
        raise ValueError(f"{name}: inputs must be non-empty 1-d arrays")
    return t


def convolve(a: Any, v: Any, mode: str = "full") -> Tracer:
    x, w = _one_d(a, "convolve"), _one_d(v, "convolve")
    if w.shape[0] > x.shape[0]:
        x, w = w, x
    full = _correlate_full(x, _api().flip(w))
    return _mode_slice(full, x.shape[0], w.shape[0], mode)


def correlate(a: Any, v: Any, mode: str = "valid") -> Tracer:
    api = _api()
    x, w = _one_d(a, "correlate"), _one_d(v, "correlate")
    n, m = x.shape[0], w.shape[0]
    if m > n:  # numpy: the correlation of (v, a), reversed
        full = api.flip(_correlate_full(w, x))
    else:
        full = _correlate_full(x, w)
    return _mode_slice(full, n, m, mode)


def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
           period: Any = None) -> Tracer:
    api = _api()
    if period is not None:
        raise TraceError("np.interp with period= is not supported", loc=current_loc())
    xt, xpt, fpt = _t(x), _t(xp), _t(fp)
    if xpt.ndim != 1 or fpt.shape != xpt.shape or xpt.shape[0] == 0:
        raise ValueError("fp and xp are not of the same length, or are empty")
    xt = xt if xt.val.dtype in ("f32", "f64") else api.astype(xt, "f64")
    dt = ops.promote_dtypes(xt.val.dtype, xpt.val.dtype if xpt.val.dtype in ("f32", "f64")
                            else "f64", fpt.val.dtype if fpt.val.dtype in ("f32", "f64")
                            else "f64")
    xv, xpv, fpv = (ops.convert(t.val, dt) for t in (xt, xpt, fpt))
    n = xpv.shape[0]
    first = Lit.make(np.int64(0), "i64")
    final = Lit.make(np.int64(n - 1), "i64")
    lo_v = emit("gather", fpv, first, axis=0)
    hi_v = emit("gather", fpv, final, axis=0)
    if n == 1:
        y = ops.broadcast_to(lo_v, xv.shape)
    else:
        from .np_sorting import searchsorted

        i = searchsorted(wrap(xpv), wrap(xv), side="right").val
        i = ops.ew("minimum", ops.ew("maximum", ops.sub(i, 1), 0), n - 2)
        j = ops.add(i, 1)
        x0, x1 = emit("gather", xpv, i, axis=0), emit("gather", xpv, j, axis=0)
        f0, f1 = emit("gather", fpv, i, axis=0), emit("gather", fpv, j, axis=0)
        t = ops.div(ops.sub(xv, x0), ops.sub(x1, x0))
        y = ops.add(f0, ops.mul(t, ops.sub(f1, f0)))
        # numpy returns fp[j] at x == xp[j] exactly (no 0 * inf at a vertical step)
        y = ops.select(ops.ew("eq", xv, x1), f1, y)
    lv = ops.convert(_t(left).val, dt) if left is not None else lo_v
    rv = ops.convert(_t(right).val, dt) if right is not None else hi_v
    y = ops.select(ops.ew("lt", xv, emit("gather", xpv, first, axis=0)), lv, y)
    y = ops.select(ops.ew("gt", xv, emit("gather", xpv, final, axis=0)), rv, y)
    return wrap(y)


# ---- cumulative products and nan- reductions ---------------------------------------------------

def cumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Tracer:
    """out[..., i] = prod_{j <= i} x[..., j]: the `cumprod` primitive (a scan), whose
    derivatives are exact where elements are zero (ir/prims/reduce.py)."""
    api = _api()
    api._no_out(out, "cumprod")
    x = _t(a)
    if dtype is not None:
        x = api.astype(x, dtype)
    elif x.val.dtype in ("bool", "i32"):
        x = api.astype(x, "i64")
    if axis is None:
        x, axis = api.ravel(x), 0
    ax = _ax(axis, x.ndim)
    if x.shape[ax] == 0:
        return x
    return wrap(ops.emit("cumprod", x.val, axis=ax))


def _nan_filled(a: Any, fill: float) -> Tracer:
    x = _t(a)
    if x.val.dtype not in ("f32", "f64"):
        return x
    return _where(_e("ne", x, x), wrap(ops.lit(fill, x.val.dtype)), x)


def nansum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
           keepdims: bool = False, initial: Any = None, where: Any = None) -> Tracer:
    return _api().sum_(_nan_filled(a, 0.0), axis, dtype, out, keepdims, initial, where)


def nanprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
            keepdims: bool = False, initial: Any = None, where: Any = None) -> Tracer:
    return _api().prod(_nan_filled(a, 1.0), axis, out, keepdims, initial, where, dtype)


def _count(a: Any, axis: Any, keepdims: bool) -> Tracer:
    x = _t(a)
    return _api().sum_(_api().astype(_e("eq", x, x), x.dtype if x.val.dtype in ("f32", "f64")
                                     else np.float64), axis=axis, keepdims=keepdims)


def nanmean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
            keepdims: bool = False, *, where: Any = None) -> Tracer:
    if where is not None:
        raise TraceError("np.nanmean with where= is not supported", loc=current_loc())
    x = _t(a)
    if x.val.dtype not in ("f32", "f64"):
        return _api().mean(x, axis, dtype, out, keepdims)
    return _e("div", nansum(x, axis, dtype, out, keepdims), _count(x, axis, keepdims))


def nanvar(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
           keepdims: bool = False, *, where: Any = None, mean: Any = None,
           correction: Any = None) -> Tracer:
    api = _api()
    if where is not None or mean is not None:
        raise TraceError("np.nanvar with where= or mean= is not supported", loc=current_loc())
    ddof = api._correction(ddof, correction)
    x = _t(a)
    if x.val.dtype not in ("f32", "f64"):
        return api.var(x, axis, dtype, out, ddof, keepdims)
    m = nanmean(x, axis, keepdims=True)
    d = _nan_filled(_e("sub", x, m), 0.0)
    return _e("div", api.sum_(_e("mul", d, d), axis=axis, keepdims=keepdims),
              _e("sub", _count(x, axis, keepdims), float(ddof)))


def nanstd(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
           keepdims: bool = False, *, where: Any = None, mean: Any = None,
           correction: Any = None) -> Tracer:
    return _e("sqrt", nanvar(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean,
                             correction=correction))


def _nan_extreme(kind: str) -> Callable[..., Tracer]:
    def fn(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False,
           initial: Any = None, where: Any = None) -> Tracer:
        api = _api()
        x = _t(a)
        red = api.max_ if kind == "max" else api.min_
        if x.val.dtype not in ("f32", "f64"):
            return red(x, axis, out, keepdims, initial, where)
        fill = -np.inf if kind == "max" else np.inf
        r = red(_nan_filled(x, fill), axis, out, keepdims, initial, where)
        # an all-NaN slice is NaN (numpy warns)
        allnan = _e("eq", _count(x, axis, keepdims), 0.0)
        return _where(allnan, wrap(ops.lit(np.nan, x.val.dtype)), r)

    fn.__name__ = f"nan{kind}"
    return fn


def _nan_arg(kind: str) -> Callable[..., Tracer]:
    def fn(a: Any, axis: Any = None, out: Any = None, *, keepdims: bool = False) -> Tracer:
        api = _api()
        x = _t(a)
        fill = -np.inf if kind == "max" else np.inf
        arg = api.argmax if kind == "max" else api.argmin
        return arg(_nan_filled(x, fill), axis, out, keepdims=keepdims)

    return fn


def nancumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Tracer:
    return _api().cumsum(_nan_filled(a, 0.0), axis, dtype, out)


def nancumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Tracer:
    return cumprod(_nan_filled(a, 1.0), axis, dtype, out)


def ptp(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Tracer:
    api = _api()
    return _e("sub", api.max_(a, axis, out, keepdims), api.min_(a, axis, out, keepdims))


def ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> Tracer:
    api = _api()
    d = api.diff(api.ravel(ary))
    parts = [api.ravel(v) for v in (to_begin,) if v is not None] + [d] + \
        [api.ravel(v) for v in (to_end,) if v is not None]
    return api.concatenate(parts) if len(parts) > 1 else d


def compress(condition: Any, a: Any, axis: Any = None, out: Any = None) -> Tracer:
    api = _api()
    api._no_out(out, "compress")
    if isinstance(condition, Tracer):
        return _data_dependent("compress", _MASK_HINT)()
    x = _t(a)
    if axis is None:
        x, axis = api.ravel(x), 0
    keep = np.flatnonzero(np.asarray(condition))
    return api.take(x, keep, axis=axis)


def extract(condition: Any, arr: Any) -> Tracer:
    if isinstance(condition, Tracer):
        return _data_dependent("extract", _MASK_HINT)()
    return compress(np.ravel(condition), _api().ravel(arr))


# ---- refusals -----------------------------------------------------------------------------------

_MASK_HINT = "keep a boolean mask and use np.where(mask, a, b) or a sum over the mask"

def _data_dependent(name: str, hint: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise TraceError(f"np.{name} of a traced array has a shape that depends on the "
                         "values, which adjit cannot compile", loc=current_loc(), hint=hint)

    return refuse


FUNCTIONS: dict[Any, Callable[..., Any]] = {
    np.tril: tril, np.triu: triu, np.diagonal: diagonal, np.trace: trace, np.kron: kron,
    np.cross: cross, np.pad: pad, np.split: split, np.array_split: array_split,
    np.hsplit: hsplit, np.vsplit: vsplit, np.dsplit: dsplit, np.rot90: rot90,
    np.rollaxis: rollaxis, np.atleast_3d: atleast_3d, np.dstack: dstack, np.append: append,
    np.insert: insert, np.delete: delete, np.linspace: linspace, np.logspace: logspace,
    np.meshgrid: meshgrid, np.select: select, np.piecewise: piecewise,
    np.nan_to_num: nan_to_num, np.gradient: gradient, np.convolve: convolve,
    np.correlate: correlate, np.interp: interp, np.cumprod: cumprod, np.nansum: nansum,
    np.nanprod: nanprod, np.nanmean: nanmean, np.nanvar: nanvar, np.nanstd: nanstd,
    np.nanmax: _nan_extreme("max"), np.nanmin: _nan_extreme("min"),
    np.nanargmax: _nan_arg("max"), np.nanargmin: _nan_arg("min"), np.nancumsum: nancumsum,
    np.nancumprod: nancumprod, np.ptp: ptp, np.ediff1d: ediff1d,
    np.histogram: _data_dependent("histogram", "the bin counts have a static size only with "
                                  "fixed bins: compare x with the edges and sum the masks"),
    np.bincount: _data_dependent("bincount", "compare with np.arange(k) and sum: "
                                 "(x[:, None] == np.arange(k)).sum(0)"),
    np.nonzero: _data_dependent("nonzero", _MASK_HINT),
    np.argwhere: _data_dependent("argwhere", _MASK_HINT),
    np.flatnonzero: _data_dependent("flatnonzero", _MASK_HINT),
    np.extract: extract, np.compress: compress,
}
for _f in ("cumulative_prod",):
    if hasattr(np, _f):
        FUNCTIONS[getattr(np, _f)] = cumprod

METHODS: dict[str, Callable[..., Any]] = {
    "diagonal": diagonal, "trace": trace, "cumprod": cumprod,
    "nonzero": _data_dependent("nonzero", _MASK_HINT),
}
