"""The ordered passes from a traced graph to a kernel plan, keeping every stage.

`differentiate` runs adjoint -> prune -> simplify; `optimize` runs simplify alone
(for `jit`). `checks=True` verifies the IR after every pass; `dump` names passes
after which the IR is printed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from adjit.ir import Graph

from .adjoint import adjoint
from .feed import feed
from .inline_custom import inline_custom
from .prune import PruneReport, prune
from .simplify import SimplifyStats, simplify


@dataclass
class Stages:
    traced: Graph
    joint: Graph | None = None
    pruned: Graph | None = None
    prune_report: PruneReport | None = None
    simplified: Graph | None = None
    simplify_stats: SimplifyStats = field(default_factory=SimplifyStats)
    # with `given`: the indices of the given values that became inputs (passes/feed.py)
    fed: list[int] = field(default_factory=list)


def _after(name: str, g: Graph, checks: bool, dump: set[str]) -> Graph:
    if checks:
        from adjit.ir.verify import verify

        verify(g)
    if name in dump:
        print(f"--- after {name} ---\n{g}")
    return g


def differentiate(g: Graph, wrt: Sequence[int], *, seed: str = "auto", checks: bool = False,
                  dump: set[str] = frozenset(), also: Sequence[Any] = (),
                  given: Sequence[Any] = ()) -> Stages:
    """adjoint -> prune -> (feed, when values of `given` are already computed) ->
    simplify; the fed graph's inputs are g's, the cotangent seeds, then `given[i]` for each
    i in `Stages.fed`."""
    st = Stages(traced=_after("trace", g, checks, dump))
    st.joint = _after("adjoint", adjoint(g, wrt, seed=seed, also=also), checks, dump)
    pruned, st.prune_report = prune(st.joint, wrt=wrt, forward=g)
    if given:  # part of the prune step: what the forward computed is dead code here too
        pruned, st.fed = feed(pruned, given)
    st.pruned = _after("prune", pruned, checks, dump)
    refuse_nondifferentiable(pruned)
    st.simplified = _after("simplify", simplify(inline_custom(pruned), stats=st.simplify_stats),
                           checks, dump)
    return st


def refuse_nondifferentiable(g: Graph) -> None:
    """Raise the message of a `not_differentiable` cotangent that pruning kept: a gradient
    needs the derivative of a function with respect to an argument that has none (the order
    of `scipy.special.iv`, say)."""
    from adjit.ir.errors import NotDifferentiable

    for eqn in g.eqns:
        if eqn.prim == "not_differentiable":
            raise NotDifferentiable(eqn.p["what"], loc=eqn.loc,
                                    hint="pass that argument as a constant, not as an argument "
                                         "being differentiated, or wrap it in "
                                         "adjit.stop_gradient")
        for _, v in eqn.params:
            for sub in (v if isinstance(v, tuple) else (v,)):
                if isinstance(sub, Graph):
                    refuse_nondifferentiable(sub)


def optimize(g: Graph, *, checks: bool = False, dump: set[str] = frozenset()) -> Stages:
    st = Stages(traced=_after("trace", g, checks, dump))
    st.simplified = _after("simplify", simplify(inline_custom(g), stats=st.simplify_stats),
                           checks, dump)
    return st
