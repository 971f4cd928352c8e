"""The CPU schedule of a kernel plan: sum accumulators.

`schedule_cpu(plan)` adds to the loop kernels of a plan made by passes/fuse.py a decision that
serves a CPU's caches and vectorizer, and that another target does not want (CUDA adds with
atomics). It is made on the plan, where the index algebra of the roots (`Term`s) is; the
CPU's other decisions are passes over the loop IR (codegen/cpu_scratch.py, cpu_passes.py).

- Sum accumulations into one array from one loop body (an `Accumulator`) add the
  contributions to one index together before one `+=`. Where their indices walk a dimension
  of the array with one loop, at constant offsets (a `Walk`: the unslices of shifted slices),
  no element is read back: along the innermost loop, the partial sums of the elements ahead
  are carried in registers and each element is stored once (Rosenbrock's gradient
  `unslice(a, 1) + unslice(b, 0)` is `g[i] = carry + b; carry = a` in the forward loop, into
  np.empty, with `g[n-1] = carry` after it); along an outer loop, the contribution that
  reaches an element first is stored with `=` and the others add to them. Elements no store
  reaches are zeroed explicitly, or the array is allocated zeroed.

The CPU code generator (codegen/cpu.py) schedules the plans it prints (idempotent, the plans
of control flow's sub-graphs too), so a plan printed after code generation shows it.
"""
from __future__ import annotations

from dataclasses import dataclass

from adjit.ir.core import Var
from adjit.ir.index import Term
from adjit.passes.plan import SUMS, Kernel, KernelPlan, Loop, Root

MAX_CARRY = 8  # partial sums an accumulator carries in registers across iterations, at most


def schedule_cpu(plan: KernelPlan) -> KernelPlan:
    """Add sum accumulators to `plan`'s loop kernels (in place, once), and to the plans of
    the functions its control kernels call."""
    if getattr(plan, "scheduled", None) == "cpu":
        return plan
    plan.scheduled = "cpu"
    sched = _CpuSchedule(plan)
    for kern in plan.kernels:
        if kern.kind == "loop":
            sched.plan_accumulators(kern)
        for f in kern.calls.values():
            schedule_cpu(f.plan)
    return plan


@dataclass(eq=False)
class Walk:
    """Sum-accumulation roots whose indices walk dimension `dim` of their array in step with
    loop `axis`: at index i of that loop, root r adds to element `base + step * (i + lags[r])`
    of `dim`, at one index of the other dims that every root shares and that the other loops
    around the roots pick (so no two iterations of those loops meet at an element).

    Element `base + step * j` then gets its first contribution at iteration `j - depth` and
    its last at iteration j, so no element needs to be read back:

    - `carried` (the walked loop is the one around the roots): the element is complete after
      iteration j and is stored once, with `=`; the partial sums of the `depth` elements after
      it are carried in registers (first-order recurrences, which LLVM vectorizes). They
      start at zero before the loop; those still carried after its last iteration are stored
      after it.
    - otherwise (an outer loop, or more than MAX_CARRY lags): the contributions of lag
      `depth` are the first to their element and are stored with `=`; the others add to them.

    `fill`: the ranges [lo, hi) of `dim` that no such store writes, zeroed explicitly: per row
    around the loop when carried, else once before the kernel's loops (empty when the array
    is allocated zeroed instead)."""

    dim: int
    axis: int
    base: int
    step: int
    lags: dict[Root, int]
    depth: int
    carried: bool
    fill: tuple[tuple[int, int], ...] = ()


@dataclass(eq=False)
class Accumulator:
    """The sum-accumulation roots (`SUMS`, and the `add`s merged into them) of one loop body
    (`loop`; None outside loops) that write one array, `buffer`.

    Roots that add at the same index are summed first and added with one `+=` (`targets`:
    each distinct index with its roots, in order). With a `walk`, no element is read back.
    `zero`: the array must be allocated zeroed (otherwise the stores and the fills of the
    walk write every element)."""

    buffer: Var
    loop: Loop | None
    roots: list[Root]
    targets: list[tuple[tuple[Term, ...], list[Root]]]
    walk: Walk | None = None
    zero: bool = True



class _CpuSchedule:
    def __init__(self, plan: KernelPlan) -> None:
        self.info = plan.info
        self.eqns = plan.graph.eqns
        self.stored = plan.stored
        self.buffer = plan.buffer

    def plan_accumulators(self, kern: Kernel) -> None:
        """Group the sum-accumulation roots of `kern` by array and loop body (see
        `Accumulator`); find the walk of an array whose roots all sit in one loop body."""
        groups: dict[Var, dict[Loop | None, list[Root]]] = {}
        others: set[Var] = set()  # arrays that other accumulations also write
        for r in kern.roots:
            if r.kind != "accum":
                continue
            buf = self.buffer(r.var)
            x = self.eqns[r.eqn].inputs[0]
            if self.eqns[r.eqn].prim not in SUMS or x.dtype == "bool" or x.dtype != buf.dtype:
                others.add(buf)
                continue
            loop = r.chain[-1] if r.chain else None
            groups.setdefault(buf, {}).setdefault(loop, []).append(r)
        for buf, loops in groups.items():
            for loop, roots in loops.items():
                body = loop.items if loop is not None else kern.items
                roots.sort(key=body.index)
                targets: dict[tuple[Term, ...], list[Root]] = {}
                for r in roots:
                    targets.setdefault(r.target, []).append(r)
                acc = Accumulator(buf, loop, roots, list(targets.items()))
                if loop is not None and len(loops) == 1 and buf not in others:
                    acc.walk, full = self.find_walk(buf, roots)
                    acc.zero = not full
                kern.accumulators.append(acc)

    @staticmethod
    def find_walk(buf: Var, roots: list[Root]) -> tuple[Walk | None, bool]:
        """How the roots of one loop body into `buf` walk it (see `Walk`; the innermost loop
        first, None where none fits), and whether the walk's stores and fills then write
        every element of `buf`."""
        chain = roots[0].chain
        extents = {lp.axis: lp.extent for lp in chain}
        for loop in reversed(chain):
            axis = loop.axis
            key = None
            starts: dict[Root, int] = {}
            for r in roots:
                dims = [d for d, t in enumerate(r.target) if t.axis == axis]
                if len(dims) != 1 or any(t.data is not None for t in r.target):
                    break
                dim = dims[0]
                here = (dim, r.target[dim].step, r.target[:dim] + r.target[dim + 1:])
                if key not in (None, here):
                    break
                key = here
                starts[r] = r.target[dim].start
            else:
                assert key is not None
                dim, step, rest = key
                # every other loop picks the row: no two iterations add to one element
                outer = [t.axis for t in rest if t.axis is not None]
                if set(outer) | {axis} != set(extents) or loop.extent < 1:
                    continue
                base = min(starts.values()) if step > 0 else max(starts.values())
                lags = {r: divmod(start - base, step) for r, start in starts.items()}
                if any(rem for _, rem in lags.values()):
                    continue
                depth = max(lag for lag, _ in lags.values())
                carried = loop is chain[-1] and depth <= MAX_CARRY
                # the stores cover [lo, hi) of `dim`; the other dims fully when each other
                # loop spans its dim (and size-1 dims are read at 0)
                ends = (base + step * (0 if carried else depth),
                        base + step * (loop.extent + depth - 1))
                lo, hi = min(ends), max(ends) + 1
                full = abs(step) == 1 and len(set(outer)) == len(outer) and all(
                    (t.is_const and d == 1) or (t.axis is not None and extents[t.axis] == d)
                    for t, d in zip(rest, buf.shape[:dim] + buf.shape[dim + 1:], strict=True))
                fill = tuple((a, b) for a, b in ((0, lo), (hi, buf.shape[dim])) if a < b)
                return Walk(dim, axis, base, step, {r: lag for r, (lag, _) in lags.items()},
                            depth, carried, fill if full else ()), full
        return None, False

