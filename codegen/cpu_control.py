"""Control flow in generated CPU source: cond, while and while_grad kernels (a mixin of
codegen/cpu.py's emitter).

A control kernel calls the functions of its sub-graphs (`Kernel.calls`, emitted once per
module by `_Module.function`). Its 0-d operands and results are scalar locals (`v9`), arrays
are passed by reference (`a1`); no function writes into an array it did not allocate, so a
result may be one of the operands without a copy.
"""
from __future__ import annotations

from typing import Any

from adjit.codegen.cpu_text import Block
from adjit.codegen.scalar import NP_DTYPE, literal
from adjit.ir.core import Var
from adjit.passes.plan import BODY, COND, WHILE, WHILE_GRAD, Kernel, SubFunction

TAPE_LIMIT_MESSAGE = ("adjit: a while loop under differentiation ran so long that its tape "
                      "passed {mb} MB: does it end? (raise the limit with ADJIT_MAX_TAPE_MB)")


class ControlEmitter:
    """The control-flow kernels of `_Emitter` (codegen/cpu.py), which provides `operands`
    (the code of the current control step's operands: passes/lower.py computed the 0-d
    ones into locals before it), `vname`, `aname`, `comment`, `top`, `eqns`, `plan`,
    `module`, `consts`."""

    # -- control flow ------------------------------------------------------------------------
    #
    # A control kernel calls the functions of its sub-graphs (`Kernel.calls`, emitted once
    # per module by `_Module.function`). Its 0-d operands and results are scalar locals
    # (`v9`), arrays are passed by reference (`a1`); no function writes into an array it
    # did not allocate, so a result may be one of the operands without a copy.

    def control(self, kern: Kernel) -> None:
        (i,) = kern.members
        e = self.eqns[i]
        self.top.append(self.comment(i))
        if kern.kind == COND:
            self.cond(kern, e)
        elif kern.kind == WHILE:
            carried = [self.local(o) for o in e.outputs]
            self.forward(kern, e, carried)
        else:
            self.while_grad(kern, e)

    def local(self, v: Var) -> str:
        """The local a control kernel assigns result `v` to."""
        return self.vname(v) if v.shape == () else self.aname(v)

    def operand(self, j: int) -> str:
        """The code of operand `j`: an array's name, a scalar's expression."""
        return self.operands[j]

    def call(self, f: SubFunction, args: dict[int, str]) -> str:
        name, consts = self.module.function(f)
        for lit, cname in consts.items():
            self.consts.setdefault(lit, cname)
        return f"{name}({', '.join([args[j] for j in f.params] + list(consts.values()))})"

    @staticmethod
    def targets(names: list[str]) -> str:
        return f"({', '.join(names)}{',' if len(names) == 1 else ''})"

    def cond(self, kern: Kernel, e: Any) -> None:
        pred = self.operand(0)
        then, other = kern.calls["then"], kern.calls["else"]
        used = set(then.params) | set(other.params)
        args = {j: self.operand(j + 1) for j in range(len(e.inputs) - 1) if j in used}
        outs = self.targets([self.local(o) for o in e.outputs])
        yes, no = Block(f"if {pred}:"), Block("else:")
        yes.body.append(f"{outs} = {self.call(then, args)}")
        no.body.append(f"{outs} = {self.call(other, args)}")
        self.top += [yes, no]

    def loop_operands(self, kern: Kernel, e: Any) -> dict[int, str]:
        """Code for the consts the loop's functions read."""
        n_consts = e.p["n_consts"]
        used = {j for f in kern.calls.values() for j in f.params if j < n_consts}
        return {j: self.operand(j) for j in sorted(used)}

    def forward(self, kern: Kernel, e: Any, carried: list[str]) -> None:
        """`carried = init; while cond(...): carried = body(...)`, recording the tape when a
        while_grad needs it (the carried values body_vjp reads, one list entry per
        iteration: the arrays themselves, which nothing mutates, so no copy)."""
        n_consts = e.p["n_consts"]
        args = self.loop_operands(kern, e)
        for j, name in enumerate(carried):
            self.top.append(f"{name} = {self.operand(n_consts + j)}")
        args.update({n_consts + j: name for j, name in enumerate(carried)})
        record = kern.kind == WHILE_GRAD or kern.partner is not None
        k = kern.index
        if record:
            self.top.append(f"n{k} = 0")
            self.top += [f"t{k}_{j} = []" for j in kern.taped]
        loop = Block(f"while {self.call(kern.calls[COND], args)}[0]:")
        if record:
            limit = max(1, self.module.tape_limit // max(1, kern.tape_row_bytes))
            guard = Block(f"if n{k} >= {limit}:")
            message = TAPE_LIMIT_MESSAGE.format(mb=self.module.tape_limit >> 20)
            guard.body.append(f'raise RuntimeError("{message}")')
            loop.body.append(guard)
            loop.body += [f"t{k}_{j}.append({carried[j]})" for j in kern.taped]
            loop.body.append(f"n{k} += 1")
        loop.body.append(f"{self.targets(carried)} = {self.call(kern.calls[BODY], args)}")
        self.top.append(loop)

    def while_grad(self, kern: Kernel, e: Any) -> None:
        """The forward loop with a tape (or the tape of the partner `while`), then
        `for it in reversed(range(n)): cts = body_vjp(consts, tape[it], cts)`, summing the
        consts' cotangents (the outputs `_while_grad_impl` defines)."""
        body = e.p["body"]
        n_consts, n = e.p["n_consts"], len(body.inputs)
        n_carried = n - n_consts
        final = [self.local(o) for o in e.outputs[:n_carried]]
        if kern.partner is None:
            self.forward(kern, e, final)
            k = kern.index
        else:
            k = kern.partner
            fwd = self.eqns[self.plan.kernels[k].members[0]]
            self.top += [f"{name} = {self.local(o)}"
                         for name, o in zip(final, fwd.outputs, strict=True)]
        f_in = [i for i, t in enumerate(body.in_types) if t.is_float]
        f_carried = [j for j in range(n_carried) if body.in_types[n_consts + j].is_float]
        grads = {i: self.local(o) for i, o in zip(f_in, e.outputs[n_carried:], strict=True)}
        for i in f_in:
            if i < n_consts:
                t = body.in_types[i]
                self.top.append(f"{grads[i]} = {literal(0, t.dtype)}" if t.ndim == 0 else
                                f"{grads[i]} = np.zeros({self.shape_code(t.shape)}, "
                                f"{NP_DTYPE[t.dtype]})")
        for c, j in enumerate(f_carried):
            self.top.append(f"{grads[n_consts + j]} = {self.operand(n + c)}")
        if f_in:
            kk = kern.index
            args = self.loop_operands(kern, e)
            args.update({n_consts + j: f"t{k}_{j}[it{kk}]" for j in kern.taped})
            args.update({n + c: grads[n_consts + j] for c, j in enumerate(f_carried)})
            loop = Block(f"for it{kk} in range(n{k} - 1, -1, -1):")
            loop.body.append(f"r{kk} = {self.call(kern.calls['body_vjp'], args)}")
            for q, i in enumerate(f_in):
                op = "+=" if i < n_consts else "="
                loop.body.append(f"{grads[i]} {op} r{kk}[{q}]")
            self.top.append(loop)
        if self.tape_bytes:
            self.top.append(f"tape_bytes += n{k} * {kern.tape_row_bytes}")

    @staticmethod
    def shape_code(shape: tuple[int, ...]) -> str:
        return f"({', '.join(str(d) for d in shape)}{',' if len(shape) == 1 else ''})"

