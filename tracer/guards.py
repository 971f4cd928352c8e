"""Guards: specializing on a traced value that Python itself needs.

Where a traced value's truth (or its int/float value) is needed by code adjit cannot
capture - a library function's `if`, an `assert`, `int(n)` passed to `range` in another
module - adjit computes the value the traced array has for the arguments being traced
(by running the graph built so far with the reference interpreter), lets Python use it,
and records a guard: the compiled function also returns whether every guarded value
still equals what it was, the runtime checks that on every call, and retraces when it
does not. Guards exist only at the top level of a trace, where the arguments' values are
known; inside a traced loop or branch body the usual error stands.
"""
from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from adjit.ir import Builder, Graph, Lit, Loc, Value, Var, evaluate, ops
from adjit.ir.builder import current_builder


@dataclass(frozen=True)
class Guard:
    check: Value  # bool[]: true while the guarded value equals what it was when traced
    what: str  # "bool(x.sum() > 0)", "int(n)"
    seen: Any
    loc: Loc | None
    kind: str = "bool"  # bool, int or float: what Python asked for
    value: Value | None = None  # the guarded traced value

    def __str__(self) -> str:
        where = f"{self.loc.short()}: " if self.loc else ""
        src = f" `{self.loc.source.strip()}`" if self.loc and self.loc.source else ""
        return f"{where}{self.what} was {self.seen!r} when traced{src}"


class GuardContext:
    def __init__(self, builder: Builder, inputs: list[Var], arrays: list[np.ndarray]) -> None:
        self.builder = builder
        self.inputs = inputs
        self.arrays = arrays
        self.guards: list[Guard] = []

    def active(self) -> bool:
        """Guards apply only to the trace's own builder (not inside a loop or branch body)."""
        try:
            return current_builder() is self.builder
        except RuntimeError:
            return False

    def value(self, v: Value) -> np.ndarray:
        if isinstance(v, Lit):
            return v.value
        g = Graph("probe", tuple(self.inputs), tuple(self.builder.eqns), (v,))
        (out,) = evaluate(g, *self.arrays)
        return out


_CONTEXT: contextvars.ContextVar[GuardContext | None] = contextvars.ContextVar(
    "guards", default=None)


@contextlib.contextmanager
def guarding(ctx: GuardContext | None) -> Iterator[GuardContext | None]:
    token = _CONTEXT.set(ctx)
    try:
        yield ctx
    finally:
        _CONTEXT.reset(token)


def concrete(v: Value, kind: str, loc: Loc | None) -> Any | None:
    """The Python value (`kind`: bool, int, float) of traced `v` under a new guard, or None
    where no guard can be made (then the caller raises its usual error)."""
    ctx = _CONTEXT.get()
    if ctx is None or not ctx.active():
        return None
    arr = ctx.value(v)
    if arr.size != 1:
        return None  # numpy's own ambiguity error is the right answer
    seen = {"bool": bool, "int": int, "float": float}[kind](arr.reshape(()).item())
    scalar = v if v.type.size == 1 and v.type.ndim == 0 else ops.reshape(v, ())
    check = ops.ew("eq", scalar, ops.lit(arr.reshape(()).item(), v.dtype))
    if kind == "float" and v.type.is_float:
        # The compiled code may round the value differently from the interpreter that
        # computed `seen` (another summation order): equal up to rounding still holds.
        tol = (1e-5 if v.dtype == "f32" else 1e-12) * max(1.0, abs(seen))
        check = ops.ew("le", ops.ew("abs", ops.sub(scalar, seen)), tol)
    elif kind == "int" and v.type.is_float:  # int() truncates: the truncated values agree
        check = ops.ew("eq", ops.convert(scalar, "i64"), ops.lit(seen, "i64"))
    if kind == "bool" and v.dtype != "bool":
        check = ops.ew("eq", ops.ew("ne", ops.reshape(v, ()), ops.lit(0, v.dtype)),
                       ops.lit(seen, "bool"))
    elif kind == "bool":
        check = ops.ew("eq", ops.reshape(v, ()), ops.lit(seen, "bool"))
    expr = ""
    if loc is not None and loc.source and loc.col is not None and loc.end_col is not None:
        expr = loc.source[loc.col:loc.end_col]
    what = f"{kind}({expr})" if expr and not expr.startswith(f"{kind}(") else expr or f"{kind}()"
    ctx.guards.append(Guard(check, what, seen, loc, kind, v))
    return seen


def derivative_cut(graph: Graph, guards: Sequence[Guard], wrt: Sequence[int]) -> Guard | None:
    """A float guard whose value depends on a differentiated input, if any.

    Python got that value as a number (`float(x)`, `np.float64(x)`, numpy's own `np.mean`
    of a list of traced values), so the derivative through it is lost: a gradient would
    silently treat it as a constant. (bool and int guards are piecewise constant: nothing
    is lost.)"""
    floats = [g for g in guards if g.kind == "float" and isinstance(g.value, Var)]
    if not floats:
        return None
    dep = {id(graph.inputs[i]) for i in wrt}
    for eqn in graph.eqns:
        if eqn.prim == "stop_gradient":
            continue
        if any(id(v) in dep for v in eqn.inputs):
            dep.update(id(o) for o in eqn.outputs if o.type.is_float)
    return next((g for g in floats if id(g.value) in dep), None)


def combined_check(guards: list[Guard]) -> Value:
    """One bool[] that is true while every guard holds."""
    ok = guards[0].check
    for g in guards[1:]:
        ok = ops.ew("logical_and", ok, g.check)
    return ok
