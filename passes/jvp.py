"""jvp: forward mode. Graph -> graph computing the outputs and their tangents.

A forward interpreter: each equation is copied, then its JVP rule turns the input
tangents into the output's tangent. `None` is a symbolic zero, so work that does not
depend on a perturbed input is never built. One pass per input direction, nothing
stored: the trade-off against `adjoint` that the seed tutorials describe.

>>> from adjit.ir import parse
>>> g = parse('''graph f(x: f64[3]) -> f64[]:
...   %0 = sin x : f64[3]
...   %1 = reduce_sum[axes=(0,)] %0 : f64[]
...   return %1''')
>>> print(jvp(g, [0]).format(locs=False))
graph f_jvp(x: f64[3], t_x: f64[3]) -> (f64[], f64[]):
  # tangents wrt x
  %0 = sin x : f64[3]
  %1 = cos x : f64[3]
  %2 = mul t_x, %1 : f64[3]
  %3 = reduce_sum[axes=(0,)] %0 : f64[]
  %4 = reduce_sum[axes=(0,)] %2 : f64[]
  return %3, %4
"""
from __future__ import annotations

from typing import Sequence

from adjit.ir import Builder, Graph, Value, Var, building, context, ops
from adjit.ir.errors import NotDifferentiable
from adjit.ir.primitive import PRIMS

from .subgraphs import subgraph_passes


def jvp(g: Graph, wrt: Sequence[int]) -> Graph:
    """Inputs: g's inputs, then one tangent per input in `wrt`. Outputs: g's outputs, then
    one tangent per output (zeros where no perturbed input reaches it)."""
    b = Builder()
    tangents: dict[int, Value] = {}
    t_inputs: list[Var] = []
    for i in wrt:
        x = g.inputs[i]
        if not x.type.is_float:
            raise NotDifferentiable(f"cannot differentiate with respect to input "
                                    f"{x.name or i} of dtype {x.dtype}")
        t = Var(x.type, f"t_{x.name}" if x.name else None)
        t_inputs.append(t)
        tangents[id(x)] = t
    with building(b):
        for eqn in g.eqns:
            b.append(eqn)
            ts = [tangents.get(id(v)) if isinstance(v, Var) else None for v in eqn.inputs]
            if all(t is None for t in ts):
                continue
            prim = PRIMS[eqn.prim]
            if prim.nondiff:
                continue
            if prim.jvp is None:
                raise NotDifferentiable(f"`{eqn.prim}` has no forward-mode rule", loc=eqn.loc)
            multi = len(eqn.outputs) != 1
            with context(loc=eqn.loc, role=f"jvp({eqn.prim})"):
                extra = {"passes": subgraph_passes()} if prim.takes_passes else {}
                out_t = prim.jvp(ts, *eqn.inputs, out=eqn.outputs if multi else eqn.out,
                                 **dict(eqn.params), **extra)
                outs_t = out_t if multi else (out_t,)
                for o, t in zip(eqn.outputs, outs_t, strict=True):
                    if t is not None and o.type.is_float:
                        tangents[id(o)] = ops.convert(t, o.dtype) if t.dtype != o.dtype else t
        outs_t: list[Value] = []
        with context(role="zero tangent"):
            for o in g.outputs:
                t = tangents.get(id(o)) if isinstance(o, Var) else None
                outs_t.append(t if t is not None else ops.zeros(o.type))
    note = "tangents wrt " + ", ".join(g.inputs[i].name or str(i) for i in wrt)
    return b.graph(f"{g.name}_jvp", g.inputs + tuple(t_inputs), g.outputs + tuple(outs_t),
                   notes=g.notes + (note,))
