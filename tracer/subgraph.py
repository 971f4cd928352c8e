"""Closed sub-graphs for `cond` and `while`, and the state values that flow through them.

`run(fn, *args)` calls a Python callable with a fresh `Builder` active, so the work it
traces lands in a graph of its own. That code may read tracers of the enclosing graph
(closure variables, constants of the loop); a sub-graph must be closed, so
`free_vars` finds every value it reads but does not define, and `make_graph` turns
those into extra inputs (the `cond` operands, the `while` consts). Nested control flow
needs nothing special: an inner sub-graph's free values are operands of its `cond` or
`while` equation, which are then free values of the enclosing sub-graph.

The variables of a Python statement are *state*: a tuple/list nesting of leaves.
A numeric leaf (a tracer, a Python number, a numpy array or scalar) can become a graph
value; `join` gives the type that two such leaves share, following numpy's promotion
(Python scalars are weak, NEP 50) and broadcasting.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from adjit.ir import ArrayType, Builder, Graph, Lit, Value, Var, building, ops
from adjit.ir.core import dtype_name

from .masked import Masked
from .values import Tracer

Tree = Any  # None for a leaf, else ("tuple" | "list", [subtrees])


# ---- running a callable into its own builder ----------------------------------------------------

def run(fn: Callable[..., Any], *args: Any) -> tuple[Builder, Any]:
    builder = Builder()
    with building(builder):
        out = fn(*args)
    return builder, out


def free_vars(builder: Builder, inputs: tuple[Var, ...], outputs: list[Value]) -> list[Var]:
    """Vars the builder's equations (or the outputs) read without defining them, in order."""
    defined = {id(v) for v in inputs}
    for eqn in builder.eqns:
        defined.update(id(o) for o in eqn.outputs)
    free: dict[int, Var] = {}
    reads = [v for eqn in builder.eqns for v in eqn.inputs] + list(outputs)
    for v in reads:
        if isinstance(v, Var) and id(v) not in defined and id(v) not in free:
            free[id(v)] = v
    return list(free.values())


def make_graph(name: str, builder: Builder, consts: list[Var], inputs: tuple[Var, ...],
               outputs: list[Value]) -> Graph:
    """The closed graph `(*consts, *inputs) -> outputs`: each outer value it reads becomes an
    input of its own (a fresh Var, so no Var is shared between two graphs)."""
    fresh = {id(c): Var(c.type, c.name) for c in consts}

    def sub(v: Value) -> Value:
        return fresh.get(id(v), v) if isinstance(v, Var) else v

    eqns = tuple(e.replace(inputs=tuple(sub(v) for v in e.inputs)) for e in builder.eqns)
    return Graph(name, tuple(fresh[id(c)] for c in consts) + tuple(inputs), eqns,
                 tuple(sub(v) for v in outputs))


# ---- state: nestings of leaves --------------------------------------------------------------

def flatten(x: Any) -> tuple[list[Any], Tree]:
    if type(x) in (tuple, list):
        leaves: list[Any] = []
        subtrees = []
        for item in x:
            ls, t = flatten(item)
            leaves.extend(ls)
            subtrees.append(t)
        return leaves, (type(x).__name__, subtrees)
    return [x], None


def unflatten(tree: Tree, leaves: list[Any]) -> Any:
    it = iter(leaves)

    def build(t: Tree) -> Any:
        if t is None:
            return next(it)
        kind, subtrees = t
        items = [build(s) for s in subtrees]
        return tuple(items) if kind == "tuple" else items

    return build(tree)


def is_numeric(x: Any) -> bool:
    """Can this leaf be a graph value? (Masked selections cannot: their length is unknown.)"""
    if isinstance(x, Tracer):
        return not isinstance(x, Masked)
    if isinstance(x, (bool, int, float, np.generic, np.ndarray)):
        return np.asarray(x).dtype.kind in "biufc"
    return False


def is_python_scalar(x: Any) -> bool:
    return type(x) in (bool, int, float)


def as_value(x: Any) -> tuple[Value, bool]:
    """A numeric leaf as a graph value and whether it is weakly typed."""
    if isinstance(x, Tracer):
        return x.val, x.weak
    if is_python_scalar(x):
        kind = "bool" if type(x) is bool else "i64" if type(x) is int else "f64"
        return Lit.make(x, kind), True
    arr = np.asarray(x)
    return Lit.make(arr, dtype_name(arr.dtype)), False


def leaf_type(x: Any) -> tuple[ArrayType, bool]:
    v, weak = as_value(x)
    return v.type, weak


def same_constant(a: Any, b: Any) -> bool:
    """Two non-traced leaves that are the same value (so they need not become graph values)."""
    if a is b:
        return True
    if type(a) in (bool, int, float, complex, str, bytes) and type(a) is type(b):
        return bool(a == b)
    if isinstance(a, (np.ndarray, np.generic)) and isinstance(b, (np.ndarray, np.generic)):
        a, b = np.asarray(a), np.asarray(b)
        return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))
    return False


def _promote_weak(strong: str, weak: str) -> str:
    """numpy's rule for an array of dtype `strong` meeting a Python scalar of kind `weak`."""
    if weak == "f64" and strong not in ("f32", "f64"):
        return "f64"
    if weak == "i64" and strong == "bool":
        return "i64"
    return strong


def join(a: ArrayType, a_weak: bool, b: ArrayType, b_weak: bool) -> tuple[ArrayType, bool] | None:
    """The type two values share (numpy's promotion and broadcasting), or None if none."""
    if a_weak and not b_weak:
        dtype = _promote_weak(b.dtype, a.dtype)
    elif b_weak and not a_weak:
        dtype = _promote_weak(a.dtype, b.dtype)
    else:
        dtype = ops.promote_dtypes(a.dtype, b.dtype)
    try:
        shape = ops.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        return None
    return ArrayType(dtype, shape), a_weak and b_weak


def cast(v: Value, t: ArrayType) -> Value:
    """`v` converted and broadcast to type `t` (emitted into the active builder)."""
    return ops.broadcast_to(ops.convert(v, t.dtype), t.shape)


def describe(x: Any) -> str:
    """A value's kind, for error messages."""
    if x is None:
        return "None"
    if isinstance(x, Tracer):
        return f"an array ({x.val.type})"
    if is_numeric(x):
        return f"a number ({leaf_type(x)[0]})"
    return f"a {type(x).__name__}"
