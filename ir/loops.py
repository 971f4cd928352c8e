"""The loop IR: a fused kernel plan lowered to loops, before a target prints it.

`passes/lower.py` turns a `KernelPlan` into a `Program`; a target's printer renders it
(codegen/cuda.py: numba.cuda kernels, or plain serial Python for the interpreter that tests
the lowering). The IR is small and printable (`str(program)`):

- Memory: `Program.inputs`, `Program.consts` and the buffers of `Alloc` steps, each named.
  0-d values that live in memory are one-element buffers of shape (1,) read at index 0.
- Steps, in order: `Alloc` (a buffer, empty or filled with a value), `LoopKernel` (one loop
  nest of the plan: statements, `For` loops), `CallStep` (an equation that is not loops:
  a library kernel of the target where it has one, else its primitive's reference
  implementation on the host), `ControlStep` (cond/while/while_grad calling programs).
- Statements: `Let` (a scalar local), `Init` (a local register set to its reduction's
  identity), `Store`, `Accumulate` (`buf[index] op= value` for op in sum, max, min, prod,
  or, and; into a local register when `index` is None), `ArgAccumulate` (argmax/argmin:
  keeps the best value and its position), `Scan` (a cumulative sum along one loop), `For`.
- Expressions: `Const`, `Idx` (a loop index), `Local`, `Load`, `Affine` (integer index
  arithmetic `start + step * base`), `Apply` (an elementwise equation applied to argument
  expressions: its primitive's scalar template, codegen/scalar.py), `Cast`.

`For.parallel` is a target's decision (a scheduling pass marks it), not the lowering's.

>>> body = [For(0, 4, [Store("y", (Idx(0),), Const(1.0, "f64"))])]
>>> print(LoopKernel("k0", body))
kernel k0:
  for i0 in 0..4:
    y[i0] = 1.0
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from .errors import CodegenError

# ---- expressions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Const:
    value: Any
    dtype: str


@dataclass(frozen=True)
class Idx:
    axis: int


@dataclass(frozen=True)
class Local:
    name: str


@dataclass(frozen=True)
class Load:
    buf: str
    index: tuple[Expr, ...]


@dataclass(frozen=True)
class Affine:
    """start + step * base (an integer index)."""

    base: Expr
    start: int
    step: int


@dataclass(frozen=True, eq=False)
class Apply:
    """Elementwise equation `eqn` applied to `args` (its primitive's template)."""

    eqn: Any
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Cast:
    x: Expr
    dtype: str


Expr = Union[Const, Idx, Local, Load, Affine, Apply, Cast]

def identity(op: str, dtype: str) -> Any:
    """The identity of reduction operator `op` (sum, prod, max, min, argmax, argmin, or,
    and) on `dtype` values, as a Python number: what an accumulation starts from."""
    if op in ("sum", "or"):
        return False if dtype == "bool" else 0
    if op in ("prod", "and"):
        return True if dtype == "bool" else 1
    low = op in ("max", "argmax")
    if dtype == "bool":
        return not low
    if dtype in ("i32", "i64"):
        info = np.iinfo(np.int32 if dtype == "i32" else np.int64)
        return int(info.min if low else info.max)
    return -np.inf if low else np.inf


# ---- statements -----------------------------------------------------------------------------


@dataclass(eq=False)
class Let:
    name: str
    expr: Expr
    note: str = ""


@dataclass(eq=False)
class Init:
    """A local register: `name = identity of op` (argmax/argmin: also `name_best`)."""

    name: str
    op: str
    dtype: str  # of the register (float64 for a float32 sum: see codegen/cpu.py)
    in_dtype: str  # of the values reduced


@dataclass(eq=False)
class Store:
    buf: str
    index: tuple[Expr, ...]
    expr: Expr


@dataclass(eq=False)
class Accumulate:
    """`buf[index] op= expr`; a local register `buf` when `index` is None."""

    op: str
    buf: str
    index: tuple[Expr, ...] | None
    expr: Expr
    note: str = ""
    # how threads that share the element combine (a target's schedule): None, "block" (a
    # register per thread, summed over the block, one atomic per block), "element"
    atomic: str | None = None


@dataclass(eq=False)
class ArgAccumulate:
    """argmax/argmin: where `expr` beats `best[index]` (NaN first, as numpy), `best` takes
    it and `buf[index]` the position `position`. Locals when `index` is None."""

    op: str
    buf: str
    best: str
    index: tuple[Expr, ...] | None
    expr: Expr
    position: Expr
    note: str = ""


@dataclass(eq=False)
class Scan:
    """`buf[index] = expr` at the first iteration of loop `axis`, else
    `buf[prev] op expr` (a running sum or product along that loop)."""

    buf: str
    index: tuple[Expr, ...]
    prev: tuple[Expr, ...]
    axis: int
    expr: Expr
    note: str = ""
    op: str = "sum"  # or "prod", or "linear": buf[index] = coef * buf[prev] + expr
    coef: Expr | None = None


@dataclass(eq=False)
class For:
    axis: int
    extent: int
    body: list[Stmt] = field(default_factory=list)
    parallel: bool = False


Stmt = Union[Let, Init, Store, Accumulate, ArgAccumulate, Scan, For]

# ---- steps ----------------------------------------------------------------------------------


@dataclass(eq=False)
class Alloc:
    buf: str
    shape: tuple[int, ...]
    dtype: str
    fill: Any = None  # None: uninitialised


@dataclass(eq=False)
class LoopKernel:
    name: str
    body: list[Stmt]
    note: str = ""

    def __str__(self) -> str:
        return "\n".join(format_kernel(self))


@dataclass(eq=False)
class CallStep:
    """Equation `eqn` run as one call (a target's library kernel, else its primitive's
    reference implementation on the host): it reads buffers `reads` (a scalar literal
    where the entry is a `Const`) and writes `writes`."""

    eqn: Any
    reads: tuple[str | Const, ...]
    writes: tuple[str, ...]
    note: str = ""


@dataclass(eq=False)
class ControlStep:
    """A `cond`, `while` or `while_grad` (equation `eqn`, kernel `index` of the plan) run by
    the host, calling the programs of its sub-graphs (`calls`, by role: then/else;
    cond/body/body_vjp), whose own kernels run on the target. Reads and writes as a
    `CallStep`. A `while` whose `while_grad` (`partner`) runs the same loop records the
    carried values per iteration (the tape) and the `while_grad` only walks it backwards."""

    eqn: Any
    index: int
    reads: tuple[str | Const, ...]
    writes: tuple[str, ...]
    calls: dict[str, Program]
    partner: int | None = None
    note: str = ""


Step = Union[Alloc, LoopKernel, CallStep, ControlStep]


@dataclass(eq=False)
class Buffer:
    name: str
    shape: tuple[int, ...]  # as held: (1,) for a 0-d value
    dtype: str


@dataclass(eq=False)
class Program:
    name: str
    inputs: list[Buffer]
    consts: list[tuple[Buffer, Any]]  # with their values
    steps: list[Step]
    outputs: list[str | Const]  # a buffer, or a scalar literal
    out_shapes: list[tuple[int, ...]]  # the graph's (0-d outputs are read from (1,) buffers)

    def kernels(self) -> Iterator[LoopKernel]:
        return (s for s in self.steps if isinstance(s, LoopKernel))

    def __str__(self) -> str:
        return "\n".join(self.lines(set()))

    def lines(self, printed: set[int]) -> list[str]:
        """The program's text; the programs its control steps call follow it, each once."""
        ins = ", ".join(f"{b.name}: {b.dtype}{list(b.shape)}" for b in self.inputs)
        lines = [f"program {self.name}({ins}):"]
        called: list[Program] = []
        for b, _ in self.consts:
            lines.append(f"  const {b.name}: {b.dtype}{list(b.shape)}")
        for s in self.steps:
            if isinstance(s, Alloc):
                fill = "" if s.fill is None else f" = {_const_text(s.fill, s.dtype)}"
                lines.append(f"  alloc {s.buf}: {s.dtype}{list(s.shape)}{fill}")
            elif isinstance(s, (CallStep, ControlStep)):
                ins = ", ".join(r if isinstance(r, str) else fmt(r) for r in s.reads)
                word = "call" if isinstance(s, CallStep) else "control"
                calls = ""
                if isinstance(s, ControlStep):
                    calls = "[" + ", ".join(f"{r}={p.name}" for r, p in s.calls.items()) + "]"
                    called += [p for p in s.calls.values() if id(p) not in printed]
                    printed.update(id(p) for p in s.calls.values())
                lines.append(f"  {word} {', '.join(s.writes)} = {s.eqn.prim}{calls}({ins})"
                             + (f"   # {s.note}" if s.note else ""))
            else:
                lines.extend("  " + ln for ln in format_kernel(s))
        outs = ", ".join(o if isinstance(o, str) else fmt(o) for o in self.outputs)
        lines.append(f"  return {outs}")
        for p in called:
            lines.extend(p.lines(printed))
        return lines


# ---- printing -------------------------------------------------------------------------------


def _const_text(value: Any, dtype: str) -> str:
    if dtype == "bool":
        return str(bool(value))
    if dtype in ("i32", "i64"):
        return str(int(value))
    text = repr(complex(value) if dtype in ("c64", "c128") else float(value))
    return text if dtype in ("f64", "c128") else f"{dtype}({text})"


def fmt(e: Expr) -> str:
    """An expression as text (the loop IR's own notation, not a target's)."""
    if isinstance(e, Const):
        return _const_text(e.value, e.dtype)
    if isinstance(e, Idx):
        return f"i{e.axis}"
    if isinstance(e, Local):
        return e.name
    if isinstance(e, Load):
        return f"{e.buf}[{', '.join(fmt(i) for i in e.index)}]"
    if isinstance(e, Affine):
        base = fmt(e.base)
        scaled = base if e.step == 1 else f"{e.step}*{base}"
        return scaled if e.start == 0 else f"({e.start} + {scaled})"
    if isinstance(e, Cast):
        return f"{e.dtype}({fmt(e.x)})"
    assert isinstance(e, Apply)
    return f"{e.eqn.prim}({', '.join(fmt(a) for a in e.args)})"


def _target(buf: str, index: tuple[Expr, ...] | None) -> str:
    return buf if index is None else f"{buf}[{', '.join(fmt(i) for i in index)}]"


def format_stmt(s: Stmt, indent: str = "") -> list[str]:
    note = f"   # {s.note}" if getattr(s, "note", "") else ""
    if isinstance(s, For):
        par = " parallel" if s.parallel else ""
        out = [f"{indent}for{par} i{s.axis} in 0..{s.extent}:"]
        for b in s.body:
            out.extend(format_stmt(b, indent + "  "))
        return out
    if isinstance(s, Let):
        return [f"{indent}{s.name} = {fmt(s.expr)}{note}"]
    if isinstance(s, Init):
        return [f"{indent}{s.name} = identity({s.op}, {s.dtype})"]
    if isinstance(s, Store):
        return [f"{indent}{_target(s.buf, s.index)} = {fmt(s.expr)}"]
    if isinstance(s, Accumulate):
        how = f" (atomic, {s.atomic})" if s.atomic else ""
        return [f"{indent}{_target(s.buf, s.index)} {s.op}= {fmt(s.expr)}{how}{note}"]
    if isinstance(s, ArgAccumulate):
        return [f"{indent}{_target(s.buf, s.index)} {s.op}= ({fmt(s.expr)} at "
                f"{fmt(s.position)}; best in {s.best}){note}"]
    assert isinstance(s, Scan)
    prev = _target(s.buf, s.prev)
    step = (f"{fmt(s.coef)} * {prev} + {fmt(s.expr)}" if s.coef is not None
            else f"{prev} {'*' if s.op == 'prod' else '+'} {fmt(s.expr)}")
    return [f"{indent}{_target(s.buf, s.index)} = {fmt(s.expr)} if i{s.axis} == 0 else "
            f"{step}{note}"]


def format_kernel(k: LoopKernel) -> list[str]:
    head = f"kernel {k.name}:" + (f"   # {k.note}" if k.note else "")
    return [head] + [ln for s in k.body for ln in format_stmt(s, "  ")]


# ---- verifying ------------------------------------------------------------------------------


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
    elif isinstance(e, Apply):
        for a in e.args:
            yield from exprs(a)


def stmt_exprs(s: Stmt) -> Iterator[Expr]:
    """The expressions statement `s` reads (not those of a loop's body)."""
    if isinstance(s, (Let, Store, Accumulate, ArgAccumulate, Scan)):
        yield s.expr
    if isinstance(s, Scan) and s.coef is not None:
        yield s.coef
    for index in (getattr(s, "index", None), getattr(s, "prev", None)):
        if index:
            yield from index
    if isinstance(s, ArgAccumulate):
        yield s.position


def verify(program: Program) -> None:
    """Every buffer read or written exists when the step runs, every local is defined in an
    enclosing scope before it is read, and every loop index read is of an enclosing loop."""
    known = {b.name for b in program.inputs} | {b.name for b, _ in program.consts}

    def check(body: list[Stmt], locals_: set[str], axes: set[int], where: str) -> None:
        defined = set(locals_)
        for s in body:
            for top in stmt_exprs(s):
                for e in exprs(top):
                    if isinstance(e, Load) and e.buf not in known:
                        raise CodegenError(f"{where}: reads buffer {e.buf} before it exists")
                    if isinstance(e, Local) and e.name not in defined:
                        raise CodegenError(f"{where}: reads local {e.name} before it is set")
                    if isinstance(e, Idx) and e.axis not in axes:
                        raise CodegenError(f"{where}: reads i{e.axis} outside its loop")
            if isinstance(s, For):
                if s.axis in axes:
                    raise CodegenError(f"{where}: loop i{s.axis} nested in itself")
                check(s.body, defined, axes | {s.axis}, where)
            elif isinstance(s, (Let, Init)):
                defined.add(s.name)
                if isinstance(s, Init) and s.op in ("argmax", "argmin"):
                    defined.add(s.name + "_best")
            elif isinstance(s, (Store, Scan)) or (isinstance(s, (Accumulate, ArgAccumulate))
                                                   and s.index is not None):
                if s.buf not in known:
                    raise CodegenError(f"{where}: writes buffer {s.buf}, never allocated")
            elif s.buf not in defined:
                raise CodegenError(f"{where}: accumulates into {s.buf} before its Init")

    for step in program.steps:
        if isinstance(step, Alloc):
            known.add(step.buf)
        elif isinstance(step, (CallStep, ControlStep)):
            if isinstance(step, ControlStep):
                for sub in step.calls.values():
                    verify(sub)
            for r in step.reads:
                if isinstance(r, str) and r not in known:
                    raise CodegenError(f"{step.eqn.prim}: reads {r} before it exists")
            known.update(step.writes)
        else:
            check(step.body, set(), set(), f"kernel {step.name}")
    for o in program.outputs:
        if isinstance(o, str) and o not in known:
            raise CodegenError(f"program {program.name} returns {o}, which no step writes")
