"""The CPU's scheduling passes over a lowered program (ir/loops.py), before codegen/cpu_print.py
prints it: which outermost loops run on threads (cut into chunks), and which innermost loops
are written for LLVM's loop vectorizer.

`parallelize(program)`: a kernel's top-level loop runs on threads (codegen/parallel.py says
when it is worth it) where its iterations are independent: every buffer written in it is
written at one index that walks the loop's axis (so two iterations never meet at an element:
a walk's lagged stores, at two offsets, do not qualify), no scan runs along it, no local is
carried from one iteration to the next (`Set`), the kernel has no temps shared between
iterations, and the registers accumulated across it combine (sum, prod, max, min, or, and;
not argmax). The loop becomes a chunk loop `for parallel ch0 in 0..C` around `for i0 in part
ch0 of C of 0..n`; each chunk reduces into registers of its own, stored in a partial buffer
and combined after the chunk loop in chunk order, so results depend on the (fixed) chunking,
never on the number of threads.

`choose_vector(program, guards)`: an innermost loop whose every statement has a form LLVM's
vectorizer takes is marked `For.vector`, and the printer writes it in those forms: an
elementwise equation's `ScalarCode.vector` template (the inline, branch-free `fm.exp`; with
`guards`, also forms exact on part of their domain, such as sin's below 2^20), and a float
sum into a register as `fm.reassoc_add` (an add LLVM may reassociate into per-lane partial
sums). What keeps a loop scalar: a libm call (numba has no vector math library here), `**`,
`//`, `%`, an array read-modify-write, a subscript by a computed value (a gather), a
max/min/prod/boolean reduction, an argmax, a scan. Loops left scalar keep `math.exp` (faster
than the inline one as scalar code) and `+=`.
"""
from __future__ import annotations

from typing import Any

from adjit.codegen import parallel
from adjit.codegen.scalar import scalar_expr
from adjit.ir.loops import (
    Accumulate,
    Affine,
    Alloc,
    Apply,
    ArgAccumulate,
    Comment,
    Const,
    Expr,
    Fill,
    For,
    Idx,
    Init,
    Let,
    Load,
    Local,
    LoopKernel,
    Program,
    Scan,
    Set,
    Stmt,
    Store,
    exprs,
    stmt_exprs,
)
from adjit.ir.primitive import PRIMS, template_calls
from adjit.passes.schedule_cuda import statements, walks

COMBINABLE = ("sum", "prod", "max", "min", "or", "and")

# ---- threads --------------------------------------------------------------------------------


def parallelize(program: Program) -> Program:
    """Put the independent top-level loops of large kernels on threads (in place)."""
    for step in program.steps:
        if isinstance(step, LoopKernel):
            parallelize_kernel(step)
    return program


def parallelize_kernel(kernel: LoopKernel) -> LoopKernel:
    if not parallel.available() or kernel.work < parallel.MIN_WORK or kernel.temps:
        return kernel
    for s in list(kernel.body):
        if isinstance(s, For) and s.var == "i" and s.extent >= 2:
            k = kernel.body.index(s)  # (an earlier rewrite moved it)
            if _independent(s, kernel.body[:k]):
                _chunk(kernel, k)
    return kernel


def _independent(loop: For, before: list[Stmt]) -> bool:
    inits = {s.name for s in before if isinstance(s, Init)}
    inside = {s.name for s in statements(loop.body) if isinstance(s, (Init, Let))}
    written: dict[str, Expr] = {}  # buffer -> the index component that walks the loop
    for s in statements(loop.body):
        if isinstance(s, Set) or (isinstance(s, Scan) and s.axis == loop.axis):
            return False
        if isinstance(s, (Accumulate, ArgAccumulate)) and s.index is None:
            if s.buf in inside:
                continue
            if isinstance(s, ArgAccumulate) or s.buf not in inits or s.op not in COMBINABLE:
                return False
            continue
        if isinstance(s, (Store, Scan, Fill, Accumulate, ArgAccumulate)):
            names = [s.buf] + ([s.best] if isinstance(s, ArgAccumulate) else [])
            walking = [i for i in s.index if walks((i,), loop.axis)] \
                if not isinstance(s, Fill) else []
            if len(walking) != 1:
                return False
            for n in names:
                if written.setdefault(n, walking[0]) != walking[0]:
                    return False  # two iterations may meet at an element
    return True


def _chunk(kernel: LoopKernel, k: int) -> None:
    """Rewrite top-level loop `k` of `kernel` as chunks on threads (see the docstring)."""
    loop = kernel.body[k]
    assert isinstance(loop, For)
    c = parallel.chunks(loop.extent)
    chunk = Idx(loop.axis, "ch")
    accumulated = {s.buf for s in statements(loop.body)
                   if isinstance(s, Accumulate) and s.index is None}
    regs = [s for s in kernel.body[:k] if isinstance(s, Init) and s.name in accumulated]
    for r in regs:
        kernel.body.remove(r)
        kernel.temps.append(Alloc(f"{r.name}_p", (c,), r.dtype))
    k = kernel.body.index(loop)
    part = For(loop.axis, loop.extent, loop.body, parts=c)
    outer = For(loop.axis, c, [*regs, part, *(Store(f"{r.name}_p", (chunk,), Local(r.name))
                                            for r in regs)], parallel=True, var="ch")
    combine: list[Stmt] = []
    for r in regs:  # (a register's Init names the operator its accumulations use)
        combine += [Init(r.name, r.op, r.dtype, r.in_dtype),
                    For(loop.axis, c, [Accumulate(r.op, r.name, None,
                                                  Load(f"{r.name}_p", (chunk,)))], var="ch")]
    kernel.body[k:k + 1] = [outer, *combine]


# ---- vector forms ---------------------------------------------------------------------------

# Calls that numba lowers to vectorizable LLVM code; every `fm.` function is one by its
# contract (a primitive's `ScalarCode.vector` template names them).
_VECTOR_CALLS = {"abs", "math.copysign", "math.fabs", "math.sqrt", "np.floor", "np.float32",
                 "np.float64", "np.int32", "np.int64", "np.bool_"}


def text_vectorizes(code: str) -> bool:
    """Whether LLVM can vectorize a loop of this scalar code (a template's text: its calls
    and operators; subscripts are checked on the IR)."""
    if any(op in code for op in ("**", "//", "%")):
        return False
    return all(f in _VECTOR_CALLS or f.startswith("fm.") for f in template_calls(code))


def vector_form(e: Any, guards: bool) -> bool:
    """Whether equation `e` is written in its vector form in a vector loop: it has one, and
    (with a guard) guards are allowed."""
    sc = PRIMS[e.prim].scalar
    return sc.vector is not None and (sc.guard is None or guards)


def uses_lines(e: Any) -> bool:
    """Whether equation `e` is written as several statements (`ScalarCode.lines`)."""
    return PRIMS[e.prim].scalar.lines is not None and e.out.type.is_real_float


def _eqn_vectorizes(e: Any, guards: bool) -> bool:
    if uses_lines(e):
        return all(text_vectorizes(t) for t in PRIMS[e.prim].scalar.lines("x", "y", "fm.exp"))
    args = [f"x{j}" for j in range(len(e.inputs))]
    return text_vectorizes(scalar_expr(e, args, vector=vector_form(e, guards))[0])


def _plain_index(i: Expr) -> bool:
    """A subscript of loop indices and constants (no value computed in the loop)."""
    if isinstance(i, Affine):
        return _plain_index(i.base)
    return isinstance(i, (Idx, Const))


def _expr_vectorizes(top: Expr, guards: bool, known: dict[int, bool]) -> bool:
    for e in exprs(top):
        if isinstance(e, Load) and not all(_plain_index(i) for i in e.index):
            return False
        if isinstance(e, Apply):
            if id(e.eqn) not in known:  # (an equation recomputed in several loops: once)
                known[id(e.eqn)] = _eqn_vectorizes(e.eqn, guards)
            if not known[id(e.eqn)]:
                return False
    return True


def _stmt_vectorizes(s: Stmt, guards: bool, known: dict[int, bool]) -> bool:
    if isinstance(s, Comment):
        return True
    if isinstance(s, Accumulate):
        if s.index is not None or s.op != "sum":
            return False
    elif isinstance(s, Store):
        if not all(_plain_index(i) for i in s.index):
            return False
    elif not isinstance(s, (Let, Set)):
        return False
    return all(_expr_vectorizes(x, guards, known) for x in stmt_exprs(s))


def choose_vector(program: Program, guards: bool) -> Program:
    """Mark the innermost loops that vectorize (in place)."""
    known: dict[int, bool] = {}  # equation -> whether its form vectorizes
    for step in program.steps:
        if isinstance(step, LoopKernel):
            for s in statements(step.body):
                if isinstance(s, For) and s.var == "i" \
                        and not any(isinstance(b, For) for b in s.body):
                    s.vector = all(_stmt_vectorizes(b, guards, known) for b in s.body)
    return program
