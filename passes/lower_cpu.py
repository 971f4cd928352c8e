"""Lowering the CPU schedule of a plan (passes/schedule_cpu.py) to the loop IR: a mixin of
passes/lower.py's lowerer, active with `Layout(cpu=True)`.

- An `Accumulator` adds the contributions of its roots to one index together (`Add`) and
  accumulates them once; with a `Walk`, no element is read back: the first contribution to
  an element is a `Store`; carried along the innermost loop, the partial sums of the
  elements ahead are locals assigned each iteration (`Set`: `c23_1`), zeroed before the loop
  and stored after it; the elements no store reaches are zeroed (`Fill`).
- float32 arrays that a sum with no bound on its terms per element accumulates into are
  accumulated in float64 (`a3_w`) and rounded once after the kernel (a `Convert` step), as
  registers are (passes/lower.py `wide`): the error does not grow with the number of terms.
"""
from __future__ import annotations

from typing import Any

from adjit.ir.core import Var
from adjit.ir.index import Term
from adjit.ir.loops import (
    Accumulate,
    Add,
    Comment,
    Const,
    Convert,
    Expr,
    Fill,
    Local,
    Set,
    Span,
    Stmt,
    Store,
)
from adjit.ir.primitive import INDEX, PRIMS, REDUCTION
from adjit.passes.plan import Kernel, KernelPlan, Loop, Root, is_sum
from adjit.passes.schedule_cpu import Accumulator


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


def _sum(terms: list[Expr]) -> Expr:
    return terms[0] if len(terms) == 1 else Add(tuple(terms))


class CpuScheduleLowering:
    """The CPU schedule's part of `_Lowerer` (passes/lower.py), which provides `layout`,
    `plan`, `eqns`, `num`, `kernel`, `loops`, `ev`, `index`, `term`, `put`, `buf`, `note`,
    `shape`."""

    def cpu_init(self) -> None:
        self.accum: dict[Root, Accumulator] = {}  # the kernel's roots' accumulators
        self.wide: set[Var] = set()  # its float32 sums kept in float64 arrays
        self.unzeroed: set[Var] = set()  # arrays its walks write whole: not zeroed first
        self.pending: dict[Root, Expr] = {}  # contributions, until the last root's turn

    def cpu_kernel(self, kern: Kernel) -> None:
        cpu = self.layout.cpu
        self.accum = {r: acc for acc in kern.accumulators for r in acc.roots} if cpu else {}
        self.wide = wide_buffers(kern, self.eqns, self.plan) if cpu else set()
        self.unzeroed = {acc.buffer for acc in kern.accumulators if not acc.zero} if cpu \
            else set()

    def sum_buf(self, buf: Var) -> str:
        """The array a sum accumulates into: `a3_w` (float64) for a float32 `a3` in `wide`."""
        return self.buf(buf) + ("_w" if buf in self.wide else "")

    def kernel_prologue(self, kern: Kernel) -> list[Stmt]:
        """Notes on the sums done in place, and zeros for the slabs of an outer-loop walk
        that no store writes."""
        if not self.layout.cpu:
            return []
        out: list[Stmt] = []
        for i in kern.members:  # adds done by accumulating into one shared array
            e = self.eqns[i]
            if is_sum(e) and self.plan.info[e.out].kind == "array":
                out.append(Comment(f"{self.note(i)}   (summed in place in {self.buf(e.out)})"))
        for acc in kern.accumulators:
            if acc.walk is not None and not acc.walk.carried:
                out += self.fills(acc, before=None)
        return out

    def kernel_epilogue(self) -> list[Convert]:
        """float32 sums kept in float64 arrays, rounded once (as numpy's sum rounds)."""
        return [Convert(self.buf(b), self.sum_buf(b), "f32")
                for b in sorted(self.wide, key=self.buf)]

    # -- sum accumulations -------------------------------------------------------------------

    def carries(self, acc: Accumulator) -> list[str]:
        """The registers of a carried walk: `c23_d` holds, between iterations, the partial
        sum of the element d steps after the one just stored."""
        assert acc.walk is not None
        num = self.num[id(acc.buffer)]
        return [f"c{num}_{d}" for d in range(1, acc.walk.depth + 1)]

    def walk_index(self, acc: Accumulator, walked: Expr | Span, rows: bool = True
                   ) -> tuple[Expr | Span, ...]:
        """An index into a walked array: `walked` along the walked dim, and the roots' common
        index along the others (`rows`) or all of them (a whole slab)."""
        assert acc.walk is not None
        parts: list[Expr | Span] = [self.term(t)[0] if rows else Span(None, None)
                                    for t in acc.roots[0].target]
        parts[acc.walk.dim] = walked
        return tuple(parts)

    def zero_of(self, acc: Accumulator) -> Const:
        return Const(0, acc.buffer.dtype)

    def fills(self, acc: Accumulator, before: bool | None) -> list[Stmt]:
        """Zeros for the elements no store of the walk writes: those before the loop's first
        (`before`), after its last, or all (None: whole slabs before the kernel)."""
        w = acc.walk
        assert w is not None
        size = acc.buffer.shape[w.dim]
        return [Fill(self.buf(acc.buffer),
                     self.walk_index(acc, Span(lo or None, hi if hi < size else None),
                                     before is not None), self.zero_of(acc))
                for lo, hi in w.fill if before is None or (lo == 0) == before]

    def carried(self, loop: Loop) -> list[Accumulator]:
        assert self.kernel is not None
        if not self.layout.cpu:
            return []
        return [acc for acc in self.kernel.accumulators
                if acc.loop is loop and acc.walk is not None and acc.walk.carried]

    def walks_start(self, loop: Loop, level: int) -> None:
        """Before a carried walk's loop: the registers start at zero; elements before the
        first one it stores are zeroed."""
        for acc in self.carried(loop):
            self.put(level, [Set(c, self.zero_of(acc)) for c in self.carries(acc)]
                     + self.fills(acc, before=True))

    def walks_end(self, loop: Loop, level: int) -> None:
        """After a carried walk's loop: the elements still carried, and zeros after them."""
        for acc in self.carried(loop):
            w = acc.walk
            assert w is not None
            last = w.base + w.step * (loop.extent - 1)
            self.put(level, [Store(self.buf(acc.buffer),
                                   self.walk_index(acc, Const(last + w.step * d, "i64")),
                                   Local(c))
                             for d, c in enumerate(self.carries(acc), 1)]
                     + self.fills(acc, before=False))

    def accumulate(self, r: Root, level: int) -> bool:
        """A root of a sum accumulation (False if `r` is none): its contribution is computed
        here, and the last root of the accumulation writes them all: one accumulation per
        distinct index; walked, the first contribution to an element stored instead;
        carried, one store of the completed element and the registers shifted by one."""
        acc = self.accum.get(r)
        if acc is None:
            return False
        e = self.eqns[r.eqn]
        self.pending[r], _ = self.ev(e.inputs[0], r.terms)
        if r is not acc.roots[-1]:
            return True
        code = {x: self.pending.pop(x) for x in acc.roots}
        out: list[Stmt] = [Comment(self.note(x.eqn)) for x in acc.roots]
        name = self.sum_buf(acc.buffer)
        w = acc.walk
        if w is None or not w.carried:
            for target, roots in acc.targets:
                idx, _ = self.index(target)
                value = _sum([code[x] for x in roots])
                if w is not None and w.lags[roots[0]] == w.depth:
                    out.append(Store(name, idx, value))
                else:
                    out.append(Accumulate("sum", name, idx, value))
            self.put(level, out)
            return True
        regs = self.carries(acc)
        by_lag: list[list[Expr]] = [[] for _ in range(w.depth + 1)]
        for x in acc.roots:
            by_lag[w.lags[x]].append(code[x])
        now, _ = self.term(Term(w.base, w.step, w.axis))
        out.append(Store(name, self.walk_index(acc, now),
                         _sum([Local(c) for c in regs[:1]] + by_lag[0])))
        for d in range(1, w.depth + 1):
            out.append(Set(regs[d - 1], _sum([Local(c) for c in regs[d:d + 1]] + by_lag[d])))
        self.put(level, out)
        return True

