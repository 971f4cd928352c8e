"""Sum accumulations into arrays: a CPU scheduling pass over the loop IR (ir/loops.py).

The target-neutral lowering writes one `a[index] += value` per accumulation (an unslice, a
scatter_add, a sum over outer axes), into an array filled with zeros first: what CUDA's
atomics want. On a CPU, `accumulate_sums(program)` rewrites the sums into one array from one
loop body (an accumulator):

- Contributions to the same index are added together (`Add`) and accumulated once.
- Where their indices walk a dimension of the array with one loop, at constant offsets (a
  *walk*: the unslices of shifted slices), no element is read back. Along the innermost loop,
  the partial sums of the elements ahead are carried in locals (`Set`: `c24_1`) and each
  element is stored once (Rosenbrock's gradient `unslice(a, 1) + unslice(b, 0)` is `g[i] =
  c + b; c = a` in the forward loop, into np.empty, with `g[n-1] = c` after it); along an
  outer loop (or with more than MAX_CARRY lags), the contribution that reaches an element
  first is stored and the others add to it. Elements no store reaches are zeroed (`Fill`),
  or the array stays zeroed when the stores miss some.
- float32 arrays that a sum with no bound on its terms per element accumulates into (a
  reduce_sum over outer axes, a scatter_add) accumulate in float64 (`a3_w`) and are rounded
  once after the kernel (a `Convert` step): the error does not grow with the number of terms,
  as numpy's pairwise sum. Walked arrays (a few terms per element, each stored once) and
  arrays a max/min/prod also accumulates into keep their dtype.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from adjit.ir.loops import (
    Accumulate,
    Add,
    Affine,
    Alloc,
    Comment,
    Const,
    Convert,
    Expr,
    Fill,
    For,
    Idx,
    Local,
    LoopKernel,
    Program,
    Set,
    Span,
    Stmt,
    Store,
)
from adjit.ir.primitive import INDEX, PRIMS, REDUCTION
from adjit.passes.plan import SUMS

MAX_CARRY = 8  # partial sums an accumulator carries in locals across iterations, at most


def sum_walks(program: Program) -> list[dict[str, _Walk | None]]:
    """For each loop kernel of a program not yet rewritten, the walk of each array it sums
    into (None: none): what `accumulate_sums` would do, for inspection."""
    return [_Sums(step, allocs).walks() for step, allocs in _kernels(program)]


def _kernels(program: Program) -> Iterator[tuple[LoopKernel, dict[str, Alloc]]]:
    """The loop kernels of `program`, each with the buffers allocated before it, by name."""
    allocs: dict[str, Alloc] = {}
    for step in list(program.steps):
        if isinstance(step, Alloc):
            allocs[step.buf] = step
        elif isinstance(step, LoopKernel):
            yield step, allocs


def accumulate_sums(program: Program) -> Program:
    """Rewrite the sum accumulations of every loop kernel of `program` (in place)."""
    after = {id(k): _Sums(k, allocs).run() for k, allocs in _kernels(program)}
    steps: list[Any] = []
    moved = []  # the new position of each step
    for step in program.steps:
        moved.append(len(steps))
        steps += [step, *after.get(id(step), ())]
    moved.append(len(steps))
    program.steps[:] = steps
    program.starts[:] = [moved[k] for k in program.starts]
    return program


@dataclass(eq=False)
class _Group:
    """The sum accumulations into one array from one loop body (`body`, inside `loops`)."""

    buf: str
    body: list[Stmt]
    loops: tuple[For, ...]
    roots: list[Accumulate]


def _axis(i: Expr) -> tuple[int, int, int] | None:
    """(axis, start, step) of an index that is a loop index's affine function."""
    if isinstance(i, Idx) and i.var == "i":
        return i.axis, 0, 1
    if isinstance(i, Affine) and isinstance(i.base, Idx) and i.base.var == "i":
        return i.base.axis, i.start, i.step
    return None


def _unbounded(e: Any) -> bool:
    """A sum with no bound on its terms per element: a sum reduction, or an accumulation at
    data-dependent places (an index primitive; an unslice adds each element once)."""
    prim = PRIMS[e.prim]
    return prim.lowers.op == "sum" and (prim.lowers.how == REDUCTION or prim.kind == INDEX)


def _sum(terms: list[Expr]) -> Expr:
    return terms[0] if len(terms) == 1 else Add(tuple(terms))


class _Sums:
    def __init__(self, kernel: LoopKernel, allocs: dict[str, Alloc]) -> None:
        self.kernel = kernel
        self.allocs = allocs
        self.groups: dict[str, list[_Group]] = {}
        self.others: set[str] = set()  # arrays other accumulations also write
        self.find(kernel.body, ())

    def find(self, body: list[Stmt], loops: tuple[For, ...]) -> None:
        for s in body:
            if isinstance(s, For):
                self.find(s.body, (*loops, s))
            elif isinstance(s, Accumulate) and s.index is not None and s.buf in self.allocs:
                e = s.eqn
                if s.op != "sum" or e is None or e.prim not in SUMS \
                        or e.inputs[0].dtype != self.allocs[s.buf].dtype:
                    self.others.add(s.buf)
                    continue
                groups = self.groups.setdefault(s.buf, [])
                if not groups or groups[-1].body is not body:
                    groups.append(_Group(s.buf, body, loops, []))
                groups[-1].roots.append(s)

    def walks(self) -> dict[str, _Walk | None]:
        """Each summed array's walk (None: none)."""
        return {buf: self.find_walk(groups[0], self.allocs[buf])
                if len(groups) == 1 and buf not in self.others and groups[0].loops else None
                for buf, groups in self.groups.items()}

    def run(self) -> list[Stmt]:
        """Rewrite the groups; the steps to run after the kernel."""
        wide: list[str] = []
        prologue: list[Stmt] = []
        walks = self.walks()
        for buf, groups in self.groups.items():
            alloc = self.allocs[buf]
            walk = walks[buf]
            if walk is not None:
                alloc.fill = 0 if not walk.full else None
                if not walk.carried and walk.full:
                    prologue += self.fills(groups[0], walk, before=None)
            elif alloc.dtype == "f32" and buf not in self.others and any(
                    _unbounded(r.eqn) for g in groups for r in g.roots):
                wide.append(buf)
            for g in groups:
                self.rewrite(g, walk, buf + "_w" if buf in wide else buf)
        notes = 0  # (after the kernel's opening comments)
        while notes < len(self.kernel.body) and isinstance(self.kernel.body[notes], Comment):
            notes += 1
        self.kernel.body[notes:notes] = prologue
        after: list[Stmt] = []
        for buf in sorted(wide):  # rounded once, as numpy's sum rounds
            alloc = self.allocs.pop(buf)  # (the dict goes on to the later kernels)
            alloc.buf, alloc.dtype = buf + "_w", "f64"
            self.allocs[alloc.buf] = alloc
            after.append(Convert(buf, buf + "_w", "f32"))
        return after

    # -- walks -------------------------------------------------------------------------------

    def find_walk(self, g: _Group, alloc: Alloc) -> _Walk | None:
        """How the roots walk `alloc`'s array (see `_Walk`; the innermost loop first), or
        None where no loop fits."""
        extents = {lp.axis: lp.extent for lp in g.loops}
        for loop in reversed(g.loops):
            key = None
            starts: list[int] = []
            for r in g.roots:
                assert r.index is not None
                found = [(d, _axis(i)) for d, i in enumerate(r.index)]
                dims = [(d, a) for d, a in found if a is not None and a[0] == loop.axis]
                if len(dims) != 1 or any(a is None and not isinstance(i, Const)
                                         for (_, a), i in zip(found, r.index, strict=True)):
                    break
                dim, (_, start, step) = dims[0]
                here = (dim, step, r.index[:dim] + r.index[dim + 1:])
                if key not in (None, here):
                    break
                key = here
                starts.append(start)
            else:
                assert key is not None
                dim, step, rest = key
                # every other loop picks the row: no two iterations add to one element
                outer = [a[0] for a in map(_axis, rest) if a is not None]
                if set(outer) | {loop.axis} != set(extents) or loop.extent < 1 or step == 0:
                    continue
                base = min(starts) if step > 0 else max(starts)
                lags = [divmod(s - base, step) for s in starts]
                if any(rem for _, rem in lags):
                    continue
                depth = max(lag for lag, _ in lags)
                carried = loop is g.loops[-1] and depth <= MAX_CARRY
                ends = (base + step * (0 if carried else depth),
                        base + step * (loop.extent + depth - 1))
                lo, hi = min(ends), max(ends) + 1
                shape = alloc.shape
                full = abs(step) == 1 and len(set(outer)) == len(outer) and all(
                    (isinstance(i, Const) and d == 1)
                    or (_axis(i) is not None and extents[_axis(i)[0]] == d)
                    for i, d in zip(rest, shape[:dim] + shape[dim + 1:], strict=True))
                fill = tuple((a, b) for a, b in ((0, lo), (hi, shape[dim])) if a < b)
                return _Walk(dim, loop, base, step, [lag for lag, _ in lags], depth, carried,
                             fill if full else (), full)
        return None

    def fills(self, g: _Group, w: _Walk, before: bool | None) -> list[Stmt]:
        """Zeros for the elements no store of the walk writes: those before the loop's first
        (`before`), after its last, or all (None: whole slabs before the kernel's loops)."""
        size = self.allocs[g.buf].shape[w.dim]
        zero = Const(0, self.allocs[g.buf].dtype)
        return [Fill(g.buf, self.walk_index(g, w, Span(lo or None, hi if hi < size else None),
                                            before is not None), zero)
                for lo, hi in w.fill if before is None or (lo == 0) == before]

    @staticmethod
    def walk_index(g: _Group, w: _Walk, walked: Expr | Span, rows: bool = True
                   ) -> tuple[Expr | Span, ...]:
        """An index into a walked array: `walked` along the walked dim, and the roots' common
        index along the others (`rows`) or all of them (a whole slab)."""
        index = g.roots[0].index
        assert index is not None
        parts: list[Expr | Span] = [i if rows else Span(None, None) for i in index]
        parts[w.dim] = walked
        return tuple(parts)

    # -- rewriting ---------------------------------------------------------------------------

    def rewrite(self, g: _Group, w: _Walk | None, name: str) -> None:
        """The group's accumulations, at the place of its last: one per distinct index;
        walked, the first contribution to an element stored instead; carried, one store of
        the completed element and the registers shifted by one."""
        out: list[Stmt] = [Comment(r.note) for r in g.roots if r.note]
        if w is None or not w.carried:
            targets: dict[Any, list[int]] = {}
            for k, r in enumerate(g.roots):
                targets.setdefault(r.index, []).append(k)
            for index, ks in targets.items():
                value = _sum([g.roots[k].expr for k in ks])
                if w is not None and w.lags[ks[0]] == w.depth:
                    out.append(Store(name, index, value))
                else:
                    out.append(Accumulate("sum", name, index, value))
        else:
            regs = [f"c{g.buf[1:]}_{d}" for d in range(1, w.depth + 1)]
            by_lag: list[list[Expr]] = [[] for _ in range(w.depth + 1)]
            for k, r in enumerate(g.roots):
                by_lag[w.lags[k]].append(r.expr)
            now = Idx(w.loop.axis) if (w.base, w.step) == (0, 1) \
                else Affine(Idx(w.loop.axis), w.base, w.step)
            out.append(Store(name, self.walk_index(g, w, now),
                             _sum([Local(c) for c in regs[:1]] + by_lag[0])))
            for d in range(1, w.depth + 1):
                out.append(Set(regs[d - 1], _sum([Local(c) for c in regs[d:d + 1]]
                                                 + by_lag[d])))
            self.carry(g, w, regs)
        at = g.body.index(g.roots[-1])
        g.body[at:at + 1] = out
        for r in g.roots[:-1]:
            g.body.remove(r)

    def carry(self, g: _Group, w: _Walk, regs: list[str]) -> None:
        """Around a carried walk's loop: the registers start at zero and elements before the
        first one it stores are zeroed; after it, the elements still carried are stored, and
        zeros after them."""
        parent = g.loops[-2].body if len(g.loops) > 1 else self.kernel.body
        zero = Const(0, self.allocs[g.buf].dtype)
        last = w.base + w.step * (w.loop.extent - 1)
        at = parent.index(w.loop)
        parent[at + 1:at + 1] = [Store(g.buf, self.walk_index(g, w, Const(last + w.step * d,
                                                                            "i64")), Local(c))
                                 for d, c in enumerate(regs, 1)] + self.fills(g, w, False)
        parent[at:at] = [Set(c, zero) for c in regs] + self.fills(g, w, True)


@dataclass(eq=False)
class _Walk:
    """Roots whose indices walk dimension `dim` of their array in step with `loop`: at index
    i of that loop, root k adds to element `base + step * (i + lags[k])` of `dim`, at one
    index of the other dims that every root shares and that the other loops around pick (so
    no two iterations of those loops meet at an element). Element `base + step * j` then
    gets its first contribution at iteration `j - depth` and its last at iteration j.
    `carried`: `loop` is the innermost around the roots (at most MAX_CARRY lags); `fill`:
    the ranges [lo, hi) of `dim` no store writes, zeroed explicitly where `full` (the stores
    and fills write every element; otherwise the array stays zeroed)."""

    dim: int
    loop: For
    base: int
    step: int
    lags: list[int]
    depth: int
    carried: bool
    fill: tuple[tuple[int, int], ...]
    full: bool
