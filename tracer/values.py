"""Tracer values: what the user's function sees in place of arrays while it is traced.

A `Tracer` wraps an IR value. Operators, array methods and numpy's protocols
(`__array_ufunc__`, `__array_function__`) turn each operation into equations of
the active builder. Python scalars passed as arguments become *weak* tracers,
which adopt the dtype of the arrays they meet, as numpy's NEP 50 scalars do.
`np.asarray(tracer)` cannot return a tracer (numpy insists on an ndarray), so
`__array__` returns an object array of 0-d tracers, one per element: numpy then
runs its own loops over them and every element operation is still traced. This
is slow for big arrays but makes unmodified third-party code (scipy's `rosen`)
differentiable.
"""
from __future__ import annotations

import dis
import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from adjit.ir import ArrayType, Lit, Value, Var, context, ops
from adjit.ir.core import DTYPES, dtype_name
from adjit.ir.errors import ImmutableError, TraceError

from .loc import user_loc


class UnsupportedAttribute(TraceError, AttributeError):
    """An ndarray attribute a Tracer lacks: a TraceError for the user, and still an
    AttributeError, so `hasattr(x, "flags")` in library code stays False."""


# Where tracers became object arrays (`__array__`) during the current trace.
CONVERSIONS: list[Any] = []


def located(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Emit the equations of `fn` with the user's file and line attached."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with context(loc=user_loc(2)):
            return fn(*args, **kwargs)

    return wrapper


class Tracer:
    __slots__ = ("val", "weak")
    __array_priority__ = 1000

    def __init__(self, var: Value, weak: bool = False) -> None:
        self.val = var
        self.weak = weak

    # ---- array attributes ----------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.val.shape

    @property
    def ndim(self) -> int:
        return len(self.val.shape)

    @property
    def size(self) -> int:
        return self.val.type.size

    @property
    def dtype(self) -> np.dtype:
        return DTYPES[self.val.dtype]

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"Tracer({self.val.type})"

    __hash__ = object.__hash__

    def __getattr__(self, name: str) -> Any:
        # Only reached for names a Tracer does not define: an ndarray attribute or method
        # adjit does not support (x.flat, x.sort()) is a TraceError, not an AttributeError.
        if not name.startswith("__") and hasattr(np.ndarray, name):
            raise UnsupportedAttribute(f"the array attribute .{name} is not supported by adjit",
                             loc=user_loc(2), hint="`python -m adjit numpy` lists the array "
                                                   "methods that trace")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ---- numpy protocols -------------------------------------------------------------------
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        from .numpy_api import apply_ufunc

        with context(loc=user_loc(2)):
            return apply_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        from .numpy_api import apply_function

        with context(loc=user_loc(2)):
            return apply_function(func, args, kwargs)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if _called_from_numpy_ma(sys._getframe(1)):
            # np.ma.masked_where(c, x), np.ma.array(x, mask=m), np.ma.sum(...) on a tracer:
            # numpy.ma would hold an object array of tracers with a mask that adjit cannot
            # see, and decide element by element through bool() of traced values.
            raise TraceError("numpy masked arrays (np.ma) are not traced by adjit: their mask "
                             "would be ignored", loc=user_loc(2), hint=MASKED_HINT)
        if self.val.dtype in ("i32", "i64", "bool") and storing(sys._getframe(1)):
            # `out[idx] = v` with a traced index (numpy wants its values now), or an integer
            # traced value stored into a numpy array (a float one fails in __float__)
            raise inplace_error(user_loc(2))
        if _subscripting(sys._getframe(1)):
            # `table[idx]` with a numpy `table`: numpy wants integers now, and would fail
            # with an IndexError on the object array below.
            raise TraceError("a numpy array cannot be indexed by a traced array: numpy "
                             "needs the index values while tracing", loc=user_loc(2),
                             hint="index a traced array instead (pass the table as an "
                                  "argument), or compare: (idx[:, None] == np.arange(k)) is "
                                  "the one-hot np.eye(k)[idx]")
        # Element-wise object array; see the module docstring. Where numpy then fails (it
        # wanted numbers: `np.take(table, idx)`), trace() reports it at this line.
        CONVERSIONS.append(user_loc(2))
        with context(loc=user_loc(2)):
            out = np.empty(self.shape, dtype=object)
            for idx in np.ndindex(*self.shape):
                out[idx] = self[idx] if idx else self
        return out

    def __bool__(self) -> bool:
        from .convert import why_unconverted_code
        from .guards import concrete
        from .loc import user_code

        loc = user_loc(2)
        if storing(sys._getframe(1)):  # `out[i] = t` into a numpy bool array
            raise inplace_error(loc)
        with context(loc=loc):
            seen = concrete(self.val, "bool", loc)
        if seen is not None:
            return seen
        code = user_code(2)
        why = why_unconverted_code(code) if code is not None else None
        where = (f"{code.co_name} runs as written, unconverted, because {why}" if why else
                 "here Python itself needs the value (bool(), assert, a library function)")
        raise TraceError("the truth value of a traced array is not known while tracing",
                         loc=loc, hint="adjit compiles `if`, `while`, `for i in range(n)` and "
                                       "`a if cond else b` on traced values when they are "
                                       "written in the traced function or in your own code it "
                                       f"calls (not a library's); {where}. Move the test into such "
                                       "a statement, choose elementwise with np.where(cond, "
                                       "a, b), or mark the argument it depends on static with "
                                       "static_argnums")

    def _concrete(self, what: str) -> Any:
        from .guards import concrete

        loc = user_loc(3)
        if storing(sys._getframe(2)):  # `out[i] = t`: numpy converts t to store it
            raise inplace_error(loc)
        if what in ("int", "float", "index"):
            with context(loc=loc):
                seen = concrete(self.val, "float" if what == "float" else "int", loc)
            if seen is not None:
                return seen
        raise TraceError(f"{what}() of a traced array needs its value, which is not known "
                         "while tracing", loc=user_loc(3),
                         hint="keep the value as an array, or mark the argument static with "
                              "static_argnums")

    def __float__(self) -> float:
        return self._concrete("float")

    def __int__(self) -> int:
        return self._concrete("int")

    def __index__(self) -> int:
        return self._concrete("index")

    def _rounded(self, how: str) -> int:
        # math.floor / math.ceil / math.trunc: an int, specialized on under a guard (its
        # derivative is 0, so nothing is lost, unlike float()).
        from . import numpy_api as api

        e = api.elementwise
        with context(loc=user_loc(3)):
            if how == "floor":
                r = e("floor", self)
            elif how == "ceil":
                r = api._ceil(self)
            else:
                r = e("mul", e("sign", self), e("floor", e("abs", self)))
        return r._concrete("int")

    def __floor__(self) -> int:
        return self._rounded("floor")

    def __ceil__(self) -> int:
        return self._rounded("ceil")

    def __trunc__(self) -> int:
        return self._rounded("trunc")

    def item(self) -> Any:
        return self._concrete("item")

    def tolist(self) -> Any:
        return self._concrete("tolist")

    def __setitem__(self, key: Any, value: Any) -> None:
        raise inplace_error(user_loc(2), traced_target=True)

    # ---- operators ---------------------------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        from .indexing import getitem

        with context(loc=user_loc(2)):
            return getitem(self, key)

    @property
    def T(self) -> Tracer:
        from . import numpy_api as api

        with context(loc=user_loc(2)):
            return api.transpose(self)

    @property
    def mT(self) -> Tracer:
        from . import numpy_api as api

        with context(loc=user_loc(2)):
            return api.swapaxes(self, -1, -2)


def _binop(name: str, reflected: bool = False) -> Callable[..., Any]:
    def op(self: Tracer, other: Any) -> Any:
        from .numpy_api import elementwise

        with context(loc=user_loc(2)):
            try:
                if reflected:
                    return elementwise(name, other, self)
                return elementwise(name, self, other)
            except _Unsupported:
                return NotImplemented

    return op


def _unop(name: str) -> Callable[..., Any]:
    def op(self: Tracer) -> Any:
        from .numpy_api import elementwise

        with context(loc=user_loc(2)):
            return elementwise(name, self)

    return op


class _Unsupported(Exception):
    pass


for _dunder, _prim in (("add", "add"), ("sub", "sub"), ("mul", "mul"), ("truediv", "div"),
                       ("pow", "pow"), ("matmul", "matmul"), ("floordiv", "floor_divide"),
                       ("mod", "mod")):
    setattr(Tracer, f"__{_dunder}__", _binop(_prim))
    setattr(Tracer, f"__r{_dunder}__", _binop(_prim, reflected=True))
for _dunder, _prim in (("lt", "lt"), ("le", "le"), ("gt", "gt"), ("ge", "ge"), ("eq", "eq"),
                       ("ne", "ne"), ("and", "logical_and"), ("or", "logical_or")):
    setattr(Tracer, f"__{_dunder}__", _binop(_prim))
Tracer.__divmod__ = lambda self, other: (self // other, self % other)
Tracer.__rdivmod__ = lambda self, other: (other // self, other % self)
Tracer.__rand__ = _binop("logical_and", reflected=True)
Tracer.__ror__ = _binop("logical_or", reflected=True)
Tracer.__neg__ = _unop("neg")
Tracer.__abs__ = _unop("abs")
Tracer.__invert__ = _unop("logical_not")
Tracer.__pos__ = lambda self: self


MASKED_HINT = ("adjit computes on plain arrays. Pass the data and the mask as two arrays "
               "(`m.filled(0.0)` or `m.data`, and `np.ma.getmaskarray(m)`), and apply the mask "
               "with np.where(mask, fill, x), or a reduction's where=~mask "
               "(np.sum(x, where=~mask), np.mean(x, where=~mask))")

# np.matrix, as an argument (runtime/arguments.py) or a constant (`unwrap`): refused
MATRIX_WHY = ("its `*` and `**` are matrix products, and adjit computes with arrays, where "
              "they are elementwise")
MATRIX_HINT = "use np.asarray(m), and `@` for matrix products"


def is_masked_array(a: Any) -> bool:
    """Whether `a` is a numpy masked array (numpy.ma is not imported to find out). The class
    is looked up where it is defined and may be missing: another thread (a background
    compile) may be importing numpy.ma right now, and no instance exists before its class."""
    cls = getattr(sys.modules.get("numpy.ma.core"), "MaskedArray", None)
    return cls is not None and isinstance(a, cls)


_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__)) + os.sep
_NUMPY_MA_DIR = os.path.join(_NUMPY_DIR, "ma") + os.sep


def _called_from_numpy_ma(frame: Any) -> bool:
    """Whether numpy code running on behalf of numpy.ma asks for an array (walks up through
    numpy's own frames only)."""
    while frame is not None and frame.f_code.co_filename.startswith(_NUMPY_DIR):
        if frame.f_code.co_filename.startswith(_NUMPY_MA_DIR):
            return True
        frame = frame.f_back
    return False


INPLACE_HINT = ("build a new array instead: np.where(np.arange(n) == i, v, x) replaces x[i] "
                "(the numpy spelling of JAX's x.at[i].set(v)), np.where(mask, v, x) the "
                "selected elements, np.concatenate([x[:i], v, x[i + 1:]]) a block; or collect "
                "the values in a list and np.stack(values)")


def inplace_error(loc: Any, traced_target: bool = False) -> TraceError:
    what = ("into a traced array" if traced_target else
            "of a traced value into a numpy array")
    return ImmutableError(f"in-place assignment {what} is not traced: adjit records operations "
                      "that make new arrays, not writes into existing ones", loc=loc,
                      hint=INPLACE_HINT)


def storing(frame: Any) -> bool:
    """Whether `frame` is executing `container[key] = value` (numpy converting the value, or
    the key, to store it)."""
    return _current_op(frame) == "STORE_SUBSCR"


def augmented_assignment() -> bool:
    """Whether the user's line being traced is executing `y += x` (or -=, *=, ...)."""
    from .loc import _user_frame

    frame = _user_frame(2)
    if frame is None:
        return False
    for ins in dis.get_instructions(frame.f_code):
        if ins.offset == frame.f_lasti:
            return ins.opname.startswith("INPLACE_") or (
                ins.opname == "BINARY_OP" and ins.argrepr.endswith("="))
    return False


def _current_op(frame: Any) -> str | None:
    if frame is None:
        return None
    for ins in dis.get_instructions(frame.f_code):
        if ins.offset == frame.f_lasti:
            return ins.opname
    return None


def _subscripting(frame: Any) -> bool:
    """Whether `frame` is executing `container[key]` (numpy converting a key to an index)."""
    if frame is None:
        return False
    for ins in dis.get_instructions(frame.f_code):
        if ins.offset == frame.f_lasti:
            return ins.opname == "BINARY_SUBSCR" or (ins.opname == "BINARY_OP"
                                                     and ins.argrepr == "[]")
    return False


def unwrap(x: Any, like: Value | None = None) -> Value | int | float | bool:
    """A tracer's value; arrays become literals; Python scalars stay (weakly typed)."""
    if isinstance(x, Tracer):
        return x.val
    if isinstance(x, (bool, int, float, complex)) and not isinstance(x, np.generic):
        return x
    if is_masked_array(x):  # a constant masked array met in a traced function
        raise TraceError("a numpy masked array (np.ma) is used with traced values, and adjit "
                         "would ignore its mask", loc=user_loc(3), hint=MASKED_HINT)
    if isinstance(x, np.matrix):
        raise TraceError(f"a numpy matrix (np.matrix) is used with traced values; {MATRIX_WHY}",
                         loc=user_loc(3), hint=MATRIX_HINT)
    if isinstance(x, np.ndarray) and x.dtype == object:
        return pack_objects(x).val
    arr = np.asarray(x)
    if arr.dtype == object:
        if arr.ndim == 0 and arr[()] is x:  # not an array of values: a dict, a function...
            raise TraceError(f"adjit cannot use a {type(x).__name__} as an array here",
                             loc=user_loc(3),
                             hint="pass an array, or a number; structures (dicts, lists of "
                                  "arrays) are taken apart by the transformations, not by "
                                  "numpy functions")
        return pack_objects(arr).val
    if arr.dtype.kind not in "biufc":
        raise TraceError(f"adjit cannot use an array of dtype {arr.dtype} here", loc=user_loc(3))
    return Lit.make(arr, dtype_name(arr.dtype))


def is_weak(x: Any) -> bool:
    return (isinstance(x, Tracer) and x.weak) or (
        isinstance(x, (bool, int, float, complex)) and not isinstance(x, np.generic))


def pack_objects(arr: np.ndarray) -> Tracer:
    """An object array of tracers and numbers (what numpy makes of `__array__`) as one tracer."""
    flat = [unwrap(e) for e in arr.reshape(-1)]
    vals = [v for v in flat if isinstance(v, (Var, Lit))]
    dt = ops.promote_dtypes(*[v.dtype for v in vals]) if vals else "f64"
    pieces = [ops.reshape(ops.convert(v, dt) if isinstance(v, (Var, Lit)) else ops.lit(v, dt), (1,))
              for v in flat]
    if not pieces:
        return Tracer(Lit.make(np.zeros(arr.shape), dt))
    joined = pieces[0] if len(pieces) == 1 else ops.emit("concatenate", *pieces, axis=0)
    return Tracer(ops.reshape(joined, arr.shape))


def wrap(v: Value, weak: bool = False) -> Tracer:
    return Tracer(v, weak)


def array_type(x: Any) -> ArrayType:
    return x.val.type if isinstance(x, Tracer) else ArrayType.of(x)
