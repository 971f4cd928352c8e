"""adjoint: reverse mode. Graph -> joint graph computing the outputs and the VJPs.

The sweep is a reverse interpreter over the equations: each output's cotangent is
handed to its primitive's VJP rule, which emits IR (so the result can be
differentiated again). `None` is a symbolic zero: rules skip it, and values that
never receive a cotangent produce no work. Fan-out is summed with `add`. This pass
builds the cotangent of every value it reaches; `prune` then removes what the
requested gradients do not need and reports it.

>>> from adjit.ir import parse
>>> g = parse('''graph f(x: f64[4]) -> f64[]:
...   %0 = mul x, x : f64[4]
...   %1 = reduce_sum[axes=(0,)] %0 : f64[]
...   return %1''')
>>> print(adjoint(g, [0]).format(locs=False))
graph f_vjp(x: f64[4]) -> (f64[], f64[4]):
  # adjoint wrt x
  %0 = mul x, x : f64[4]
  %1 = reduce_sum[axes=(0,)] %0 : f64[]
  %2 = reshape[shape=(1,)] 1.0 : f64[1]
  %3 = broadcast_to[shape=(4,)] %2 : f64[4]
  %4 = mul %3, x : f64[4]
  %5 = mul %3, x : f64[4]
  %6 = add %4, %5 : f64[4]
  return %1, %6
"""
from __future__ import annotations

from typing import Sequence

from adjit.ir import Builder, Graph, Lit, Value, Var, building, context, ops
from adjit.ir.errors import NotDifferentiable
from adjit.ir.primitive import PRIMS

from .subgraphs import subgraph_passes


def adjoint(g: Graph, wrt: Sequence[int], *, seed: str = "auto",
            also: Sequence[Var] = ()) -> Graph:
    """The joint graph: inputs are g's inputs (plus one cotangent per output when `seed` is
    'inputs', or when 'auto' and an output is not a scalar); outputs are g's outputs followed
    by the gradient of each input in `wrt` (zeros where it does not affect the outputs), then
    the cotangent of each intermediate value in `also`. `seed="first"` seeds the first output
    alone with 1 (the others, a function's auxiliary results, carry no cotangent)."""
    for i in wrt:
        t = g.inputs[i].type
        if not t.is_float:
            raise NotDifferentiable(f"cannot differentiate with respect to input "
                                    f"{g.inputs[i].name or i} of dtype {t.dtype}",
                                    hint="only float arguments have gradients; leave integer "
                                         "and boolean arguments out of argnums")
    b = Builder()
    extra_inputs: list[Var] = []
    with building(b):
        for eqn in g.eqns:
            b.append(eqn)
        cts: dict[int, Value] = {}
        use_inputs = seed == "inputs" or (seed == "auto" and any(o.type.ndim for o in g.outputs))
        for k, out in enumerate(g.outputs):
            if not out.type.is_float or (seed == "first" and k):
                continue
            if use_inputs:
                ct_in = Var(out.type, "ct")
                extra_inputs.append(ct_in)
                seed_ct: Value = ct_in
            else:
                seed_ct = Lit.make(1, out.dtype)
            if isinstance(out, Var):
                _accumulate(cts, out, seed_ct)
        for eqn in reversed(g.eqns):
            outs_ct = [cts.get(id(o)) for o in eqn.outputs]
            if all(c is None for c in outs_ct):
                continue
            prim = PRIMS[eqn.prim]
            if prim.nondiff:
                continue
            if prim.vjp is None:
                raise NotDifferentiable(f"`{eqn.prim}` has no derivative rule", loc=eqn.loc)
            with context(loc=eqn.loc, role=f"vjp({eqn.prim})"):
                ct = outs_ct[0] if len(outs_ct) == 1 else tuple(outs_ct)
                ct = _full(ct, eqn.outputs[0]) if len(outs_ct) == 1 else ct
                extra = {"passes": subgraph_passes()} if prim.takes_passes else {}
                in_cts = prim.vjp(ct, *eqn.inputs, out=eqn.outputs[0] if len(eqn.outputs) == 1
                                  else eqn.outputs, **dict(eqn.params), **extra)
                for v, c in zip(eqn.inputs, in_cts, strict=True):
                    if c is not None and isinstance(v, Var) and v.type.is_float:
                        _accumulate(cts, v, c)
        grads: list[Value] = []
        with context(role="zero gradient"):
            for x in [g.inputs[i] for i in wrt] + list(also):
                grads.append(cts.get(id(x)) or ops.zeros(x.type))
    name = f"{g.name}_vjp"
    note = "adjoint wrt " + ", ".join(g.inputs[i].name or str(i) for i in wrt)
    return b.graph(name, g.inputs + tuple(extra_inputs), g.outputs + tuple(grads),
                   notes=g.notes + (note,))


def _full(ct: Value, out: Var) -> Value:
    """Rules receive a cotangent of the output's exact shape (a scalar seed is broadcast)."""
    if ct.shape != out.shape:
        return ops.broadcast_to(ct, out.shape)
    return ct


def _accumulate(cts: dict[int, Value], v: Var, c: Value) -> None:
    if c.dtype != v.dtype:
        c = ops.convert(c, v.dtype)
    if c.shape != v.shape:
        c = ops.broadcast_to(c, v.shape)
    prev = cts.get(id(v))
    cts[id(v)] = c if prev is None else ops.add(prev, c)
