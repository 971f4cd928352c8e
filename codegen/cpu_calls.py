"""Matrix products, library calls, concatenation and reshapes in generated CPU source (a mixin
of codegen/cpu.py's emitter): kernels that are one call, not a loop nest."""
from __future__ import annotations


from adjit.codegen import fft_kernels
from adjit.codegen.cpu_text import Block
from adjit.codegen.scalar import literal
from adjit.ir.primitive import PRIMS
from adjit.passes.plan import Kernel


class CallEmitter:
    """The call kernels of `_Emitter` (codegen/cpu.py), which provides `array_ref`, `aname`,
    `alloc`, `comment`, `top`, `eqns`, `module`."""

    def matmul(self, kern: Kernel) -> None:
        (i,) = kern.members
        e = self.eqns[i]
        a, b = e.inputs
        out = e.out
        ta, tb = e.p["transpose_a"], e.p["transpose_b"]
        nb = out.type.ndim - 2
        self.top.append(self.comment(i))
        ra, rb, ro = self.array_ref(a), self.array_ref(b), self.aname(out)
        if out.type.is_float:
            if nb == 0:
                self.top.append(f"{ro} = np.dot({ra}{'.T' if ta else ''}, "
                                f"{rb}{'.T' if tb else ''})")
                return
            self.alloc(out, None)
            items = self.top
            for k in range(nb):
                blk = Block(f"for j{k} in range({out.shape[k]}):")
                items.append(blk)
                items = blk.body
            bi = ", ".join(f"j{k}" for k in range(nb))
            items.append(f"np.dot({ra}[{bi}]{'.T' if ta else ''}, {rb}[{bi}]{'.T' if tb else ''}"
                         f", {ro}[{bi}])")
            return
        # integers and booleans: numba's np.dot is floating point only
        self.alloc(out, None)
        items = self.top
        m, n = out.shape[-2], out.shape[-1]
        kdim = a.shape[-2] if ta else a.shape[-1]
        for k, d in enumerate(out.shape[:-2]):
            blk = Block(f"for j{k} in range({d}):")
            items.append(blk)
            items = blk.body
        bi = "".join(f"j{k}, " for k in range(nb))
        for hdr in (f"for jm in range({m}):", f"for jn in range({n}):"):
            blk = Block(hdr)
            items.append(blk)
            items = blk.body
        ai = f"{bi}jk, jm" if ta else f"{bi}jm, jk"
        bj = f"{bi}jn, jk" if tb else f"{bi}jk, jn"
        items.append(f"acc = {literal(0, out.dtype)}")
        blk = Block(f"for jk in range({kdim}):")
        blk.body.append(f"acc += {ra}[{ai}] * {rb}[{bj}]")
        items.append(blk)
        items.append(f"{ro}[{bi}jm, jn] = acc")

    def library(self, kern: Kernel) -> None:
        """A `LIBRARY` primitive: `ck.<prim>(inputs, outs, params)` fills the arrays it is
        given (codegen/conv_kernels.py; `lk.` for the solves and decompositions of
        codegen/linalg_kernels.py)."""
        (i,) = kern.members
        e = self.eqns[i]
        self.top.append(self.comment(i))
        for o in e.outputs:
            self.alloc(o, None)
        args = [self.array_ref(v) for v in e.inputs] + [self.aname(o) for o in e.outputs]
        args += [f"{k}={v!r}" for k, v in e.params]
        if e.prim in fft_kernels.KERNELS:
            self.top.append(f"fk.{e.prim}({', '.join(args)})")
            self.module.uses.add("fk")
            return
        if PRIMS[e.prim].extra.get("library") == "linalg":
            self.top.append(f"lk.{e.prim}({', '.join(args)})")
            self.module.uses.add("lk")
        else:
            self.top.append(f"ck.{e.prim}({', '.join(args)})")
            self.module.uses.add("ck")

    def concatenate(self, kern: Kernel) -> None:
        (i,) = kern.members
        e = self.eqns[i]
        axis = e.p["axis"]
        self.top.append(self.comment(i))
        self.alloc(e.out, None)
        off = 0
        for x in e.inputs:
            n = x.shape[axis]
            sl = ", ".join(f"{off}:{off + n}" if d == axis else ":" for d in range(x.type.ndim))
            self.top.append(f"{self.aname(e.out)}[{sl}] = {self.array_ref(x)}")
            off += n

    def reshape(self, kern: Kernel) -> None:
        (i,) = kern.members
        e = self.eqns[i]
        shape = f"({', '.join(str(d) for d in e.out.shape)}{',' if e.out.type.ndim == 1 else ''})"
        self.top.append(self.comment(i))
        self.top.append(f"{self.aname(e.out)} = "
                        f"np.ascontiguousarray({self.array_ref(e.inputs[0])}).reshape({shape})")
