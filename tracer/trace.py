"""trace: run a Python function on tracers and return its graph.

Array arguments become typed graph inputs named after the function's parameters;
Python floats and ints become weakly typed 0-d inputs; `static` arguments are
passed through as Python values (they are part of the compilation key). The
output may be a tracer, a number, an array, or a (nested) tuple/list of them.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from adjit.ir import ArrayType, Builder, Graph, Lit, Value, Var, building, context
from adjit.ir.core import dtype_name
from adjit.ir.errors import TraceError

from .values import Tracer, pack_objects


@dataclass(frozen=True)
class Traced:
    graph: Graph
    out_tree: Any  # the output's structure: None for one value, else nested tuples of indices
    weak_inputs: tuple[bool, ...]


def arg_type(a: Any) -> tuple[ArrayType, bool]:
    """The IR type of an argument, and whether it is weakly typed (a Python scalar)."""
    if isinstance(a, bool):
        return ArrayType("bool", ()), True
    if isinstance(a, int):
        return ArrayType("i64", ()), True
    if isinstance(a, float):
        return ArrayType("f64", ()), True
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"adjit cannot trace an argument of type {type(a).__name__} "
                        f"(dtype {arr.dtype})")
    return ArrayType(dtype_name(arr.dtype), arr.shape), False


def param_names(fn: Callable[..., Any], n: int) -> list[str]:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    names: list[str] = []
    for i in range(n):
        if i < len(params) and params[i].kind in (params[i].POSITIONAL_ONLY,
                                                  params[i].POSITIONAL_OR_KEYWORD):
            names.append(params[i].name)
        elif params and params[-1].kind == params[-1].VAR_POSITIONAL:
            names.append(f"{params[-1].name}{i - len(params) + 1}")
        else:
            names.append(f"arg{i}")
    return names


def trace(fn: Callable[..., Any], args: Sequence[Any], static: Sequence[int] = (),
          name: str | None = None) -> Traced:
    names = param_names(fn, len(args))
    inputs: list[Var] = []
    weak: list[bool] = []
    call_args: list[Any] = []
    for i, (a, nm) in enumerate(zip(args, names, strict=True)):
        if i in static:
            call_args.append(a)
            continue
        t, w = arg_type(a)
        v = Var(t, nm)
        inputs.append(v)
        weak.append(w)
        call_args.append(Tracer(v, weak=w))
    builder = Builder()
    with building(builder), context(loc=None, role=""):
        out = fn(*call_args)
    with building(builder):
        flat: list[Value] = []
        tree = _flatten(out, flat)
    gname = name or getattr(fn, "__name__", "f")
    if not gname.isidentifier():
        gname = "f"
    return Traced(builder.graph(gname, tuple(inputs), tuple(flat)), tree, tuple(weak))


def _flatten(out: Any, flat: list[Value]) -> Any:
    if isinstance(out, (tuple, list)):
        return tuple(_flatten(o, flat) for o in out)
    flat.append(_to_value(out))
    return len(flat) - 1


def _to_value(o: Any) -> Value:
    if isinstance(o, Tracer):
        return o.val
    if isinstance(o, np.ndarray) and o.dtype == object:
        return pack_objects(o).val
    if o is None:
        raise TraceError("the traced function returned None; return the value to differentiate")
    try:
        arr = np.asarray(o)
    except Exception:
        raise TraceError(f"the traced function returned a {type(o).__name__}, "
                         "not an array") from None
    if arr.dtype.kind not in "biuf":
        raise TraceError(f"the traced function returned a {type(o).__name__}, not an array")
    return Lit.make(arr, dtype_name(arr.dtype))


def unflatten(tree: Any, values: Sequence[Any]) -> Any:
    if isinstance(tree, tuple):
        return tuple(unflatten(t, values) for t in tree)
    return values[tree]
