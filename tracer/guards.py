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
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from adjit.ir import Builder, Graph, Lit, Loc, Value, Var, evaluate, ops
from adjit.ir.builder import current_builder, current_loc
from adjit.ir.errors import ShapeError


@dataclass(frozen=True)
class Guard:
    check: Value  # bool[]: true while Python would get exactly what it got when traced
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
    x = arr.reshape(()).item()
    seen = {"bool": bool, "int": int, "float": float}[kind](x)  # int(nan) raises, as Python
    if isinstance(v, Lit):
        return seen  # a constant: nothing to guard
    check = same_decision(ops.reshape(v, ()), kind, seen)
    expr = ""
    if loc is not None and loc.source and loc.col is not None and loc.end_col is not None:
        expr = loc.source[loc.col:loc.end_col]
    what = f"{kind}({expr})" if expr and not expr.startswith(f"{kind}(") else expr or f"{kind}()"
    ctx.guards.append(Guard(check, what, seen, loc, kind, v))
    return seen


def same_decision(v: Value, kind: str, seen: Any) -> Value:
    """bool[]: whether Python, asking `kind(v)`, gets exactly `seen` again.

    Exact, with no tolerance: a guard that held for nearby values would reuse a branch on
    the wrong side of a threshold (`float(t) > 0.5`). A NaN equals NaN here (Python got a
    NaN, and gets one again), so a NaN guard does not fail on every call. The sign of a zero
    is not compared (Python's decisions rarely see it; compiled sums may differ in it)."""
    floating = v.dtype in ("f32", "f64")
    if kind == "bool":
        truth = v if v.dtype == "bool" else ops.ew("ne", v, ops.lit(0, v.dtype))
        return truth if seen else ops.ew("logical_not", truth)
    if kind == "int" and floating:  # int() truncates toward zero: the truncations agree
        trunc = ops.mul(ops.ew("sign", v), ops.ew("floor", ops.ew("abs", v)))
        return ops.ew("eq", trunc, ops.lit(float(seen), v.dtype))
    if kind == "float" and floating and math.isnan(seen):
        return ops.ew("ne", v, v)
    return ops.ew("eq", v, ops.lit(seen, v.dtype))


def in_bounds(v: Value, n: int) -> None:
    """Traced integer indices `v` into an axis of length `n`, as numpy checks them: at the
    top level of a trace, where the arguments are known, an index out of range is numpy's
    IndexError now (a ShapeError), and a guard holds while every index stays in range, so a
    later call with one out of range retraces and gets that error. (The indexing code clamps
    traced indices too, so compiled code never reads or writes outside an array, even in a
    loop body, where no guard can be made.)"""
    ctx = _CONTEXT.get()
    if ctx is None or not ctx.active() or isinstance(v, Lit) or v.type.size == 0:
        return
    known = _known_range(ctx.builder, v)
    if known is not None and -n <= known[0] and known[1] <= n:
        return  # in range by construction (x[np.argmax(x)])
    arr = ctx.value(v)
    bad = arr[(arr < -n) | (arr >= n)]
    if bad.size:
        raise ShapeError(f"index {bad.flat[0]} is out of bounds for axis with size {n}",
                         loc=current_loc(), hint="a traced index array holds it: numpy "
                                                 "raises IndexError here too")
    flat = ops.reshape(v, (v.type.size,))
    lo = ops.emit("reduce_min", flat, axes=(0,))
    hi = ops.emit("reduce_max", flat, axes=(0,))
    check = ops.ew("logical_and", ops.ew("ge", lo, ops.lit(-n, v.dtype)),
                   ops.ew("lt", hi, ops.lit(n, v.dtype)))
    ctx.guards.append(Guard(check, f"every index in [{-n}, {n})", True, current_loc()))


def _known_range(builder: Builder, v: Value) -> tuple[int, int] | None:
    """[lo, hi) that integer `v` lies in by construction: an argmax/argmin's axis (through
    reshapes, transposes, slices and broadcasts, which move values without changing them)."""
    for eqn in reversed(builder.eqns):
        if any(o is v for o in eqn.outputs):
            if eqn.prim in ("argmax", "argmin"):
                return 0, eqn.inputs[0].shape[dict(eqn.params)["axis"]]
            if eqn.prim in ("reshape", "broadcast_to", "transpose", "slice") or (
                    eqn.prim == "convert" and eqn.inputs[0].dtype in ("i32", "i64")):
                return _known_range(builder, eqn.inputs[0])  # the same values, moved
            return None
    return None


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
