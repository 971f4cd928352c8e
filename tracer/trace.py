"""trace: run a Python function on tracers and return its graph.

Array arguments become typed graph inputs named after the function's parameters;
Python floats and ints become weakly typed 0-d inputs; `static` arguments are
passed through as Python values (they are part of the compilation key). The
output may be a tracer, a number, an array, or a (nested) tuple/list of them.

The function runs converted (tracer/convert.py): its `if`/`while`/`for` on traced values
become `cond`/`while` equations, and loops that unrolled instead are noted on the graph.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from adjit.ir import ArrayType, Builder, Graph, Lit, Value, Var, building, context
from adjit.ir.core import dtype_name
from adjit.ir.errors import TraceError

from .control import recording_notes
from .guards import Guard, GuardContext, combined_check, guarding
from .convert import converted
from .undefined import Undefined
from .values import Tracer, pack_objects


@dataclass(frozen=True)
class Traced:
    graph: Graph
    out_tree: Any  # the output's structure: None for one value, else nested tuples of indices
    weak_inputs: tuple[bool, ...]
    # With guards, the graph's last output is a bool[] that is true while they all hold.
    guards: tuple[Guard, ...] = ()

    @property
    def n_outputs(self) -> int:
        """The function's own outputs (the guard check, if any, comes after them)."""
        return len(self.graph.outputs) - (1 if self.guards else 0)


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
          name: str | None = None, concrete: bool = True) -> Traced:
    """Trace `fn` on `args`. With `concrete`, args are the real values of this call, so a
    traced value Python itself needs can be specialized on under a guard (guards.py)."""
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
    run = converted(fn)  # Python control flow on traced values -> cond / while (autograph.py)
    arrays = [np.asarray(a, dtype=v.type.np_dtype) for a, v in
              zip([a for i, a in enumerate(args) if i not in static], inputs, strict=True)]
    guard_ctx = GuardContext(builder, inputs, arrays) if concrete else None
    with building(builder), context(loc=None, role=""), recording_notes() as notes, \
            guarding(guard_ctx):
        out = run(*call_args)
    with building(builder):
        flat: list[Value] = []
        tree = _flatten(out, flat)
        guards = tuple(guard_ctx.guards) if guard_ctx else ()
        if guards:
            flat.append(combined_check(list(guards)))
    gname = name or getattr(fn, "__name__", "f")
    if not gname.isidentifier():
        gname = "f"
    _check_closed(builder, inputs, flat)
    notes = list(notes) + [f"guard {g}" for g in guards]
    return Traced(builder.graph(gname, tuple(inputs), tuple(flat), tuple(notes)), tree,
                  tuple(weak), guards)


def _check_closed(builder: Builder, inputs: list[Var], outputs: list[Value]) -> None:
    """Every value the graph reads is defined in it. A value traced inside a loop or branch
    and kept outside it by a side effect (appended to a list, stored on an object) is not."""
    defined = {id(v) for v in inputs}
    for eqn in builder.eqns:
        for v in eqn.inputs:
            if isinstance(v, Var) and id(v) not in defined:
                raise TraceError("a value computed inside a traced loop or branch is used "
                                 "outside it", loc=eqn.loc,
                                 hint="values leave a loop or an if only through variables "
                                      "it assigns; do not store them in lists or attributes")
        defined.update(id(o) for o in eqn.outputs)
    for v in outputs:
        if isinstance(v, Var) and id(v) not in defined:
            raise TraceError("the function returns a value computed inside a traced loop or "
                             "branch without assigning it to a variable",
                             hint="values leave a loop or an if only through variables it "
                                  "assigns; do not store them in lists or attributes")


def _flatten(out: Any, flat: list[Value]) -> Any:
    if isinstance(out, (tuple, list)):
        return tuple(_flatten(o, flat) for o in out)
    flat.append(_to_value(out))
    return len(flat) - 1


def _to_value(o: Any) -> Value:
    if isinstance(o, Undefined):  # returned: the statement that left it undefined says why
        raise o.error(o.where) from None
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
