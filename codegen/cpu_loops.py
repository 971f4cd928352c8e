"""The loop nests of generated CPU source (a mixin of codegen/cpu.py's emitter): loops over a
kernel's domain, the outermost one on threads for large kernels, and the roots each loop
level ends with: stores, scratch rows, reductions into registers and arrays, scans."""
from __future__ import annotations

from typing import Any

from adjit.codegen import parallel
from adjit.codegen.cpu_accumulate import wide_buffers, wide_register
from adjit.codegen.cpu_text import Block, Line, Scope
from adjit.codegen.scalar import NP_DTYPE, identity_literal
from adjit.ir.core import Var
from adjit.ir.primitive import PRIMS
from adjit.passes.plan import REDUCERS, Kernel, Loop, Root, Term, is_sum

# A scan's operator (its primitive's `Lowering.op`) as Python.
SCAN_SYMBOLS = {"sum": "+", "prod": "*"}


class LoopEmitter:
    """The loop nests of `_Emitter` (codegen/cpu.py), which provides `ev`, `index`, `put`,
    `vname`, `aname`, `comment`, `scratch_ref`, `scopes`, `open`, `kernel`, `eqns`, `module`,
    `scalar_args`, `plan`, `num`, `top`, `returned`, `reused`, `reuse_bytes`, and (from
    `AccumulateEmitter`) `accum`, `accumulate`, `walk_start`, `walk_end`, `fills`."""

    def alloc(self, v: Var, fill: str | None) -> None:
        if v in self.returned and v not in self.wide and self.reusable(v):
            if all(r[0] != self.aname(v) for r in self.reused):  # the caller's buffer
                self.reused.append((self.aname(v), v.shape, v.type.np_dtype.name))
            self.top.append(f"{self.aname(v)}.fill({fill})" if fill is not None
                            else f"# {self.aname(v)}: a buffer of the caller's")
            return
        shape = f"({', '.join(str(d) for d in v.shape)}{',' if v.type.ndim == 1 else ''})"
        dt = NP_DTYPE[v.dtype]
        if fill is None:
            self.top.append(f"{self.aname(v)} = np.empty({shape}, {dt})")
        elif fill == "0":
            self.top.append(f"{self.aname(v)} = np.zeros({shape}, {dt})")
        else:
            self.top.append(f"{self.aname(v)} = np.full({shape}, {fill}, {dt})")

    def loop_kernel(self, kern: Kernel) -> None:
        self.accum = {r: acc for acc in kern.accumulators for r in acc.roots}
        self.wide = wide_buffers(kern, self.eqns, self.plan)
        written = {acc.buffer for acc in kern.accumulators if not acc.zero}
        done: set[Var] = set()
        for r in kern.roots:
            buf = self.plan.buffer(r.var)
            if buf in done or r.kind not in ("store", "scan", "accum"):
                continue
            done.add(buf)
            if r.kind in ("store", "scan") or buf in written:
                self.alloc(buf, None)
            elif r.kind == "accum":
                e = self.eqns[r.eqn]
                op = REDUCERS.get(e.prim, "sum")
                if op in ("argmax", "argmin"):
                    self.alloc(buf, "0")
                    x = e.inputs[0]
                    shape = ", ".join(str(d) for d in buf.shape)
                    self.top.append(f"{self.aname(buf)}_best = np.full(({shape},), "
                                    f"{identity_literal(op, x.dtype)}, {NP_DTYPE[x.dtype]})")
                elif buf in self.wide:
                    shape = ", ".join(str(d) for d in buf.shape)
                    self.top.append(f"{self.sum_name(buf)} = np.zeros(({shape},), np.float64)")
                elif op == "sum":
                    self.alloc(buf, "0")
                else:
                    self.alloc(buf, identity_literal(op, buf.dtype))
        for i in kern.members:  # adds done by accumulating into one shared array
            e = self.eqns[i]
            if is_sum(e) and self.plan.info[e.out].kind == "array":
                self.top.append(f"{self.comment(i)}   (summed in place in {self.aname(e.out)})")
        for acc in kern.accumulators:  # the slabs no store of an outer-loop walk writes
            if acc.walk is not None and not acc.walk.carried:
                self.top.extend(self.fills(acc, before=None))
        for v, sc in kern.scratch.items():
            shape = ", ".join(str(d) for d in sc.shape)
            self.top.append(f"s{self.num[id(v)]} = np.empty(({shape},), {NP_DTYPE[v.dtype]})")
        self.items(kern.items, 0)
        for buf in sorted(self.wide, key=self.aname):  # rounded once, as numpy's sum rounds
            self.top.append(f"{self.aname(buf)} = {self.sum_name(buf)}.astype(np.float32)")

    def sum_name(self, buf: Var) -> str:
        """The array a sum accumulates into: `a3_w` (float64) for a float32 `a3` in `wide`."""
        return self.aname(buf) + ("_w" if buf in self.wide else "")

    def items(self, items: list[Any], level: int) -> None:
        for it in items:
            if isinstance(it, Loop) and level == 0 and not self.scalar_args \
                    and parallel.parallel_loop(self.kernel, it, self.eqns):
                self.parallel_items(it)
            elif isinstance(it, Loop):
                for r in it.inits:
                    self.init(r, level)
                block = Block(f"for i{it.axis} in range({it.extent}):")
                scope = self.scopes[level]
                scope.items.append(block)
                scope.open = block
                self.scopes.append(Scope(block.body))
                carried = [acc for acc in self.kernel.accumulators
                           if acc.loop is it and acc.walk is not None and acc.walk.carried]
                for acc in carried:
                    self.walk_start(acc, level)
                self.open.append(it)
                self.items(it.items, level + 1)
                self.open.pop()
                self.scopes.pop()
                scope.open = None
                for acc in carried:
                    self.walk_end(acc, level)
                self.put(level, [f"{self.vname(r.var)} = np.float32({self.vname(r.var)}_w)"
                                 for r in it.inits if wide_register(self.eqns[r.eqn])])
            else:
                self.root(it, level)

    def parallel_items(self, it: Loop) -> None:
        """An outermost loop on threads (codegen/parallel.py): `prange` over fixed chunks,
        each reducing into partials of its own, combined in chunk order after it."""
        k, n = it.axis, it.extent
        c = parallel.chunks(n)
        regs = [(r, self.vname(r.var) + ("_w" if wide_register(self.eqns[r.eqn]) else ""))
                for r in it.inits]
        for r, acc in regs:
            x = self.eqns[r.eqn].inputs[0]
            dt = "np.float64" if acc.endswith("_w") else NP_DTYPE[x.dtype]
            self.put(0, [f"{acc}_p = np.empty({c}, {dt})"])
        outer, inner = self.chunked(k, n)
        outer.body[:0] = [ln for r, _ in regs for ln in self.init_lines(r)]
        scope = self.scopes[0]
        scope.items.append(outer)
        scope.open = outer
        self.scopes.append(Scope(inner.body))
        self.open.append(it)
        self.items(it.items, 1)
        self.open.pop()
        self.scopes.pop()
        scope.open = None
        outer.body += [f"{acc}_p[c{k}] = {acc}" for _, acc in regs]
        combine: list[Any] = []
        for r, acc in regs:
            e = self.eqns[r.eqn]
            op, boolean = REDUCERS[e.prim], e.inputs[0].dtype == "bool"
            blk = Block(f"for c{k} in range({c}):")
            part = f"{acc}_p[c{k}]"
            if op in ("sum", "prod") and boolean:
                blk.body.append(f"{acc} = {acc} {'or' if op == 'sum' else 'and'} {part}")
            elif op in ("sum", "prod"):
                blk.body.append(f"{acc} {'+=' if op == 'sum' else '*='} {part}")
            else:
                cmp = ">" if op == "max" else "<"
                blk.body += [f"t{k} = {part}",
                             f"{acc} = t{k} if t{k} {cmp} {acc} or t{k} != t{k} else {acc}"]
            combine += [*self.init_lines(r), blk]
        self.put(0, combine)
        self.put(0, [f"{self.vname(r.var)} = np.float32({acc})" for r, acc in regs
                     if acc.endswith("_w")])

    def chunked(self, k: int, n: int) -> tuple[Block, Block]:
        """Loop `i{k}` over 0..n on threads: `prange` over fixed chunks (codegen/parallel.py)
        holding the loop over one chunk's indices; statements go in the inner block."""
        c = parallel.chunks(n)
        self.module.uses_prange = self.module.uses_fm = True
        inner = Block(f"for i{k} in range(c{k} * {n} // {c}, (c{k} + 1) * {n} // {c}):")
        # (the chunk starts at a computed index: tell LLVM it is not negative, or numba's
        # wraparound of negative subscripts keeps the loop from vectorizing)
        inner.body.append(f"i{k} = fm.nonneg(i{k})")
        outer = Block(f"for c{k} in prange({c}):")
        outer.body.append(inner)
        return outer, inner

    def reusable(self, v: Var) -> bool:
        """Whether output array `v` is a buffer of the caller's (`Source.reused`)."""
        return self.reuse_bytes >= 0 and bool(v.shape) \
            and v.type.size * v.type.np_dtype.itemsize >= max(self.reuse_bytes, 1)

    def init(self, r: Root, level: int) -> None:
        self.put(level, self.init_lines(r))

    def init_lines(self, r: Root) -> list[str]:
        e = self.eqns[r.eqn]
        op = REDUCERS[e.prim]
        x = e.inputs[0]
        v = self.vname(r.var)
        if op in ("argmax", "argmin"):
            return [f"{v} = 0", f"{v}_best = {identity_literal(op, x.dtype)}"]
        if wide_register(e):
            return [f"{v}_w = np.float64(0.0)"]
        return [f"{v} = {identity_literal(op, x.dtype)}"]

    def root(self, r: Root, level: int) -> None:
        if r.kind == "scratch":
            code, _ = self.ev(r.var, r.terms)
            self.put(level, [f"{self.scratch_ref(self.kernel.scratch[r.var])} = {code}"])
            return
        if r.kind == "store":
            code, _ = self.ev(r.var, r.terms)
            idx, _ = self.index(r.target)
            self.put(level, [f"{self.aname(r.var)}[{idx}] = {code}"])
            return
        acc = self.accum.get(r)
        if acc is not None:
            self.accumulate(r, acc, level)
            return
        e = self.eqns[r.eqn]
        # a scan's term is its last input (a linear recurrence's first is its coefficient)
        code, _ = self.ev(e.inputs[-1] if r.kind == "scan" else e.inputs[0], r.terms)
        lines: list[Any] = [self.comment(r.eqn)]
        if r.kind == "scan":
            idx, _ = self.index(r.target)
            a = r.axis_loop
            if a is None:
                lines.append(f"{self.aname(r.var)}[{idx}] = {code}")
            else:  # each element reads the one before: LLVM cannot vectorize that
                prev = list(r.target)
                ax = e.p["axis"]
                prev[ax] = Term(-1, 1, a)
                pidx, _ = self.index(tuple(prev))
                before = f"{self.aname(r.var)}[{pidx}]"
                op = PRIMS[e.prim].lowers.op
                if op == "linear":  # s[i] = a[i] * s[i - 1] + b[i]
                    coef, _ = self.ev(e.inputs[0], r.terms)
                    step = f"{coef} * {before} + {code}"
                else:
                    step = f"{before} {SCAN_SYMBOLS[op]} {code}"
                lines.append(Line(f"{self.aname(r.var)}[{idx}] = {code} if i{a} == 0 else "
                                   f"{step}", None))
            self.put(level, lines)
            return
        op = REDUCERS.get(e.prim, "sum")
        if r.kind == "reduce":
            acc = self.vname(r.var)
            best = f"{acc}_best"
            if wide_register(e):
                acc += "_w"
        else:
            idx, _ = self.index(r.target)
            acc = f"{self.aname(r.var)}[{idx}]"
            best = f"{self.aname(r.var)}_best[{idx}]"
        boolean = e.inputs[0].dtype == "bool"
        if op in ("argmax", "argmin"):
            cmp = ">" if op == "argmax" else "<"
            blk = Block(f"if {code} {cmp} {best} or ({code} != {code} and {best} == {best}):")
            blk.body += [f"{best} = {code}", f"{acc} = i{r.axis_loop}"]
            lines.append(blk)
        elif op == "sum":
            if boolean:
                lines.append(Line(f"{acc} = {acc} or {code}", None))
            elif r.kind == "reduce":
                lines.append(Line(f"{acc} += {code}", f"{acc} = fm.reassoc_add({acc}, {code})"
                                   if e.inputs[0].type.is_real_float
                                   else f"{acc} = {acc} + {code}"))
            else:  # a read-modify-write of an array
                lines.append(Line(f"{acc} += {code}", None))
        elif op == "prod":
            lines.append(Line(f"{acc} = {acc} and {code}" if boolean else f"{acc} *= {code}",
                               None))
        else:
            # LLVM vectorizes a float max only without NaNs (the `!=` keeps them here)
            cmp = ">" if op == "max" else "<"
            lines.append(Line(f"{acc} = {code} if {code} {cmp} {acc} or {code} != {code} "
                               f"else {acc}", None))
        self.put(level, lines)

    def copy_inputs(self) -> None:
        """Outputs that are inputs' own arrays (a gradient equal to x), large enough to be
        reused, copied into buffers of the caller's (`Source.copied`, `Source.reused`) by a
        loop, on threads where large: the runtime then copies nothing (runtime/arguments.py
        `boxer`), and two threads share the copy."""
        if self.scalar_args:
            return
        for pos, v in enumerate(self.g.outputs):
            if not isinstance(v, Var) or id(v) not in self.arg_names or not self.reusable(v):
                continue
            src, dst = self.arg_names[id(v)], f"r{len(self.copies)}"
            self.copies[pos] = dst
            self.reused.append((dst, v.shape, v.type.np_dtype.name))
            idx = ", ".join(f"i{d}" for d in range(len(v.shape)))
            body: list[Any] = [f"{dst}[{idx}] = {src}[{idx}]"]
            for d in range(len(v.shape) - 1, 0, -1):
                block = Block(f"for i{d} in range({v.shape[d]}):")
                block.body = body
                body = [block]
            n = v.shape[0]
            if parallel.available() and n >= 2 and v.type.size >= parallel.MIN_WORK:
                loop, inner = self.chunked(0, n)
                inner.body += body
            else:
                loop = Block(f"for i0 in range({n}):")
                loop.body = body
            self.top += [f"# output {pos} is input {src}: copied into a buffer of the caller's",
                         loop]
