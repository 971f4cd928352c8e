"""Traced `while`: the loop's condition and body traced into closed sub-graphs and one
`while` equation.

Each variable of the loop's state is carried (a tracer, or a Python number or numpy
array that the body changes), static (a Python object the body leaves alone; it stays a
Python value) or local to the body (no value before the loop: not carried, and no value
after it). The body is traced until the carried types settle: a constant the body
changes becomes carried, and an initial value whose dtype or shape the body changes is
promoted to the body's type where numpy's promotion and broadcasting allow it
(`s = 0; s = s + x`); anything else is an error naming the variable.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from adjit.ir import Loc, Value, Var, building, context, emit_multi, ops
from adjit.ir.errors import TraceError

from . import subgraph as sg
from .cond import tracing_branches, truth
from .masked import Masked
from .undefined import Undefined, UndefinedReturn
from .values import Tracer

State = tuple[Any, ...]
_MAX_RETRACES = 6  # type promotions of loop-carried values before giving up


_CARRY, _STATIC = "carry", "static"


@dataclass
class _Leaf:
    kind: str  # _CARRY: a loop value; _STATIC: a Python object the loop leaves alone
    init: Any  # a Value for _CARRY, the Python object otherwise
    weak: bool = False


@dataclass
class _LoopVar:
    """One variable of a traced loop. A variable without a value before the loop (`undef`)
    is local to the body: it is not carried, and has no value after the loop."""

    name: str
    tree: sg.Tree
    leaves: list[_Leaf]
    undef: Undefined | None = None

    @staticmethod
    def of(name: str, value: Any) -> _LoopVar:
        if isinstance(value, Undefined):
            return _LoopVar(name, None, [], value)
        ls, tree = sg.flatten(value)
        return _LoopVar(name, tree, [_Leaf(_CARRY, x.val, x.weak) if _carriable(x)
                                     else _Leaf(_STATIC, x) for x in ls])


def _carriable(x: Any) -> bool:
    return isinstance(x, Tracer) and not isinstance(x, Masked)


def _carried_error(name: str, what: str, loc: Loc | None, detail: str) -> TraceError:
    return TraceError(f"{name} {detail} in the {what} at "
                      f"{loc.short() if loc else '?'}, whose condition is traced", loc=loc,
                      hint=f"a traced loop carries {name} from one iteration to the next, so "
                           "it must keep its dtype and shape: give it its final type before "
                           "the loop (e.g. np.zeros(shape)) or compute it with np.where")


def traced_while(test_fn: Callable[..., Any], body: Callable[..., State], state: State,
                 names: Sequence[str], loc: Loc | None, what: str) -> State:
    lvars = [_LoopVar.of(n, v) for n, v in zip(names, state, strict=True)]
    for _ in range(_MAX_RETRACES):
        ins, args = _loop_inputs(lvars)
        with tracing_branches(loc, what):
            b_body, out = sg.run(body, *args)
        changed = [_settle(lv, o, loc, what) for lv, o in zip(lvars, out, strict=True)]
        if not any(changed):
            break
    else:
        raise TraceError(f"the types of the values carried by the {what} at "
                         f"{loc.short() if loc else '?'} do not settle", loc=loc)
    c_ins, c_args = _loop_inputs(lvars)
    b_cond, pred = sg.run(lambda: _loop_pred(test_fn(*c_args), loc, what))
    body_outs = []
    with building(b_body), context(loc=loc):
        for lv, o in zip(lvars, out, strict=True):
            for leaf, x in zip(lv.leaves, sg.flatten(o)[0] if lv.leaves else [], strict=True):
                if leaf.kind == _CARRY:
                    body_outs.append(sg.cast(sg.as_value(x)[0], leaf.init.type))
    consts: list[Var] = []
    for b, i, o in ((b_cond, c_ins, [pred]), (b_body, ins, body_outs)):
        consts += [v for v in sg.free_vars(b, i, o) if v not in consts]
    g_cond = sg.make_graph("cond", b_cond, consts, c_ins, [pred])
    g_body = sg.make_graph("body", b_body, consts, ins, body_outs)
    inits = [leaf.init for lv in lvars for leaf in lv.leaves if leaf.kind == _CARRY]
    with context(loc=loc):
        results = iter(emit_multi("while", *consts, *inits, cond=g_cond, body=g_body,
                                  n_consts=len(consts)))
    final = []
    for lv in lvars:
        if lv.undef is not None:
            final.append(lv.undef if lv.undef.where is not None else Undefined(
                lv.name, f"{lv.name} is assigned in the {what} but not before it, and the "
                         "loop's condition is traced", loc,
                hint=f"assign {lv.name} before the loop to use it after"))
            continue
        final.append(sg.unflatten(lv.tree, [Tracer(next(results), leaf.weak)
                                            if leaf.kind == _CARRY else leaf.init
                                            for leaf in lv.leaves]))
    return tuple(final)


def _loop_inputs(lvars: list[_LoopVar]) -> tuple[tuple[Var, ...], list[Any]]:
    """Fresh graph inputs for the carried leaves, and the state the loop's functions get."""
    ins: list[Var] = []
    args = []
    for lv in lvars:
        if lv.undef is not None:
            args.append(lv.undef)
            continue
        values = []
        for leaf in lv.leaves:
            if leaf.kind == _CARRY:
                v = Var(leaf.init.type, None if lv.name.startswith("ag__") else lv.name)
                ins.append(v)
                values.append(Tracer(v, leaf.weak))
            else:
                values.append(leaf.init)
        args.append(sg.unflatten(lv.tree, values))
    return tuple(ins), args


def _settle(lv: _LoopVar, out: Any, loc: Loc | None, what: str) -> bool:
    """Update a variable from what one iteration made of it; True if the body must be traced
    again (a constant became carried, or an initial value was promoted)."""
    if lv.undef is not None:
        if not isinstance(lv.undef, UndefinedReturn) or isinstance(out, Undefined):
            return False
        # A `return` inside the loop: carry the return value from a placeholder (the flag
        # `do_return` says whether it is real).
        ls, lv.tree = sg.flatten(out)
        with context(loc=loc):
            lv.leaves = [_Leaf(_CARRY, ops.zeros(sg.leaf_type(x)[0]), sg.leaf_type(x)[1])
                         if sg.is_numeric(x) else _Leaf(_STATIC, x) for x in ls]
        lv.undef = None
        return True
    ls, tree = sg.flatten(out)
    if tree != lv.tree:
        raise _carried_error(lv.name, what, loc, f"is {_describe_tree(lv)} before the loop and "
                                                 f"{sg.describe(out)} after an iteration")
    changed = False
    for leaf, x in zip(lv.leaves, ls, strict=True):  # every leaf settles, no short cut
        changed = _settle_leaf(lv.name, leaf, x, loc, what) or changed
    return changed


def _describe_tree(lv: _LoopVar) -> str:
    if lv.tree is None:
        leaf = lv.leaves[0]
        return sg.describe(leaf.init) if leaf.kind == _STATIC else f"an array ({leaf.init.type})"
    return f"a {lv.tree[0]} of {len(lv.tree[1])}"


def _settle_leaf(name: str, leaf: _Leaf, out: Any, loc: Loc | None, what: str) -> bool:
    if leaf.kind == _STATIC:
        if out is leaf.init or (not isinstance(out, Tracer) and sg.same_constant(out, leaf.init)):
            return False
        if not (sg.is_numeric(out) and sg.is_numeric(leaf.init)):
            raise _carried_error(name, what, loc, f"is {sg.describe(leaf.init)} before the loop "
                                                  f"and {sg.describe(out)} after an iteration")
        leaf.kind = _CARRY
        leaf.init, leaf.weak = sg.as_value(leaf.init)
        return True
    if not sg.is_numeric(out):
        raise _carried_error(name, what, loc, f"is an array before the loop and "
                                              f"{sg.describe(out)} after an iteration")
    changed = False
    t_out, w_out = sg.leaf_type(out)
    t_in = leaf.init.type
    if t_out != t_in:
        joined = sg.join(t_in, leaf.weak, t_out, w_out)
        if joined is None or joined[0] != t_out:
            raise _carried_error(name, what, loc, f"changes from {t_in} to {t_out}")
        with context(loc=loc):
            leaf.init = sg.cast(leaf.init, t_out)
        changed = True
    if leaf.weak and not w_out:
        leaf.weak = False
        changed = True
    return changed


def _loop_pred(test: Any, loc: Loc | None, what: str) -> Value:
    pred = truth(test, loc)
    if pred is True:
        raise TraceError(f"the {what} at {loc.short() if loc else '?'} never ends: its "
                         "condition is always true", loc=loc)
    return ops.lit(False, "bool") if pred is False else pred
