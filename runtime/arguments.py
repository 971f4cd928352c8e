"""Arguments at the boundary: what keys a specialization, what adjit refuses, and how
results come back (fresh, writable numpy values, never the caller's own arrays).
"""
from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from adjit.codegen.devices import is_device_array
from adjit.ir import Lit
from adjit.ir.errors import TraceError
from adjit.tracer import Tracer, pytree
from adjit.tracer.loc import user_loc
from adjit.tracer.values import MATRIX_HINT, MATRIX_WHY, is_masked_array

# dtypes adjit computes in; others are refused with what to do instead
_KINDS = {"b": "boolean", "i": "integer", "u": "unsigned integer", "f": "float",
          "c": "complex", "O": "Python object", "U": "string", "S": "bytes", "V": "structured",
          "M": "datetime", "m": "timedelta"}


def dtype_words(dt: np.dtype) -> str:
    """`float64`, or `object (Python objects)`: never numpy's one-letter kind codes."""
    kind = _KINDS.get(dt.kind)
    return f"{dt.name} ({kind})" if kind and kind not in dt.name else dt.name


def sig(a: Any) -> Any:
    """The part of a specialization key one argument contributes."""
    t = type(a)
    if t is np.ndarray:
        dt = a.dtype
        return (a.shape, dt.char) if dt.isnative else (a.shape, dt.char, "swapped")
    if t is float:
        return t
    if t is int or t is bool:
        return (t, a)  # Python ints and bools are static: their value is part of the key
    if isinstance(a, np.generic):
        return ("scalar", a.dtype.char)
    if isinstance(a, Tracer):
        return ("tracer", id(a))
    if isinstance(a, np.ndarray):
        return (type(a), a.shape, a.dtype.char)
    if is_device_array(a):
        return ("device", tuple(a.shape), np.dtype(a.dtype).char)
    if t is list or t is tuple or (isinstance(a, tuple) and hasattr(t, "_fields")):
        return (t, tuple([sig(x) for x in a]))
    if t is dict:
        return (t, tuple((k, sig(a[k])) for k in sorted(a, key=lambda k: (type(k).__name__, k))))
    if a is None:
        return None
    return ("object", t)


def check_argument(i: int | str, a: Any, what: str) -> None:
    """Refuse, with a clear error at the caller's line, what adjit cannot take as an argument."""
    if is_masked_array(a):  # (without importing numpy.ma, ~10 ms, to find out)
        raise TraceError(f"{what}: argument {i} is a numpy masked array; adjit would ignore its "
                         f"mask", loc=user_loc(4),
                         hint="pass the data and the mask as two arrays (a.filled(0.0), "
                              "np.ma.getmaskarray(a)) and apply the mask with np.where")
    if isinstance(a, np.matrix):
        raise TraceError(f"{what}: argument {i} is a numpy matrix (np.matrix): {MATRIX_WHY}",
                         loc=user_loc(4), hint=MATRIX_HINT)
    if pytree.is_container(a):  # a structure (pytree): each leaf is an argument
        leaves, tree = pytree.flatten(a)
        for leaf, path in zip(leaves, pytree.paths(tree, ""), strict=True):
            check_argument(f"{i}{path}", leaf, what)  # type: ignore[arg-type]
        return
    dt = _dtype_of(a)
    if dt is None:
        return
    if dt.kind not in "biufc":
        raise TraceError(f"{what}: argument {i} has dtype {dtype_words(dt)}, which adjit cannot "
                         f"compute with", loc=user_loc(4),
                         hint="pass float, complex, integer or boolean arrays")
    if dt == np.float16:
        raise TraceError(f"{what}: argument {i} is float16, which adjit does not compute in",
                         loc=user_loc(4), hint="convert it: x.astype(np.float32)")
    if (dt.kind == "f" and dt.itemsize > 8) or (dt.kind == "c" and dt.itemsize > 16):
        raise TraceError(f"{what}: argument {i} is {dt.name}, which adjit does not compute in",
                         loc=user_loc(4), hint="convert it: x.astype(np.float64)")


def host_copy(a: Any) -> Any:
    """A device array's values on the host (what tracing reads); anything else as it is.
    Another library's device array (CuPy, PyTorch) is read through numba's view of it; a
    strided one is made contiguous on the device first (numba copies no negative strides to
    the host)."""
    if not is_device_array(a):
        return a
    if not hasattr(a, "copy_to_host"):
        from numba import cuda

        a = cuda.as_cuda_array(a)
    if a.ndim and not a.is_c_contiguous():
        from adjit.codegen.cuda_kernels import contiguous

        a = contiguous(a)
    return a.copy_to_host()


def _dtype_of(a: Any) -> np.dtype | None:
    if isinstance(a, (np.ndarray, np.generic)):
        return a.dtype
    if is_device_array(a):
        return np.dtype(a.dtype)
    if isinstance(a, (bool, int, float, Tracer)):
        return None
    if isinstance(a, complex):
        return np.dtype(complex)
    try:
        return np.asarray(a).dtype
    except Exception:  # noqa: BLE001  (anything numpy cannot read is refused below)
        return np.dtype(object)


def as_index(n: Any, what: str) -> int:
    """An argnums entry: any integer (np.int64 too), never a float or a string."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{what}: argnums must be an int or a tuple of ints, got "
                        f"{n!r} ({type(n).__name__})")
    return operator.index(n)


# ---- results ------------------------------------------------------------------------------------

def boxer(shape: tuple[int, ...], dtype: np.dtype, fresh: bool) -> Callable[[Any, bool], Any]:
    """Results as numpy gives them: a 0-d value is a numpy scalar (a 0-d array for a
    gradient, which has its argument's shape); numba returns 0-d results as Python numbers.
    `fresh`: the compiled code may hand back an input or a constant itself (a gradient
    equal to `x`), which must be copied so the caller never holds its own array twice."""
    if shape:
        if fresh:
            from . import buffers, config

            # large: into a buffer reused across calls (runtime/buffers.py), not fresh memory
            copy = buffers.copier(shape, dtype, config.reuse_min_bytes(),
                                  config.reuse_max_bytes())
            if copy is not None:
                return lambda r, is_grad: copy(r)
            return lambda r, is_grad: np.array(r, dtype, copy=True)
        box = lambda r, is_grad: r  # noqa: E731
        box.identity = True  # callers on the hot path skip the call
        return box
    scalar = dtype.type
    box = lambda r, is_grad: np.array(r, dtype) if is_grad else scalar(r)  # noqa: E731
    box.scalar = scalar  # what a 0-d value (not a gradient) becomes
    return box


def aliasing_outputs(graph: Any) -> set[int]:
    """Output positions whose array may be an input's or a constant's own memory (or another
    output's): the output is an input or literal, or reached from one through views."""
    views = {"reshape", "transpose", "broadcast_to", "slice", "convert", "stop_gradient"}
    made_by = {id(o): e for e in graph.eqns for o in e.outputs}
    inputs = {id(v) for v in graph.inputs}
    out: set[int] = set()
    origins: set[int] = set()  # what earlier outputs are (views of)
    for pos, v in enumerate(graph.outputs):
        cur = v
        while True:
            if id(cur) in inputs or isinstance(cur, Lit):
                out.add(pos)
                break
            eqn = made_by.get(id(cur))
            if eqn is None or eqn.prim not in views or not eqn.inputs:
                break
            cur = eqn.inputs[0]
        if id(cur) in origins:
            out.add(pos)
        origins.add(id(cur))
    return out


def describe_outputs(outs: Sequence[Any]) -> str:
    return ", ".join(str(o.type) for o in outs) or "nothing"
