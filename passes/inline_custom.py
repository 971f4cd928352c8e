"""inline_custom: a `custom_vjp` (or `custom_jvp`) equation becomes its forward graph's equations.

The rule of a `custom_vjp` is used by the adjoint pass; after it, the equation only computes
its value, which its `fwd` graph says how to do, so code generators never meet it. Sub-graphs
of control flow are rewritten too.

>>> from adjit.ir import ArrayType, Builder, Graph, Var, building, ops
>>> from adjit.ir.builder import emit_multi
>>> x = Var(ArrayType("f64", (3,)), "x")
>>> fwd = Graph("fwd", (x,), (), (x, x))
>>> g_in = Var(ArrayType("f64", (3,)), "x")
>>> with building(Builder()) as b:
...     out, res = emit_multi("custom_vjp", g_in, fwd=fwd, bwd=fwd, n_out=1, n_primal=1,
...                           n_fwd_free=0)
>>> g = Graph("g", (g_in,), tuple(b.eqns), (out,))
>>> print(inline_custom(g).format(locs=False))
graph g(x: f64[3]) -> f64[3]:
  return x
"""
from __future__ import annotations

from typing import Any

from adjit.ir import Builder, Graph, Var, building
from adjit.ir.builder import inline


_CUSTOM = ("custom_vjp", "custom_jvp")  # their value is their `fwd` graph's


def inline_custom(g: Graph) -> Graph:
    if not _has_custom(g):
        return g
    env: dict[int, Any] = {}
    b = Builder()
    with building(b):
        for eqn in g.eqns:
            inputs = tuple(env.get(id(v), v) if isinstance(v, Var) else v for v in eqn.inputs)
            if eqn.prim in _CUSTOM:
                p = dict(eqn.params)
                outs = inline(inline_custom(p["fwd"]), inputs[:p["n_primal"] + p["n_fwd_free"]])
                env.update((id(o), n) for o, n in zip(eqn.outputs, outs, strict=True))
                continue
            params = tuple((k, _rewrite(v)) for k, v in eqn.params)
            b.append(eqn.replace(inputs=inputs, params=params))
    outputs = tuple(env.get(id(v), v) if isinstance(v, Var) else v for v in g.outputs)
    return g.replace(eqns=tuple(b.eqns), outputs=outputs)


def _rewrite(v: Any) -> Any:
    if isinstance(v, Graph):
        return inline_custom(v)
    if isinstance(v, tuple) and v and all(isinstance(x, Graph) for x in v):
        return tuple(inline_custom(x) for x in v)
    return v


def _has_custom(g: Graph) -> bool:
    for eqn in g.eqns:
        if eqn.prim in _CUSTOM:
            return True
        for _, v in eqn.params:
            if isinstance(v, Graph) and _has_custom(v):
                return True
            if isinstance(v, tuple) and any(isinstance(x, Graph) and _has_custom(x) for x in v):
                return True
    return False
