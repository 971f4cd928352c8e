"""The outputs of a generated CPU function (a mixin of codegen/cpu.py's emitter): the arrays
the caller passes in to be reused across calls (`Source.reused`: runtime/buffers.py), outputs
that are inputs' own arrays copied into such buffers (`Source.copied`), and the returned
values."""
from __future__ import annotations

from typing import Any

import numpy as np
from adjit.codegen.scalar import NP_DTYPE, literal
from adjit.ir.core import DTYPES, Var
from adjit.ir.loops import Alloc, Comment, Const, Expr, For, Idx, Load, LoopKernel, Store
from adjit.codegen.cpu_passes import parallelize_kernel


class OutputEmitter:
    """Of `_Emitter` (codegen/cpu.py), which provides `g`, `plan`, `program`, `printer`,
    `arg_names`, `consts`, `aname`, `top`, `scalar_args`."""

    def outputs_init(self, reuse_bytes: int) -> None:
        self.reuse_bytes = reuse_bytes
        # the output arrays of at least `reuse_bytes` bytes a kernel allocates: parameters
        # (`Source.reused`), in the order allocated
        self.reused: list[tuple[str, tuple[int, ...], str]] = []  # (name, shape, dtype)
        self.copies: dict[int, str] = {}  # output position -> the buffer it is copied into
        self.returned = {self.aname(v) for v in self.g.outputs
                         if isinstance(v, Var) and id(v) not in self.arg_names
                         and (self.plan.info[v].kind == "array" or v in self.plan.stored)} \
            if reuse_bytes >= 0 and not self.scalar_args else set()
        for s in self.program.steps:
            if isinstance(s, Alloc):
                self.claim(s)

    def claim(self, step: Alloc) -> Alloc:
        """`step` made a buffer of the caller's if it allocates a returned array large
        enough to be reused."""
        if step.buf in self.returned and self.reusable(step.shape, step.dtype):
            step.reused = True
            self.reuse(step.buf, step.shape, step.dtype)
        return step

    def reusable(self, shape: tuple[int, ...], dtype: str) -> bool:
        """Whether an output array of this shape is a buffer of the caller's."""
        size = int(np.prod(shape)) * DTYPES[dtype].itemsize
        return self.reuse_bytes >= 0 and bool(shape) and size >= max(self.reuse_bytes, 1)

    def reuse(self, name: str, shape: tuple[int, ...], dtype: str) -> None:
        if all(r[0] != name for r in self.reused):
            self.reused.append((name, shape, DTYPES[dtype].name))

    def alloc(self, v: Var, fill: Any) -> None:
        """An output array of a call kernel."""
        self.top.append(self.printer.alloc(self.claim(Alloc(self.aname(v), v.shape, v.dtype,
                                                            fill))))

    def copy_inputs(self) -> list[LoopKernel]:
        """Outputs that are inputs' own arrays (a gradient equal to x), large enough to be
        reused, copied into buffers of the caller's (`Source.copied`, `Source.reused`) by a
        loop, on threads where large: the runtime then copies nothing (runtime/arguments.py
        `boxer`), and two threads share the copy."""
        if self.scalar_args:
            return []
        out = []
        for pos, v in enumerate(self.g.outputs):
            if not isinstance(v, Var) or id(v) not in self.arg_names \
                    or not self.reusable(v.shape, v.dtype):
                continue
            src, dst = self.arg_names[id(v)], f"r{len(self.copies)}"
            self.copies[pos] = dst
            self.reuse(dst, v.shape, v.dtype)
            idx = tuple(Idx(d) for d in range(len(v.shape)))
            body: list[Any] = [Store(dst, idx, Load(src, idx))]
            for d in range(len(v.shape) - 1, -1, -1):
                body = [For(d, v.shape[d], body)]
            note = f"output {pos} is input {src}: copied into a buffer of the caller's"
            kernel = LoopKernel(f"copy{pos}", [Comment(note), *body], work=v.type.size)
            out.append(parallelize_kernel(kernel))
        return out

    def output(self, o: str | Expr, shape: tuple[int, ...]) -> str:
        """A returned value: an array (a 0-d one as its scalar), a local, a literal."""
        if isinstance(o, str):
            plain = o in self.program.scalars or o in {b.name for b in self.program.inputs} \
                or o in self.consts.values()
            return o if plain or shape else f"{o}[()]"
        if isinstance(o, Const):
            return f"{NP_DTYPE[o.dtype]}({literal(o.value, o.dtype)})"
        return self.printer.code(o)
