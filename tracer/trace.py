"""trace: run a Python function on tracers and return its graph.

Array arguments become typed graph inputs named after the function's parameters;
Python floats and ints become weakly typed 0-d inputs; `static` arguments are
passed through as Python values (they are part of the compilation key). The
output may be a tracer, a number, an array, or a (nested) tuple/list of them.

The function runs converted (tracer/convert.py): its `if`/`while`/`for` on traced values
become `cond`/`while` equations, and loops that unrolled instead are noted on the graph.
"""
from __future__ import annotations

import contextlib
import inspect
import linecache
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from adjit.ir import ArrayType, Builder, Graph, Lit, Loc, Value, Var, building, context
from adjit.ir.core import dtype_name
from adjit.ir.errors import AdjitError, TraceError

from .control import recording_notes
from .guards import Guard, GuardContext, combined_check, guarding
from .convert import converted
from .undefined import Undefined
from .values import CONVERSIONS, Tracer, pack_objects


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
            guarding(guard_ctx), _conversions():
        try:
            out = run(*call_args)
        except AdjitError:
            raise
        except Exception as e:
            _numpy_needed_values(e, getattr(getattr(fn, "__code__", None), "co_filename", None))
            raise
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


@contextlib.contextmanager
def _conversions() -> Iterator[None]:
    saved = list(CONVERSIONS)
    CONVERSIONS.clear()
    try:
        yield
    finally:
        CONVERSIONS[:] = saved


def _numpy_needed_values(e: Exception, user_file: str | None) -> None:
    """An exception from numpy on a line where a traced array became an object array of
    tracers (`Tracer.__array__`): numpy wanted its values (`np.take(table, idx)`, `int(...)`
    of its elements). Say so at that line, instead of numpy's message about dtype object.
    Likewise for an exception from library code (scipy's) after such a conversion."""
    tbs = list(_walk(e.__traceback__))
    frames = [(tb.tb_frame.f_code.co_filename, tb.tb_lineno) for tb in tbs]
    convs = [loc for loc in CONVERSIONS if loc is not None]
    exact = [loc for loc in convs if (loc.file, loc.line) in frames]
    in_library = bool(frames) and frames[-1][0] != user_file and not frames[-1][0].startswith(
        _ADJIT_PACKAGES)
    if not exact and not (convs and in_library):
        return
    loc = (exact or convs)[-1]
    where = ""
    if not exact:  # report it at the user's line that called the library
        mine = [tb for tb in tbs if tb.tb_frame.f_code.co_filename == user_file]
        if mine:
            tb = mine[-1]
            code = tb.tb_frame.f_code
            where = f" (library code converted it to an object array at {loc.short()})"
            loc = Loc(code.co_filename, tb.tb_lineno, code.co_name,
                      linecache.getline(code.co_filename, tb.tb_lineno).rstrip("\n"))
    raise TraceError(f"numpy needed the values of a traced array here, which are not known "
                     f"while tracing{where}: {type(e).__name__}: {e}", loc=loc,
                     hint="a numpy function that does not dispatch to adjit on this argument "
                          "(np.take(table, idx) with a numpy table, say) or that adjit does not "
                          "support; `python -m adjit numpy` lists what traces. Index a traced "
                          "array instead, or compare: (idx[:, None] == np.arange(k))") from e


# adjit's own package folders (not the repository root: a virtual environment may live there)
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ADJIT_PACKAGES = tuple(os.path.join(_ROOT, d) + os.sep
                        for d in ("tracer", "ir", "passes", "codegen", "runtime", "adjit"))


def _walk(tb: Any) -> Iterator[Any]:
    while tb is not None:
        yield tb
        tb = tb.tb_next


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
