"""Fusion: partition a graph into kernels, each one loop nest (or one library call).

`fuse(graph) -> KernelPlan`. The plan decides *what* runs in which loop; `codegen.cpu` only
renders it. The model:

- A loop kernel iterates a domain D (a shape, size-1 axes squeezed out) with loop indices
  i0, i1, ... . Every equation in it has a *driving shape*: its output for elementwise and
  shape work, its input for reductions, scans and scatters. The driving shape, squeezed,
  must be a prefix D[:L] of the domain; L is the equation's *level*, the number of loops
  around it. Dims of size 1 are read at index 0.
- Values are functions of an index. An index is a tuple of `Term`s (start + step * i_axis,
  a constant, or start + step * <an integer value at some index>), so broadcast_to,
  reshapes that add or drop size-1 dims, transpose, slice and gather are *index remaps*:
  no loop, no array, just a different index for the value they read. Elementwise values
  are *inline*: held in scalar locals and recomputed, at the index asked for, in every loop
  that needs them (cheap arithmetic instead of a temporary array).
- Roots do the work that must happen once per element: a reduction over trailing axes
  D[k:L] accumulates into a *register* (a scalar local at level k, available after its
  loop, to later loops and to outer statements of the same outer iteration: softmax is one
  outer loop over rows with three inner loops); a reduction over other axes, `unslice` and
  `scatter_add` accumulate into a zero-initialised array (available to later kernels only);
  `cumsum` is a scan into an array; and *stores* write values that later kernels, library
  calls or the graph's outputs need.
- Placement, in equation order: an equation joins the earliest loop kernel that comes after
  the kernels producing its inputs, whose domain fits (or extends by more trailing axes),
  where every register it reads is read at its own index, and where a loop position exists
  after the loops that compute those registers. Otherwise it opens a new kernel. `matmul`
  (BLAS), the `LIBRARY` primitives (convolution and pooling: one call of a library kernel,
  codegen/conv_kernels.py), `concatenate` and general reshapes are kernels of their own.
  Inline values all of whose users landed in one later kernel are then moved there. `add` of
  two accumulation arrays of one kernel becomes a shared accumulator.
- What serves a CPU's caches and vectorizer (scratch rows for values sibling loops share,
  sum accumulators and their walks) is not decided here but by the CPU's passes over the
  loop IR (codegen/cpu_sums.py, cpu_scratch.py, cpu_passes.py): the plan is target-neutral.
- A value used by a later kernel is recomputed there when it is cheap arithmetic over
  arrays, otherwise stored by its kernel. Scalars (0-d values) are plain locals of the
  generated function, visible to every later kernel.
Memory passes: a loop kernel counts one pass per innermost loop of its nest (each is one
sweep over part of the domain; softmax's row kernel counts 3), a library call counts 1, a
reshape view 0.

Control flow (`cond`, `while`, `while_grad`) is a kernel of its own. Each sub-graph is planned
recursively as a *function* (`SubFunction`: its own plan, and the inputs it reads), which the
code generator emits as a separate function of the same module and calls: the branch taken
and the trip count are decided at run time. The kernel reads its operands as arrays (inline
values are stored) or scalars; its 0-d results are scalar locals ('local'), the others arrays.
Sub-graphs with the same text share one function. A `while_grad` whose `while` (same cond,
body and operands) runs earlier in the same graph is its *partner*: the `while` records the
tape (the carried values body_vjp reads, `taped`) and the `while_grad` only runs the reverse
loop, so the joint graph of a loop runs the loop forward once. A loop kernel's passes are
counted per iteration.

Before (the value and gradient of sum(x**2 * exp(x))) and after:

>>> import numpy as np
>>> from adjit.ir import ArrayType, Builder, Var, building, ops
>>> x = Var(ArrayType("f64", (1000,)), "x")
>>> with building(Builder()) as b:
...     t = ops.mul(x, x); e = ops.exp(x); s = ops.reduce_sum(ops.mul(t, e), (0,))
...     ct = ops.broadcast_to(1.0, (1000,), "f64")
...     g = ops.add(ops.mul(ops.mul(ct, e), ops.mul(2.0, x)), ops.mul(ops.mul(ct, t), e))
...     graph = b.graph("f", (x,), (s, g))
>>> print(graph.format(locs=False))
graph f(x: f64[1000]) -> (f64[], f64[1000]):
  %0 = mul x, x : f64[1000]
  %1 = exp x : f64[1000]
  %2 = mul %0, %1 : f64[1000]
  %3 = reduce_sum[axes=(0,)] %2 : f64[]
  %4 = broadcast_to[shape=(1000,)] 1.0 : f64[1000]
  %5 = mul %4, %1 : f64[1000]
  %6 = mul 2.0, x : f64[1000]
  %7 = mul %5, %6 : f64[1000]
  %8 = mul %4, %0 : f64[1000]
  %9 = mul %8, %1 : f64[1000]
  %10 = add %7, %9 : f64[1000]
  return %3, %10
>>> print(fuse(graph))
k0 loop(1000) %0-%10 reads x writes %10 | i0<1000[sum %3, store %10] | passes 1
memory passes: 1 (1 kernel)
"""
from __future__ import annotations

from typing import Any

from adjit.ir.core import Eqn, Graph, Lit, Value, Var
from adjit.ir.errors import CodegenError
from adjit.ir.index import (
    Term,
    driving_terms,
    reduced_axes,
    squeeze,
    term_values,
)
from adjit.ir.primitive import (
    ACCUMULATE,
    CALL,
    CONCAT,
    CONTROL_FLOW,
    LIBRARY,
    MATMUL,
    PRIMS,
    REDUCTION,
    REMAP,
    SCALAR,
    SCAN,
    VIEW,
)
from adjit.passes.fuse_stores import StorePlanner
from adjit.passes.plan import (
    BODY,
    COND,
    CONTROL_PRIMS,
    ROLES,
    WHILE,
    WHILE_GRAD,
    Kernel,
    KernelPlan,
    Loop,
    Root,
    SubFunction,
    ValueInfo,
    input_terms,
    is_position,
    is_sum,
    number,
    root_inputs,
)

# ---- planning -------------------------------------------------------------------------------


def fuse(graph: Graph) -> KernelPlan:
    """Partition `graph` into kernels (see the module docstring)."""
    return _Planner(graph).run()


def _used_inputs(g: Graph) -> tuple[int, ...]:
    used = {id(v) for e in g.eqns for v in e.inputs} | {id(v) for v in g.outputs}
    return tuple(i for i, v in enumerate(g.inputs) if id(v) in used)


def _same_operands(a: tuple[Value, ...], b: tuple[Value, ...]) -> bool:
    return len(a) == len(b) and all(
        x is y or (isinstance(x, Lit) and isinstance(y, Lit) and x == y)
        for x, y in zip(a, b, strict=True))


class _Planner(StorePlanner):
    def __init__(self, graph: Graph, functions: dict[str, SubFunction] | None = None,
                 prefix: str = "", start: int = 0) -> None:
        self.functions = {} if functions is None else functions  # graph text -> function
        self.prefix = prefix  # of the names of the functions this graph's kernels call
        self.start = start  # where this graph's %N numbering starts
        self.g = graph
        self.eqns = graph.eqns
        self.kernels: list[Kernel] = []
        self.info: dict[Var, ValueInfo] = {}
        self.eqn_kernel: list[int] = []
        self.buffers: dict[Var, Var] = {}
        self.stored: set[Var] = set()
        self.outputs = {v for v in graph.outputs if isinstance(v, Var)}
        self.users: dict[Var, list[int]] = {}
        for i, e in enumerate(self.eqns):
            for v in e.inputs:
                if isinstance(v, Var):
                    self.users.setdefault(v, []).append(i)
        self._memo: dict[Any, Any] = {}

    def run(self) -> KernelPlan:
        for i, e in enumerate(self.eqns):
            self.assign(i, e)
        self.sink()
        self.drop_empty()
        self.plan_control()
        self.decide_stores()
        self.place_stores()
        self.collect()
        return KernelPlan(self.g, self.kernels, self.info, self.stored, self.buffers,
                          self.start)

    # -- control flow ------------------------------------------------------------------------

    def plan_control(self) -> None:
        """Plan the sub-graphs of control kernels as functions, and pair each `while_grad`
        with a `while` of the same loop on the same operands (the joint graph of a loop has
        both: the forward value, and the gradient that runs the loop again): the `while`
        records the tape, the `while_grad` reuses it and only runs backwards."""
        controls = [k for k in self.kernels if k.kind in CONTROL_PRIMS]
        if not controls:
            return
        _, _, starts = number(self.g, self.start)
        for kern in controls:
            (i,) = kern.members
            e = self.eqns[i]
            for key, sub in e.subgraphs():
                role = ROLES.get(key, key)
                kern.calls[role] = self.function(f"k{kern.index}_{role}", sub, starts[(i, key)])
            if kern.kind != WHILE_GRAD:
                continue
            n_consts = e.p["n_consts"]
            body = e.p["body"]
            kern.taped = tuple(j for j in range(len(body.outputs))
                               if n_consts + j in kern.calls["body_vjp"].params)
            kern.tape_row_bytes = sum(body.inputs[n_consts + j].type.size
                                      * body.inputs[n_consts + j].type.np_dtype.itemsize
                                      for j in kern.taped)
            for fwd in controls:
                if fwd.index >= kern.index:
                    break
                fe = self.eqns[fwd.members[0]]
                if fwd.kind == WHILE and fwd.partner is None \
                        and fwd.calls[COND] is kern.calls[COND] \
                        and fwd.calls[BODY] is kern.calls[BODY] \
                        and fe.p["n_consts"] == n_consts \
                        and _same_operands(fe.inputs, e.inputs[:len(body.inputs)]):
                    fwd.partner, kern.partner = kern.index, fwd.index
                    fwd.taped, fwd.tape_row_bytes = kern.taped, kern.tape_row_bytes
                    break

    def function(self, name: str, g: Graph, start: int) -> SubFunction:
        key = g.format(locs=False)
        f = self.functions.get(key)
        if f is None:
            full = self.prefix + name
            plan = _Planner(g, self.functions, full + "_", start).run()
            f = SubFunction(full, g, plan, _used_inputs(g))
            self.functions[key] = f
        return f

    # -- classification ----------------------------------------------------------------------

    def kind(self, e: Eqn) -> str:
        """How fusion treats `e`, from its primitive's declared `Lowering`: 'inline' (a
        scalar or a remap, computed where read), 'reduce', 'accumulate', 'scan', or a kernel
        of its own ('control', 'matmul', 'library', 'concatenate', 'view')."""
        low = PRIMS[e.prim].lowers if e.prim in PRIMS else None
        if low is not None and low.how == CONTROL_FLOW:
            return "control"
        if low is None or any(True for _ in e.subgraphs()):
            raise CodegenError(f"the CPU backend cannot compile `{e.prim}`", loc=e.loc,
                               hint="control flow and unknown primitives have no lowering yet")
        if len(e.outputs) != 1 and PRIMS[e.prim].kind != LIBRARY:
            raise CodegenError(f"`{e.prim}` has {len(e.outputs)} outputs; fusion handles one",
                               loc=e.loc)
        if low.inline_if is not None and not low.inline_if(e):
            return "view"  # the same data, another shape or name: no work, no copy
        if low.how in (SCALAR, REMAP):
            return "inline"
        if low.how == REDUCTION:
            x = e.inputs[0]
            if all(x.shape[a] == 1 for a in reduced_axes(e)):
                return "inline"  # nothing to reduce: a reshape (or 0 for argmax)
            return "reduce"
        return {ACCUMULATE: "accumulate", SCAN: "scan", MATMUL: MATMUL, CALL: "library",
                CONCAT: CONCAT}[low.how]

    def avail(self, v: Value) -> int:
        """The first kernel that may read `v`."""
        if isinstance(v, Lit) or v not in self.info:
            return 0
        info = self.info[v]
        return info.kernel + 1 if info.kind in ("array", "local") else info.kernel

    # -- assignment --------------------------------------------------------------------------

    def assign(self, i: int, e: Eqn) -> None:
        kind = self.kind(e)
        if kind == "control":  # a kernel of its own; 0-d results are scalar locals
            k = self.new_kernel(e.prim, ())
            self.kernels[k].members.append(i)
            self.eqn_kernel.append(k)
            for o in e.outputs:
                self.info[o] = ValueInfo("local" if o.shape == () else "array", k, i)
            return
        if kind in (MATMUL, "library", CONCAT, VIEW):
            k = self.new_kernel(kind, e.outputs[0].shape)
            self.kernels[k].members.append(i)
            self.eqn_kernel.append(k)
            for o in e.outputs:  # a library call may fill several arrays (svd: u, s, vt)
                self.info[o] = ValueInfo("array", k, i)
            return
        if is_sum(e) and self.merge(i, e):
            return
        lo = max((self.avail(v) for v in e.inputs), default=0)
        for k in range(lo, len(self.kernels)):
            if self.kernels[k].kind == "loop" and self.place(i, e, kind, self.kernels[k], False):
                self.place(i, e, kind, self.kernels[k], True)
                return
        shape = e.out.shape if kind == "inline" else e.inputs[0].shape
        k = self.new_kernel("loop", squeeze(shape))
        if not self.place(i, e, kind, self.kernels[k], True):
            raise AssertionError(f"cannot place {e.prim} in a fresh kernel")

    def new_kernel(self, kind: str, domain: tuple[int, ...]) -> int:
        self.kernels.append(Kernel(len(self.kernels), kind, tuple(domain)))
        return len(self.kernels) - 1

    def merge(self, i: int, e: Eqn) -> bool:
        """add(acc_a, acc_b) of two sum-accumulations of one kernel: one shared accumulator."""
        a, b = e.inputs
        if not (isinstance(a, Var) and isinstance(b, Var)) or a is b:
            return False
        ia, ib = self.info.get(a), self.info.get(b)
        if ia is None or ib is None or not (ia.summable and ib.summable):
            return False
        if ia.kernel != ib.kernel or a.type != e.out.type or b.type != e.out.type:
            return False
        if self.users[a] != [i] or self.users[b] != [i] or a in self.outputs or b in self.outputs:
            return False
        self.buffers[a] = e.out
        self.buffers[b] = e.out
        self.info[e.out] = ValueInfo("array", ia.kernel, i, summable=True)
        self.kernels[ia.kernel].members.append(i)
        self.eqn_kernel.append(ia.kernel)
        return True

    def place(self, i: int, e: Eqn, kind: str, kern: Kernel, commit: bool) -> bool:
        shape = e.out.shape if kind == "inline" else e.inputs[0].shape
        sq = squeeze(shape)
        dom = kern.domain
        if dom[:len(sq)] == sq:
            new_dom = dom
        elif sq[:len(dom)] == dom:
            new_dom = sq
        else:
            return False
        level = len(sq)
        terms = driving_terms(shape)
        self._memo.clear()
        if kind == "inline":
            deps = self.eqn_deps(e, terms, kern)
        else:
            deps: frozenset | None = frozenset()
            for x in root_inputs(e):
                more = self.deps(x, terms, kern)
                deps = None if more is None or deps is None else deps | more
            if deps is not None and kind == "accumulate":  # and the values its target reads
                for v, at in term_values(PRIMS[e.prim].lowers.target(e, terms)):
                    more = self.deps(v, at, kern)
                    deps = None if more is None else deps | more
                    if deps is None:
                        break
        if deps is None:
            return False
        if not commit:
            return self.chain(kern, deps, level, False, new_dom) is not None
        kern.domain = new_dom
        kern.members.append(i)
        self.eqn_kernel.append(kern.index)
        out = e.out
        if kind == "inline":
            self.info[out] = ValueInfo("inline", kern.index, i, terms, level)
            return True
        chain = self.chain(kern, deps, level, True, new_dom)
        assert chain is not None
        body = chain[-1].items if chain else kern.items
        op = PRIMS[e.prim].lowers.op
        if kind == "reduce":
            axes = reduced_axes(e)
            kept = tuple(t for d, t in enumerate(terms) if d not in axes)
            kept_axes = [t.axis for t in kept if t.axis is not None]
            red = [terms[a].axis for a in axes if terms[a].axis is not None]
            position = red[0] if op in ("argmax", "argmin") else None
            if kept_axes == list(range(len(kept_axes))):  # a register at level k
                k = len(kept_axes)
                root = Root("reduce", out, i, level, terms, out_level=k, axis_loop=position)
                chain[k].inits.append(root)
                self.info[out] = ValueInfo("register", kern.index, i, kept, k, root,
                                           tuple(chain[:k + 1]))
            else:
                root = Root("accum", out, i, level, terms, kept, axis_loop=position)
                self.info[out] = ValueInfo("array", kern.index, i, summable=op == "sum")
        elif kind == "accumulate":
            root = Root("accum", out, i, level, terms, PRIMS[e.prim].lowers.target(e, terms))
            self.info[out] = ValueInfo("array", kern.index, i, summable=op == "sum")
        else:  # a scan along its axis
            root = Root("scan", out, i, level, terms, terms, axis_loop=terms[e.p["axis"]].axis)
            self.info[out] = ValueInfo("array", kern.index, i)
        root.chain = tuple(chain)
        body.append(root)
        kern.roots.append(root)
        return True

    # -- dependencies on registers -----------------------------------------------------------

    def eqn_deps(self, e: Eqn, terms: tuple[Term, ...], kern: Kernel) -> frozenset | None:
        if is_position(e):  # over a size-1 dim: the constant 0
            return frozenset()
        deps: frozenset = frozenset()
        for j, x in enumerate(e.inputs):
            d = self.deps(x, input_terms(e, j, terms), kern)
            if d is None:
                return None
            deps |= d
        return deps

    def deps(self, v: Value, terms: tuple[Term, ...], kern: Kernel) -> frozenset | None:
        """The registers of `kern` that reading `v` at `terms` inside `kern` needs, or None
        when it cannot be read there (a register read away from its own index, an array not
        written yet)."""
        key = (v, terms)
        if key in self._memo:
            return self._memo[key]
        deps: frozenset | None = frozenset()
        for dv, dt in term_values(terms):
            d = self.deps(dv, dt, kern)
            deps = None if d is None or deps is None else deps | d
        if deps is not None and isinstance(v, Var) and v in self.info:
            info = self.info[v]
            if info.kind in ("array", "local"):
                if info.kernel >= kern.index:
                    deps = None
            elif info.kind == "register":
                if info.kernel == kern.index:
                    same = all(a.is_const or a == b for a, b in zip(info.terms, terms,
                                                                      strict=True))
                    deps = deps | {info.root} if same else None
            elif info.kernel == kern.index:
                d = self.eqn_deps(self.eqns[info.eqn], terms, kern)
                deps = None if d is None else deps | d
        self._memo[key] = deps
        return deps

    def chain(self, kern: Kernel, deps: frozenset, level: int, commit: bool,
              domain: tuple[int, ...]) -> list[Loop] | None:
        """The loops (outermost first) a statement at `level` reading registers `deps` goes
        in: inside the loops that hold each register's outer iterations, after the loop that
        completes it; the earliest such existing loop, else a new one at the end."""
        infos = [self.info[r.var] for r in deps]
        items, parent = kern.items, None
        chain: list[Loop] = []
        for j in range(level):
            equal = {inf.path[j] for inf in infos if inf.level > j}
            after = [inf.path[j] for inf in infos if inf.level == j]
            if any(lp.parent is not parent for lp in equal) or any(
                    lp.parent is not parent for lp in after) or len(equal) > 1:
                return None
            pos = max((items.index(lp) for lp in after), default=-1)
            if equal:
                (c,) = equal
                if items.index(c) <= pos:
                    return None
            else:
                c = next((it for it in items[pos + 1:] if isinstance(it, Loop)), None)
                if c is None:
                    c = Loop(j, domain[j], parent)
                    if commit:
                        items.append(c)
            chain.append(c)
            parent, items = c, c.items
        if any(inf.level > level for inf in infos):
            return None
        return chain
