"""Dead-code elimination: keep the equations that the outputs need, in order."""
from __future__ import annotations

from adjit.ir import Eqn, Graph, Var


def live_eqns(g: Graph) -> list[bool]:
    """For each equation, whether some graph output depends on it."""
    needed = {id(v) for v in g.outputs if isinstance(v, Var)}
    live = [False] * len(g.eqns)
    for i in range(len(g.eqns) - 1, -1, -1):
        eqn = g.eqns[i]
        if any(id(o) in needed for o in eqn.outputs):
            live[i] = True
            needed.update(id(v) for v in eqn_inputs(eqn) if isinstance(v, Var))
    return live


def eqn_inputs(eqn: Eqn) -> list:
    """The values an equation reads, including the free values its sub-graphs capture."""
    return list(eqn.inputs)


def dce(g: Graph) -> Graph:
    live = live_eqns(g)
    return g.replace(eqns=tuple(e for e, keep in zip(g.eqns, live, strict=True) if keep))
