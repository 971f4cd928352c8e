"""Lowering the kernels of a plan that are not loop nests (a mixin of passes/lower.py's
lowerer): matmuls, library calls, concatenations, reshapes are one `CallStep` per equation;
control flow is a `ControlStep` calling the programs of its sub-graphs. Their 0-d operands
computed inline are computed first (into one-element buffers, or locals with the CPU's
layout)."""
from __future__ import annotations

from adjit.ir.core import Lit
from adjit.ir.loops import Alloc, CallStep, Const, ControlStep, Expr, LoopKernel, Stmt, Store
from adjit.passes.plan import CONTROL_PRIMS, Kernel, control_operands

ZERO = (Const(0, "i64"),)  # the index of a one-element buffer


class CallLowering:
    """Of `_Lowerer` (passes/lower.py), which provides `layout`, `eqns`, `plan`, `inputs`,
    `num`, `g`, `steps`, `begin`, `end`, `ev`, `array`, `buf`, `reg`, `rbuf`, `note`,
    `function`."""

    def call(self, kern: Kernel) -> None:
        """A kernel that is not a loop nest: one call per equation (a control kernel calls
        the programs of its sub-graphs)."""
        pre: list[Stmt] = []
        self.begin(pre)
        for i in kern.members:
            e = self.eqns[i]
            reads: list[str | Expr] = []
            # An operand no sub-graph reads may never have been stored (it can stay fused in
            # a loop nest): a placeholder stands for it, which the called programs ignore.
            control = kern.kind in CONTROL_PRIMS
            used = set(control_operands(kern, e)) if control else None
            for j, x in enumerate(e.inputs):
                if used is not None and j not in used:
                    reads.append(Const(0, x.dtype))
                elif self.layout.cpu and control and x.shape == ():  # a scalar, in a local
                    reads.append(self.ev(x, ())[0])
                elif isinstance(x, Lit) and x.is_scalar:
                    reads.append(Const(x.scalar(), x.dtype))
                elif isinstance(x, Lit) or id(x) in self.inputs:
                    reads.append(self.array(x))
                elif self.layout.cpu:
                    reads.append(self.buf(x))
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
            writes = tuple(self.reg(o) if self.layout.cpu and control and o.shape == ()
                           else self.buf(o) for o in e.outputs)
            if pre:
                self.steps.append(LoopKernel(f"k{kern.index}_operands", list(pre),
                                             f"the 0-d operands of k{kern.index}"))
                pre.clear()
            if control:
                calls = {} if self.layout.cpu else {  # (the CPU target emits them itself)
                    role: self.function(f, self.g.name) for role, f in kern.calls.items()}
                self.steps.append(ControlStep(e, kern.index, tuple(reads), writes, calls,
                                              kern.partner, self.note(i)))
            else:
                self.steps.append(CallStep(e, tuple(reads), writes, self.note(i)))
        self.end()
