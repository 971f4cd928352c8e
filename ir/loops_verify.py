"""Walking and verifying the loop IR (ir/loops.py): the sub-expressions of an expression,
the expressions a statement reads, and `verify`, which checks that a program only reads what
exists where it reads it."""
from __future__ import annotations

from collections.abc import Iterator

from .errors import CodegenError
from .loops import (
    Add,
    Affine,
    Alloc,
    Apply,
    ArgAccumulate,
    Accumulate,
    CallStep,
    Cast,
    ControlStep,
    Convert,
    Expr,
    Fill,
    For,
    Idx,
    Init,
    Let,
    Load,
    Local,
    Program,
    Scan,
    Set,
    Span,
    Stmt,
    Store,
)


def exprs(e: Expr) -> Iterator[Expr]:
    """`e` and its sub-expressions."""
    yield e
    if isinstance(e, Load):
        for i in e.index:
            yield from exprs(i)
    elif isinstance(e, Affine):
        yield from exprs(e.base)
    elif isinstance(e, Cast):
        yield from exprs(e.x)
    elif isinstance(e, (Apply, Add)):
        for a in e.args:
            yield from exprs(a)


def stmt_exprs(s: Stmt) -> Iterator[Expr]:
    """The expressions statement `s` reads (not those of a loop's body)."""
    if isinstance(s, (Let, Set, Store, Accumulate, ArgAccumulate, Scan)):
        yield s.expr
    if isinstance(s, Scan) and s.coef is not None:
        yield s.coef
    for index in (getattr(s, "index", None), getattr(s, "prev", None)):
        if index:
            yield from (i for i in index if not isinstance(i, Span))
    if isinstance(s, ArgAccumulate):
        yield s.position


def verify(program: Program) -> None:
    """Every buffer read or written exists when the step runs, every local is defined in an
    enclosing scope before it is read (or, with `locals_live`, at the top of an earlier
    step), and every loop index read is of an enclosing loop."""
    known = {b.name for b in program.inputs} | {b.name for b, _ in program.consts}
    live: set[str] = set(program.scalars)  # locals later steps read (`locals_live`)

    def reads(top: Expr, defined: set[str], axes: set[tuple[str, int]], where: str) -> None:
        for e in exprs(top):
            if isinstance(e, Load) and e.buf not in known:
                raise CodegenError(f"{where}: reads buffer {e.buf} before it exists")
            if isinstance(e, Local) and e.name not in defined:
                raise CodegenError(f"{where}: reads local {e.name} before it is set")
            if isinstance(e, Idx) and (e.var, e.axis) not in axes:
                raise CodegenError(f"{where}: reads {e.var}{e.axis} outside its loop")

    def check(body: list[Stmt], defined: set[str], axes: set[tuple[str, int]],
              where: str) -> None:
        for s in body:
            for top in stmt_exprs(s):
                reads(top, defined, axes, where)
            if isinstance(s, For):
                if (s.var, s.axis) in axes:
                    raise CodegenError(f"{where}: loop {s.var}{s.axis} nested in itself")
                if s.parts and ("c", s.axis) not in axes:
                    raise CodegenError(f"{where}: part of a chunk loop c{s.axis} not open")
                check(s.body, set(defined), axes | {(s.var, s.axis)}, where)
            elif isinstance(s, (Let, Set, Init)):
                defined.add(s.name)
                if isinstance(s, Init) and s.op in ("argmax", "argmin"):
                    defined.add(s.name + "_best")
            elif isinstance(s, (Store, Scan, Fill)) or (
                    isinstance(s, (Accumulate, ArgAccumulate)) and s.index is not None):
                if s.buf not in known:
                    raise CodegenError(f"{where}: writes buffer {s.buf}, never allocated")
            elif isinstance(s, (Accumulate, ArgAccumulate)) and s.buf not in defined:
                raise CodegenError(f"{where}: accumulates into {s.buf} before its Init")

    for step in program.steps:
        if isinstance(step, Alloc):
            known.add(step.buf)
        elif isinstance(step, Convert):
            if step.src not in known:
                raise CodegenError(f"convert: reads {step.src} before it exists")
            known.add(step.buf)
        elif isinstance(step, (CallStep, ControlStep)):
            if isinstance(step, ControlStep):
                for sub in step.calls.values():
                    verify(sub)
            for r in step.reads:
                if isinstance(r, str) and r not in known:
                    raise CodegenError(f"{step.eqn.prim}: reads {r} before it exists")
                if not isinstance(r, str):
                    reads(r, set(live), set(), step.eqn.prim)
            known.update(step.writes)
            if program.locals_live:
                live.update(step.writes)
        else:
            known.update(t.buf for t in step.temps)
            defined = set(live)
            check(step.body, defined, set(), f"kernel {step.name}")
            if program.locals_live:
                live.update(defined)
    starts = program.starts
    if starts and (starts[0] != 0 or starts[-1] > len(program.steps)
                   or any(a > b for a, b in zip(starts, starts[1:], strict=False))):
        raise CodegenError(f"program {program.name}: kernel starts {starts} out of order "
                           f"for {len(program.steps)} steps (a pass inserted steps?)")
    for o in program.outputs:
        if isinstance(o, str) and o not in known:
            raise CodegenError(f"program {program.name} returns {o}, which no step writes")
        if not isinstance(o, str):
            reads(o, live, set(), f"program {program.name}")
