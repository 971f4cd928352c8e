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
from adjit.codegen.devices import is_device_array
from adjit.ir import ArrayType, Builder, Graph, Lit, Loc, Value, Var, building, context
from adjit.ir.core import dtype_name
from adjit.ir.errors import AdjitError, TraceError

from . import pytree, randomness
from .captures import Probe
from .control import recording_notes
from .convert import converted
from .guards import Guard, GuardContext, combined_check, guarding
from .undefined import Undefined
from .values import CONVERSIONS, Tracer, pack_objects


@dataclass(frozen=True)
class Traced:
    graph: Graph
    out_tree: Any  # the output's structure (tracer/pytree.py): None for one value
    weak_inputs: tuple[bool, ...]
    # With guards, the graph's last output is a bool[] that is true while they all hold.
    guards: tuple[Guard, ...] = ()
    # The graph's inputs after the arguments' are captured arrays: these `Probe` nodes.
    captured: tuple[int, ...] = ()
    # ... and after those, values of an enclosing trace the function closed over
    # (`free=True`): these Vars of the enclosing graph.
    free: tuple[Var, ...] = ()

    @property
    def n_outputs(self) -> int:
        """The function's own outputs (the guard check, if any, comes after them)."""
        return len(self.graph.outputs) - (1 if self.guards else 0)


def arg_type(a: Any) -> tuple[ArrayType, bool]:
    """The IR type of an argument, and whether it is weakly typed (a Python scalar; numpy's
    scalars are typed, np.float64 and np.complex128 too though they subclass float and
    complex: float32 array * np.float64(2.0) is float64 in numpy)."""
    if not isinstance(a, np.generic):
        if isinstance(a, bool):
            return ArrayType("bool", ()), True
        if isinstance(a, int):
            return ArrayType("i64", ()), True
        if isinstance(a, float):
            return ArrayType("f64", ()), True
        if isinstance(a, complex):
            return ArrayType("c128", ()), True
    arr = np.asarray(a)
    if arr.dtype.kind not in "biufc":
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
          name: str | None = None, concrete: bool = True, probe: Probe | None = None,
          probe_vals: Sequence[Any] = (), free: bool = False) -> Traced:
    """Trace `fn` on `args`. With `concrete`, args are the real values of this call, so a
    traced value Python itself needs can be specialized on under a guard (guards.py).
    With a `probe` (captures.py) and its current values, captured float arrays become
    inputs after the arguments. With `free`, values of an enclosing trace that `fn` reads
    (a nested transformation closing over an outer traced value) become inputs after
    those; otherwise reading one is an error."""
    from . import scipy_api

    fn = scipy_api.resolve(fn)  # a scipy original given before adjit hooked it
    names = param_names(fn, len(args))
    flat, flat_static, trees = pytree.flatten_arguments(args, static)
    leaf_names = [p for nm, tree in zip(names, trees, strict=True)
                  for p in ([nm] if tree is None else pytree.paths(tree, nm))]
    inputs: list[Var] = []
    weak: list[bool] = []
    arrays: list[np.ndarray] = []
    values: list[Any] = []
    for a, is_static, nm in zip(flat, flat_static, leaf_names, strict=True):
        if is_static:
            values.append(a)
            continue
        t, w = arg_type(a)
        v = Var(t, identifier(nm))
        inputs.append(v)
        weak.append(w)
        arrays.append(np.asarray(a, dtype=t.np_dtype))
        values.append(Tracer(v, weak=w))
    call_args = pytree.regroup(trees, values)
    builder = Builder()
    run = converted(fn)  # Python control flow on traced values -> cond / while (autograph.py)
    guard_ctx = GuardContext(builder, inputs, arrays) if concrete else None
    n_args = len(inputs)
    captured: list[int] = []

    def capture_input(index: int, arr: np.ndarray) -> Tracer:
        v = Var(ArrayType(dtype_name(arr.dtype), arr.shape), _capture_name(probe, index))
        inputs.append(v)
        arrays.append(arr.copy_to_host() if is_device_array(arr) else arr)  # for guards
        captured.append(index)
        return Tracer(v)

    substituted = (probe.substituted(list(probe_vals), capture_input) if probe
                   else contextlib.nullcontext())
    with building(builder), context(loc=None, role=""), recording_notes() as notes, \
            guarding(guard_ctx), _conversions(), substituted, randomness.forbidden(), \
            scipy_api.substituted(fn):
        try:
            out = run(*call_args)
        except AdjitError:
            raise
        except Exception as e:
            if isinstance(e.__cause__, AdjitError):  # numpy wrapped adjit's own error (a
                raise e.__cause__ from None  # traced value stored into an array: ValueError)
            _numpy_needed_values(e, getattr(getattr(fn, "__code__", None), "co_filename", None))
            raise
    if out is None:
        code = getattr(fn, "__code__", None) or getattr(getattr(fn, "__func__", None),
                                                         "__code__", None)
        where = Loc(code.co_filename, code.co_firstlineno, code.co_name,
                    linecache.getline(code.co_filename, code.co_firstlineno).rstrip("\n")) \
            if code is not None else None
        raise TraceError(f"the traced function {getattr(fn, '__name__', '')} returned None",
                         loc=where, hint="return the value to differentiate (a missing "
                                         "`return` statement?)")
    with building(builder):
        flat: list[Value] = []
        leaves, tree = pytree.flatten(out)
        flat.extend(_to_value(leaf) for leaf in leaves)
        guards = tuple(guard_ctx.guards) if guard_ctx else ()
        if guards:
            flat.append(combined_check(list(guards)))
    gname = name or getattr(fn, "__name__", "f")
    if not gname.isidentifier():
        gname = "f"
    outer = _check_closed(builder, inputs, flat, free)
    inputs, captured = _drop_unused(builder, inputs, flat, n_args, captured)
    fresh = [Var(v.type, v.name) for v in outer]
    if fresh:  # the enclosing trace's values, as inputs of this graph of their own
        sub = {id(v): f for v, f in zip(outer, fresh, strict=True)}
        builder.eqns = [e.replace(inputs=tuple(sub.get(id(v), v) for v in e.inputs))
                        for e in builder.eqns]
        flat = [sub.get(id(v), v) for v in flat]
    notes = list(notes) + [f"guard {g}" for g in guards]
    return Traced(builder.graph(gname, tuple(inputs) + tuple(fresh), tuple(flat),
                                tuple(notes)), tree, tuple(weak), guards, tuple(captured),
                  tuple(outer))


def _capture_name(probe: Probe | None, index: int) -> str:
    """An input name for a captured array: `self.w` -> `self_w`."""
    return identifier(probe.nodes[index].name if probe is not None else "captured")


def identifier(raw: str) -> str:
    """A graph input name for what the user writes: `params['w']` -> `params_w`."""
    out = "_".join(part for part in "".join(c if c.isalnum() or c == "_" else " "
                                            for c in raw).split()) or "arg"
    return out if out[0].isalpha() or out[0] == "_" else f"a_{out}"


def _drop_unused(builder: Builder, inputs: list[Var], outputs: list[Value], n_args: int,
                 captured: list[int]) -> tuple[list[Var], list[int]]:
    """Captured arrays the graph never reads are not inputs (the arguments always are)."""
    used = {id(v) for e in builder.eqns for v in e.inputs} | {id(v) for v in outputs}
    keep = [i for i in range(n_args, len(inputs)) if id(inputs[i]) in used]
    return (inputs[:n_args] + [inputs[i] for i in keep],
            [captured[i - n_args] for i in keep])


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


def _check_closed(builder: Builder, inputs: list[Var], outputs: list[Value],
                  free: bool = False) -> list[Var]:
    """Every value the graph reads is defined in it. A value traced inside a loop or branch
    and kept outside it by a side effect (appended to a list, stored on an object) is not.
    With `free`, values of the enclosing trace are allowed, and returned in order."""
    defined = {id(v) for v in inputs}
    outer: dict[int, Var] = {}
    for eqn in builder.eqns:
        for v in eqn.inputs:
            if isinstance(v, Var) and id(v) not in defined and free:
                # A value of the enclosing trace (one leaked from a loop body is caught
                # there, when the enclosing graph is checked in turn).
                outer.setdefault(id(v), v)
            elif isinstance(v, Var) and id(v) not in defined:
                raise TraceError("a value computed inside a traced loop or branch is used "
                                 "outside it", loc=eqn.loc,
                                 hint="values leave a loop or an if only through variables "
                                      "it assigns; do not store them in lists or attributes")
        defined.update(id(o) for o in eqn.outputs)
    for v in outputs:
        if isinstance(v, Var) and id(v) not in defined and free:
            outer.setdefault(id(v), v)
        elif isinstance(v, Var) and id(v) not in defined:
            raise TraceError("the function returns a value computed inside a traced loop or "
                             "branch without assigning it to a variable",
                             hint="values leave a loop or an if only through variables it "
                                  "assigns; do not store them in lists or attributes")
    return list(outer.values())


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
    if arr.dtype.kind not in "biufc":
        raise TraceError(f"the traced function returned a {type(o).__name__}, not an array")
    return Lit.make(arr, dtype_name(arr.dtype))


def unflatten(tree: Any, values: Sequence[Any]) -> Any:
    """The function's output structure (a pytree) filled with `values`."""
    return pytree.unflatten(tree, values)
