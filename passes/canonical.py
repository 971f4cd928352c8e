"""canonicalize: one spelling per computation, so graphs built different ways can be compared.

Simplifies (folding, identities, common subexpressions), then re-emits the equations
depth-first from the outputs with the operands of commutative primitives in a fixed
structural order, names the inputs a0, a1, ..., names the graph `f`, and drops
locations, roles and notes. Two graphs that compute the same thing the same way
print identically:

>>> from adjit.ir import parse
>>> a = parse('''graph g(x: f64[3], y: f64[3]) -> f64[3]:
...   %0 = mul x, 2.0 : f64[3]
...   %1 = add %0, y : f64[3]
...   return %1''')
>>> b = parse('''graph h(p: f64[3], q: f64[3]) -> f64[3]:
...   %0 = mul 2.0, p : f64[3]
...   %1 = add q, %0 : f64[3]
...   return %1''')
>>> print(canonicalize(a))
graph f(a0: f64[3], a1: f64[3]) -> f64[3]:
  %0 = mul a0, 2.0 : f64[3]
  %1 = add %0, a1 : f64[3]
  return %1
>>> str(canonicalize(a)) == str(canonicalize(b))
True
"""
from __future__ import annotations

from typing import Any

from adjit.ir import Builder, Eqn, Graph, Lit, Value, Var

from .simplify import simplify

COMMUTATIVE = frozenset({"add", "mul", "maximum", "minimum", "eq", "ne", "logical_and",
                         "logical_or", "logaddexp"})


def canonicalize(g: Graph) -> Graph:
    g = simplify(g)
    producers = {id(o): e for e in g.eqns for o in e.outputs}
    inputs = [Var(v.type, f"a{i}") for i, v in enumerate(g.inputs)]
    index = {id(v): i for i, v in enumerate(g.inputs)}
    keys: dict[int, Any] = {}

    def key(v: Value) -> Any:
        if isinstance(v, Lit):
            return ("lit", str(v.type), v.value.tobytes())
        if id(v) in index:
            return ("in", index[id(v)])
        if id(v) not in keys:
            e = producers[id(v)]
            ks = [key(i) for i in e.inputs]
            if e.prim in COMMUTATIVE:
                ks.sort(key=repr)
            keys[id(v)] = ("eq", e.prim, repr(e.params), tuple(ks),
                           [o for o in e.outputs].index(v))
        return keys[id(v)]

    b = Builder()
    env: dict[int, Value] = {id(v): n for v, n in zip(g.inputs, inputs, strict=True)}

    def visit(v: Value) -> Value:
        if isinstance(v, Lit):
            return v
        if id(v) in env:
            return env[id(v)]
        e = producers[id(v)]
        operands = list(e.inputs)
        if e.prim in COMMUTATIVE:
            operands.sort(key=lambda x: repr(key(x)))
        new_in = tuple(visit(x) for x in operands)
        outs = tuple(Var(o.type) for o in e.outputs)
        b.append(Eqn(e.prim, new_in, outs, e.params))
        env.update((id(o), n) for o, n in zip(e.outputs, outs, strict=True))
        return env[id(v)]

    outputs = tuple(visit(o) for o in g.outputs)
    return simplify(b.graph("f", tuple(inputs), outputs))
