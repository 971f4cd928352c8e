"""The IR verifier: `verify(graph)` returns None for a well-formed graph and raises `IRError`
naming the first problem otherwise.

A well-formed graph:
- defines every Var exactly once (as a graph input or as one equation's output), and uses it
  only after its definition; literals need no definition;
- returns only defined values;
- applies registered primitives, each with exactly the params the primitive declares, stored
  as a sorted tuple of (name, value) pairs with hashable values (so equations hash and
  print deterministically);
- gives every equation the output types its primitive's shape rule computes;
- holds literals whose array matches their type, and one-line notes and roles;
- has well-formed sub-graphs, each a closed scope: a sub-graph sees only its own inputs, not
  the values of the graph around it (the printer gives it its own names).

Messages show the offending equation in IR syntax, with the names `str(graph)` would give.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .core import Eqn, Graph, Lit, Var
from .errors import IRError
from .primitive import PRIMS
from .printer import Namer, format_eqn


def verify(graph: Graph) -> None:
    """Raise IRError for the first violation of the IR's invariants in `graph`."""
    _verify(graph, f"graph {graph.name}", outer=frozenset(), counter=0)


class _Scope:
    """The Vars one graph has defined so far, and the printer's names for them."""

    def __init__(self, where: str, outer: frozenset[int], counter: int) -> None:
        self.where = where
        self.outer = outer  # ids of Vars of enclosing graphs, only to explain closed scopes
        self.defined: set[int] = set()
        self.namer = Namer()
        self.namer.counter = counter  # sub-graphs go on with the enclosing graph's %N


def _verify(g: Graph, where: str, outer: frozenset[int], counter: int) -> None:
    if not isinstance(g, Graph):
        raise IRError(f"{where}: expected a Graph, got {type(g).__name__}")
    scope = _Scope(where, outer, counter)
    for note in g.notes:
        if not isinstance(note, str) or "\n" in note:
            raise IRError(f"{where}: note {note!r} must be a single line of text")
    for v in g.inputs:
        if not isinstance(v, Var):
            raise IRError(f"{where}: graph inputs must be Vars, got {v!r}")
        _define(scope, v, f"{where}: input {v.name}", None, v.name or repr(v))
        scope.namer.input(v)
    for i, eqn in enumerate(g.eqns):
        _check_eqn(scope, i, eqn)
    for k, v in enumerate(g.outputs):
        _check_value(scope, v, f"{where}: output {k}", None)


def _check_eqn(scope: _Scope, i: int, eqn: Eqn) -> None:
    if not isinstance(eqn, Eqn):
        raise IRError(f"{scope.where}: equation {i} is a {type(eqn).__name__}, not an Eqn")
    for v in (*eqn.inputs, *eqn.outputs):
        if not isinstance(v, (Var, Lit)):
            raise IRError(f"{scope.where}: equation {i} ({eqn.prim}) has operand {v!r}, "
                          f"which is neither a Var nor a Lit")
    # Format before defining the outputs, as the printer does, so names match str(graph);
    # remember what an output was called if it is (wrongly) defined already.
    before = [scope.namer.names.get(id(v)) for v in eqn.outputs]
    text = format_eqn(eqn, scope.namer, locs=False)
    here = f"{scope.where}: equation {i} ({eqn.prim})"
    for v in eqn.inputs:
        _check_value(scope, v, here, text, eqn)
    if not isinstance(eqn.role, str) or "\n" in eqn.role:
        raise _error(f"{here}: role {eqn.role!r} must be a single line of text", text, eqn)
    prim = PRIMS.get(eqn.prim)
    if prim is None:
        raise _error(f"{here}: unknown primitive {eqn.prim!r}", text, eqn)
    _check_params(here, text, eqn, prim.params)
    _check_out_types(here, text, eqn)
    for v, name in zip(eqn.outputs, before, strict=True):
        if not isinstance(v, Var):
            raise _error(f"{here}: outputs must be Vars, got {v!r}", text, eqn)
        _define(scope, v, here, eqn, name or _name(scope, v), text)
    for key, sub in eqn.subgraphs():
        _verify(sub, f"{here}.{key} (graph {sub.name})",
                scope.outer | frozenset(scope.defined), scope.namer.counter)
        scope.namer.counter += _count_defined(sub)  # the printer numbers sub-graphs inline


def _check_value(scope: _Scope, v: Any, here: str, text: str | None,
                 eqn: Eqn | None = None) -> None:
    if isinstance(v, Lit):
        _check_lit(v, here, text, eqn)
    elif not isinstance(v, Var):
        raise _error(f"{here}: {v!r} is neither a Var nor a Lit", text, eqn)
    elif id(v) not in scope.defined:
        hint = ("sub-graphs are closed: pass the value in as a sub-graph input"
                if id(v) in scope.outer else None)
        raise _error(f"{here}: uses {_name(scope, v)} before it is defined", text, eqn, hint)


def _check_lit(v: Lit, here: str, text: str | None, eqn: Eqn | None) -> None:
    ok = (isinstance(v.value, np.ndarray) and v.value.dtype == v.type.np_dtype
          and v.value.shape == v.type.shape)
    if not ok:
        raise _error(f"{here}: literal {v!r} holds an array that does not match its type "
                     f"{v.type}", text, eqn, "build literals with Lit.make")


def _define(scope: _Scope, v: Var, here: str, eqn: Eqn | None, name: str,
            text: str | None = None) -> None:
    if id(v) in scope.defined:
        raise _error(f"{here}: defines {name} a second time (SSA: one definition per Var)",
                     text, eqn)
    scope.defined.add(id(v))


def _check_params(here: str, text: str, eqn: Eqn, declared: tuple[str, ...]) -> None:
    names = [k for k, _ in eqn.params]
    if sorted(set(names)) != sorted(declared) or len(names) != len(declared):
        missing = sorted(set(declared) - set(names))
        extra = sorted(set(names) - set(declared))
        raise _error(f"{here}: params {names} do not match the primitive's {list(declared)} "
                     f"(missing {missing}, unexpected {extra})", text, eqn)
    if names != sorted(names):
        raise _error(f"{here}: params must be a sorted tuple of pairs", text, eqn,
                     "build params with core.make_params")
    for k, v in eqn.params:
        try:
            hash(v)
        except TypeError:
            raise _error(f"{here}: param {k}={v!r} is not hashable", text, eqn,
                         "use tuples instead of lists or arrays") from None


def _check_out_types(here: str, text: str, eqn: Eqn) -> None:
    in_types = tuple(v.type for v in eqn.inputs)
    try:
        expected = PRIMS[eqn.prim].out_types(in_types, dict(eqn.params))
    except Exception as e:  # any failure of a shape rule means the equation is ill-typed
        raise _error(f"{here}: the shape rule rejects operands "
                     f"({', '.join(str(t) for t in in_types)}): {e}", text, eqn) from None
    got = tuple(v.type for v in eqn.outputs)
    if tuple(expected) != got:
        raise _error(f"{here}: outputs have types ({', '.join(str(t) for t in got)}) but the "
                     f"shape rule gives ({', '.join(str(t) for t in expected)})", text, eqn)


def _count_defined(g: Graph) -> int:
    """How many %N names the printer hands out inside g (its equations' outputs, nested)."""
    return sum(len(e.outputs) + sum(_count_defined(s) for _, s in e.subgraphs())
               for e in g.eqns)


def _name(scope: _Scope, v: Var) -> str:
    name = scope.namer.names.get(id(v)) or v.name
    return f"{name}: {v.type}" if name else f"a {v.type} value"


def _error(message: str, text: str | None, eqn: Eqn | None, hint: str | None = None) -> IRError:
    return IRError(message, eqn=text, loc=eqn.loc if eqn is not None else None, hint=hint)
