"""prune: dead-branch pruning of a joint graph, with a report of what was removed.

The adjoint sweep builds the cotangent of every value it reaches. Activity analysis
then keeps only the adjoint of values that both depend on a differentiated input
(they are *varied*) and reach a requested output (they are *useful*); everything
else, forward or adjoint, is dead code and goes. `stop_gradient` and integer or
boolean values end the derivative (their VJPs return symbolic zeros), so nothing is
built behind them. A `cond` whose predicate depends only on constants becomes its
branch, and loop-carried values whose adjoint never reaches a requested gradient carry
none. The report names what went and why.

>>> from adjit.ir import parse
>>> from adjit.passes.adjoint import adjoint
>>> g = parse('''graph f(w: f64[3], x: f64[3]) -> f64[]:
...   %0 = mul w, x : f64[3]
...   %1 = reduce_sum[axes=(0,)] %0 : f64[]
...   return %1''')
>>> joint = adjoint(g, [0, 1])
>>> only_w = joint.replace(outputs=joint.outputs[:2])  # the gradient of w alone is asked for
>>> pruned, report = prune(only_w, wrt=[0], forward=g)
>>> print(pruned.format(locs=False))
graph f_vjp(w: f64[3], x: f64[3]) -> (f64[], f64[3]):
  # adjoint wrt w, x
  %0 = mul w, x : f64[3]
  %1 = reduce_sum[axes=(0,)] %0 : f64[]
  %2 = reshape[shape=(1,)] 1.0 : f64[1]
  %3 = broadcast_to[shape=(3,)] %2 : f64[3]
  %4 = mul %3, x : f64[3]
  return %1, %4
>>> print(report)
pruned 1 adjoint and 0 forward equations
  cotangents not requested: x
  - 1 x vjp(mul)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from adjit.ir import Eqn, Graph, Var

from .dce import live_eqns


@dataclass
class PruneReport:
    removed_adjoint: list[Eqn] = field(default_factory=list)
    removed_forward: list[Eqn] = field(default_factory=list)
    not_requested: list[str] = field(default_factory=list)
    inactive: list[str] = field(default_factory=list)  # requested inputs with no path to output
    stopped: list[Eqn] = field(default_factory=list)  # stop_gradient sites kept in the graph
    known_conds: list[tuple[Eqn, bool]] = field(default_factory=list)  # replaced by a branch
    # (while_grad, names of carried values whose adjoint the requested gradients never use)
    inactive_carried: list[tuple[Eqn, list[str]]] = field(default_factory=list)

    @property
    def pruned_ids(self) -> set[int]:
        return {id(e) for e in self.removed_adjoint + self.removed_forward}

    def __str__(self) -> str:
        lines = [f"pruned {len(self.removed_adjoint)} adjoint and {len(self.removed_forward)} "
                 "forward equations"]
        if self.not_requested:
            lines.append("  cotangents not requested: " + ", ".join(self.not_requested))
        if self.inactive:
            lines.append("  requested but not on a path to the output (gradient is zero): "
                         + ", ".join(self.inactive))
        by_site: dict[str, int] = {}
        for e in self.removed_adjoint:
            site = f"{e.role} at {e.loc.short()}" if e.loc else e.role
            by_site[site] = by_site.get(site, 0) + 1
        for site, n in by_site.items():
            lines.append(f"  - {n} x {site}")
        for e in self.removed_forward:
            where = f" at {e.loc.short()}" if e.loc else ""
            lines.append(f"  - dead forward {e.prim}{where}")
        for e in self.stopped:
            where = f" at {e.loc.short()}" if e.loc else ""
            lines.append(f"  stop_gradient{where}: no adjoint built behind it")
        for e, names in self.inactive_carried:
            where = f" at {e.loc.short()}" if e.loc else ""
            lines.append(f"  while{where}: loop-carried {', '.join(names)} carry no adjoint "
                         "(they do not reach a requested gradient)")
        for e, value in self.known_conds:
            where = f" at {e.loc.short()}" if e.loc else ""
            lines.append(f"  cond{where}: predicate is always {value}, replaced by its branch")
        return "\n".join(lines)


def varied(g: Graph, wrt: Sequence[int]) -> set[int]:
    """ids of the values that depend on the inputs in `wrt` through float arithmetic."""
    active = {id(g.inputs[i]) for i in wrt}
    for eqn in g.eqns:
        if eqn.prim == "stop_gradient":
            continue
        if any(isinstance(v, Var) and id(v) in active for v in eqn.inputs):
            active.update(id(o) for o in eqn.outputs if o.type.is_float)
    return active


def prune(g: Graph, *, wrt: Sequence[int] = (), forward: Graph | None = None
          ) -> tuple[Graph, PruneReport]:
    """Remove dead equations from the joint graph `g`. `wrt` are the differentiated input
    indices and `forward` the graph before the adjoint, used only to word the report."""
    report = PruneReport()
    g = _known_branches(g, report)
    live = live_eqns(g)
    kept: list[Eqn] = []
    used = _used_ids(g, live)
    for eqn, keep in zip(g.eqns, live, strict=True):
        if keep and eqn.prim == "while_grad":
            eqn = _prune_carried(eqn, used, report)
        if keep:
            kept.append(eqn)
            if eqn.prim == "stop_gradient" and not eqn.role:
                report.stopped.append(eqn)
        elif eqn.role.startswith(("vjp", "jvp")):
            report.removed_adjoint.append(eqn)
        else:
            report.removed_forward.append(eqn)
    if forward is not None:
        wanted = set(wrt)
        report.not_requested = [v.name or f"arg{i}" for i, v in enumerate(forward.inputs)
                                if i not in wanted and v.type.is_float]
        reach = _reaching(forward)
        report.inactive = [forward.inputs[i].name or f"arg{i}" for i in wrt
                           if id(forward.inputs[i]) not in reach]
    return g.replace(eqns=tuple(kept)), report


def _reaching(g: Graph) -> set[int]:
    """ids of values that reach a float output through differentiable equations."""
    reach = {id(v) for v in g.outputs if isinstance(v, Var) and v.type.is_float}
    for eqn in reversed(g.eqns):
        if eqn.prim == "stop_gradient":
            continue
        if any(id(o) in reach for o in eqn.outputs):
            reach.update(id(v) for v in eqn.inputs if isinstance(v, Var) and v.type.is_float)
    return reach


FOLD_LIMIT = 64  # elements: predicates are scalars, the values feeding them are small


def _known_branches(g: Graph, report: PruneReport) -> Graph:
    """Replace each `cond` whose predicate depends only on constants by its branch."""
    if not any(e.prim == "cond" for e in g.eqns):
        return g
    import numpy as np

    from adjit.ir import Builder, Lit, building
    from adjit.ir.builder import inline
    from adjit.ir.primitive import PRIMS

    known: dict[int, np.ndarray] = {}
    subst: dict[int, object] = {}
    b = Builder()

    def read(v: object) -> object:
        return subst.get(id(v), v) if isinstance(v, Var) else v

    def value(v: object) -> np.ndarray | None:
        return v.value if isinstance(v, Lit) else known.get(id(v))

    with building(b):
        for eqn in g.eqns:
            eqn = eqn.replace(inputs=tuple(read(v) for v in eqn.inputs))
            if eqn.prim == "cond" and value(eqn.inputs[0]) is not None:
                taken = bool(value(eqn.inputs[0]))
                outs = inline(eqn.p["branches"][int(taken)], list(eqn.inputs[1:]))
                subst.update((id(o), n) for o, n in zip(eqn.outputs, outs, strict=True))
                report.known_conds.append((eqn, taken))
                continue
            b.append(eqn)
            vals = [value(v) for v in eqn.inputs]
            prim = PRIMS[eqn.prim]
            if (prim.kind != "control" and len(eqn.outputs) == 1 and vals
                    and all(x is not None for x in vals) and eqn.out.type.size <= FOLD_LIMIT):
                with np.errstate(all="ignore"):
                    known[id(eqn.out)] = np.asarray(prim.impl(*vals, **dict(eqn.params)))
    return g.replace(eqns=tuple(b.eqns), outputs=tuple(read(v) for v in g.outputs))


def _used_ids(g: Graph, live: list[bool]) -> set[int]:
    """ids of the values that live equations or the outputs read."""
    used = {id(v) for v in g.outputs if isinstance(v, Var)}
    for eqn, keep in zip(g.eqns, live, strict=True):
        if keep:
            used.update(id(v) for v in eqn.inputs if isinstance(v, Var))
    return used


def _prune_carried(eqn: Eqn, used: set[int], report: PruneReport) -> Eqn:
    """Keep in a while_grad's body_vjp only the adjoint work that reaches a used cotangent.

    Each backward iteration feeds the carried cotangents it computes to the next, so a
    carried value's adjoint is needed when its final cotangent is used, or when a needed
    cotangent depends on it: a fixed point over body_vjp's dependencies.
    """
    from adjit.ir import Builder, building, ops

    from .dce import dce

    p = eqn.p
    body, vjp, n_consts = p["body"], p["body_vjp"], p["n_consts"]
    n_in, n_carried = len(body.inputs), len(body.outputs)
    f_in = [i for i, v in enumerate(body.inputs) if v.type.is_float]
    # position in f_in of the m-th float carried value, whose cotangent is vjp input n_in + m
    carried_pos = [k for k, i in enumerate(f_in) if i >= n_consts]
    needed = {k for k in range(len(f_in)) if id(eqn.outputs[n_carried + k]) in used}
    while True:
        reads = _reads(vjp, [vjp.outputs[k] for k in needed])
        more = {carried_pos[m] for m in range(len(carried_pos))
                if id(vjp.inputs[n_in + m]) in reads} - needed
        if not more:
            break
        needed |= more
    dropped = [k for k in carried_pos if k not in needed]
    if len(needed) == len(f_in):
        return eqn
    b = Builder()
    with building(b):
        zeros = {k: ops.zeros(vjp.outputs[k].type) for k in range(len(f_in)) if k not in needed}
    outputs = tuple(vjp.outputs[k] if k in needed else zeros[k] for k in range(len(f_in)))
    slim = dce(vjp.replace(eqns=vjp.eqns + tuple(b.eqns), outputs=outputs))
    names = [body.inputs[f_in[k]].name or f"carried {f_in[k] - n_consts}" for k in dropped]
    names += [f"{body.inputs[f_in[k]].name or f'const {f_in[k]}'} (const)"
              for k in range(len(f_in)) if k not in needed and k not in carried_pos]
    report.inactive_carried.append((eqn, names))
    params = tuple((k, slim if k == "body_vjp" else v) for k, v in eqn.params)
    return eqn.replace(params=params)


def _reads(g: Graph, outputs: list) -> set[int]:
    """ids of the values (inputs included) that `outputs` depend on in g."""
    need = {id(v) for v in outputs if isinstance(v, Var)}
    for e in reversed(g.eqns):
        if any(id(o) in need for o in e.outputs):
            need.update(id(v) for v in e.inputs if isinstance(v, Var))
    return need
