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

Vectorization: numba has no vector math library here, so a loop calling libm's `math.exp`
stays scalar, and so does one accumulating a float sum in sequential order. An innermost loop
whose statements LLVM can otherwise vectorize (`vector_text`: no other libm calls, no `**`,
no array read-modify-write, no subscripts by computed values, no max/prod/bool reductions,
no scans) is written for the vectorizer instead: `exp` is `fm.exp` (codegen/fastmath.py, an
inline polynomial exp within 1 ulp) and `v3 += v2` is `v3 = fm.reassoc_add(v3, v2)`, an add
LLVM may reassociate into per-lane partial sums. Other loops keep `math.exp` (faster than the
inline one as scalar code) and `+=`. The module then imports `fastmath as fm`, with a hash of
its text (`fastmath.TAG`) in the comment so that an edit to it changes the source's cache key.

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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from adjit.codegen import conv_kernels, fastmath, fft_kernels, linalg_kernels, parallel, special
from adjit.codegen.cpu_accumulate import AccumulateEmitter, wide_buffers, wide_register
from adjit.codegen.cpu_calls import CallEmitter
from adjit.codegen.cpu_control import TAPE_LIMIT_MESSAGE, ControlEmitter  # noqa: F401
from adjit.codegen.cpu_text import Block, Line
from adjit.codegen.scalar import (
    FLOAT_LITERAL,
    NP_DTYPE,
    identity_literal,
    literal,
    scalar_expr,
    strip_parens,
)
from adjit.ir.core import Graph, Lit, Value, Var
from adjit.ir.errors import CodegenError
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
    input_terms,
)
from adjit.passes.schedule_cpu import Accumulator, Scratch, schedule_cpu

def _tanh_lines(x: str, name: str) -> list[str]:
    """tanh as Cephes computes it, without libm's tanh (4x slower than exp in numba): a
    rational approximation for |x| < 0.625, 1 - 2/(exp(2|x|) + 1) above. Both are computed and
    one is selected, so the loop has no branch. Within 5e-16 relative of numpy; keeps -0.0
    and NaN; the exponent is clamped so plain Python cannot overflow."""
    r = ("(((-0.964399179425052238628 * {s} - 99.2877231001918586564) * {s} "
         "- 1614.68768441708447952) / ((({s} + 112.811678491632931402) * {s} "
         "+ 2235.48839060100448583) * {s} + 4844.06305325125486048))")
    a, e, sq = f"{name}_a", f"{name}_e", f"{name}_s"
    return [f"{a} = abs({x})",
            f"{e} = 1.0 - 2.0 / (math.exp(2.0 * ({a} if {a} < 20.0 else 20.0)) + 1.0)",
            f"{sq} = {x} * {x}",
            f"{name} = math.copysign({e}, {x}) if {a} >= 0.625 else {x} * (1.0 + {sq} * "
            + r.format(s=sq) + ")"]


# A scan's operator (its primitive's `Lowering.op`) as Python.
SCAN_SYMBOLS = {"sum": "+", "prod": "*"}
# Primitives lowered to several statements (faster than their one-line template).
EXPANSIONS = {"tanh": _tanh_lines}
# Names the generated code uses itself: modules it imports (np, math, cmath, fm, ck, lk, fk,
# sf) and builtins; a graph input so named is renamed, or it would shadow them.
_RESERVED = {"np", "math", "cmath", "fm", "ck", "lk", "fk", "sf", "range", "abs", "max", "min",
             "int", "float", "bool", "len",
             "True", "False", "None", "tape_bytes"}
_GENERATED = re.compile(r"^(v|a|c|i|j|s|t|n|r|it)\d")


@dataclass(frozen=True)
class Source:
    """Generated code: the module text, the function's name, and the array constants that
    follow the graph inputs in its signature. `callees` are the module's other functions (the
    sub-graphs of control flow), which `codegen.compile` compiles as numba callees."""

    text: str
    name: str
    consts: tuple[np.ndarray, ...] = field(default=(), compare=False)
    callees: tuple[str, ...] = ()
    # a split function (codegen/split.py): its pieces, each a module of its own; `text` then
    # holds them all and the plain-Python function `name` that calls them
    parts: tuple[Source, ...] = ()



def emit_cpu(graph: Graph, plan: KernelPlan, name: str, *, tape_bytes: bool = False,
             tape_limit: int = 4 << 30, split_lines: int = 0) -> Source:
    """The Python source of one numba-compatible function computing `graph` as `plan` says.

    With `tape_bytes=True` (a debugging and benchmarking aid) the function returns one more
    value after the graph's outputs: the bytes its `while_grad` tapes held at their peak,
    the sum over its reverse loops of trip count x `Kernel.tape_row_bytes`.
    A taped `while` stops with an error once its tape would pass `tape_limit` bytes, so a
    loop that never ends under differentiation fails instead of exhausting memory.
    A function of more than `split_lines` lines (0: no limit) is cut into pieces
    (codegen/split.py): `Source.parts`."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise CodegenError(f"{name!r} is not a valid function name")
    schedule_cpu(plan)  # scratch rows and accumulators (and the sub-graphs' plans')
    module = _Module(name)
    module.tape_limit = tape_limit
    main = _Emitter(graph, plan, name, module, tape_bytes=tape_bytes)
    main_lines = main.function()
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
        parts = tuple(_part(piece, module.functions) for piece in cut.pieces)
    lines += ["", "", *main_lines]
    text = "\n".join(lines) + "\n"
    return Source(text, name, tuple(np.asarray(c.value) for c in main.consts),
                  tuple(module.functions), parts)


def imports(doc: str, uses: set[str]) -> list[str]:
    """A module's first lines: its docstring and the imports its code `uses` (of cmath, fm,
    fk, ck, lk, sf)."""
    lines = [doc, *(["import cmath"] if "cmath" in uses else []), "import math", "",
             "import numpy as np"]
    if "prange" in uses:  # multi-core loops (codegen/parallel.py); `range` as plain Python
        lines.append("from numba import prange")
    if "fm" in uses:
        # the tag is a hash of fastmath.py: numba's cache does not see edits to it otherwise
        lines.append(f"from adjit.codegen import fastmath as fm  # fastmath {fastmath.TAG}")
    if "fk" in uses:
        lines.append(f"from adjit.codegen import fft_kernels as fk  # fft_kernels "
                     f"{fft_kernels.TAG}")
    if "ck" in uses:
        # the same for the library kernels (convolution, pooling)
        lines.append(f"from adjit.codegen import conv_kernels as ck  # conv_kernels "
                     f"{conv_kernels.TAG}")
    if "lk" in uses:
        lines.append(f"from adjit.codegen import linalg_kernels as lk  # linalg_kernels "
                     f"{linalg_kernels.TAG}")
    if "sf" in uses:
        # scipy.special's scalar kernels (codegen/special.py); the tag as for fastmath
        lines.append(f"from adjit.codegen import special as sf  # special {special.TAG}")
    return lines


_USED_MODULE = re.compile(r"(?<![\w.])(cmath|fm|fk|ck|lk|sf)\.")
_WORD = re.compile(r"[A-Za-z_]\w*")


def _part(piece: Any, functions: dict[str, list[str]]) -> Source:
    """A piece of a split function as a module of its own, with the control-flow functions
    it calls (and those they call): `codegen.compile` compiles and caches it by this text."""
    wanted: list[str] = []
    todo = [piece.lines]
    while todo:
        for word in {w for ln in todo.pop() if not ln.lstrip().startswith("#")
                     for w in _WORD.findall(ln)}:
            if word in functions and word not in wanted:
                wanted.append(word)
                todo.append(functions[word])
    callees = [f for f in functions if f in wanted]  # callees before their callers
    code = [ln for f in callees for ln in ["", "", *functions[f]]] + ["", "", *piece.lines]
    uses = {m for ln in code if not ln.lstrip().startswith("#")
            for m in _USED_MODULE.findall(ln)}
    if any("prange(" in ln for ln in code):
        uses.add("prange")
    lines = imports('"""Generated by adjit: a piece of a split function (codegen/split.py)."""',
                    uses)
    return Source("\n".join([*lines, *code]) + "\n", piece.name, (), tuple(callees))


# Vectorizing loops. numba has no vector math library here: a loop that calls libm (math.sin,
# math.log, ...) stays scalar, and so does one with a sum accumulated in sequential order. In
# an innermost loop with neither, `exp` is `fm.exp` (codegen/fastmath.py: inline, vectorizable;
# slower than libm's as scalar code, so not used elsewhere) and float sums into registers use
# `fm.reassoc_add`, which lets LLVM keep per-lane partial sums. The test is conservative: only
# calls that numba lowers to vectorizable LLVM code, no `**` (libm's pow), `//` or `%` (integer
# division with Python's signs), no array read-modify-write, no subscript by a computed value.
_USES_SF = re.compile(r"^[^#]*\bsf\.", re.M)
# libm functions whose inline version in codegen/fastmath.py pays off in a vectorized loop
# (fm.sin and fm.cos do not yet: as fast as libm's, and 7-11 s of numba compile time each)
_FM_MATH = ("exp", "expm1", "log", "tanh")
_VECTOR_CALLS = {"abs", "math.copysign", "math.fabs", "math.sqrt", "np.floor", "np.float32",
                 "np.float64", "np.int32", "np.int64", "np.bool_", "fm.reassoc_add",
                 "fm.nonneg", *(f"math.{f}" for f in _FM_MATH), *(f"fm.{f}" for f in _FM_MATH)}
_CALL = re.compile(r"([A-Za-z_][\w.]*)\s*\(")
_NAME = re.compile(r"[A-Za-z_]\w*")
_LOOP_INDEX = re.compile(r"i\d+")
_MATH_FM = re.compile(rf"\bmath\.({'|'.join(_FM_MATH)})\(")


def vector_text(stmt: str) -> str | None:
    """`stmt` as written in a loop LLVM can vectorize, or None if it keeps the loop scalar."""
    if stmt.startswith("#") or not stmt:
        return stmt
    if any(op in stmt for op in ("**", "//", "%", "+=", "-=", "*=", "/=")):
        return None
    if any(f not in _VECTOR_CALLS for f in _CALL.findall(stmt)):
        return None
    depth, start = 0, 0
    for i, ch in enumerate(stmt):  # subscripts: loop indices and constants only
        if ch == "[":
            if depth == 0:
                start = i + 1
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0 and any(not _LOOP_INDEX.fullmatch(n)
                                  for n in _NAME.findall(stmt[start:i])):
                return None
    return _MATH_FM.sub(r"fm.\1(", stmt)


def _vectorize(items: list[Any]) -> bool:
    """Write the innermost loops in `items` (recursively) for LLVM's loop vectorizer where
    they qualify (see above), and resolve every `Line`. True if `fm` is used."""
    used = False
    for k, it in enumerate(items):
        if isinstance(it, Block):
            body = it.body
            fast = None
            if it.header.startswith("for ") and not any(isinstance(b, Block) for b in body):
                fast = [(None if b.fast is None else vector_text(b.fast))
                        if isinstance(b, Line) else vector_text(b) for b in body]
            if fast is not None and None not in fast:
                it.body[:] = fast
                used = used or any("fm." in b for b in fast)
            else:
                used = _vectorize(body) or used
        elif isinstance(it, Line):
            items[k] = it.text
    return used


@dataclass
class _Scope:
    items: list[Any]
    memo: dict[Any, tuple[str, int]] = field(default_factory=dict)
    open: Block | None = None


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


class _Emitter(AccumulateEmitter, CallEmitter, ControlEmitter):
    def __init__(self, graph: Graph, plan: KernelPlan, name: str, module: _Module | None = None,
                 *, scalar_args: bool = False, params: tuple[int, ...] | None = None,
                 tape_bytes: bool = False) -> None:
        self.g = graph
        self.plan = plan
        self.name = name
        self.module = module if module is not None else _Module(name)
        # Sub-graph functions take 0-d inputs as scalars and only the inputs they read.
        self.scalar_args = scalar_args
        self.params = tuple(range(len(graph.inputs))) if params is None else params
        self.tape_bytes = tape_bytes
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
        self.scopes: list[_Scope] = [_Scope(self.top)]
        self.kernel: Kernel | None = None
        self.accum: dict[Root, Accumulator] = {}  # the current kernel's roots' accumulators
        self.wide: set[Var] = set()  # the current kernel's float32 sums kept in float64 arrays
        self.pending: dict[Root, str] = {}  # their contributions, until the last one's turn
        self.alt: dict[Var, int] = {}
        self.open: list[Loop] = []  # the loops being emitted, outermost first

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
        if e.prim in ("argmax", "argmin"):
            expr, level = "0", 0
        else:
            args = [self.ev(x, input_terms(e, j, terms)) for j, x in enumerate(e.inputs)]
            level = max((lv for _, lv in args), default=0)
            if prim.kind == ELEMENTWISE:
                expr = self.scalar_code(e, [c for c, _ in args])
            else:  # an index remap, or a reduction over size-1 dims
                expr = args[0][0]
        if terms == info.terms:
            name = self.vname(v)
        else:
            self.alt[v] = self.alt.get(v, 0) + 1
            name = f"{self.vname(v)}_{self.alt[v]}"
        expand = EXPANSIONS.get(e.prim)
        if expand is not None and e.out.type.is_real_float:
            lines = [f"{name}_x = {args[0][0]}"] if not args[0][0].isidentifier() else []
            x = f"{name}_x" if lines else args[0][0]
            lines += expand(x, name)
            if e.out.dtype == "f32":
                lines = [FLOAT_LITERAL.sub(r"np.float32(\1)", ln) for ln in lines]
            self.put(level, [self.comment(info.eqn), *lines])
        else:
            self.put(level, [self.comment(info.eqn), f"{name} = {strip_parens(expr)}"])
        self.scopes[level].memo[(v, terms)] = (name, level)
        return name, level

    def scalar_code(self, e: Any, args: list[str]) -> str:
        expr, uses_cmath = scalar_expr(e, args)
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
            elif kern.kind == "matmul":
                self.matmul(kern)
            elif kern.kind == "library":
                self.library(kern)
            elif kern.kind == "concatenate":
                self.concatenate(kern)
            else:
                self.reshape(kern)
        self.kernel = Kernel(len(self.plan.kernels), "loop", ())
        marks.append(len(self.top))
        rets = [self.output(v) for v in self.g.outputs]
        if self.tape_bytes:
            rets.append("tape_bytes")
        self.top.append("")
        self.top.append(f"return ({', '.join(rets)}{',' if len(rets) == 1 else ''})")
        params = [self.arg_names[id(self.g.inputs[i])] for i in self.params] \
            + list(self.consts.values())
        lines = [f"def {self.name}({', '.join(params)}):"]
        if _vectorize(self.top):
            self.module.uses_fm = True
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
        self.section_kinds = ["setup", *(k.kind for k in self.plan.kernels), "return"]
        return lines

    def render(self, items: list[Any], indent: str, lines: list[str]) -> None:
        for it in items:
            if isinstance(it, Block):
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

    def alloc(self, v: Var, fill: str | None) -> None:
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
            if e.prim == "add" and self.plan.info[e.out].kind == "array":
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
                self.scopes.append(_Scope(block.body))
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
        self.module.uses_prange = True
        regs = [(r, self.vname(r.var) + ("_w" if wide_register(self.eqns[r.eqn]) else ""))
                for r in it.inits]
        for r, acc in regs:
            x = self.eqns[r.eqn].inputs[0]
            dt = "np.float64" if acc.endswith("_w") else NP_DTYPE[x.dtype]
            self.put(0, [f"{acc}_p = np.empty({c}, {dt})"])
        outer = Block(f"for c{k} in prange({c}):")
        outer.body += [ln for r, _ in regs for ln in self.init_lines(r)]
        inner = Block(f"for i{k} in range(c{k} * {n} // {c}, (c{k} + 1) * {n} // {c}):")
        # (the chunk starts at a computed index: tell LLVM it is not negative, or numba's
        # wraparound of negative subscripts keeps the loop from vectorizing)
        inner.body.append(f"i{k} = fm.nonneg(i{k})")
        self.module.uses_fm = True
        outer.body.append(inner)
        scope = self.scopes[0]
        scope.items.append(outer)
        scope.open = outer
        self.scopes.append(_Scope(inner.body))
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
