"""Sum accumulations in generated CPU source: float32 sums kept in float64, and the
accumulators and walks of passes/schedule_cpu.py (a mixin of codegen/cpu.py's emitter)."""
from __future__ import annotations

from typing import Any

from adjit.codegen.scalar import literal
from adjit.ir.core import Var
from adjit.ir.index import Term
from adjit.ir.primitive import INDEX, PRIMS, REDUCTION
from adjit.passes.plan import REDUCERS, Kernel, KernelPlan, Root
from adjit.passes.schedule_cpu import Accumulator

# float32 sums. A float32 sum accumulated in float32 loses accuracy with its length: adding n
# terms in order (or in a few vector lanes) has a relative error growing like sqrt(n) eps32
# (8.6e-4 at 2^24 terms), where numpy's pairwise sum stays near eps32. Here they accumulate in
# float64 (53 bits: exact enough at any length that fits in memory) and are rounded to float32
# once, at the end: a register `v3_w = np.float64(0.0)`, `v3 = np.float32(v3_w)` after its
# loop; an array `a3_w = np.zeros(.., np.float64)`, `a3 = a3_w.astype(np.float32)` after the
# kernel. The loop still vectorizes: float32 loads widened to float64 lanes.


def wide_register(e: Any) -> bool:
    """Whether reduction `e` into a register accumulates in float64 (a float32 sum)."""
    return REDUCERS.get(e.prim) == "sum" and e.inputs[0].dtype == "f32"


def _unbounded_sum(e: Any) -> bool:
    """A sum with no bound on its terms per element: a sum reduction, or an accumulation at
    data-dependent places (an index primitive; an unslice adds each element once)."""
    prim = PRIMS[e.prim]
    return prim.lowers.op == "sum" and (prim.lowers.how == REDUCTION or prim.kind == INDEX)


def wide_buffers(kern: Kernel, eqns: Any, plan: KernelPlan) -> set[Var]:
    """The float32 arrays of `kern` that a sum with no bound on its terms per element (a
    reduce_sum over outer axes, a scatter_add) accumulates into: these accumulate in float64.
    Walked accumulators (shifted slices: a few terms per element, each stored once) and arrays
    that a max/min/prod also accumulates into keep their dtype."""
    wide = {acc.buffer for acc in kern.accumulators
            if acc.buffer.dtype == "f32" and acc.walk is None
            and any(_unbounded_sum(eqns[r.eqn]) for r in acc.roots)}
    summed = {r for acc in kern.accumulators for r in acc.roots}
    for acc in kern.accumulators:
        if acc.walk is not None:
            wide.discard(acc.buffer)
    for r in kern.roots:
        if r.kind == "accum" and r not in summed:
            wide.discard(plan.buffer(r.var))
    return wide


class AccumulateEmitter:
    """The sum accumulations of `_Emitter` (codegen/cpu.py), which provides `ev`, `put`,
    `index`, `term`, `aname`, `comment`, `sum_name`, `pending`, `eqns`."""

    # -- sum accumulations (see passes.schedule_cpu) ----------------------------

    def carries(self, acc: Accumulator) -> list[str]:
        """The registers of a carried walk: `c23_d` holds, between iterations, the partial
        sum of the element d steps after the one just stored."""
        assert acc.walk is not None
        num = self.num[id(acc.buffer)]
        return [f"c{num}_{d}" for d in range(1, acc.walk.depth + 1)]

    def walk_index(self, acc: Accumulator, walked: str, rows: bool = True) -> str:
        """An index into a walked array: `walked` along the walked dim, and the roots' common
        index along the others (`rows`) or all of them (`:`)."""
        assert acc.walk is not None
        parts = [self.term(t)[0] if rows else ":" for t in acc.roots[0].target]
        parts[acc.walk.dim] = walked
        return ", ".join(parts)

    def fills(self, acc: Accumulator, before: bool | None) -> list[str]:
        """Zeros for the elements no store of the walk writes: those before the loop's first
        (`before`), after its last, or all (None: whole slabs before the kernel)."""
        w = acc.walk
        assert w is not None
        size = acc.buffer.shape[w.dim]
        zero = literal(0, acc.buffer.dtype)
        return [f"{self.aname(acc.buffer)}[{self.walk_index(acc, walked, before is not None)}]"
                f" = {zero}"
                for lo, hi in w.fill if before is None or (lo == 0) == before
                for walked in [f"{lo if lo else ''}:{hi if hi < size else ''}"]]

    def walk_start(self, acc: Accumulator, level: int) -> None:
        """Before a carried walk's loop: the registers start at zero; elements before the
        first one it stores are zeroed."""
        zero = literal(0, acc.buffer.dtype)
        self.put(level, [f"{c} = {zero}" for c in self.carries(acc)]
                 + self.fills(acc, before=True))

    def walk_end(self, acc: Accumulator, level: int) -> None:
        """After a carried walk's loop: the elements still carried, and zeros after them."""
        w, loop = acc.walk, acc.loop
        assert w is not None and loop is not None
        name = self.aname(acc.buffer)
        last = w.base + w.step * (loop.extent - 1)
        self.put(level, [f"{name}[{self.walk_index(acc, str(last + w.step * d))}] = {c}"
                         for d, c in enumerate(self.carries(acc), 1)]
                 + self.fills(acc, before=False))

    def accumulate(self, r: Root, acc: Accumulator, level: int) -> None:
        """A root of a sum accumulation: its contribution is computed here, and the last
        root of the accumulation writes them all: one `+=` per distinct index; walked, the
        first contribution to an element with `=` instead; carried, one plain store of the
        completed element and the registers shifted by one."""
        e = self.eqns[r.eqn]
        self.pending[r], _ = self.ev(e.inputs[0], r.terms)
        if r is not acc.roots[-1]:
            return
        code = {x: self.pending.pop(x) for x in acc.roots}
        lines: list[Any] = [self.comment(x.eqn) for x in acc.roots]
        name = self.sum_name(acc.buffer)
        w = acc.walk
        if w is None or not w.carried:
            for target, roots in acc.targets:
                idx, _ = self.index(target)
                op = "=" if w is not None and w.lags[roots[0]] == w.depth else "+="
                lines.append(f"{name}[{idx}] {op} {' + '.join(code[x] for x in roots)}")
            self.put(level, lines)
            return
        regs = self.carries(acc)
        by_lag: list[list[str]] = [[] for _ in range(w.depth + 1)]
        for x in acc.roots:
            by_lag[w.lags[x]].append(code[x])
        now, _ = self.term(Term(w.base, w.step, w.axis))
        lines.append(f"{name}[{self.walk_index(acc, now)}] = "
                     + " + ".join(regs[:1] + by_lag[0]))
        for d in range(1, w.depth + 1):
            lines.append(f"{regs[d - 1]} = " + " + ".join(regs[d:d + 1] + by_lag[d]))
        self.put(level, lines)
