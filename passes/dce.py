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


class DeadCode:
    """What `dead_code` removed: equations no output needs (in a transformation's graph, the
    parts of an inlined derivative whose results are not returned: the gradient's own
    value under a Hessian-vector product, say)."""

    def __init__(self, removed: list[Eqn]) -> None:
        self.removed = removed

    @property
    def pruned_ids(self) -> set[int]:
        return {id(e) for e in self.removed}

    def __str__(self) -> str:
        lines = [f"pruned {len(self.removed)} equation{'s' if len(self.removed) != 1 else ''}"
                 " that no output needs"]
        by_site: dict[str, int] = {}
        for e in self.removed:
            what = e.role or e.prim
            site = f"{what} at {e.loc.short()}" if e.loc else what
            by_site[site] = by_site.get(site, 0) + 1
        lines += [f"  - {n} x {site}" for site, n in by_site.items()]
        return "\n".join(lines)


def dead_code(g: Graph) -> tuple[Graph, DeadCode]:
    """`dce`, with a report of what went."""
    live = live_eqns(g)
    removed = [e for e, keep in zip(g.eqns, live, strict=True) if not keep]
    if not removed:
        return g, DeadCode([])
    return g.replace(eqns=tuple(e for e, keep in zip(g.eqns, live, strict=True) if keep)), \
        DeadCode(removed)
