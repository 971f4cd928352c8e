"""Kernel plans: what fusion (passes/fuse.py) decides and the back ends read.

A `KernelPlan` lists a graph's kernels in execution order (`Kernel`: a loop nest of `Loop`s
and `Root`s, or one call, or control flow calling `SubFunction`s) and how every value is held
(`ValueInfo`: inline, register, array, local). What the primitives declare about lowering
(ir/primitive.py `Lowering`) is read here once: `REDUCERS`, `CHEAP`, `SUMS`, `input_terms`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from adjit.ir.core import Eqn, Graph, Lit, Value, Var
from adjit.ir.index import Term
from adjit.ir.primitive import (
    ACCUMULATE,
    PRIMS,
    REDUCTION,
    REMAP,
    SCALAR,
    SCAN,
    VIEW,
)
from adjit.ir.printer import Namer, format_eqn

# The control-flow primitives (the only ones fusion and the back ends name).
COND, WHILE, WHILE_GRAD = CONTROL_PRIMS = ("cond", "while", "while_grad")
# The roles of a while loop's sub-graphs in `Kernel.calls` (COND is also its condition's role).
BODY = "body"

# ---- index terms (ir/index.py) and what primitives declare (ir/primitive.py `Lowering`) ---


def _lowering(kind: str) -> dict[str, str]:
    return {n: p.lowers.op for n, p in PRIMS.items() if p.lowers.how == kind}


# Reductions by name, with their combining operator (sum, max, argmax, ...).
REDUCERS = _lowering(REDUCTION)
# Work cheap enough to recompute in a later kernel instead of storing it: cheap scalars,
# remaps, and reductions (over size-1 axes only: inline reshapes).
CHEAP = {n for n, p in PRIMS.items() if (p.lowers.how == SCALAR and p.lowers.cost <= 1)
         or p.lowers.how in (REMAP, REDUCTION)}
MAX_RECOMPUTE = 12  # equations recomputed per value, at most
# The sum-accumulations an `add` may share: accumulations, and sums into arrays.
SUMS = tuple(n for n, p in PRIMS.items() if p.lowers.op == "sum"
             and p.lowers.how in (ACCUMULATE, REDUCTION))


def is_sum(e: Eqn) -> bool:
    """An elementwise add (a scalar expression whose operator is `sum`): fusion may merge it
    into an accumulation of its operands into one array instead of a loop of its own."""
    low = PRIMS[e.prim].lowers
    return low.how == SCALAR and low.op == "sum"


def root_inputs(e: Eqn) -> tuple[Value, ...]:
    """What a root reads at its own index: a scan all its inputs (a linear recurrence reads
    its coefficient and its term), a reduction or an accumulation its first."""
    return e.inputs if PRIMS[e.prim].lowers.how == SCAN else e.inputs[:1]


def is_position(e: Eqn) -> bool:
    """An argmax/argmin: its value is a position, not a function of its input's values."""
    return PRIMS[e.prim].lowers.op in ("argmax", "argmin")


def input_terms(eqn: Eqn, j: int, terms: tuple[Term, ...]) -> tuple[Term, ...]:
    """The index at which inline equation `eqn` reads input `j` to produce its output at
    `terms`: the index map its primitive declares (`Lowering.index`)."""
    index = PRIMS[eqn.prim].lowers.index
    assert index is not None, f"{eqn.prim} is not an index remap"
    return index(eqn, j, terms)


# ---- the plan -------------------------------------------------------------------------------


@dataclass(eq=False)
class Root:
    """Work done once per element of its loop nest.

    kind: 'store' (write `var` to its array), 'reduce' (accumulate into the register
    `var`), 'accum' (accumulate into an array), 'scan' (cumsum into an array).
    `terms` is the index at which the input (or the stored value) is read; `target` the index
    written (accum/scan/store). `level` is the number of loops around the statement.
    """

    kind: str
    var: Var
    eqn: int | None
    level: int
    terms: tuple[Term, ...]
    target: tuple[Term, ...] = ()
    out_level: int = 0  # reduce: the level of the result
    axis_loop: int | None = None  # argmax/argmin: the loop axis of the reduced dim
    chain: tuple[Loop, ...] = ()  # the loops around it, outermost first


@dataclass(eq=False)
class Loop:
    axis: int
    extent: int
    parent: Loop | None
    items: list[Loop | Root] = field(default_factory=list)
    inits: list[Root] = field(default_factory=list)  # register reductions completed by this loop


@dataclass(eq=False)
class ValueInfo:
    """How a value produced by an equation exists.

    kind: 'inline' (a scalar expression, recomputed where needed), 'register' (a reduction
    result: a scalar local at `level`), 'array' (an array written by kernel `kernel`), 'local'
    (a 0-d result of a control kernel: a scalar local, available to later kernels).
    `terms` is the value's identity index in its kernel.
    """

    kind: str
    kernel: int
    eqn: int
    terms: tuple[Term, ...] = ()
    level: int = 0
    root: Root | None = None
    path: tuple[Loop, ...] = ()  # register: the loops around its accumulation, outermost first
    summable: bool = False  # array: a sum-accumulation that an `add` may share


@dataclass(eq=False)
class Kernel:
    index: int
    kind: str  # 'loop' | 'matmul' | 'library' | 'concatenate' | 'view' | a control kind
    domain: tuple[int, ...]
    members: list[int] = field(default_factory=list)
    items: list[Loop | Root] = field(default_factory=list)
    roots: list[Root] = field(default_factory=list)
    reads: list[Value] = field(default_factory=list)
    writes: list[Var] = field(default_factory=list)
    recomputed: list[int] = field(default_factory=list)  # eqns of earlier kernels redone here
    # Control kernels (kind 'cond', 'while', 'while_grad'): the functions called, by role
    # ('then'/'else'; 'cond', 'body', 'body_vjp'); for a `while` and a `while_grad` that run
    # the same loop on the same operands, `partner` links the two (the `while` records the
    # tape, the `while_grad` only walks it backwards); `taped` are the carried values recorded
    # per iteration (those body_vjp reads).
    calls: dict[str, SubFunction] = field(default_factory=dict)
    partner: int | None = None
    taped: tuple[int, ...] = ()
    tape_row_bytes: int = 0

    @property
    def passes(self) -> int:
        """Sweeps over memory; for a loop kernel (while, while_grad) per iteration."""
        if self.kind == "loop":
            return _leaf_loops(self.items)
        if self.kind == COND:
            return max(f.plan.memory_passes for f in self.calls.values())
        if self.kind == WHILE:
            return self.calls[COND].plan.memory_passes + self.calls[BODY].plan.memory_passes
        if self.kind == WHILE_GRAD:
            forward = 0 if self.partner is not None else (
                self.calls[COND].plan.memory_passes + self.calls[BODY].plan.memory_passes)
            return forward + self.calls["body_vjp"].plan.memory_passes
        return 0 if self.kind == VIEW else 1


@dataclass(eq=False)
class SubFunction:
    """A sub-graph of a control node, planned on its own and generated as its own function
    (a numba callee). `name` is relative ('k1_body'); the code generator prefixes it with the
    generated function's name. `params` are the indices of the graph inputs it reads: only
    those are passed. Sub-graphs with the same text share one SubFunction (the `while` and
    the `while_grad` of one loop call the same cond and body)."""

    name: str
    graph: Graph
    plan: KernelPlan
    params: tuple[int, ...]

    def signature(self) -> str:
        ins = ", ".join(f"{self.plan.name(self.graph.inputs[i])}: {self.graph.inputs[i].type}"
                        for i in self.params)
        outs = [str(t) for t in self.graph.out_types]
        ret = outs[0] if len(outs) == 1 else "(" + ", ".join(outs) + ")"
        return f"{self.name}({ins}) -> {ret}"


def _leaf_loops(items: list[Loop | Root]) -> int:
    n = 0
    for it in items:
        if isinstance(it, Loop):
            inner = _leaf_loops(it.items)
            n += inner if inner else 1
    return n


def _count_defs(g: Graph) -> int:
    return sum(len(e.outputs) + sum(_count_defs(sub) for _, sub in e.subgraphs())
               for e in g.eqns)


def number(graph: Graph, start: int = 0) -> tuple[dict[int, str], list[str],
                                                 dict[tuple[int, str], int]]:
    """Printed names (id(var) -> name), each equation's text, and where the numbering of
    each sub-graph starts ((eqn index, param key) -> N): the same names `str(graph)` shows,
    sub-graphs numbered on from their enclosing graph."""
    namer = Namer()
    namer.counter = start
    for v in graph.inputs:
        namer.input(v)
    texts: list[str] = []
    starts: dict[tuple[int, str], int] = {}
    for i, e in enumerate(graph.eqns):
        texts.append(format_eqn(e, namer, locs=False))
        for key, sub in e.subgraphs():
            starts[(i, key)] = namer.counter
            namer.counter += _count_defs(sub)
    return namer.names, texts, starts


class KernelPlan:
    """The kernels of a graph, in execution order, and how every value is held."""

    def __init__(self, graph: Graph, kernels: list[Kernel], info: dict[Var, ValueInfo],
                 stored: set[Var], buffers: dict[Var, Var], start: int = 0) -> None:
        self.graph = graph
        self.kernels = kernels
        self.info = info
        self.stored = stored
        self.buffers = buffers  # accumulation var -> the var whose array holds it
        # Names as `str(graph)` prints them (a sub-graph's plan starts at `start`, where the
        # printer's numbering of the enclosing graph has got to).
        self.names, self.eqn_text, self.sub_starts = number(graph, start)

    @property
    def memory_passes(self) -> int:
        return sum(k.passes for k in self.kernels)

    def eqn_note(self, i: int) -> str:
        """Equation `i` as the IR prints it, with its user's line and its role: the comment
        generated code carries above its statement."""
        e = self.graph.eqns[i]
        where = " ".join(s for s in ((e.loc.short() if e.loc else ""), e.role) if s)
        return self.eqn_text[i] + (f"   {where}" if where else "")

    def name(self, v: Value) -> str:
        if isinstance(v, Lit):
            return "const" if not v.is_scalar else repr(v.scalar())
        return self.names.get(id(v), "?")

    def buffer(self, v: Var) -> Var:
        while v in self.buffers:
            v = self.buffers[v]
        return v

    def access(self, v: Value, k: int) -> str:
        """How kernel `k` gets value `v`: 'lit' (scalar constant), 'const' (array constant),
        'input', 'array' (an array of an earlier kernel), 'scalar' (a 0-d local of an earlier
        kernel: a full reduction, a control kernel's 0-d result), 'register' (a reduction
        result of this kernel), 'inline' (computed here)."""
        if isinstance(v, Lit):
            return "lit" if v.is_scalar else "const"
        info = self.info.get(v)
        if info is None:
            return "input"
        if info.kind == "array":
            return "array"
        if info.kind == "local":
            return "scalar"
        if info.kind == "register":
            if info.kernel == k:
                return "register"
            return "scalar" if info.level == 0 else "array"
        if info.kernel != k and v in self.stored:
            return "array"
        return "inline"

    def _members(self, idxs: list[int]) -> str:
        names = sorted(idxs)
        if not names:
            return "-"
        parts: list[str] = []
        start = prev = names[0]
        for i in names[1:] + [None]:
            if i is not None and i == prev + 1:
                prev = i
                continue
            a, b = self._eqn_name(start), self._eqn_name(prev)
            parts.append(a if start == prev else f"{a}-{b}")
            if i is not None:
                start = prev = i
        return ",".join(parts)

    def _eqn_name(self, i: int) -> str:
        return self.name(self.graph.eqns[i].outputs[0])

    def _tree(self, items: list[Loop | Root]) -> str:
        out = []
        for it in items:
            if isinstance(it, Loop):
                out.append(f"i{it.axis}<{it.extent}[{self._tree(it.items)}]")
            else:
                word = {"store": "store", "accum": "acc"}.get(it.kind)
                if it.kind == "scan":
                    op = PRIMS[self.graph.eqns[it.eqn].prim].lowers.op
                    word = "recurrence" if op == "linear" else f"cum{op}"
                if it.kind == "reduce":
                    word = REDUCERS[self.graph.eqns[it.eqn].prim]
                out.append(f"{word} {self.name(it.var)}")
        return ", ".join(out)

    def format_kernel(self, k: Kernel) -> str:
        if k.kind in CONTROL_PRIMS:
            return self._format_control(k)
        dom = ",".join(str(d) for d in k.domain)
        parts = [f"k{k.index} {k.kind}({dom})", self._members(k.members)]
        if k.recomputed:
            parts.append(f"recomputes {self._members(k.recomputed)}")
        parts.append("reads " + (", ".join(self.name(v) for v in k.reads) or "-"))
        parts.append("writes " + (", ".join(self.name(v) for v in k.writes) or "-"))
        text = " ".join(parts)
        if k.kind == "loop":
            text += f" | {self._tree(k.items) or 'scalars'}"
        return text + f" | passes {k.passes}"

    def _format_control(self, k: Kernel) -> str:
        e = self.graph.eqns[k.members[0]]
        parts = [f"k{k.index} {k.kind}", self._members(k.members),
                 "reads " + (", ".join(self.name(v) for v in k.reads) or "-"),
                 "writes " + (", ".join(self.name(v) for v in k.writes) or "-")]
        c = {role: f.name for role, f in k.calls.items()}
        if k.kind == COND:
            what = f"if {self.name(e.inputs[0])}: {c['then']} else {c['else']}"
            return " ".join(parts) + f" | {what} | passes {k.passes}"
        tape = (f"a tape of {', '.join(self.name(e.outputs[j]) for j in k.taped)} "
                f"({k.tape_row_bytes} B/iter)" if k.taped else "the trip count (no tape)")
        loop = f"while {c['cond']}: {c['body']}"
        if k.kind == WHILE:
            what = loop if k.partner is None else f"{loop}, recording {tape} for k{k.partner}"
        else:
            forward = (f"{loop}, recording {tape}" if k.partner is None
                       else f"forward shared with k{k.partner}, which records {tape}")
            what = f"{forward}; backward: {c['body_vjp']} per iteration, in reverse"
        return " ".join(parts) + f" | {what} | passes {k.passes}/iter"

    def lines(self, printed: set[int] | None = None) -> list[str]:
        """The plan's lines; under a control kernel, the plans of the functions it calls
        (each printed once, indented)."""
        printed = set() if printed is None else printed
        out = []
        for k in self.kernels:
            out.append(self.format_kernel(k))
            for f in k.calls.values():
                if id(f) in printed:
                    continue
                printed.add(id(f))
                out.append(f"    def {f.signature()}:")
                out.extend("        " + ln for ln in f.plan.lines(printed))
        n = len(self.kernels)
        loops = any(k.kind in (WHILE, WHILE_GRAD) for k in self.kernels)
        out.append(f"memory passes: {self.memory_passes} ({n} kernel{'s' if n != 1 else ''}"
                   f"{'; a loop counts its passes per iteration once' if loops else ''})")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        return f"<KernelPlan {len(self.kernels)} kernels, {self.memory_passes} passes>"


# Control kernels call their sub-graphs in these roles (a cond's branches are (false, true)).
ROLES = {"branches[0]": "else", "branches[1]": "then"}


def control_operands(kern: Kernel, e: Eqn) -> list[int]:
    """The operands of control kernel `kern` (equation `e`) that its code reads: a cond's
    predicate and what its branches read; a loop's consts that a function reads, its initial
    carried values and (while_grad) its cotangents."""
    if kern.kind == COND:
        return [0] + sorted({1 + j for f in kern.calls.values() for j in f.params})
    n_consts = e.p["n_consts"]
    consts = {j for f in kern.calls.values() for j in f.params if j < n_consts}
    return sorted(consts) + list(range(n_consts, len(e.inputs)))


