"""The CUDA schedule of a lowered program (ir/loops.py): which loops run on the grid, and how
their accumulations combine across threads.

`schedule_cuda(program)` marks, in place (and in the programs control steps call):

- `For.parallel` on a kernel's top-level loop whose iterations may run on different threads:
  every store and scan writes an index that walks the loop (distinct per iteration), no scan
  runs along it, and every accumulation into elements that iterations share is a sum of a
  dtype `cuda.atomic.add` takes. codegen/cuda.py prints it as a grid-stride loop; the other
  loops of the kernel run inside each thread. A top-level loop left serial runs on one thread
  (a max/min/prod/argmax over the whole loop, a boolean or complex sum, a scan along it):
  correct, not fast.
- `Accumulate.atomic` on the sums of a parallel loop that iterations share: "block" for a
  one-element target (a reduction over the whole domain: each thread sums into a register,
  the block sums its threads' registers by a tree in shared memory, and one atomic add per
  block), "element" for the others (a scatter: one atomic add per contribution).
"""
from __future__ import annotations

from adjit.ir.loops import (
    Accumulate,
    Affine,
    Alloc,
    ArgAccumulate,
    Const,
    ControlStep,
    Expr,
    For,
    Idx,
    LoopKernel,
    Program,
    Scan,
    Stmt,
    Store,
)

ATOMIC_DTYPES = {"f32", "f64", "i32", "i64"}  # what cuda.atomic.add takes


def schedule_cuda(program: Program) -> Program:
    dtypes = {b.name: b.dtype for b in program.inputs}
    dtypes.update({b.name: b.dtype for b, _ in program.consts})
    dtypes.update({s.buf: s.dtype for s in program.steps if isinstance(s, Alloc)})
    for step in program.steps:
        if isinstance(step, LoopKernel):
            for s in step.body:
                if isinstance(s, For) and parallel_ok(s, dtypes):
                    s.parallel = True
                    for a in statements(s.body):
                        if isinstance(a, Accumulate) and a.index is not None \
                                and not walks(a.index, s.axis):
                            a.atomic = "block" if constant(a.index) else "element"
        elif isinstance(step, ControlStep):
            for sub in step.calls.values():
                schedule_cuda(sub)
    return program


def statements(body: list[Stmt]) -> list[Stmt]:
    """`body`'s statements and those of its loops, in order."""
    out: list[Stmt] = []
    for s in body:
        out.append(s)
        if isinstance(s, For):
            out.extend(statements(s.body))
    return out


def walks(index: tuple[Expr, ...] | None, axis: int) -> bool:
    """Whether an index takes a different value at every iteration of loop `axis`."""
    return index is not None and any(
        (isinstance(i, Idx) and i.axis == axis)
        or (isinstance(i, Affine) and isinstance(i.base, Idx) and i.base.axis == axis
            and i.step != 0) for i in index)


def constant(index: tuple[Expr, ...] | None) -> bool:
    return index is not None and all(isinstance(i, Const) for i in index)


def parallel_ok(loop: For, dtypes: dict[str, str]) -> bool:
    for s in statements(loop.body):
        if isinstance(s, Scan) and s.axis == loop.axis:
            return False
        if isinstance(s, (Store, Scan)) and not walks(s.index, loop.axis):
            return False
        if isinstance(s, (Accumulate, ArgAccumulate)) and s.index is not None \
                and not walks(s.index, loop.axis):
            if not (isinstance(s, Accumulate) and s.op == "sum"
                    and dtypes[s.buf] in ATOMIC_DTYPES):
                return False
    return True
