"""Fusion's second half (a mixin of passes/fuse.py's planner): once every equation has its
kernel, sink values into the kernels that use them, then decide which values are stored in
arrays and which are recomputed where they are read (cheap arithmetic, at most
`MAX_RECOMPUTE` equations a value), place the stores, and collect what each kernel reads and
writes."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from adjit.ir.core import Lit, Value, Var
from adjit.ir.index import CONST0, Term, squeeze, term_values
from adjit.ir.primitive import PRIMS
from adjit.passes.plan import (
    CHEAP,
    CONTROL_PRIMS,
    MAX_RECOMPUTE,
    Kernel,
    Root,
    control_operands,
    input_terms,
    is_position,
    root_inputs,
)


class StorePlanner:
    """Stores and recomputation for `_Planner` (passes/fuse.py), which provides `g`, `eqns`,
    `kernels`, `info`, `eqn_kernel`, `buffers`, `stored`, `outputs`, `users`, `_memo`, and
    `deps` and `chain` (where in a kernel's loops a value can be read)."""

    g: Any
    eqns: Any
    kernels: list[Kernel]
    info: dict[Var, Any]
    eqn_kernel: list[int]
    buffers: dict[Var, Var]
    stored: set[Var]
    outputs: set[Var]
    users: dict[Var, list[int]]
    _memo: dict[Any, Any]

    def sink(self) -> None:
        """Move inline values whose users all run in later kernels into the first of those
        (so an expensive value is computed once, where it is used, instead of stored)."""
        for i in reversed(range(len(self.eqns))):
            out = self.eqns[i].outputs[0]
            info = self.info.get(out)
            if info is None or info.kind != "inline" or out in self.outputs:
                continue
            users = self.users.get(out, [])
            homes = [self.eqn_kernel[u] for u in users]
            if not homes or min(homes) <= info.kernel:
                continue
            k = min(homes)
            kern = self.kernels[k]
            sq = squeeze(self.eqns[i].out.shape)
            # It can be stored there (for readers after that kernel) only when its shape fits
            # the domain. A value that does not fit moves only when all its users are in that
            # kernel and each spans the whole domain (tanh(w) read transposed): a user of a
            # smaller shape may be read by a later kernel (a control kernel reads a 0-d
            # predicate sliced from it), which then needs this value stored, and a kernel
            # stores only along its own loops (a bool[3] sunk into a loop over 2 was stored
            # for 2 elements; the third was read from uninitialized memory).
            if kern.kind != "loop":
                continue
            if kern.domain[:len(sq)] != sq and (len(set(homes)) > 1 or any(
                    squeeze(self.eqns[u].out.shape) != kern.domain for u in users)):
                continue
            self.kernels[info.kernel].members.remove(i)
            kern.members.append(i)
            self.eqn_kernel[i] = k
            info.kernel = k

    def drop_empty(self) -> None:
        """Renumber the kernels after sinking emptied some."""
        keep = [k for k in self.kernels if k.members]
        if len(keep) == len(self.kernels):
            return
        new = {k.index: i for i, k in enumerate(keep)}
        for i, k in enumerate(keep):
            k.index = i
        for info in self.info.values():
            info.kernel = new[info.kernel]
        self.eqn_kernel = [new[k] for k in self.eqn_kernel]
        self.kernels = keep

    def need_array(self, v: Value) -> None:
        if isinstance(v, Var) and v in self.info and self.info[v].kind in ("inline", "register") \
                and v.shape != ():
            self.stored.add(v)

    def decide_stores(self) -> None:
        for v in self.outputs:
            self.need_array(v)
        for kern in self.kernels:
            if kern.kind in CONTROL_PRIMS:
                e = self.eqns[kern.members[0]]
                for j in control_operands(kern, e):
                    self.need_array(e.inputs[j])
            elif kern.kind != "loop":
                for i in kern.members:
                    for v in self.eqns[i].inputs:
                        self.need_array(v)
        self._recompute_ok: dict[Var, bool] = {}
        while True:
            before = len(self.stored)
            for kern in self.kernels:
                if kern.kind == "loop":
                    self.walk_kernel(kern, None)
                    self.walk_scalar_members(kern)
                elif kern.kind in CONTROL_PRIMS:  # 0-d operands are computed before the call
                    e = self.eqns[kern.members[0]]
                    for j in control_operands(kern, e):
                        if e.inputs[j].shape == ():
                            self.walk(e.inputs[j], (), kern, set(), None)
            if len(self.stored) == before:
                break

    def root_reads(self, kern: Kernel) -> Iterator[tuple[Value, tuple[Term, ...]]]:
        for r in kern.roots:
            if r.kind in ("store", "scratch"):
                yield r.var, r.terms
                continue
            e = self.eqns[r.eqn]
            for x in root_inputs(e):
                yield x, r.terms
            yield from term_values(r.target)  # a scatter's indices
        for v in self.stored:
            info = self.info[v]
            if info.kernel == kern.index and not any(r.kind == "store" and r.var is v
                                                     for r in kern.roots):
                yield v, info.terms

    def walk_scalar_members(self, kern: Kernel, reads: list | None = None) -> None:
        """A kernel's one-element results outside its loops (all of them in a scalar kernel,
        which has no loop and often no roots) are locals, read by no root: what their
        equations read from other kernels (an element of a reduced array, say) must still be
        stored by them. (A loop(2) kernel whose members were all sliced down to scalars read
        another kernel's register that nothing stored: a NameError in the generated code.)"""
        seen: set = set()
        for i in kern.members:
            e = self.eqns[i]
            if len(e.outputs) != 1 or e.out.type.size != 1:
                continue
            info = self.info.get(e.out)
            if kern.domain and (info is None or info.kind != "inline"):
                continue  # a reduction's inputs are read by its root, in the loops
            at = (CONST0,) * e.out.type.ndim  # the one element of a size-1 result
            for j, x in enumerate(e.inputs):
                if PRIMS[e.prim].lowers.index is not None:
                    self.walk(x, input_terms(e, j, at), kern, seen, reads)

    def walk_kernel(self, kern: Kernel, reads: list | None) -> None:
        seen: set = set()
        for v, terms in list(self.root_reads(kern)):
            self.walk(v, terms, kern, seen, reads)

    def walk(self, v: Value, terms: tuple[Term, ...], kern: Kernel, seen: set,
             reads: list | None) -> None:
        """Visit what reading `v` at `terms` in `kern` touches; store what cannot be redone."""
        key = (v, terms)
        if key in seen:
            return
        seen.add(key)
        for dv, dt in term_values(terms):
            self.walk(dv, dt, kern, seen, reads)
        if isinstance(v, Lit):
            if not v.is_scalar and reads is not None and v not in reads:
                reads.append(v)
            return
        info = self.info.get(v)
        memory = info is None or info.kind == "array" or (
            info.kind == "register" and info.kernel != kern.index and info.level > 0)
        if info is not None and info.kind == "register" and memory:
            self.stored.add(v)
        if info is not None and info.kind == "inline" and info.kernel != kern.index:
            if v in self.stored:
                memory = True
            elif info.level > 0 and not self.recomputable(v):
                self.stored.add(v)
                memory = True
            elif reads is not None and info.eqn not in kern.recomputed:
                kern.recomputed.append(info.eqn)
        if memory:
            if reads is not None:
                mem = self.buffer(v) if isinstance(v, Var) else v
                if mem not in reads:
                    reads.append(mem)
            return
        if info is None or info.kind in ("register", "local"):
            return
        e = self.eqns[info.eqn]
        if is_position(e):
            return
        for j, x in enumerate(e.inputs):
            self.walk(x, input_terms(e, j, terms), kern, seen, reads)

    def buffer(self, v: Var) -> Var:
        while v in self.buffers:
            v = self.buffers[v]
        return v

    def recomputable(self, v: Var, budget: list[int] | None = None) -> bool:
        """Cheap arithmetic over arrays and scalars, small enough to redo in a later kernel."""
        top = budget is None
        if top and v in self._recompute_ok:
            return self._recompute_ok[v]
        budget = [MAX_RECOMPUTE] if budget is None else budget
        info = self.info[v]
        e = self.eqns[info.eqn]
        ok = e.prim in CHEAP
        budget[0] -= 1
        if budget[0] < 0:
            ok = False
        for x in e.inputs if ok else ():
            if isinstance(x, Lit) or x not in self.info:
                continue
            xi = self.info[x]
            if xi.kind == "array" or x in self.stored or xi.level == 0:
                continue
            if xi.kind == "register" or not self.recomputable(x, budget):
                ok = False
                break
        if top:
            self._recompute_ok[v] = ok
        return ok

    def place_stores(self) -> None:
        for v in sorted(self.stored, key=lambda v: self.info[v].eqn):
            info = self.info[v]
            kern = self.kernels[info.kernel]
            self._memo.clear()
            deps = self.deps(v, info.terms, kern)
            assert deps is not None, "a value is always readable at its own index"
            chain = self.chain(kern, deps, info.level, True, kern.domain)
            assert chain is not None
            root = Root("store", v, info.eqn, info.level, info.terms, info.terms,
                        chain=tuple(chain))
            (chain[-1].items if chain else kern.items).append(root)
            kern.roots.append(root)

    def collect(self) -> None:
        for kern in self.kernels:
            if kern.kind in CONTROL_PRIMS:
                e = self.eqns[kern.members[0]]
                seen: set = set()
                for j in control_operands(kern, e):
                    v = e.inputs[j]
                    if v.shape == () and isinstance(v, Var) and v in self.info \
                            and self.info[v].kind != "local":
                        self.walk(v, (), kern, seen, kern.reads)  # the arrays it is made of
                    elif isinstance(v, Var) or not v.is_scalar:
                        mem = self.buffer(v) if isinstance(v, Var) else v
                        if mem not in kern.reads:
                            kern.reads.append(mem)
                kern.writes.extend(e.outputs)
                continue
            if kern.kind != "loop":
                e = self.eqns[kern.members[0]]
                for v in e.inputs:
                    mem = self.buffer(v) if isinstance(v, Var) else v
                    if mem not in kern.reads:
                        kern.reads.append(mem)
                kern.writes.extend(e.outputs)
                continue
            self.walk_kernel(kern, kern.reads)
            self.walk_scalar_members(kern, kern.reads)
            writes = [r.var for r in kern.roots if r.kind == "store"]
            for r in kern.roots:
                if r.kind in ("accum", "scan"):
                    b = self.buffer(r.var)
                    if b not in writes:
                        writes.append(b)
            kern.writes.extend(writes)
            kern.members.sort()
            kern.recomputed.sort()
