"""Render a kernel plan as the Python source of one numba function, by way of the loop IR.

`emit_cpu(graph, plan, name) -> Source`. The text is a module: `import math`, `import numpy
as np`, then `def <name>(<graph inputs>, <array constants>)`, returning a tuple with one value
per graph output (0-d outputs as scalars). It runs under `numba.njit` and, unchanged, as plain
Python with numpy.

The plan is lowered to the loop IR with the CPU's layout (passes/lower.py: 0-d values in
locals, float32 sums in float64 registers), scheduled for the CPU by passes over the loop IR
(codegen/cpu_sums.py: sums into arrays, walked and carried; codegen/cpu_scratch.py: scratch
rows; codegen/cpu_passes.py: chunked loops on threads, loops in vector forms), and printed:
loop kernels by codegen/cpu_print.py, one statement per IR statement with its equation's
comment (`# %3 = mul %2, %2 : f64[8] model.py:6`); calls (`np.dot`; for convolution and
pooling a kernel of codegen/conv_kernels.py: `ck.conv2d(x, w, a3, ...)`) by
codegen/cpu_calls.py; control flow by codegen/cpu_control.py. Names: graph inputs keep
theirs, arrays of stored values are `a3`, array constants `c0`, scalar locals `v3` (`v3_1`
when recomputed at another index), scratch rows `s3`, carried partial sums `c3_1`.

Control flow: each sub-graph of a `cond`/`while`/`while_grad` is a function of the module
(`<name>_k1_body`, generated from its own plan by the same emitter; 0-d inputs and outputs are
scalars, only the inputs it reads are parameters, array constants follow them) that
`codegen.compile` compiles as a numba callee (see codegen/cpu_control.py for the loops and
their tapes).
"""
from __future__ import annotations

import keyword
from collections.abc import Callable
from typing import Any

import numpy as np
from adjit.codegen.cpu_calls import CallEmitter
from adjit.codegen.cpu_control import TAPE_LIMIT_MESSAGE, ControlEmitter  # noqa: F401
from adjit.codegen.cpu_module import Source, imports, split_part  # noqa: F401 (Source: re-exported)
from adjit.codegen.cpu_outputs import OutputEmitter
from adjit.codegen.cpu_passes import choose_vector, parallelize
from adjit.codegen.cpu_print import CpuPrinter, comment
from adjit.codegen.cpu_scratch import add_scratch
from adjit.codegen.cpu_sums import accumulate_sums
from adjit.codegen.cpu_text import Block, Group
from adjit.ir.core import Graph, Lit, Value, Var
from adjit.ir.errors import CodegenError
from adjit.ir.loops import CallStep, ControlStep, Program, verify
from adjit.ir.primitive import CONCAT, MATMUL
from adjit.passes.lower import Layout, lower
from adjit.passes.plan import Kernel, KernelPlan, SubFunction

def emit_cpu(graph: Graph, plan: KernelPlan, name: str, *, tape_bytes: bool = False,
             tape_limit: int = 4 << 30, split_lines: int = 0, guards: bool = False,
             reuse_bytes: int = -1) -> Source:
    """The Python source of one numba-compatible function computing `graph` as `plan` says.

    With `tape_bytes=True` (a debugging and benchmarking aid) the function returns one more
    value after the graph's outputs: the bytes its `while_grad` tapes held at their peak,
    the sum over its reverse loops of trip count x `Kernel.tape_row_bytes`.
    A taped `while` stops with an error once its tape would pass `tape_limit` bytes, so a
    loop that never ends under differentiation fails instead of exhausting memory.
    A function of more than `split_lines` lines (0: no limit) is cut into pieces
    (codegen/split.py): `Source.parts`.
    With `guards=True`, vectorized loops may use vector forms exact on part of their domain
    (sin and cos below 2^20; `ScalarCode.guard`): if any does, the function returns a flag
    after its outputs (`Source.guarded`), nonzero when an argument was out of range, and the
    caller must then use the function emitted without guards (runtime/compiler.py).
    An output array a loop kernel writes, of at least `reuse_bytes` bytes (-1: none), is a
    parameter after the constants instead of an allocation (`Source.reused`): the caller
    passes a buffer it reuses across calls (runtime/buffers.py)."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise CodegenError(f"{name!r} is not a valid function name")
    module = _Module(name)
    module.tape_limit = tape_limit
    main = _Emitter(graph, plan, name, module, tape_bytes=tape_bytes, guards=guards,
                    reuse_bytes=reuse_bytes)
    main_lines = main.function()
    if main.guarded and split_lines and len(main_lines) > split_lines:
        # (a split function's pieces do not pass the flag on: the plain form, whole)
        return emit_cpu(graph, plan, name, tape_bytes=tape_bytes, tape_limit=tape_limit,
                        split_lines=split_lines, reuse_bytes=reuse_bytes)
    uses = module.uses
    cut = None
    if split_lines and len(main_lines) > split_lines:
        from . import split

        dtypes = {main.num[id(o)]: o.dtype for e in graph.eqns for o in e.outputs}
        cut = split.split(name, main.param_names, main.sections, main.section_kinds,
                          dtypes.get, split_lines)
    lines = imports(f'"""Generated by adjit from graph {graph.name}: do not edit."""', uses)
    if module.functions:
        lines += ["", "# The sub-graphs of control flow are functions of their own, compiled as",
                  "# numba callees (njit(cache=True)) by adjit.codegen.compile:"]
        lines += [f"#   {f}" for f in module.functions]
    for fn_lines in module.functions.values():
        lines += ["", "", *fn_lines]
    parts: tuple[Source, ...] = ()
    if cut is not None:
        lines += ["", "# Split into pieces compiled one by one (codegen/split.py), called in order",
                  "# by the plain-Python function at the end."]
        for piece in cut.pieces:
            lines += ["", "", *piece.lines]
        main_lines = list(cut.driver)
        parts = tuple(split_part(piece, module.functions) for piece in cut.pieces)
    lines += ["", "", *main_lines]
    text = "\n".join(lines) + "\n"
    return Source(text, name, tuple(np.asarray(c.value) for c in main.consts),
                  tuple(module.functions), parts, guarded=main.guarded,
                  parallel="prange" in uses,
                  reused=tuple((shape, dtype) for _, shape, dtype in main.reused),
                  copied=tuple(sorted(main.copies)))


def cpu_program(graph: Graph, plan: KernelPlan, name: str, *, guards: bool = False,
                sub: bool = False, const_name: Callable[[Lit], str] | None = None,
                callees: bool = False) -> Program:
    """The loop IR the CPU prints for `plan`: lowered with the CPU's layout, its sums into
    arrays rewritten, expensive values sibling loops share in scratch rows, verified, its large
    independent loops on threads (not in a sub-graph's function, `sub`) and its innermost
    loops in vector forms where they vectorize. `callees`: the control steps hold the
    programs of their sub-graphs' functions too, so that the program prints them (the
    emitter makes those functions itself, once per module)."""
    program = lower(graph, plan, name, Layout(cpu=True, scalar_inputs=sub,
                                              const_name=const_name, taken=frozenset({name})))
    accumulate_sums(program)
    add_scratch(program)
    verify(program)
    if not sub:  # (a sub-graph's function runs on one thread)
        parallelize(program)
    if callees:
        made: dict[int, Program] = {}  # (a while and its while_grad share functions)
        for step in program.steps:
            if isinstance(step, ControlStep):
                for f in plan.kernels[step.index].calls.values():
                    if id(f) not in made:
                        made[id(f)] = cpu_program(f.graph, f.plan, f"{name}_{f.name}",
                                                  guards=guards, sub=True, callees=True)
                step.calls = {role: made[id(f)]
                              for role, f in plan.kernels[step.index].calls.items()}
    return choose_vector(program, guards)


class _Module:
    """What the functions of one generated module share: array constants (each a parameter,
    named once for the module) and the functions already emitted (by name, callees first)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.consts: dict[Lit, str] = {}
        self.functions: dict[str, list[str]] = {}
        self.const_params: dict[str, dict[Lit, str]] = {}
        # what some function's code calls (codegen/cpu_module.py `imports`): cmath, fm, sf
        # (the printers'), fk, ck, lk (library calls), prange (a multi-core loop)
        self.uses: set[str] = set()
        self.tape_limit = 4 << 30  # bytes a taped while may record

    def const(self, v: Lit) -> str:
        if v not in self.consts:
            self.consts[v] = f"c{len(self.consts)}"
        return self.consts[v]

    def function(self, f: SubFunction) -> tuple[str, dict[Lit, str]]:
        """The name of the function for `f` (emitted on first use), and the constants it
        takes after its parameters."""
        name = f"{self.prefix}_{f.name}"
        if name not in self.const_params:
            em = _Emitter(f.graph, f.plan, name, self, scalar_args=True, params=f.params)
            lines = em.function()
            self.functions[name] = lines
            self.const_params[name] = em.consts
        return name, self.const_params[name]


class _Emitter(CallEmitter, ControlEmitter, OutputEmitter):
    def __init__(self, graph: Graph, plan: KernelPlan, name: str, module: _Module | None = None,
                 *, scalar_args: bool = False, params: tuple[int, ...] | None = None,
                 tape_bytes: bool = False, guards: bool = False, reuse_bytes: int = -1) -> None:
        self.g = graph
        self.plan = plan
        self.name = name
        self.module = module if module is not None else _Module(name)
        # Sub-graph functions take 0-d inputs as scalars and only the inputs they read.
        self.scalar_args = scalar_args
        self.params = tuple(range(len(graph.inputs))) if params is None else params
        self.tape_bytes = tape_bytes
        self.eqns = graph.eqns
        self.num = {id(o): plan.names[id(o)].lstrip("%") for e in graph.eqns for o in e.outputs}
        self.consts: dict[Lit, str] = {}  # the array constants this function takes, in order
        # vector forms exact only on part of their domain (`ScalarCode.guard`) may be used:
        # the function then returns a flag after its outputs (`Source.guarded`)
        self.program = cpu_program(graph, plan, name, guards=guards, sub=scalar_args,
                                   const_name=self._const_name)
        self.arg_names = {id(v): b.name for v, b in zip(graph.inputs, self.program.inputs,
                                                        strict=True)}
        self.printer = CpuPrinter(guards)
        self.guarded = False
        self.top: list[Any] = []
        self.outputs_init(reuse_bytes)

    def _const_name(self, v: Lit) -> str:
        return self.consts.setdefault(v, self.module.const(v))

    # -- names -------------------------------------------------------------------------------

    def vname(self, v: Var) -> str:
        return f"v{self.num[id(v)]}"

    def aname(self, v: Var) -> str:
        return f"a{self.num[id(self.plan.buffer(v))]}"

    def array_ref(self, v: Value) -> str:
        """The array holding `v` (an input, a constant, or an array written by a kernel)."""
        if isinstance(v, Lit):
            return self._const_name(v)
        if id(v) in self.arg_names:
            return self.arg_names[id(v)]
        return self.aname(v)

    def comment(self, i: int) -> str:
        return comment(self.plan.eqn_note(i))

    # -- kernels -----------------------------------------------------------------------------

    def kernel(self, kern: Kernel, steps: list[Any]) -> None:
        """The steps lowered from plan kernel `kern`."""
        for s in steps:
            if isinstance(s, ControlStep):
                self.operands = [r if isinstance(r, str) else self.printer.code(r)
                                 for r in s.reads]
                self.control(kern)
            elif isinstance(s, CallStep):
                if kern.kind == MATMUL:
                    self.matmul(kern)
                elif kern.kind == "library":
                    self.library(kern)
                elif kern.kind == CONCAT:
                    self.concatenate(kern)
                else:
                    self.reshape(kern)
            else:
                self.printer.step(s, self.top)

    def function(self) -> list[str]:
        """The lines of the function: `def name(params):` and its body."""
        if self.tape_bytes:
            self.top.append("tape_bytes = 0")
        marks = [0]  # where each kernel's statements start in `top`, then the return's
        steps, starts = self.program.steps, self.program.starts
        for kern, a, b in zip(self.plan.kernels, starts[:-1], starts[1:], strict=True):
            marks.append(len(self.top))
            self.top.append("")
            self.top.append(f"# {self.plan.format_kernel(kern)}")
            self.kernel(kern, steps[a:b])
        marks.append(len(self.top))
        for step in self.copy_inputs():
            self.printer.step(step, self.top)
        copy_kinds = ["loop"] if self.copies else []
        if self.copies:  # (a section of its own: codegen/split.py compiles it as a piece)
            marks.append(len(self.top))
        for step in steps[starts[-1]:]:  # the 0-d outputs computed at the end
            self.printer.step(step, self.top)
        rets = [self.copies.get(pos) or self.output(o, shape) for pos, (o, shape)
                in enumerate(zip(self.program.outputs, self.program.out_shapes, strict=True))]
        if self.tape_bytes:
            rets.append("tape_bytes")
        params = [self.arg_names[id(self.g.inputs[i])] for i in self.params] \
            + list(self.consts.values()) + [r[0] for r in self.reused]
        lines = [f"def {self.name}({', '.join(params)}):"]
        self.module.uses |= self.printer.uses
        if self.printer.guards:  # a flag after the outputs: a vector form was out of range
            self.guarded = True
            self.top.insert(0, "guard = np.zeros(1)")
            marks = [0, *(m + 1 for m in marks[1:])]
            rets.append("guard[0]")
        self.top.append("")
        self.top.append(f"return ({', '.join(rets)}{',' if len(rets) == 1 else ''})")
        # Rendered slice by slice (statements are only ever added to the kernel being
        # emitted, so the marks hold), the same lines as at once: codegen/split.py may cut
        # the function between slices.
        firsts = []  # the first line of each section
        for a, b in zip(marks, [*marks[1:], len(self.top)], strict=True):
            firsts.append(len(lines))
            self.render(self.top[a:b], "    ", lines)
        self.sections = [lines[a:b] for a, b in zip(firsts, [*firsts[1:], len(lines)],
                                                     strict=True)]
        self.param_names = params
        self.section_kinds = ["setup", *(k.kind for k in self.plan.kernels), *copy_kinds,
                              "return"]
        return lines

    def render(self, items: list[Any], indent: str, lines: list[str]) -> None:
        for it in items:
            if isinstance(it, Group):
                self.render(it.items, indent, lines)
            elif isinstance(it, Block):
                lines.append(indent + it.header)
                if it.body:
                    self.render(it.body, indent + "    ", lines)
                else:
                    lines.append(indent + "    pass")
            elif it == "":
                if lines and lines[-1] != "":
                    lines.append("")
            else:
                lines.append(indent + it)
