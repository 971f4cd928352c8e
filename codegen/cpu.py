"""Render a kernel plan as the Python source of one numba function.

`emit_cpu(graph, plan, name) -> Source`. The text is a module: `import math`, `import numpy
as np`, then `def <name>(<graph inputs>, <array constants>)`, returning a tuple with one value
per graph output (0-d outputs as scalars). It runs under `numba.njit` and, unchanged, as plain
Python with numpy.

Each kernel of the plan becomes one block: allocations of the arrays it writes, then its loop
nest (`for i0 in range(n):` over the kernel's domain) or its library call (`np.dot`; for
convolution and pooling, a kernel of codegen/conv_kernels.py: `ck.conv2d(x, w, a3, ...)`).
Inside a loop, every equation is one statement preceded by the comment `# %3 = mul %2, %2 :
f64[8] model.py:6`; its value is a scalar local (`v3`; `v3_1` when recomputed at another index),
placed in the outermost loop whose indices it depends on. Arrays: graph inputs keep their
names, arrays of stored values are `a3`, array constants `c0`. Scalar literals carry their
dtype (`np.float32(2.0)` in float32 code, so numba keeps float32 arithmetic in float32).

Sum accumulations (`passes.schedule_cpu.Accumulator`) are written where the last of their roots is:
`a23[i0] += v12 + v19` for contributions to one index; with a carried `Walk`, one store and
the registers shifted (`a23[i0] = c23_1 + v12 + v19; c23_1 = v16`), the registers zeroed
before the loop and the elements they still hold stored after it (`a23[999] = c23_1`);
with an outer-loop walk, `=` for the first contribution to an element and `+=` for the
others. The elements no store reaches are zeroed with slice assignments (`a23[:2] = 0.0`).
float32 sums accumulate in float64 and are rounded once (`v12_w`, `a23_w`; see
`wide_register`), so their error does not grow with their length.

Vectorization (codegen/cpu_vector.py): each statement is written twice (`Line`), as libm
and sequential sums have it and as LLVM's loop vectorizer can take it (a primitive's declared
`ScalarCode.vector` form, `fm.exp`; sums as `fm.reassoc_add`); an innermost loop whose every
statement has the second form gets it.

Control flow: each sub-graph of a `cond`/`while`/`while_grad` is a function of the module
(`<name>_k1_body`, generated from its own plan by the same emitter; 0-d inputs and outputs are
scalars, only the inputs it reads are parameters, array constants follow them) that
`codegen.compile` compiles as a numba callee. A `cond` is `if pred: (a9,) = f_then(...)
else: ...`; a `while` is `while f_cond(...)[0]: (a1,) = f_body(...)` on locals; a `while_grad`
appends, each iteration, the carried values body_vjp reads to a list (the tape: the arrays
themselves, as no generated code writes into an array after it is computed; the list grows as
needed, so there is no bound on the trip count), then walks it backwards:
`for it in range(n - 1, -1, -1): r = f_body_vjp(consts, tape[it], cts)`, summing the consts'
cotangents. A `while_grad` paired with an earlier `while` (`Kernel.partner`) reuses that
loop's tape instead of running the loop again.
"""
from __future__ import annotations

import keyword
import re
from typing import Any

import numpy as np
from adjit.codegen.cpu_accumulate import AccumulateEmitter
from adjit.codegen.cpu_calls import CallEmitter
from adjit.codegen.cpu_control import TAPE_LIMIT_MESSAGE, ControlEmitter  # noqa: F401
from adjit.codegen.cpu_loops import LoopEmitter
from adjit.codegen.cpu_module import Source, imports, split_part  # noqa: F401 (Source: re-exported)
from adjit.codegen.cpu_text import Block, Group, Line, Scope
from adjit.codegen.cpu_vector import vector_text, vectorize  # noqa: F401 (vector_text: re-exported)
from adjit.codegen.scalar import (
    FLOAT_LITERAL,
    NP_DTYPE,
    literal,
    scalar_expr,
    strip_parens,
)
from adjit.ir.core import Graph, Lit, Value, Var
from adjit.ir.errors import CodegenError
from adjit.ir.primitive import CONCAT, ELEMENTWISE, MATMUL, PRIMS
from adjit.passes.plan import (
    CONTROL_PRIMS,
    Kernel,
    KernelPlan,
    Loop,
    Root,
    SubFunction,
    Term,
    input_terms,
    is_position,
)
from adjit.passes.schedule_cpu import Accumulator, Scratch, schedule_cpu

# Names the generated code uses itself: modules it imports (np, math, cmath, fm, ck, lk, fk,
# sf) and builtins; a graph input so named is renamed, or it would shadow them.
_RESERVED = {"np", "math", "cmath", "fm", "ck", "lk", "fk", "sf", "range", "abs", "max", "min",
             "int", "float", "bool", "len",
             "True", "False", "None", "tape_bytes", "guard"}
_GENERATED = re.compile(r"^(v|a|c|i|j|s|t|n|r|g|it)\d")
_USES_SF = re.compile(r"^[^#]*\bsf\.", re.M)


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
    schedule_cpu(plan)  # scratch rows and accumulators (and the sub-graphs' plans')
    module = _Module(name)
    module.tape_limit = tape_limit
    main = _Emitter(graph, plan, name, module, tape_bytes=tape_bytes, guards=guards,
                    reuse_bytes=reuse_bytes)
    main_lines = main.function()
    if main.guarded and split_lines and len(main_lines) > split_lines:
        # (a split function's pieces do not pass the flag on: the plain form, whole)
        return emit_cpu(graph, plan, name, tape_bytes=tape_bytes, tape_limit=tape_limit,
                        split_lines=split_lines, reuse_bytes=reuse_bytes)
    uses = {u for u, used in (("cmath", module.uses_cmath), ("fm", module.uses_fm),
                              ("fk", module.uses_fk), ("ck", module.uses_ck),
                              ("lk", module.uses_lk)) if used}
    body = "\n".join(line for fn_lines in [*module.functions.values(), main_lines]
                     for line in fn_lines)
    if _USES_SF.search(body):
        uses.add("sf")
    if module.uses_prange:
        uses.add("prange")
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
                  parallel=module.uses_prange,
                  reused=tuple((shape, dtype) for _, shape, dtype in main.reused),
                  copied=tuple(sorted(main.copies)))


class _Module:
    """What the functions of one generated module share: array constants (each a parameter,
    named once for the module) and the functions already emitted (by name, callees first)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.consts: dict[Lit, str] = {}
        self.functions: dict[str, list[str]] = {}
        self.const_params: dict[str, dict[Lit, str]] = {}
        self.uses_fm = False  # some loop calls codegen/fastmath.py
        self.uses_ck = False  # some kernel calls codegen/conv_kernels.py
        self.uses_lk = False  # some kernel calls codegen/linalg_kernels.py
        self.uses_fk = False  # some kernel calls codegen/fft_kernels.py
        self.uses_cmath = False  # complex math
        self.uses_prange = False  # a multi-core loop (codegen/parallel.py)
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


class _Emitter(AccumulateEmitter, CallEmitter, ControlEmitter, LoopEmitter):
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
        # vector forms exact only on part of their domain (`ScalarCode.guard`) may be used:
        # the function then returns a flag after its outputs (`Source.guarded`)
        self.guards_ok = guards
        self.guarded = False
        self.eqns = graph.eqns
        self.num: dict[int, str] = {}
        for v in (o for e in graph.eqns for o in e.outputs):
            self.num[id(v)] = plan.names[id(v)].lstrip("%")
        self.arg_names: dict[int, str] = {}
        used: set[str] = {name}
        for v in graph.inputs:
            base = plan.names[id(v)]
            if base in _RESERVED or keyword.iskeyword(base) or _GENERATED.match(base):
                base = f"in_{base}"
            n, k = base, 1
            while n in used:
                n, k = f"{base}_{k}", k + 1
            used.add(n)
            self.arg_names[id(v)] = n
        self.consts: dict[Lit, str] = {}
        for e in graph.eqns:
            for v in e.inputs:
                self._const(v)
        for v in graph.outputs:
            self._const(v)
        self.top: list[Any] = []
        self.scopes: list[Scope] = [Scope(self.top)]
        self.kernel: Kernel | None = None
        self.accum: dict[Root, Accumulator] = {}  # the current kernel's roots' accumulators
        self.wide: set[Var] = set()  # the current kernel's float32 sums kept in float64 arrays
        self.pending: dict[Root, str] = {}  # their contributions, until the last one's turn
        self.alt: dict[Var, int] = {}
        self.open: list[Loop] = []  # the loops being emitted, outermost first
        # the output arrays of at least `reuse_bytes` bytes a loop kernel allocates: parameters
        # (`Source.reused`), in the order allocated
        self.returned = {self.plan.buffer(v) for v in graph.outputs
                         if isinstance(v, Var) and id(v) not in self.arg_names
                         and (plan.info[v].kind == "array" or v in plan.stored)} \
            if reuse_bytes >= 0 and not scalar_args else set()
        self.reuse_bytes = reuse_bytes
        self.reused: list[tuple[str, tuple[int, ...], str]] = []  # (name, shape, dtype)
        self.copies: dict[int, str] = {}  # output position -> the buffer it is copied into

    def _const(self, v: Value) -> None:
        if isinstance(v, Lit) and not v.is_scalar and v not in self.consts:
            self.consts[v] = self.module.const(v)

    # -- names -------------------------------------------------------------------------------

    def vname(self, v: Var) -> str:
        return f"v{self.num[id(v)]}"

    def aname(self, v: Var) -> str:
        return f"a{self.num[id(self.plan.buffer(v))]}"

    def array_ref(self, v: Value) -> str:
        """The array holding `v` (an input, a constant, or an array written by a kernel)."""
        if isinstance(v, Lit):
            return self.consts[v]
        if id(v) in self.arg_names:
            return self.arg_names[id(v)]
        return self.aname(v)

    def comment(self, i: int) -> str:
        e = self.eqns[i]
        text = self.plan.eqn_text[i]
        where = " ".join(s for s in ((e.loc.short() if e.loc else ""), e.role) if s)
        line = f"# {text}   {where}" if where else f"# {text}"
        return line if len(line) <= 160 else line[:157] + "..."

    # -- placing statements ------------------------------------------------------------------

    def put(self, level: int, lines: list[Any]) -> None:
        """Add statements to the scope at `level`, before the loop that is open there."""
        assert level < len(self.scopes), "a value depends on a loop that is not open"
        scope = self.scopes[level]
        if scope.open is None:
            scope.items.extend(lines)
        else:
            at = scope.items.index(scope.open)
            scope.items[at:at] = lines

    # -- values at an index ------------------------------------------------------------------

    def index(self, terms: tuple[Term, ...]) -> tuple[str, int]:
        """The subscript of an index, and the level it needs."""
        if not terms:
            return "()", 0
        parts, level = [], 0
        for t in terms:
            code, lv = self.term(t)
            parts.append(code)
            level = max(level, lv)
        return ", ".join(parts), level

    def term(self, t: Term) -> tuple[str, int]:
        if t.is_const:
            return str(t.start), 0
        if t.axis is not None:
            base, level = f"i{t.axis}", t.axis + 1
        else:
            assert t.data is not None
            base, level = self.ev(*t.data)
        if t.step == -1:
            return (f"{t.start} - {base}" if t.start else f"-{base}"), level
        if t.step != 1:
            base = f"{t.step} * {base}" if t.step > 0 else f"({t.step}) * {base}"
        if t.start > 0:
            base = f"{base} + {t.start}"
        elif t.start < 0:
            base = f"{base} - {-t.start}"
        return base, level

    def read(self, v: Value, terms: tuple[Term, ...]) -> tuple[str, int]:
        idx, level = self.index(terms)
        return f"{self.array_ref(v)}[{idx}]", level

    def ev(self, v: Value, terms: tuple[Term, ...]) -> tuple[str, int]:
        """Code for the value of `v` at `terms`, and the number of loops it depends on."""
        assert self.kernel is not None
        if self.scalar_args and v.shape == () and id(v) in self.arg_names:
            return self.arg_names[id(v)], 0
        how = self.plan.access(v, self.kernel.index)
        if how == "lit":
            assert isinstance(v, Lit)
            return literal(v.scalar(), v.dtype), 0
        if how in ("const", "input", "array"):
            return self.read(v, terms)
        assert isinstance(v, Var)
        if how == "scalar":
            return self.vname(v), 0
        if how == "register":
            return self.vname(v), self.plan.info[v].level
        key = (v, terms)
        for scope in reversed(self.scopes):
            if key in scope.memo:
                return scope.memo[key]
        sc = self.kernel.scratch.get(v)
        if sc is not None and terms == self.plan.info[v].terms and sc.writer not in self.open:
            return self.scratch_ref(sc), sc.stop
        return self.inline(v, terms)

    def scratch_ref(self, sc: Scratch) -> str:
        return f"s{self.num[id(sc.var)]}[{', '.join(f'i{a}' for a in range(sc.start, sc.stop))}]"

    def inline(self, v: Var, terms: tuple[Term, ...]) -> tuple[str, int]:
        info = self.plan.info[v]
        e = self.eqns[info.eqn]
        prim = PRIMS[e.prim]
        # (an argmax inline is over size-1 axes only: its position is 0, whatever it reads)
        args = [] if is_position(e) else [self.ev(x, input_terms(e, j, terms))
                                           for j, x in enumerate(e.inputs)]
        level = max((lv for _, lv in args), default=0)
        if terms == info.terms:
            name = self.vname(v)
        else:
            self.alt[v] = self.alt.get(v, 0) + 1
            name = f"{self.vname(v)}_{self.alt[v]}"
        lines: list[Any]
        if prim.kind != ELEMENTWISE:  # an index remap, or a reduction over size-1 axes
            lines = [f"{name} = {strip_parens(args[0][0]) if args else '0'}"]
        elif prim.scalar.lines is not None and e.out.type.is_real_float:
            # several statements, from exp: libm's, or fastmath's where the loop vectorizes
            lines = [f"{name}_x = {args[0][0]}"] if not args[0][0].isidentifier() else []
            x = f"{name}_x" if lines else args[0][0]
            text, fast = (prim.scalar.lines(x, name, "math.exp"),
                          prim.scalar.lines(x, name, "fm.exp"))
            if e.out.dtype == "f32":
                text = [FLOAT_LITERAL.sub(r"np.float32(\1)", ln) for ln in text]
                fast = [FLOAT_LITERAL.sub(r"np.float32(\1)", ln) for ln in fast]
            lines += [Line(t, f) for t, f in zip(text, fast, strict=True)]
            if e.out.dtype == "f32":  # (as scalar_expr rounds a float32 math call: run as
                lines.append(f"{name} = np.float32({name})")  # Python, math.exp gives float64)
        else:
            codes = [c for c, _ in args]
            text = f"{name} = {strip_parens(self.scalar_code(e, codes))}"
            guard = prim.scalar.guard
            fast = text if guard is not None and not self.guards_ok else \
                f"{name} = {strip_parens(self.scalar_code(e, codes, vector=True))}"
            checks = (guard.format(**dict(zip(prim.args, codes, strict=True))),) \
                if guard is not None and fast != text else ()
            lines = [text if fast == text else Line(text, fast, checks)]
        self.put(level, [self.comment(info.eqn), *lines])
        self.scopes[level].memo[(v, terms)] = (name, level)
        return name, level

    def scalar_code(self, e: Any, args: list[str], vector: bool = False) -> str:
        expr, uses_cmath = scalar_expr(e, args, vector=vector)
        self.module.uses_cmath = self.module.uses_cmath or uses_cmath
        return expr

    # -- kernels -----------------------------------------------------------------------------

    def function(self) -> list[str]:
        """The lines of the function: `def name(params):` and its body."""
        if self.tape_bytes:
            self.top.append("tape_bytes = 0")
        marks = [0]  # where each kernel's statements start in `top`, then the return's
        for kern in self.plan.kernels:
            marks.append(len(self.top))
            self.kernel = kern
            self.top.append("")
            self.top.append(f"# {self.plan.format_kernel(kern)}")
            if kern.kind == "loop":
                self.loop_kernel(kern)
            elif kern.kind in CONTROL_PRIMS:
                self.control(kern)
            elif kern.kind == MATMUL:
                self.matmul(kern)
            elif kern.kind == "library":
                self.library(kern)
            elif kern.kind == CONCAT:
                self.concatenate(kern)
            else:
                self.reshape(kern)
        self.kernel = Kernel(len(self.plan.kernels), "loop", ())
        marks.append(len(self.top))
        self.copy_inputs()
        copy_kinds = ["loop"] if self.copies else []
        if self.copies:  # (a section of its own: codegen/split.py compiles it as a piece)
            marks.append(len(self.top))
        rets = [self.copies.get(pos) or self.output(v) for pos, v in enumerate(self.g.outputs)]
        if self.tape_bytes:
            rets.append("tape_bytes")
        params = [self.arg_names[id(self.g.inputs[i])] for i in self.params] \
            + list(self.consts.values()) + [r[0] for r in self.reused]
        lines = [f"def {self.name}({', '.join(params)}):"]
        guards: list[str] = []
        if vectorize(self.top, guards):
            self.module.uses_fm = True
        if guards:  # a flag after the outputs: a guarded vector form was out of its range
            self.guarded = True
            self.top.insert(0, "guard = np.zeros(1)")
            marks = [0, *(m + 1 for m in marks[1:])]
            rets.append("guard[0]")
        self.top.append("")
        self.top.append(f"return ({', '.join(rets)}{',' if len(rets) == 1 else ''})")
        # Rendered slice by slice (statements are only ever inserted into the kernel being
        # emitted, so the marks hold), the same lines as at once: codegen/split.py may cut
        # the function between slices.
        starts = []
        for a, b in zip(marks, [*marks[1:], len(self.top)], strict=True):
            starts.append(len(lines))
            self.render(self.top[a:b], "    ", lines)
        self.sections = [lines[a:b] for a, b in zip(starts, [*starts[1:], len(lines)],
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

    def output(self, v: Value) -> str:
        if isinstance(v, Lit):
            if v.is_scalar:
                return f"{NP_DTYPE[v.dtype]}({literal(v.scalar(), v.dtype)})"
            return self.consts[v]
        if id(v) in self.arg_names:
            return self.arg_names[id(v)]
        info = self.plan.info[v]
        if info.kind == "array" or v in self.plan.stored:
            return self.aname(v) + ("[()]" if v.shape == () else "")
        if info.kind in ("register", "local"):
            return self.vname(v)
        code, _ = self.ev(v, info.terms)
        return code
