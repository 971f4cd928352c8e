"""feed: values already computed become inputs, and the equations that made them go.

A recorded forward pass (tracer/tensor.py) has computed every node's outputs by the time its
backward runs. Differentiating the joined graph from its leaves would compute them all
again (an MLP's backward would repeat the forward's matrix products); instead the joint
graph is built as usual, and then each value in `given` that an equation computes becomes
an input of the graph (appended after the existing inputs, in order) and the equation is
dropped when it computes nothing else that is still needed. Dead code is then removed, so
what remains is the adjoint and the forward values it needs that were not given (a node's
internal intermediates, recomputed from its given inputs). Given values that the result
no longer reads are left out: `feed` returns the graph and which of `given` it takes.

>>> from adjit.ir import parse
>>> g = parse('''graph f(x: f64[4]) -> (f64[4], f64[4]):
...   %0 = exp x : f64[4]
...   %1 = mul %0, x : f64[4]
...   return %0, %1''')
>>> fed, taken = feed(g.replace(outputs=g.outputs[1:]), [g.eqns[0].outputs[0]])
>>> print(fed.format(locs=False))
graph f(x: f64[4], arg: f64[4]) -> f64[4]:
  %0 = mul arg, x : f64[4]
  return %0
>>> taken
[0]
"""
from __future__ import annotations

from typing import Any, Sequence

from adjit.ir import Graph, Var

from .dce import dce


def feed(g: Graph, given: Sequence[Any]) -> tuple[Graph, list[int]]:
    """`g` with the values of `given` (Vars that some equation of `g` outputs; others are
    ignored) read from new inputs instead of computed; returns the graph and the indices,
    into `given`, of the values that became inputs (those the result still reads)."""
    made = {id(o) for e in g.eqns for o in e.outputs}
    wanted = {id(v): i for i, v in enumerate(given) if isinstance(v, Var) and id(v) in made}
    if not wanted:
        return g, []
    # An equation whose every output is given goes; one with other outputs stays (its given
    # outputs are then computed, not read: a multi-output equation is rare and cheap here).
    kept = tuple(e for e in g.eqns if not all(id(o) in wanted for o in e.outputs))
    computed = {id(o) for e in kept for o in e.outputs}
    cut = g.replace(eqns=kept)
    live = dce(cut)
    read = {id(v) for e in live.eqns for v in e.inputs if isinstance(v, Var)}
    read.update(id(v) for v in live.outputs if isinstance(v, Var))
    taken = sorted(i for k, i in wanted.items() if k in read and k not in computed)
    inputs = g.inputs + tuple(given[i] for i in taken)
    return live.replace(inputs=inputs), taken
