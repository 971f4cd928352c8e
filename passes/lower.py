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
  (accumulations filled with their identity). The plan's CPU schedule is not kept: a
  `Scratch` (a row cached for sibling loops) is recomputed, a `Walk` (carried partial sums
  of shifted slices) is a plain accumulation into a zeroed array.
- A kernel that is not a loop nest (matmul, a library call, concatenate, a reshape) is a
  `CallStep`: the target runs it with a library kernel of its own where it has one, else
  with the primitive's reference implementation on the host. Control flow is a
  `ControlStep` calling the programs of its sub-graphs (lowered the same way, each once).
  Their 0-d operands computed inline are stored first.
"""
from __future__ import annotations

import keyword
import re
from typing import Any

import numpy as np
from adjit.ir.core import Graph, Lit, Value, Var
from adjit.ir.loops import (
    Accumulate,
    Affine,
    Alloc,
    ArgAccumulate,
    Apply,
    Buffer,
    Cast,
    Const,
    ControlStep,
    Expr,
    For,
    identity,
    CallStep,
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
    CONTROL_PRIMS,
    REDUCERS,
    Kernel,
    KernelPlan,
    Loop,
    Root,
    SubFunction,
    Term,
    control_operands,
    input_terms,
    is_position,
)

ZERO = (Const(0, "i64"),)  # the index of a one-element buffer
# Names the printed code uses itself (modules, builtins, the CUDA printer's locals): a graph
# input so named is renamed.
RESERVED = set("np math cmath cuda nt sf fm tid half range abs min max int float bool len".split())
# The names the lowering and the printer make up: buffers (a3, r2, o5, c0, a3_best), locals
# (v4, v4_2, t1), loop indices (i0), a block's partial sums (p_r2_0, p_r2_0_s). An input so
# named is renamed (an argument named i0 was the loop index inside the kernel).
GENERATED = re.compile(r"[avrocspti]\d+(_\w*)?|p_\w*")


def reduce_op(prim: str, dtype: str) -> str:
    """The accumulation of reduction `prim` over `dtype` values (boolean sums are `or`)."""
    op = REDUCERS.get(prim, "sum")
    if dtype == "bool" and op in ("sum", "prod"):
        return "or" if op == "sum" else "and"
    return op


def wide(prim: str, dtype: str) -> bool:
    """A float32 sum accumulates in float64 (codegen/cpu.py `wide_register`)."""
    return REDUCERS.get(prim, "sum") == "sum" and dtype == "f32"


def lower(graph: Graph, plan: KernelPlan, name: str = "") -> Program:
    return _Lowerer(graph, plan, {}).program(name or graph.name)


class _Lowerer:
    def __init__(self, graph: Graph, plan: KernelPlan,
                 functions: dict[int, Program]) -> None:
        self.functions = functions  # programs of the sub-graphs lowered so far, by function
        self.g = graph
        self.plan = plan
        self.eqns = graph.eqns
        self.num = {id(o): plan.names[id(o)].lstrip("%") for e in graph.eqns for o in e.outputs}
        self.inputs: dict[int, str] = {}
        used: set[str] = set()
        for v in graph.inputs:
            base = plan.names[id(v)]
            if keyword.iskeyword(base) or not base.isidentifier() or base in RESERVED \
                    or GENERATED.fullmatch(base):
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

    # -- names -------------------------------------------------------------------------------

    def buf(self, v: Var) -> str:
        return f"a{self.num[id(self.plan.buffer(v))]}"

    def reg(self, v: Var) -> str:
        return f"v{self.num[id(v)]}"

    def rbuf(self, v: Var) -> str:
        """The one-element buffer of a level-0 register."""
        return f"r{self.num[id(v)]}"

    def array(self, v: Value) -> str:
        if isinstance(v, Lit):
            if v not in self.consts:
                self.consts[v] = f"c{len(self.consts)}"
            return self.consts[v]
        if id(v) in self.inputs:
            return self.inputs[id(v)]
        return self.buf(v)

    def note(self, i: int) -> str:
        e = self.eqns[i]
        where = e.loc.short() if e.loc else ""
        return f"{self.plan.eqn_text[i]}" + (f"   {where}" if where else "")

    # -- the program -------------------------------------------------------------------------

    def program(self, name: str) -> Program:
        for kern in self.plan.kernels:
            self.kernel = kern
            if kern.kind == "loop":
                self.loop_kernel(kern)
            else:
                self.call(kern)
        outputs: list[str | Const] = []
        tail: list[Stmt] = []
        self.kernel = Kernel(len(self.plan.kernels), "loop", ())
        self.begin(tail)
        for v in self.g.outputs:
            outputs.append(self.output(v, tail))
        self.end()
        if tail:
            self.steps.append(LoopKernel(f"k{len(self.plan.kernels)}", tail, "0-d outputs"))
        ins = [Buffer(self.inputs[id(v)], v.shape or (1,), v.dtype) for v in self.g.inputs]
        consts = [(Buffer(n, v.shape or (1,), v.dtype), np.asarray(v.value))
                  for v, n in self.consts.items()]
        return Program(name, ins, consts, self.steps, outputs,
                       [v.shape for v in self.g.outputs])

    def output(self, v: Value, tail: list[Stmt]) -> str | Const:
        if isinstance(v, Lit):
            return Const(v.scalar(), v.dtype) if v.is_scalar else self.array(v)
        if id(v) in self.inputs:
            return self.inputs[id(v)]
        info = self.plan.info[v]
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
        self.scopes, self.open, self.memo = [body], [None], [{}]

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
            return ZERO, 0
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
            load: Expr = Load(self.rbuf(v), ZERO)
            return Cast(load, "f32") if wide(e.prim, e.inputs[0].dtype) else load
        return Load(self.buf(v), ZERO)

    def ev(self, v: Value, terms: tuple[Term, ...]) -> tuple[Expr, int]:
        assert self.kernel is not None
        how = self.plan.access(v, self.kernel.index)
        if how == "lit":
            assert isinstance(v, Lit)
            return Const(v.scalar(), v.dtype), 0
        if how in ("const", "input", "array"):
            idx, level = self.index(terms)
            return Load(self.array(v), idx if v.shape else ZERO), level
        assert isinstance(v, Var)
        if how == "scalar":
            return self.scalar(v), 0
        info = self.plan.info[v]
        if how == "register":
            if info.level == 0:
                return self.scalar(v), 0
            e = self.eqns[info.eqn]
            local: Expr = Local(self.reg(v))
            if wide(e.prim, e.inputs[0].dtype):
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
        if isinstance(expr, (Const, Local)):  # nothing to compute: no Let
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
                self.steps.append(Alloc(name, buf.shape or (1,), buf.dtype))
                continue
            e = self.eqns[r.eqn]
            op = reduce_op(e.prim, e.inputs[0].dtype)
            if op in ("argmax", "argmin"):
                self.steps.append(Alloc(name, buf.shape or (1,), buf.dtype, 0))
                self.steps.append(Alloc(name + "_best", buf.shape or (1,), e.inputs[0].dtype,
                                        identity(op, e.inputs[0].dtype)))
            else:
                self.steps.append(Alloc(name, buf.shape or (1,), buf.dtype,
                                        identity(op, buf.dtype)))
        body: list[Stmt] = []
        self.begin(body)
        self.items(kern.items, 0)
        self.end()
        self.steps.append(LoopKernel(f"k{kern.index}", body, self.plan.format_kernel(kern)))

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

    def init(self, r: Root, level: int) -> None:
        e = self.eqns[r.eqn]
        x = e.inputs[0]
        op = reduce_op(e.prim, x.dtype)
        dtype = "f64" if wide(e.prim, x.dtype) else r.var.dtype
        if r.out_level == 0:  # read by later kernels: a buffer
            name = self.rbuf(r.var)
            self.steps.append(Alloc(name, (1,), dtype, 0 if op in ("argmax", "argmin")
                                    else identity(op, dtype)))
            if op in ("argmax", "argmin"):
                self.steps.append(Alloc(name + "_best", (1,), x.dtype, identity(op, x.dtype)))
            return
        self.put(level, [Init(self.reg(r.var), op, dtype, x.dtype)])

    def root(self, r: Root, level: int) -> None:
        if r.kind == "scratch":
            return  # recomputed where read (see the module docstring)
        if r.kind == "store":
            expr, _ = self.ev(r.var, r.terms)
            idx, _ = self.index(r.target)
            self.put(level, [Store(self.buf(r.var), idx if r.var.shape else ZERO, expr)])
            return
        e = self.eqns[r.eqn]
        expr, _ = self.ev(e.inputs[-1] if r.kind == "scan" else e.inputs[0], r.terms)
        note = self.note(r.eqn)
        if r.kind == "scan":
            idx, _ = self.index(r.target)
            if r.axis_loop is None:
                self.put(level, [Store(self.buf(r.var), idx, expr)])
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
            if r.out_level == 0:
                name, index = self.rbuf(r.var), ZERO
                best = name + "_best"
            else:
                name, index = self.reg(r.var), None
                best = name + "_best"
        else:
            name = self.buf(r.var)
            index, _ = self.index(r.target)
            index = index if r.var.shape else ZERO
            best = name + "_best"
        if op in ("argmax", "argmin"):
            assert r.axis_loop is not None
            self.put(level, [ArgAccumulate(op, name, best, index, expr, Idx(r.axis_loop),
                                           note)])
        else:
            self.put(level, [Accumulate(op, name, index, expr, note)])

    # -- other kernels -----------------------------------------------------------------------

    def function(self, f: SubFunction, prefix: str) -> Program:
        if id(f) not in self.functions:
            self.functions[id(f)] = _Lowerer(f.graph, f.plan, self.functions).program(
                f"{prefix}_{f.name}")
        return self.functions[id(f)]

    def call(self, kern: Kernel) -> None:
        """A kernel that is not a loop nest: one call per equation (a control kernel calls
        the programs of its sub-graphs)."""
        pre: list[Stmt] = []
        self.begin(pre)
        for i in kern.members:
            e = self.eqns[i]
            reads: list[str | Const] = []
            # An operand no sub-graph reads may never have been stored (it can stay fused in
            # a loop nest): a placeholder stands for it, which the called programs ignore.
            used = set(control_operands(kern, e)) if kern.kind in CONTROL_PRIMS else None
            for j, x in enumerate(e.inputs):
                if used is not None and j not in used:
                    reads.append(Const(0, x.dtype))
                elif isinstance(x, Lit) and x.is_scalar:
                    reads.append(Const(x.scalar(), x.dtype))
                elif isinstance(x, Lit) or id(x) in self.inputs:
                    reads.append(self.array(x))
                elif x.shape == () and self.plan.access(x, kern.index) in ("inline",
                                                                           "register"):
                    name = f"o{self.num[id(x)]}_{kern.index}"
                    self.steps.append(Alloc(name, (1,), x.dtype))
                    expr, _ = self.ev(x, ())
                    pre.append(Store(name, ZERO, expr))
                    reads.append(name)
                elif x.shape == () and self.plan.info[x].kind == "register":
                    reads.append(self.rbuf(x))
                else:
                    reads.append(self.buf(x))
            writes = tuple(self.buf(o) for o in e.outputs)
            if pre:
                self.steps.append(LoopKernel(f"k{kern.index}_operands", list(pre),
                                             f"the 0-d operands of k{kern.index}"))
                pre.clear()
            if kern.kind in CONTROL_PRIMS:
                calls = {role: self.function(f, self.g.name) for role, f in kern.calls.items()}
                self.steps.append(ControlStep(e, kern.index, tuple(reads), writes, calls,
                                              kern.partner, self.note(i)))
            else:
                self.steps.append(CallStep(e, tuple(reads), writes, self.note(i)))
        self.end()
