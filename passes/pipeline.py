"""Pipelines: the passes from a traced graph to the graph code is generated from, as a list of
named stages.

A pipeline is a tuple of `Stage`s. `run(pipeline, g, ...)` applies them in order and keeps each
one's result (its graph, and the report it wrote) in a `Stages` record, by name, so that
`adjit.inspect` prints every stage without knowing which ran, and a new transformation is a
new tuple. `DIFFERENTIATE` (adjoint -> prune -> simplify) builds a function's joint
forward+backward graph; `OPTIMIZE` (prune dead code -> simplify) serves `jit`; `FORWARD`
(jvp -> prune -> simplify) is forward mode. `checks=True` verifies the IR after every
stage; `dump` names stages (by pass name: "adjoint", "prune", "simplify", "jvp") after which
the IR is printed.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from adjit.ir import Graph

from .adjoint import adjoint
from .dce import dead_code
from .feed import feed
from .inline_custom import inline_custom
from .jvp import jvp
from .prune import prune
from .simplify import SimplifyStats, simplify


@dataclass
class Request:
    """What the stages of one run read: the inputs to differentiate (`wrt`), how outputs are
    seeded, which other values' cotangents are asked for (`also`), and the values of `given`
    already computed (passes/feed.py); `fed` is written by the prune stage."""

    wrt: Sequence[int] = ()
    seed: str = "auto"
    also: Sequence[Any] = ()
    given: Sequence[Any] = ()
    fed: list[int] = field(default_factory=list)
    forward: Graph | None = None  # the traced graph, set by `run` (prune compares with it)
    # the result is inlined into an outer trace, whose transformation differentiates it
    # again: custom_vjp/custom_jvp equations stay (their rules serve that derivative too),
    # the outer pipeline inlines them
    keep_custom: bool = False


@dataclass(frozen=True)
class Stage:
    """One pass of a pipeline: `apply(graph, request) -> (graph, report or None)`.

    `result` names the stage's graph in `Stages` and in `adjit.inspect` (`"pruned"`),
    `report` its report (`"prune_report"`), `title` the heading inspect prints and `describe`
    how the report reads under the graph."""

    name: str
    result: str
    title: str
    apply: Callable[[Graph, Request], tuple[Graph, Any]]
    report: str | None = None
    describe: Callable[[Any], str] = str


@dataclass
class Result:
    """A stage's output as inspect shows it: `value` is a graph, a kernel plan or source."""

    name: str
    title: str
    value: Any
    report_name: str | None = None
    report: Any = None
    describe: Callable[[Any], str] = str

    def text(self) -> str:
        body = str(self.value).rstrip()
        return body if self.report is None else f"{body}\n\n{self.describe(self.report)}"


class Stages:
    """The results of a pipeline run, in order; each by name as an attribute (`st.pruned`,
    `st.prune_report`), None for a stage that did not run."""

    def __init__(self, traced: Graph) -> None:
        self.results: list[Result] = [Result("traced", "traced IR", traced)]
        self.fed: list[int] = []  # the indices of `given` values that became inputs

    def add(self, result: Result) -> None:
        self.results.append(result)

    def names(self) -> list[str]:
        out = []
        for r in self.results:
            out.append(r.name)
            if r.report_name:
                out.append(r.report_name)
        return out

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        for r in self.__dict__.get("results", ()):
            if r.name == name:
                return r.value
            if r.report_name == name:
                return r.report
        if name in _KNOWN:
            return None
        raise AttributeError(f"no stage {name!r}: the stages are {', '.join(self.names())}")

    @property
    def final(self) -> Graph:
        """The last graph of the pipeline (what code is generated from)."""
        return next(r.value for r in reversed(self.results) if isinstance(r.value, Graph))

    # Older spellings, kept for callers that read one stage by its role.
    @property
    def joint(self) -> Graph | None:
        return self.__getattr__("adjoint")

    @property
    def simplify_stats(self) -> SimplifyStats:
        stats = self.__getattr__("rewrites")
        return stats if stats is not None else SimplifyStats()


def _adjoint(g: Graph, req: Request) -> tuple[Graph, Any]:
    return adjoint(g, req.wrt, seed=req.seed, also=req.also), None


def _prune(g: Graph, req: Request) -> tuple[Graph, Any]:
    pruned, report = prune(g, wrt=req.wrt, forward=req.forward)
    if req.given:  # part of the prune step: what the forward computed is dead code here too
        pruned, req.fed = feed(pruned, req.given)
    refuse_nondifferentiable(pruned)
    return pruned, report


def _simplify(g: Graph, req: Request) -> tuple[Graph, Any]:
    stats = SimplifyStats()
    return simplify(g if req.keep_custom else inline_custom(g), stats=stats), stats


def _dead_code(g: Graph, req: Request) -> tuple[Graph, Any]:
    return dead_code(g)


def _jvp(g: Graph, req: Request) -> tuple[Graph, Any]:
    return jvp(g, list(req.wrt)), None


ADJOINT = Stage("adjoint", "adjoint", "adjoint (joint forward + backward) IR", _adjoint)
PRUNE = Stage("prune", "pruned", "pruned IR", _prune, report="prune_report")
SIMPLIFY = Stage("simplify", "simplified", "simplified IR", _simplify, report="rewrites",
                 describe=lambda stats: f"rewrites: {stats}")
JVP = Stage("jvp", "forward", "forward-mode (jvp) IR", _jvp)
# A graph that is not differentiated here may still hold derivatives inlined while tracing
# (a Hessian-vector product is the jvp of an inlined gradient): what its outputs do not
# need goes, and the report says what.
DEAD_CODE = Stage("prune", "pruned", "pruned IR", _dead_code, report="prune_report")

DIFFERENTIATE: tuple[Stage, ...] = (ADJOINT, PRUNE, SIMPLIFY)
OPTIMIZE: tuple[Stage, ...] = (DEAD_CODE, SIMPLIFY)
FORWARD: tuple[Stage, ...] = (JVP, DEAD_CODE, SIMPLIFY)

# Every result and report name a stage of the pipelines above may write: reading one that did
# not run gives None (a `jit` has no "adjoint").
_KNOWN = {n for s in (ADJOINT, PRUNE, SIMPLIFY, JVP, DEAD_CODE) for n in (s.result, s.report)
          if n}


def run(pipeline: Sequence[Stage], g: Graph, request: Request | None = None, *,
        checks: bool = False, dump: frozenset[str] | set[str] = frozenset()) -> Stages:
    """Apply `pipeline` to g, keeping every stage's result."""
    req = request if request is not None else Request()
    req.forward = g
    st = Stages(_after("trace", g, checks, dump))
    for stage in pipeline:
        g, report = stage.apply(g, req)
        st.add(Result(stage.result, stage.title, _after(stage.name, g, checks, dump),
                      stage.report, report, stage.describe))
    st.fed = req.fed
    return st


def _after(name: str, g: Graph, checks: bool, dump: frozenset[str] | set[str]) -> Graph:
    if checks:
        from adjit.ir.verify import verify

        verify(g)
    if name in dump:
        print(f"--- after {name} ---\n{g}")
    return g


def differentiate(g: Graph, wrt: Sequence[int], *, seed: str = "auto", checks: bool = False,
                  dump: frozenset[str] | set[str] = frozenset(), also: Sequence[Any] = (),
                  given: Sequence[Any] = (), keep_custom: bool = False) -> Stages:
    """adjoint -> prune -> (feed, when values of `given` are already computed) ->
    simplify; the fed graph's inputs are g's, the cotangent seeds, then `given[i]` for each
    i in `Stages.fed`."""
    return run(DIFFERENTIATE, g, Request(wrt, seed, also, given, keep_custom=keep_custom),
               checks=checks, dump=dump)


def optimize(g: Graph, *, checks: bool = False,
             dump: frozenset[str] | set[str] = frozenset()) -> Stages:
    return run(OPTIMIZE, g, checks=checks, dump=dump)


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
