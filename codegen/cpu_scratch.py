"""Scratch rows: a CPU scheduling pass over the loop IR (ir/loops.py).

Fusion keeps one loop nest per kernel with several sibling loops inside an outer one
(softmax: a max over the row, then a sum of exps, then the normalised values), and the
target-neutral lowering recomputes, in each sibling loop, every value it reads (what CUDA's
threads want). On a CPU an expensive value (a transcendental) that several sibling loops all
compute is better computed once: the first loop stores it in a *scratch* row over the loops'
axes (a kernel temp `s3`, at most MAX_SCRATCH elements, so it stays in cache) and the later
ones load it. softmax then computes exp once per element, not once per sibling loop.

A value is recognised by its local's name: the lowering names a value at its own index `v3`
in every loop that computes it (a value at another index gets a name of its own, `v3_1`), so
two siblings defining `v3` compute the same elements, at the same loop depth. Lets that only
fed a value now loaded are removed from the reading loops.
"""
from __future__ import annotations

import math

from adjit.ir.loops import (
    Alloc,
    Apply,
    For,
    Idx,
    Let,
    Load,
    Local,
    LoopKernel,
    Program,
    Stmt,
    Store,
    exprs,
    stmt_exprs,
)
from adjit.passes.plan import CHEAP

MAX_SCRATCH = 1 << 15  # elements of a scratch row (256 KiB of float64), at most


def add_scratch(program: Program) -> Program:
    """Give expensive values that sibling loops all compute a scratch row (in place)."""
    for step in program.steps:
        if isinstance(step, LoopKernel):
            _Scratch(step).body(step.body)
    return program


def _lets(loop: For, path: tuple[For, ...] = ()) -> list[tuple[Let, tuple[For, ...]]]:
    """The Lets inside `loop` with the loops around each (`loop` first)."""
    path = (*path, loop)
    out: list[tuple[Let, tuple[For, ...]]] = []
    for s in loop.body:
        if isinstance(s, Let):
            out.append((s, path))
        elif isinstance(s, For):
            out += _lets(s, path)
    return out


def _expensive(s: Let) -> bool:
    return isinstance(s.expr, Apply) and s.expr.eqn.prim not in CHEAP


class _Scratch:
    def __init__(self, kernel: LoopKernel) -> None:
        self.kernel = kernel
        self.done: set[str] = set()  # the values given a row

    def body(self, body: list[Stmt]) -> None:
        loops = [s for s in body if isinstance(s, For)]
        if len(loops) >= 2:
            self.siblings(loops)
        for lp in loops:
            self.body(lp.body)

    def siblings(self, loops: list[For]) -> None:
        sites: dict[str, list[tuple[int, Let, tuple[For, ...]]]] = {}
        for k, lp in enumerate(loops):
            for let, path in _lets(lp):
                if _expensive(let):
                    sites.setdefault(let.name, []).append((k, let, path))
        for name, found in sites.items():
            if len({k for k, _, _ in found}) < 2 or name in self.done:
                continue
            self.done.add(name)
            _, first, path = found[0]
            axes = [lp.axis for lp in path]
            if any([lp.axis for lp in p] != axes for _, _, p in found) \
                    or math.prod(lp.extent for lp in path) > MAX_SCRATCH:
                continue
            buf = f"s{name[1:]}"
            index = tuple(Idx(a) for a in axes)
            self.kernel.temps.append(Alloc(buf, tuple(lp.extent for lp in path),
                                           first.expr.eqn.out.dtype))
            path[-1].body.append(Store(buf, index, Local(name)))
            for k, let, _ in found[1:]:
                if k != found[0][0]:  # (a second site in the writer's loop keeps its own)
                    let.expr = Load(buf, index)
            for lp in loops[found[0][0] + 1:]:
                _drop_dead_lets(lp)


def _drop_dead_lets(loop: For) -> None:
    """Remove the Lets of `loop` (and the loops in it) that nothing after them reads: a
    loop body's locals are seen only by what follows them in it."""
    _live(loop.body, set())


def _live(body: list[Stmt], after: set[str]) -> set[str]:
    """Drop the Lets of `body` that neither the statements after them nor `after` (what
    follows the body) read, walking it backwards; the names the body reads."""
    live = set(after)
    for k in range(len(body) - 1, -1, -1):
        s = body[k]
        if isinstance(s, Let) and s.name not in live:
            del body[k]
            continue
        if isinstance(s, For):
            live |= _live(s.body, live)
        for top in stmt_exprs(s):
            live.update(e.name for e in exprs(top) if isinstance(e, Local))
    return live
