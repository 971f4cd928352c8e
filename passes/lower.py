"""Lowering: a kernel plan (passes/fuse.py) to the loop IR (ir/loops.py).

`lower(graph, plan) -> Program`. Target-neutral: the plan's decisions (which equations share
a loop nest, what is recomputed where, the index algebra of `Term`s) become loops, scalar
lets, stores and accumulations; where each runs (which loop is parallel, what is atomic) is
decided later by the target (codegen/cuda.py).

How the plan's objects lower:

- An inline value is a `Let` in the outermost loop whose indices it depends on (once per
  distinct index it is read at, as in codegen/cpu.py); index remaps (broadcast, transpose,
  slice, gather) are only different indices of a `Load`.
- A register (a reduction into a scalar) is a local `Init` before its loop and accumulated
  in it; a register at level 0 (a reduction over the whole domain, which later kernels read
  as a scalar) is a one-element buffer, filled with the identity when allocated, so that a
  target may split the kernel around it. A float32 sum accumulates in float64 and is read
  back rounded to float32 (as on the CPU).
- Stores, scans and array accumulations write buffers allocated before their kernel
  (accumulations filled with their identity: a target may rewrite them, as the CPU's
  codegen/cpu_sums.py does). `Layout(cpu=True)` keeps 0-d values in locals (one function).
- A kernel that is not a loop nest (matmul, a library call, concatenate, a reshape) is a
  `CallStep`: the target runs it with a library kernel of its own where it has one, else
  with the primitive's reference implementation on the host. Control flow is a
  `ControlStep` calling the programs of its sub-graphs (lowered the same way, each once).
  Their 0-d operands computed inline are stored first.
"""
from __future__ import annotations

import keyword
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from adjit.ir.core import Graph, Lit, Value, Var
from adjit.ir.loops import (
    Accumulate,
    Affine,
    Alloc,
    ArgAccumulate,
    Apply,
    Comment,
    Buffer,
    Cast,
    Const,
    Expr,
    For,
    identity,
    Idx,
    Init,
    Let,
    Load,
    Local,
    LoopKernel,
    Program,
    Scan,
    Stmt,
    Store,
)
from adjit.ir.primitive import ELEMENTWISE, PRIMS
from adjit.passes.plan import (
    REDUCERS,
    Kernel,
    KernelPlan,
    Loop,
    Root,
    SubFunction,
    Term,
    input_terms,
    is_position,
    is_sum,
)
from adjit.passes.lower_calls import ZERO, CallLowering

# Names the printed code uses itself (modules, builtins, the printers' locals): a graph input
# so named is renamed.
RESERVED = set("np math cmath cuda nt sf fm ck lk fk tid half range prange abs min max int "
               "float bool len True False None tape_bytes guard".split())
# The names the lowering and the printers make up: buffers (a3, r2, o5, c0, s4, a3_best),
# locals (v4, v4_2, t1, g0), loop indices (i0, c0, j1, it3), tapes (n2, t2_0), a block's
# partial sums (p_r2_0). An input so named is renamed (an argument named i0 was the loop
# index inside the kernel).
GENERATED = re.compile(r"(it|ch|[vacijstnrgop])\d|p_")


@dataclass(frozen=True)
class Layout:
    """How a target holds a program's values (the default: CUDA's launches).

    `cpu`: the program runs as one function: 0-d values stay in locals that later
    steps read (`Program.locals_live`: level-0 registers, control results, the 0-d operands
    of calls), 0-d buffers are 0-d (read at `()`), and control steps do not lower their
    sub-graphs (the target emits each as a function of its own). `scalar_inputs`: 0-d inputs
    are passed as scalars (a CPU sub-graph function). `const_name`: names array constants
    (a module shares them among its functions). `taken`: names an input may not take."""

    cpu: bool = False
    scalar_inputs: bool = False
    const_name: Callable[[Lit], str] | None = None
    taken: frozenset[str] = frozenset()  # (the function's own name)


def reduce_op(prim: str, dtype: str) -> str:
    """The accumulation of reduction `prim` over `dtype` values (boolean sums are `or`)."""
    op = REDUCERS.get(prim, "sum")
    if dtype == "bool" and op in ("sum", "prod"):
        return "or" if op == "sum" else "and"
    return op


def wide(prim: str, dtype: str) -> bool:
    """A float32 sum accumulates in float64 (codegen/cpu.py `wide_register`)."""
    return REDUCERS.get(prim, "sum") == "sum" and dtype == "f32"


def lower(graph: Graph, plan: KernelPlan, name: str = "", layout: Layout = Layout()
          ) -> Program:
    return _Lowerer(graph, plan, {}, layout).program(name or graph.name)


class _Lowerer(CallLowering):
    def __init__(self, graph: Graph, plan: KernelPlan,
                 functions: dict[int, Program], layout: Layout) -> None:
        self.functions = functions  # programs of the sub-graphs lowered so far, by function
        self.layout = layout
        self.g = graph
        self.plan = plan
        self.eqns = graph.eqns
        self.num = {id(o): plan.names[id(o)].lstrip("%") for e in graph.eqns for o in e.outputs}
        # a 0-d buffer's index and shape: 0-d where locals live, else one element
        self.zero: tuple[Expr, ...] = () if layout.cpu else ZERO
        self.inputs: dict[int, str] = {}
        used: set[str] = set(layout.taken)
        for v in graph.inputs:
            base = plan.names[id(v)]
            if keyword.iskeyword(base) or not base.isidentifier() or base in RESERVED \
                    or GENERATED.match(base):
                base = f"in_{base}"
            n, k = base, 1
            while n in used:
                n, k = f"{base}_{k}", k + 1
            used.add(n)
            self.inputs[id(v)] = n
        self.consts: dict[Lit, str] = {}
        self.steps: list[Any] = []
        self.kernel: Kernel | None = None
        self.scopes: list[list[Stmt]] = []
        self.open: list[For | None] = []
        self.memo: list[dict[Any, tuple[Expr, int]]] = []
        self.alt: dict[Var, int] = {}
        self.top_memo: dict[Any, tuple[Expr, int]] = {}
        self.starts: list[int] = []

    # -- names -------------------------------------------------------------------------------

    def buf(self, v: Var) -> str:
        return f"a{self.num[id(self.plan.buffer(v))]}"

    def reg(self, v: Var) -> str:
        return f"v{self.num[id(v)]}"

    def rbuf(self, v: Var) -> str:
        """The one-element buffer of a level-0 register."""
        return f"r{self.num[id(v)]}"

    def shape(self, v: Value) -> tuple[int, ...]:
        """The shape of `v`'s buffer."""
        return v.shape if self.layout.cpu else (v.shape or (1,))

    def array(self, v: Value) -> str:
        if isinstance(v, Lit):
            if v not in self.consts:
                namer = self.layout.const_name
                self.consts[v] = namer(v) if namer else f"c{len(self.consts)}"
            return self.consts[v]
        if id(v) in self.inputs:
            return self.inputs[id(v)]
        return self.buf(v)

    def note(self, i: int) -> str:
        return self.plan.eqn_note(i)

    # -- the program -------------------------------------------------------------------------

    def program(self, name: str) -> Program:
        for kern in self.plan.kernels:
            self.kernel = kern
            self.starts.append(len(self.steps))
            if kern.kind == "loop":
                self.loop_kernel(kern)
            else:
                self.call(kern)
        outputs: list[str | Expr] = []
        tail: list[Stmt] = []
        self.starts.append(len(self.steps))
        self.kernel = Kernel(len(self.plan.kernels), "loop", ())
        self.begin(tail)
        for v in self.g.outputs:
            outputs.append(self.output(v, tail))
        self.end()
        if tail:
            self.steps.append(LoopKernel(f"k{len(self.plan.kernels)}", tail, "0-d outputs"))
        ins = [Buffer(self.inputs[id(v)], self.shape(v), v.dtype) for v in self.g.inputs]
        consts = [(Buffer(n, self.shape(v), v.dtype), np.asarray(v.value))
                  for v, n in self.consts.items()]
        scalars = tuple(self.inputs[id(v)] for v in self.g.inputs
                        if self.layout.scalar_inputs and v.shape == ())
        return Program(name, ins, consts, self.steps, outputs,
                       [v.shape for v in self.g.outputs], self.starts, self.layout.cpu,
                       scalars)

    def output(self, v: Value, tail: list[Stmt]) -> str | Expr:
        if isinstance(v, Lit):
            return Const(v.scalar(), v.dtype) if v.is_scalar else self.array(v)
        if id(v) in self.inputs:
            if self.layout.scalar_inputs and v.shape == ():
                return Local(self.inputs[id(v)])
            return self.inputs[id(v)]
        info = self.plan.info[v]
        if self.layout.cpu and (info.kind == "local" or (info.kind != "array"
                                                          and v not in self.plan.stored)):
            return self.ev(v, info.terms)[0]  # a 0-d value in a local, or computed here
        if info.kind in ("array", "local") or v in self.plan.stored:
            return self.buf(v)
        if info.kind == "register":
            if not wide(self.eqns[info.eqn].prim, self.eqns[info.eqn].inputs[0].dtype):
                return self.rbuf(v)
        out = f"o{self.num[id(v)]}"
        self.steps.append(Alloc(out, (1,), v.dtype))
        expr, _ = self.ev(v, info.terms)
        tail.append(Store(out, ZERO, expr))
        return out

    # -- scopes ------------------------------------------------------------------------------

    def begin(self, body: list[Stmt]) -> None:
        # (where locals live on, a value at level 0 is computed once for all later kernels)
        self.scopes, self.open = [body], [None]
        self.memo = [self.top_memo if self.layout.cpu else {}]

    def end(self) -> None:
        self.scopes, self.open, self.memo = [], [], []

    def put(self, level: int, stmts: list[Stmt]) -> None:
        """Statements in the scope at `level`, before the loop open there."""
        assert level < len(self.scopes), "a value depends on a loop that is not open"
        scope, loop = self.scopes[level], self.open[level]
        if loop is None:
            scope.extend(stmts)
        else:
            at = next(k for k, s in enumerate(scope) if s is loop)
            scope[at:at] = stmts

    # -- values at an index ------------------------------------------------------------------

    def index(self, terms: tuple[Term, ...]) -> tuple[tuple[Expr, ...], int]:
        if not terms:
            return self.zero, 0
        out, level = [], 0
        for t in terms:
            e, lv = self.term(t)
            out.append(e)
            level = max(level, lv)
        return tuple(out), level

    def term(self, t: Term) -> tuple[Expr, int]:
        if t.is_const:
            return Const(t.start, "i64"), 0
        if t.axis is not None:
            base: Expr = Idx(t.axis)
            level = t.axis + 1
        else:
            assert t.data is not None
            base, level = self.ev(*t.data)
        if t.start == 0 and t.step == 1:
            return base, level
        return Affine(base, t.start, t.step), level

    def scalar(self, v: Var) -> Expr:
        """A 0-d value of an earlier kernel (a level-0 register or a control result)."""
        info = self.plan.info[v]
        if info.kind == "register":
            e = self.eqns[info.eqn]
            if self.layout.cpu:  # (a float32 sum is rounded once, after its loop)
                return Local(self.reg(v))
            load: Expr = Load(self.rbuf(v), ZERO)
            return Cast(load, "f32") if wide(e.prim, e.inputs[0].dtype) else load
        return Local(self.reg(v)) if self.layout.cpu else Load(self.buf(v), ZERO)

    def ev(self, v: Value, terms: tuple[Term, ...]) -> tuple[Expr, int]:
        assert self.kernel is not None
        how = self.plan.access(v, self.kernel.index)
        if how == "lit":
            assert isinstance(v, Lit)
            return Const(v.scalar(), v.dtype), 0
        if how == "input" and self.layout.scalar_inputs and v.shape == ():
            return Local(self.inputs[id(v)]), 0
        if how in ("const", "input", "array"):
            idx, level = self.index(terms)
            return Load(self.array(v), idx if v.shape else self.zero), level
        assert isinstance(v, Var)
        if how == "scalar":
            return self.scalar(v), 0
        info = self.plan.info[v]
        if how == "register":
            if info.level == 0:
                return self.scalar(v), 0
            e = self.eqns[info.eqn]
            local: Expr = Local(self.reg(v))
            if wide(e.prim, e.inputs[0].dtype) and not self.layout.cpu:
                local = Cast(local, "f32")
            return local, info.level
        key = (v, terms)
        for memo in reversed(self.memo):
            if key in memo:
                return memo[key]
        return self.inline(v, terms)

    def inline(self, v: Var, terms: tuple[Term, ...]) -> tuple[Expr, int]:
        info = self.plan.info[v]
        e = self.eqns[info.eqn]
        if is_position(e):  # an argmax over size-1 axes only
            expr: Expr = Const(0, e.out.dtype)
            level = 0
        else:
            args = [self.ev(x, input_terms(e, j, terms)) for j, x in enumerate(e.inputs)]
            level = max((lv for _, lv in args), default=0)
            if PRIMS[e.prim].kind == ELEMENTWISE:
                expr = Apply(e, tuple(a for a, _ in args))
            else:  # an index remap, or a reduction over size-1 dims
                expr = args[0][0]
        # nothing to compute: no Let (on the CPU, one all the same: a statement per equation,
        # with its comment, keeps the source readable)
        if isinstance(expr, (Const, Local)) and not self.layout.cpu:
            self.memo[level][(v, terms)] = (expr, level)
            return expr, level
        if terms == info.terms:
            name = self.reg(v)
        else:
            self.alt[v] = self.alt.get(v, 0) + 1
            name = f"{self.reg(v)}_{self.alt[v]}"
        self.put(level, [Let(name, expr, self.note(info.eqn))])
        self.memo[level][(v, terms)] = (Local(name), level)
        return Local(name), level

    # -- loop kernels ------------------------------------------------------------------------

    def loop_kernel(self, kern: Kernel) -> None:
        done: set[str] = set()
        for r in kern.roots:
            if r.kind not in ("store", "scan", "accum"):
                continue
            buf = self.plan.buffer(r.var)
            name = self.buf(buf)
            if name in done:
                continue
            done.add(name)
            if r.kind in ("store", "scan"):
                self.steps.append(Alloc(name, self.shape(buf), buf.dtype))
                continue
            e = self.eqns[r.eqn]
            op = reduce_op(e.prim, e.inputs[0].dtype)
            if op in ("argmax", "argmin"):
                self.steps.append(Alloc(name, self.shape(buf), buf.dtype, 0))
                self.steps.append(Alloc(name + "_best", self.shape(buf), e.inputs[0].dtype,
                                        identity(op, e.inputs[0].dtype)))
            else:
                self.steps.append(Alloc(name, self.shape(buf), buf.dtype,
                                        identity(op, buf.dtype)))
        body: list[Stmt] = []
        self.begin(body)
        if self.layout.cpu:  # (the adds done by accumulating into one shared array)
            body += [Comment(f"{self.note(i)}   (summed in place in {self.buf(e.out)})")
                     for i in kern.members for e in [self.eqns[i]]
                     if is_sum(e) and self.plan.info[e.out].kind == "array"]
        self.items(kern.items, 0)
        self.end()
        self.steps.append(LoopKernel(f"k{kern.index}", body, self.plan.format_kernel(kern),
                                     work=math.prod(kern.domain)))

    def items(self, items: list[Loop | Root], level: int) -> None:
        for it in items:
            if not isinstance(it, Loop):
                self.root(it, level)
                continue
            for r in it.inits:
                self.init(r, level)
            loop = For(it.axis, it.extent)
            self.scopes[level].append(loop)
            self.open[level] = loop
            self.scopes.append(loop.body)
            self.open.append(None)
            self.memo.append({})
            self.items(it.items, level + 1)
            self.scopes.pop()
            self.open.pop()
            self.memo.pop()
            self.open[level] = None
            self.put(level, [Let(self.reg(r.var), Cast(Local(self.acc_reg(r)), "f32"))
                             for r in it.inits if self.acc_reg(r) != self.reg(r.var)])

    def init(self, r: Root, level: int) -> None:
        e = self.eqns[r.eqn]
        x = e.inputs[0]
        op = reduce_op(e.prim, x.dtype)
        dtype = "f64" if wide(e.prim, x.dtype) else r.var.dtype
        if r.out_level == 0 and not self.layout.cpu:  # read by later kernels: a buffer
            name = self.rbuf(r.var)
            self.steps.append(Alloc(name, (1,), dtype, 0 if op in ("argmax", "argmin")
                                    else identity(op, dtype)))
            if op in ("argmax", "argmin"):
                self.steps.append(Alloc(name + "_best", (1,), x.dtype, identity(op, x.dtype)))
            return
        self.put(level, [Init(self.acc_reg(r), op, dtype, x.dtype)])

    def acc_reg(self, r: Root) -> str:
        """The register a reduction accumulates in: on the CPU, `v3_w` for a float32 sum
        (float64; `v3` is it rounded once, after the loop)."""
        e = self.eqns[r.eqn]
        w = self.layout.cpu and wide(e.prim, e.inputs[0].dtype)
        return self.reg(r.var) + ("_w" if w else "")

    def root(self, r: Root, level: int) -> None:
        if r.kind == "store":
            expr, _ = self.ev(r.var, r.terms)
            idx, _ = self.index(r.target)
            self.put(level, [Store(self.buf(r.var), idx if r.var.shape else self.zero, expr)])
            return
        e = self.eqns[r.eqn]
        expr, _ = self.ev(e.inputs[-1] if r.kind == "scan" else e.inputs[0], r.terms)
        note = self.note(r.eqn)
        if r.kind == "scan":
            idx, _ = self.index(r.target)
            if r.axis_loop is None:
                self.put(level, [Comment(note), Store(self.buf(r.var), idx, expr)])
                return
            prev = list(r.target)
            prev[e.p["axis"]] = Term(-1, 1, r.axis_loop)
            pidx, _ = self.index(tuple(prev))
            op = PRIMS[e.prim].lowers.op or "sum"
            coef = self.ev(e.inputs[0], r.terms)[0] if op == "linear" else None
            self.put(level, [Scan(self.buf(r.var), idx, pidx, r.axis_loop, expr, note, op,
                                  coef)])
            return
        op = reduce_op(e.prim, e.inputs[0].dtype)
        if r.kind == "reduce":
            if r.out_level == 0 and not self.layout.cpu:
                name, index = self.rbuf(r.var), ZERO
            else:
                name, index = self.acc_reg(r), None
        else:
            name = self.buf(r.var)
            index, _ = self.index(r.target)
            index = index if r.var.shape else self.zero
        best = name + "_best"
        if op in ("argmax", "argmin"):
            assert r.axis_loop is not None
            self.put(level, [ArgAccumulate(op, name, best, index, expr, Idx(r.axis_loop),
                                           note)])
        else:
            self.put(level, [Accumulate(op, name, index, expr, note, eqn=e)])

    def function(self, f: SubFunction, prefix: str) -> Program:
        if id(f) not in self.functions:
            self.functions[id(f)] = _Lowerer(f.graph, f.plan, self.functions,
                                             self.layout).program(f"{prefix}_{f.name}")
        return self.functions[id(f)]
