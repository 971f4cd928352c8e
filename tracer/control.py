"""What converted control flow calls: Python semantics for Python values, `cond` and
`while` equations for traced ones.

tracer/autograph.py rewrites `if`, `while`, `for` and `a if c else b` into calls of
these helpers. Each statement's variables travel as *state*: a tuple of the current
values of the names the statement assigns, passed positionally to the branch/body
functions, which return the new tuple. The decision is made per call, at trace time:

- a condition that is a Python value (or a traced value whose value is a literal) runs
  the statement as plain Python: the branch taken runs, and loops unroll (noted on the
  graph when they emitted work, see `recording_notes`);
- a traced condition traces every branch (or the loop's condition and body) into a
  closed sub-graph and emits one `cond` or `while` equation, so one compilation serves
  every input.

A loop whose condition becomes traced after some Python iterations (`i = 0;
while i < n` with a traced `n`, or a `break` on a traced test) continues as a `while`
from the state it has reached. Variables that some paths leave unassigned become
`Undefined` values that raise when used. Loop-carried values must keep their dtype and
shape; a value whose type the body changes has its initial value promoted to the
body's type where numpy's promotion and broadcasting allow it (`s = 0; s = s + x`).

API (the names converted code calls as `ag__.<name>`):
    if_stmt(test, body, orelse, state, names) -> state
    while_stmt(test_fn, body, state, names) -> state
    for_stmt(iterable, extra_test, body, state, names) -> state
    range_(range_fn, *args) -> range | TracedRange
    if_exp(test, true_fn, false_fn) -> value
    and_(first, *thunks), or_(first, *thunks), not_(x), chain(first, op, thunk, ...)
    truth(x) -> bool | Value (a bool[] graph value)
    ret(retval) -> the converted function's result (None where no `return` ran)
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import operator
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from adjit.ir import Lit, Loc, context, ops
from adjit.ir.builder import current_builder
from adjit.ir.errors import TraceError

from .cond import traced_if, truth
from .loc import user_loc
from .loop import traced_while
from .undefined import Undefined, UndefinedReturn
from .values import Tracer

State = tuple[Any, ...]


# ---- notes on the graph -------------------------------------------------------------------------

_NOTES: contextvars.ContextVar[dict[str, list] | None] = contextvars.ContextVar(
    "adjit_control_notes", default=None)


@contextlib.contextmanager
def recording_notes() -> Iterator[list[str]]:
    """Collect notes on unrolled loops while a function is traced; the list is filled in
    (one line per loop) when the block ends."""
    record: dict[str, list] = {}
    token = _NOTES.set(record)
    out: list[str] = []
    try:
        yield out
    finally:
        _NOTES.reset(token)
        for where, (what, why, counts) in record.items():
            lo, hi = min(counts), max(counts)
            n = f"{lo} iteration{'s' if lo != 1 else ''}" if lo == hi else \
                f"{lo} to {hi} iterations"
            out.append(f"{what} at {where} unrolled ({n}, {why})")


def _note_unrolled(loc: Loc | None, what: str, why: str, iterations: int) -> None:
    record = _NOTES.get()
    if record is None or loc is None:
        return
    record.setdefault(loc.short(), (what, why, []))[2].append(iterations)


def _emitted_since(n: int) -> bool:
    try:
        return len(current_builder().eqns) > n
    except RuntimeError:
        return False


def _eqn_count() -> int:
    try:
        return len(current_builder().eqns)
    except RuntimeError:
        return 0


# ---- results ------------------------------------------------------------------------------------

def ret(value: Any) -> Any:
    return None if isinstance(value, UndefinedReturn) else value


# ---- if -----------------------------------------------------------------------------------------

def if_stmt(test: Any, body: Callable[..., State], orelse: Callable[..., State], state: State,
            names: Sequence[str]) -> State:
    loc = user_loc(2)
    pred = truth(test, loc)
    if isinstance(pred, bool):
        return (body if pred else orelse)(*state)
    return traced_if(pred, lambda: body(*state), lambda: orelse(*state), names, loc)


def if_exp(test: Any, true_fn: Callable[[], Any], false_fn: Callable[[], Any]) -> Any:
    loc = user_loc(2)
    pred = truth(test, loc)
    if isinstance(pred, bool):
        return true_fn() if pred else false_fn()
    (out,) = traced_if(pred, lambda: (true_fn(),), lambda: (false_fn(),), ("<expression>",),
                       loc)
    if isinstance(out, Undefined):
        raise out.error()
    return out


# ---- while --------------------------------------------------------------------------------------

def while_stmt(test_fn: Callable[..., Any], body: Callable[..., State], state: State,
               names: Sequence[str]) -> State:
    loc = user_loc(2)
    count = _eqn_count()
    n = 0
    while True:
        mark = _eqn_count()
        pred = truth(test_fn(*state), loc)
        if not isinstance(pred, bool):
            # The test became traced: continue as a `while` from here. The test just
            # traced is dead code in this graph (the loop traces its own), so drop it.
            del current_builder().eqns[mark:]
            return traced_while(test_fn, body, state, names, loc, "while loop")
        if not pred:
            break
        state = body(*state)
        n += 1
    if n and _emitted_since(count):
        _note_unrolled(loc, "while loop", "condition known while tracing", n)
    return state


# ---- for -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TracedRange:
    """`range(start, stop, step)` where a bound is a traced integer."""

    start: Any
    stop: Any
    step: Any


def range_(range_fn: Any, *args: Any) -> Any:
    """`range(...)` in a `for` statement: a TracedRange when a bound is traced."""
    if range_fn is not range or not any(isinstance(a, Tracer) for a in args):
        return range_fn(*args)
    bounds = []
    for a in args:
        if isinstance(a, Tracer):
            if a.val.type.size != 1 or a.val.dtype not in ("i32", "i64", "bool"):
                raise TraceError(f"range() needs integers, got {a.val.type}", loc=user_loc(2),
                                 hint="convert the bound with .astype(int) (or int() on a "
                                      "Python value)")
            if isinstance(a.val, Lit):
                a = int(a.val.value.reshape(()))
        bounds.append(a)
    if not any(isinstance(b, Tracer) for b in bounds):
        return range(*bounds)
    if len(bounds) == 1:
        return TracedRange(0, bounds[0], 1)
    start, stop = bounds[0], bounds[1]
    step = bounds[2] if len(bounds) > 2 else 1
    if isinstance(step, int) and step == 0:
        raise ValueError("range() arg 3 must not be zero")
    return TracedRange(start, stop, step)


def for_stmt(iterable: Any, extra_test: Callable[..., Any] | None, body: Callable[..., State],
             state: State, names: Sequence[str]) -> State:
    loc = user_loc(2)
    if isinstance(iterable, TracedRange):
        return _traced_range(iterable, extra_test, body, state, names, loc)
    count = _eqn_count()
    n = 0
    why = "constant range" if type(iterable) is range else \
        "over the rows of a traced array" if isinstance(iterable, Tracer) else \
        f"over a {type(iterable).__name__}"
    items = iter(iterable)
    guarded = False
    for item in items:
        if extra_test is not None:
            pred = truth(extra_test(*state), loc)
            if not isinstance(pred, bool):
                if type(iterable) is range:
                    # A traced `break`: the rest of the range becomes one `while`.
                    rest = TracedRange(item, iterable.stop, iterable.step)
                    if n and _emitted_since(count):
                        _note_unrolled(loc, "for loop", why, n)
                    return _traced_range(rest, extra_test, body, state, names, loc)
                # Any other iterable: each remaining item runs under the flag's `cond`.
                state = traced_if(pred, functools.partial(body, item, *state),
                                  functools.partial(tuple, state), names, loc)
                guarded = True
                n += 1
                continue
            if not pred:
                break
        state = body(item, *state)
        n += 1
    if n and _emitted_since(count):
        _note_unrolled(loc, "for loop", why + (", guarded by a traced break" if guarded else ""),
                       n)
    return state


def _traced_range(r: TracedRange, extra_test: Callable[..., Any] | None,
                  body: Callable[..., State], state: State, names: Sequence[str],
                  loc: Loc | None) -> State:
    from . import numpy_api as api

    start = r.start if isinstance(r.start, Tracer) else Tracer(Lit.make(r.start, "i64"), True)
    step = r.step

    def test(i: Tracer, *s: Any) -> Any:
        if isinstance(step, Tracer):
            more = api.where(step > 0, i < r.stop, i > r.stop)
        else:
            more = i < r.stop if step > 0 else i > r.stop
        if extra_test is None:
            return more
        return and_(more, lambda: extra_test(*s))

    def step_body(i: Tracer, *s: Any) -> State:
        return (i + step, *body(i, *s))

    out = traced_while(test, step_body, (start, *state), ("ag__counter", *names), loc,
                       "for loop")
    return out[1:]


# ---- boolean operators ---------------------------------------------------------------------------

def _traced(x: Any) -> bool:
    return isinstance(x, Tracer) and not (isinstance(x.val, Lit) and x.val.type.size == 1)


def _is_bool(x: Any) -> bool:
    return type(x) is bool or (isinstance(x, Tracer) and x.val.dtype == "bool")


def _pick(first: Tracer, second: Any, take_second_if: bool) -> Any:
    """Python's `first and second` (take_second_if=True) or `first or second` (False) for a
    traced `first`: `second` where first's truth value says so, else `first`."""
    from . import numpy_api as api

    loc = user_loc(3)
    pred = truth(first, loc)
    if isinstance(pred, bool):
        return second if pred == take_second_if else first
    with context(loc=loc):
        if _is_bool(first) and _is_bool(second):  # the common case: a logical operator
            return api.elementwise("logical_and" if take_second_if else "logical_or",
                                   Tracer(pred), second)
        if take_second_if:
            return api.where(Tracer(pred), second, first)
        return api.where(Tracer(pred), first, second)


def and_(first: Any, *rest: Callable[[], Any]) -> Any:
    """`a and b and ...`, each later operand a thunk so Python values short-circuit."""
    value = first
    for thunk in rest:
        if _traced(value):
            value = _pick(value, thunk(), True)
        elif not value:
            return value
        else:
            value = thunk()
    return value


def or_(first: Any, *rest: Callable[[], Any]) -> Any:
    value = first
    for thunk in rest:
        if _traced(value):
            value = _pick(value, thunk(), False)
        elif value:
            return value
        else:
            value = thunk()
    return value


def not_(x: Any) -> Any:
    if not isinstance(x, Tracer):
        return not x
    pred = truth(x, user_loc(2))
    if isinstance(pred, bool):
        return not pred
    with context(loc=user_loc(2)):
        return Tracer(ops.ew("logical_not", pred))


_COMPARE = {"Lt": operator.lt, "LtE": operator.le, "Gt": operator.gt, "GtE": operator.ge,
            "Eq": operator.eq, "NotEq": operator.ne, "Is": operator.is_,
            "IsNot": operator.is_not, "In": lambda a, b: a in b,
            "NotIn": lambda a, b: a not in b}


def _same(x: Any) -> Any:
    return x


def chain(first: Any, *pairs: Any) -> Any:
    """`a < b < c` as `(a < b) and (b < c)`, evaluating each operand once; `pairs` alternate
    an operator's ast name and a thunk for its right operand."""
    left = first
    result: Any = True
    for op, right_fn in zip(pairs[::2], pairs[1::2], strict=True):
        right = right_fn()
        value = _COMPARE[op](left, right)
        # (True and v) is v; otherwise `and` it in (a traced result, or a truthy non-bool)
        result = value if result is True else and_(result, functools.partial(_same, value))
        if not _traced(result) and not result:
            return result
        left = right
    return result
