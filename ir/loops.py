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
- Statements: `Let` (a scalar local), `Set` (a local assigned again: a register carried
  across iterations), `Init` (a local register set to its reduction's identity), `Store`,
  `Accumulate` (`buf[index] op= value` for op in sum, max, min, prod, or, and; into a local
  register when `index` is None), `ArgAccumulate` (argmax/argmin: keeps the best value and
  its position), `Scan` (a cumulative sum along one loop), `Fill` (a constant into slices
  of a buffer), `Comment`, `For`.
- Expressions: `Const`, `Idx` (a loop index), `Local`, `Load`, `Affine` (integer index
  arithmetic `start + step * base`), `Apply` (an elementwise equation applied to argument
  expressions: its primitive's scalar template, codegen/scalar.py), `Add` (contributions to
  one element summed before one accumulation), `Cast`.
- A kernel's `temps` are buffers of its own (a CPU scratch row, per-chunk partials);
  `Convert` is a step writing a buffer as another's values in a dtype (a float32 sum kept
  in float64, rounded once).

`For.parallel`, `For.parts` and `For.vector` are a target's decisions (scheduling passes
mark them: passes/schedule_cuda.py, codegen/cpu_passes.py), not the lowering's.

>>> body = [For(0, 4, [Store("y", (Idx(0),), Const(1.0, "f64"))])]
>>> print(LoopKernel("k0", body))
kernel k0:
  for i0 in 0..4:
    y[i0] = 1.0

The CPU's constructs: a register carried across iterations (`Set`), the slices no store
reaches (`Fill`), a kernel's own buffer (`temps`), a chunk loop on threads around one part:

>>> x0 = Load("x", (Idx(0),))
>>> walk = [Set("c1", Const(0.0, "f64")),
...         For(0, 4, [Store("g", (Idx(0),), Add((Local("c1"), x0))), Set("c1", x0)]),
...         Store("g", (Const(4, "i64"),), Local("c1")), Fill("g", (Span(5, None),),
...                                                         Const(0.0, "f64"))]
>>> print(LoopKernel("k1", walk, temps=[Alloc("s2", (4,), "f64")]))
kernel k1:
  alloc s2: f64[4]
  c1 := 0.0
  for i0 in 0..4:
    g[i0] = c1 + x[i0]
    c1 := x[i0]
  g[4] = c1
  g[5:] = 0.0
>>> part = For(0, 1000, [Accumulate("sum", "v", None, x0)], parts=8, vector=True)
>>> print(LoopKernel("k2", [For(0, 8, [Init("v", "sum", "f64", "f64"), part],
...                                 parallel=True, var="ch")]))
kernel k2:
  for parallel ch0 in 0..8:
    v = identity(sum, f64)
    for vector i0 in part ch0 of 8 of 0..1000:
      v sum= x[i0]
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np


# ---- expressions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Const:
    value: Any
    dtype: str


@dataclass(frozen=True)
class Idx:
    axis: int
    var: str = "i"  # "c": the chunk a parallel loop over axis `axis` runs (For.var)


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


@dataclass(frozen=True)
class Add:
    """The sum of `args`, in order."""

    args: tuple[Expr, ...]


Expr = Union[Const, Idx, Local, Load, Affine, Apply, Cast, Add]


@dataclass(frozen=True)
class Span:
    """A slice lo:hi of one dimension (None: from the start, to the end), in a `Fill`."""

    lo: int | None
    hi: int | None

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
class Set:
    """A local assigned (again): registers carried from one iteration to the next."""

    name: str
    expr: Expr
    note: str = ""


@dataclass(eq=False)
class Fill:
    """`buf[index] = value`, the index's `Span`s slices."""

    buf: str
    index: tuple[Expr | Span, ...]
    value: Const


@dataclass(eq=False)
class Comment:
    text: str


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
    eqn: Any = None  # the equation accumulated (its primitive: what kind of sum it is)


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
    """`for <var><axis> in 0..extent`; with `parts`, over one of `parts` equal consecutive
    pieces of 0..extent: the one chunk loop `c<axis>` around it runs (its `var` is "c")."""

    axis: int
    extent: int
    body: list[Stmt] = field(default_factory=list)
    parallel: bool = False
    parts: int = 0
    vector: bool = False  # innermost, and every statement in a form a vectorizer takes
    var: str = "i"


Stmt = Union[Let, Set, Init, Store, Accumulate, ArgAccumulate, Scan, Fill, Comment, For]

# ---- steps ----------------------------------------------------------------------------------


@dataclass(eq=False)
class Alloc:
    buf: str
    shape: tuple[int, ...]
    dtype: str
    fill: Any = None  # None: uninitialised
    reused: bool = False  # a buffer the caller passes in (a CPU target's choice)


@dataclass(eq=False)
class LoopKernel:
    name: str
    body: list[Stmt]
    note: str = ""
    temps: list[Alloc] = field(default_factory=list)  # buffers of its own, made first
    work: int = 0  # iterations of its domain (the plan's), for a target's thread decision

    def __str__(self) -> str:
        return "\n".join(format_kernel(self))


@dataclass(eq=False)
class Convert:
    """`buf` = the values of `src` as `dtype` (a new buffer)."""

    buf: str
    src: str
    dtype: str


@dataclass(eq=False)
class CallStep:
    """Equation `eqn` run as one call (a target's library kernel, else its primitive's
    reference implementation on the host): it reads buffers `reads` (a scalar literal
    where the entry is a `Const`) and writes `writes`."""

    eqn: Any
    reads: tuple[str | Expr, ...]
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
    reads: tuple[str | Expr, ...]
    writes: tuple[str, ...]
    calls: dict[str, Program]
    partner: int | None = None
    note: str = ""


Step = Union[Alloc, LoopKernel, CallStep, ControlStep, Convert]


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
    outputs: list[str | Expr]  # a buffer, a scalar literal (a local: `locals_live`)
    out_shapes: list[tuple[int, ...]]  # the graph's (0-d outputs are read from (1,) buffers)
    # Where the steps of each kernel of the plan start (a target may print them apart).
    starts: list[int] = field(default_factory=list)
    # Targets that run a program as one function (the CPU's) keep 0-d values in locals
    # that later steps read (and 0-d inputs in `scalars` are passed as scalars); others
    # (CUDA's launches) pass them in one-element buffers.
    locals_live: bool = False
    scalars: tuple[str, ...] = ()

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
                lines.append("  " + _alloc_text(s))
            elif isinstance(s, Convert):
                lines.append(f"  {s.buf} = convert {s.src} to {s.dtype}")
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


def _alloc_text(s: Alloc) -> str:
    fill = "" if s.fill is None else f" = {_const_text(s.fill, s.dtype)}"
    return f"alloc {s.buf}: {s.dtype}{list(s.shape)}{fill}" + (" (reused)" if s.reused else "")


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
        return f"{e.var}{e.axis}"
    if isinstance(e, Local):
        return e.name
    if isinstance(e, Load):
        return f"{e.buf}[{', '.join(fmt(i) for i in e.index)}]"
    if isinstance(e, Add):
        return " + ".join(fmt(a) for a in e.args)
    if isinstance(e, Affine):
        base = fmt(e.base)
        scaled = base if e.step == 1 else f"{e.step}*{base}"
        return scaled if e.start == 0 else f"({e.start} + {scaled})"
    if isinstance(e, Cast):
        return f"{e.dtype}({fmt(e.x)})"
    assert isinstance(e, Apply)
    return f"{e.eqn.prim}({', '.join(fmt(a) for a in e.args)})"


def _index_text(i: Expr | Span) -> str:
    if isinstance(i, Span):
        return f"{'' if i.lo is None else i.lo}:{'' if i.hi is None else i.hi}"
    return fmt(i)


def _target(buf: str, index: tuple[Expr | Span, ...] | None) -> str:
    return buf if index is None else f"{buf}[{', '.join(_index_text(i) for i in index)}]"


def format_stmt(s: Stmt, indent: str = "") -> list[str]:
    note = f"   # {s.note}" if getattr(s, "note", "") else ""
    if isinstance(s, For):
        how = "".join(w for w, on in ((" parallel", s.parallel), (" vector", s.vector)) if on)
        span = f"part ch{s.axis} of {s.parts} of 0..{s.extent}" if s.parts else f"0..{s.extent}"
        out = [f"{indent}for{how} {s.var}{s.axis} in {span}:"]
        for b in s.body:
            out.extend(format_stmt(b, indent + "  "))
        return out
    if isinstance(s, (Let, Set)):
        return [f"{indent}{s.name} {'=' if isinstance(s, Let) else ':='} {fmt(s.expr)}{note}"]
    if isinstance(s, Fill):
        return [f"{indent}{_target(s.buf, s.index)} = {fmt(s.value)}"]
    if isinstance(s, Comment):
        return [f"{indent}# {s.text}"]
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
    return [head] + ["  " + _alloc_text(t) for t in k.temps] \
        + [ln for s in k.body for ln in format_stmt(s, "  ")]


# The walks over expressions and the verifier are a module of their own (ir/loops_verify.py),
# which needs the classes above; re-exported here, where users of the IR look for them.
from .loops_verify import exprs, stmt_exprs, verify  # noqa: E402,F401
