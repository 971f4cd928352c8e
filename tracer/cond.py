"""Traced `if`: both branches traced into closed sub-graphs and one `cond` equation, and the
truth value of a condition.

`traced_if(pred, true_fn, false_fn, names, loc)` runs each branch function (no arguments;
it returns the statement's state tuple) in a builder of its own, then merges the two
states variable by variable: a value both branches agree on passes through; numbers and
arrays that differ become outputs of the `cond` (joined to one dtype and shape, as numpy
promotes and broadcasts); a variable only one branch assigns, or one of different kinds
(None and an array), becomes an `Undefined` that explains itself where it is used. The
converted function's return value is the exception: a branch that has not returned
gives it a placeholder of the other branch's type (the `do_return` flag says which one
is real).
"""
from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from adjit.ir import ArrayType, Lit, Loc, Value, Var, building, context, emit_multi, ops
from adjit.ir.errors import TraceError

from . import subgraph as sg
from .autograph import RETVAL
from .loc import user_loc
from .masked import Masked
from .undefined import Undefined, UndefinedReturn
from .values import Tracer

State = tuple[Any, ...]


def _ambiguous(t: Tracer, loc: Loc | None) -> TraceError:
    return TraceError(f"the truth value of an array with more than one element is ambiguous "
                      f"(the condition has shape {t.shape})", loc=loc,
                      hint="a condition must be one value: reduce it with .any(), .all() or "
                           "a comparison of a sum, or use np.where(cond, a, b) to choose "
                           "elementwise")


def truth(x: Any, loc: Loc | None = None) -> bool | Value:
    """A condition as a Python bool (known while tracing) or a bool[] graph value."""
    if isinstance(x, Undefined):
        raise x.error()
    if isinstance(x, Masked):
        raise TraceError("a masked selection x[mask] cannot be a condition",
                         loc=loc or user_loc(2), hint="reduce it first, e.g. with .sum()")
    if not isinstance(x, Tracer):
        return bool(x)
    if x.val.type.size != 1:
        raise _ambiguous(x, loc or user_loc(2))
    if isinstance(x.val, Lit):
        return bool(x.val.value.reshape(()))
    with context(loc=loc or user_loc(2)):
        v = ops.reshape(x.val, ())
        return v if v.dtype == "bool" else ops.ew("ne", v, ops.lit(0, v.dtype))


# ---- merging the branches -------------------------------------------------------------------

@dataclass
class _Slot:
    """A leaf that becomes an output of the `cond`."""

    values: tuple[Any, Any]  # (false branch, true branch); None: a placeholder of `type`
    type: ArrayType
    weak: bool


# The traced if/while statements whose branches or bodies are being traced, innermost last.
_TRACING: contextvars.ContextVar[tuple[Any, ...]] = contextvars.ContextVar("tracing", default=())


@contextlib.contextmanager
def tracing_branches(loc: Loc | None, what: str) -> Iterator[None]:
    """Trace the branches (or body) of the traced `what` at `loc`. A function that calls
    itself there, stopping on a traced condition, never stops: both branches are traced,
    each calling it again. That RecursionError becomes an error at the user's statement."""
    key = (loc.file, loc.line, loc.col) if loc is not None else None
    token = _TRACING.set(_TRACING.get() + (key,))
    try:
        yield
    except RecursionError:
        if key is None or _TRACING.get().count(key) < 2:
            raise  # not the same statement traced inside itself: some other recursion
        fn = f"{loc.func}() " if loc.func else "a function "
        article = "an" if what[0] in "aeiou" else "a"
        raise TraceError(f"recursion on a traced value cannot be captured: {fn}calls itself "
                         f"inside {article} {what} whose condition is traced, and adjit traces "
                         "every branch, so the recursion never reaches its base case", loc=loc,
                         hint="write it as a while loop on the traced condition, or make the "
                              "recursion depth a Python int (int arguments are static), so "
                              "Python decides when it stops") from None
    finally:
        _TRACING.reset(token)


def traced_if(pred: Value, true_fn: Callable[[], State], false_fn: Callable[[], State],
              names: Sequence[str], loc: Loc | None) -> State:
    with tracing_branches(loc, "if"):
        b_true, out_true = sg.run(true_fn)
        b_false, out_false = sg.run(false_fn)
    slots: list[_Slot] = []
    merged = [_merge_var(name, f, t, slots, loc)
              for name, f, t in zip(names, out_false, out_true, strict=True)]
    if not slots:
        return tuple(merged)
    outs: list[list[Value]] = []
    for k, builder in enumerate((b_false, b_true)):
        vals = []
        with building(builder), context(loc=loc):
            for s in slots:
                v = s.values[k]
                vals.append(ops.zeros(s.type) if v is None else sg.cast(sg.as_value(v)[0], s.type))
        outs.append(vals)
    consts: list[Var] = []
    for builder, vals in zip((b_false, b_true), outs, strict=True):
        consts += [v for v in sg.free_vars(builder, (), vals) if v not in consts]
    branches = tuple(sg.make_graph(nm, b, consts, (), vals)
                     for nm, b, vals in zip(("if_false", "if_true"), (b_false, b_true), outs,
                                            strict=True))
    with context(loc=loc):
        results = emit_multi("cond", pred, *consts, branches=branches)
    tracers = iter([Tracer(r, s.weak) for r, s in zip(results, slots, strict=True)])
    return tuple(_fill(m, tracers) for m in merged)


def _fill(x: Any, tracers: Iterator[Tracer]) -> Any:
    if isinstance(x, _Slot):
        return next(tracers)
    if type(x) in (tuple, list):
        items = [_fill(i, tracers) for i in x]
        return tuple(items) if type(x) is tuple else items
    return x


def _branch_undefined(name: str, f: Any, t: Any, loc: Loc | None) -> Undefined:
    if name == "<expression>":
        return Undefined(name, "a conditional expression's branch has no value", loc)
    if isinstance(f, Undefined) and f.where is not None:
        return f  # already explains itself (an inner if)
    if isinstance(t, Undefined) and t.where is not None:
        return t
    where, other = ("if", "else") if isinstance(f, Undefined) else ("else", "if")
    return Undefined(name, f"{name} is assigned in the {where} branch but not the {other} "
                           "branch of an if whose condition is traced", loc,
                     hint=f"assign {name} in both branches (or before the if) to use it after")


def _merge_var(name: str, f: Any, t: Any, slots: list[_Slot], loc: Loc | None) -> Any:
    """The value of one variable after a traced if: a leaf both branches agree on, a _Slot
    for a value the `cond` computes, or an Undefined explaining why there is none."""
    if f is t:
        return f
    f_undef, t_undef = isinstance(f, Undefined), isinstance(t, Undefined)
    if f_undef and t_undef:
        return f if f.where is not None else t
    if name == RETVAL and (isinstance(f, UndefinedReturn) or isinstance(t, UndefinedReturn)):
        # Only one branch has returned; the flag says which value is real, so the other
        # gets a placeholder (None stays None: `return` without a value).
        f_undef = isinstance(f, UndefinedReturn)
        value = t if f_undef else f
        if value is None or isinstance(value, Undefined):
            return value
        return _merge_placeholder(value, slots, f_undef)
    if f_undef or t_undef:
        return _branch_undefined(name, f, t, loc)
    f_leaves, f_tree = sg.flatten(f)
    t_leaves, t_tree = sg.flatten(t)
    if f_tree != t_tree:
        return _mismatch(name, f, t, loc)
    merged = []
    for a, b in zip(f_leaves, t_leaves, strict=True):
        if a is b or (not isinstance(a, Tracer) and not isinstance(b, Tracer)
                      and sg.same_constant(a, b)):
            merged.append(a)
        elif sg.is_numeric(a) and sg.is_numeric(b):
            (ta, wa), (tb, wb) = sg.leaf_type(a), sg.leaf_type(b)
            joined = sg.join(ta, wa, tb, wb)
            if joined is None:
                return _mismatch(name, f, t, loc)
            slots.append(_Slot((a, b), *joined))
            merged.append(slots[-1])
        else:
            return _mismatch(name, f, t, loc)
    return sg.unflatten(f_tree, merged)


def _merge_placeholder(value: Any, slots: list[_Slot], false_undef: bool) -> Any:
    leaves, tree = sg.flatten(value)
    out = []
    for leaf in leaves:
        if sg.is_numeric(leaf):
            t, w = sg.leaf_type(leaf)
            slots.append(_Slot((None, leaf) if false_undef else (leaf, None), t, w))
            out.append(slots[-1])
        else:
            out.append(leaf)
    return sg.unflatten(tree, out)


def _mismatch(name: str, f: Any, t: Any, loc: Loc | None) -> Undefined:
    if name == RETVAL:
        msg = (f"the function returns {sg.describe(t)} on one path and {sg.describe(f)} on "
               "another, under a traced condition")
        hint = "return values of the same kind (and shapes that broadcast) on every path"
    elif name == "<expression>":
        msg = (f"the values of a conditional expression whose condition is traced are "
               f"{sg.describe(t)} and {sg.describe(f)}")
        hint = "give both values the same kind (arrays whose shapes broadcast)"
    else:
        msg = (f"{name} is {sg.describe(t)} in the if branch and {sg.describe(f)} in the else "
               "branch of an if whose condition is traced")
        hint = (f"give {name} the same kind of value in both branches (arrays whose shapes "
                "broadcast, or the same Python object)")
    return Undefined(name, msg, loc, hint=hint)
