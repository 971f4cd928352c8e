"""Print the loop kernels of a lowered program (ir/loops.py) as the statements of a numba CPU
function: what codegen/cpu.py writes for each `LoopKernel`, `Alloc` and `Convert` step.

One statement per IR statement, preceded by the comment of its equation (`# %3 = mul %2, %2 :
f64[8] model.py:6`). Expressions are Python with numpy scalars: an elementwise `Apply` is its
primitive's template (codegen/scalar.py), subscripts are the index arithmetic of `Affine`,
float32 literals carry their dtype. A loop the passes marked (codegen/cpu_passes.py) is
printed as they decided: `For.vector` in the vector forms (`fm.exp`, `fm.reassoc_add`), a
chunk loop `for ch0 in prange(64):` around `for i0 in range(ch0 * n // 64, (ch0 + 1) * n //
64):`. A vector loop using a form exact on part of its domain (sin below 2^20: `ScalarCode.guard`)
sums the guard's expression in a local `g0` and sets `guard[0]` after the loop if it is not 0
(the function is then run again in the plain forms: runtime/compiler.py).
"""
from __future__ import annotations

from typing import Any

from adjit.codegen.cpu_passes import uses_lines, vector_form
from adjit.codegen.cpu_text import Block, Group
from adjit.codegen.loop_expr import ExprPrinter
from adjit.codegen.scalar import (
    FLOAT_LITERAL,
    NP_DTYPE,
    identity_literal,
    literal,
    strip_parens,
)
from adjit.ir.loops import (
    Accumulate,
    Alloc,
    Apply,
    ArgAccumulate,
    Comment,
    Convert,
    Fill,
    For,
    Init,
    Let,
    LoopKernel,
    Scan,
    Set,
    Stmt,
    Store,
)
from adjit.ir.primitive import PRIMS


def shape_code(shape: tuple[int, ...]) -> str:
    return f"({', '.join(str(d) for d in shape)}{',' if len(shape) == 1 else ''})"


def comment(text: str) -> str:
    line = f"# {text}"
    return line if len(line) <= 160 else line[:157] + "..."


class CpuPrinter(ExprPrinter):
    """Prints steps into a list of items (strings, `Block`s, `Group`s: codegen/cpu_text.py).
    `guards`: vector forms exact on part of their domain may be used."""

    def __init__(self, guards: bool) -> None:
        super().__init__()
        self.guards_ok = guards
        self.guards: list[str] = []  # the locals summing guards (`g0`), one per vector loop
        self.dtypes: dict[str, str] = {}  # the dtypes of the registers (Init)
        self.vector = False  # printing a vector loop
        self.checks: list[str] = []  # that loop's guard expressions

    # -- steps -------------------------------------------------------------------------------

    def alloc(self, s: Alloc) -> str:
        if s.reused:
            return (f"{s.buf}.fill({literal(s.fill, s.dtype)})" if s.fill is not None
                    else f"# {s.buf}: a buffer of the caller's")
        shape, dt = shape_code(s.shape), NP_DTYPE[s.dtype]
        if s.fill is None:
            return f"{s.buf} = np.empty({shape}, {dt})"
        if s.fill == 0 and not isinstance(s.fill, bool) or s.fill is False:
            return f"{s.buf} = np.zeros({shape}, {dt})"
        return f"{s.buf} = np.full({shape}, {literal(s.fill, s.dtype)}, {dt})"

    def step(self, s: Any, out: list[Any]) -> None:
        if isinstance(s, Alloc):
            out.append(self.alloc(s))
        elif isinstance(s, Convert):
            out.append(f"{s.buf} = {s.src}.astype({NP_DTYPE[s.dtype]})")
        else:
            assert isinstance(s, LoopKernel)
            out += [self.alloc(t) for t in s.temps]
            self.body(s.body, out)

    def body(self, stmts: list[Stmt], out: list[Any]) -> None:
        for s in stmts:
            self.stmt(s, out)

    # -- expressions ------------------------------------------------------------------------

    def apply(self, e: Apply, args: list[str], vector: bool = False) -> str:
        """In a vector loop, the equation's vector form, noting its guard if it has one."""
        vector = self.vector and vector_form(e.eqn, self.guards_ok)
        guard = PRIMS[e.eqn.prim].scalar.guard
        if vector and guard is not None:
            names = dict(zip(PRIMS[e.eqn.prim].args, args, strict=True))
            self.checks.append(guard.format(**names))
        return super().apply(e, args, vector)

    # -- statements --------------------------------------------------------------------------

    def stmt(self, s: Stmt, out: list[Any]) -> None:
        note = getattr(s, "note", "")
        if note:
            out.append(comment(note))
        if isinstance(s, For):
            out.append(self.loop(s))
        elif isinstance(s, Let) and isinstance(s.expr, Apply) and uses_lines(s.expr.eqn):
            self.lines(s.name, s.expr, out)
        elif isinstance(s, (Let, Set)):
            out.append(f"{s.name} = {strip_parens(self.code(s.expr))}")
        elif isinstance(s, Init):
            self.dtypes[s.name] = s.dtype
            if s.op in ("argmax", "argmin"):
                out += [f"{s.name} = 0",
                        f"{s.name}_best = {identity_literal(s.op, s.in_dtype)}"]
            elif s.dtype != s.in_dtype and s.op == "sum":  # (a float32 sum in float64)
                out.append(f"{s.name} = {NP_DTYPE[s.dtype]}({identity_literal(s.op, s.dtype)})")
            else:
                out.append(f"{s.name} = {identity_literal(s.op, s.dtype)}")
        elif isinstance(s, Store):
            out.append(f"{s.buf}[{self.index(s.index)}] = {strip_parens(self.code(s.expr))}")
        elif isinstance(s, Fill):
            out.append(f"{s.buf}[{self.index(s.index)}] = {self.code(s.value)}")
        elif isinstance(s, Comment):
            out.append(comment(s.text))
        elif isinstance(s, Scan):
            self.scan(s, out)
        elif isinstance(s, ArgAccumulate):
            x = self.code(s.expr)
            where = "" if s.index is None else f"[{self.index(s.index)}]"
            best, acc = f"{s.best}{where}", f"{s.buf}{where}"
            cmp = ">" if s.op == "argmax" else "<"
            blk = Block(f"if {x} {cmp} {best} or ({x} != {x} and {best} == {best}):")
            blk.body += [f"{best} = {x}", f"{acc} = {self.code(s.position)}"]
            out.append(blk)
        else:
            assert isinstance(s, Accumulate)
            out.append(self.accumulate(s))

    def loop(self, s: For) -> Block:
        if s.parallel:  # the chunks of a loop on threads
            self.uses.add("prange")
            blk = Block(f"for {s.var}{s.axis} in prange({s.extent}):")
        elif s.parts:
            c, n, k = s.parts, s.extent, s.axis
            self.uses.add("fm")
            blk = Block(f"for i{k} in range(ch{k} * {n} // {c}, (ch{k} + 1) * {n} // {c}):")
            # (the chunk starts at a computed index: tell LLVM it is not negative, or numba's
            # wraparound of negative subscripts keeps the loop from vectorizing)
            blk.body.append(f"i{k} = fm.nonneg(i{k})")
        else:
            blk = Block(f"for {s.var}{s.axis} in range({s.extent}):")
        if not s.vector:
            self.body(s.body, blk.body)
            return blk
        self.vector, self.checks = True, []
        self.body(s.body, blk.body)
        self.vector = False
        checks = list(dict.fromkeys(self.checks))
        if not checks:
            return blk
        name = f"g{len(self.guards)}"
        self.guards.append(name)
        self.uses.add("fm")
        blk.body += [f"{name} = fm.reassoc_add({name}, {g})" for g in checks]
        flush = Block(f"if {name} != 0.0:")
        flush.body.append("guard[0] = 1.0")
        return Group([f"{name} = 0.0", blk, flush])  # type: ignore[return-value]

    def lines(self, name: str, e: Apply, out: list[Any]) -> None:
        """An equation written as several statements (from exp: libm's, or fastmath's where
        the loop vectorizes)."""
        arg = self.code(e.args[0])
        if not arg.isidentifier():
            out.append(f"{name}_x = {strip_parens(arg)}")
            arg = f"{name}_x"
        exp = "fm.exp" if self.vector else "math.exp"
        if self.vector:
            self.uses.add("fm")
        text = PRIMS[e.eqn.prim].scalar.lines(arg, name, exp)
        if e.eqn.out.dtype == "f32":
            text = [FLOAT_LITERAL.sub(r"np.float32(\1)", ln) for ln in text]
        out += text
        if e.eqn.out.dtype == "f32":  # (as scalar_expr rounds a float32 math call: run as
            out.append(f"{name} = np.float32({name})")  # Python, math.exp gives float64)

    def scan(self, s: Scan, out: list[Any]) -> None:
        x = self.code(s.expr)
        before = f"{s.buf}[{self.index(s.prev)}]"
        if s.coef is not None:  # s[i] = a[i] * s[i - 1] + b[i]
            step = f"{self.code(s.coef)} * {before} + {x}"
        else:
            step = f"{before} {'*' if s.op == 'prod' else '+'} {x}"
        out.append(f"{s.buf}[{self.index(s.index)}] = {x} if i{s.axis} == 0 else {step}")

    def accumulate(self, s: Accumulate) -> str:
        x = strip_parens(self.code(s.expr))
        acc = s.buf if s.index is None else f"{s.buf}[{self.index(s.index)}]"
        if s.op == "sum":
            if self.vector and s.index is None:
                if self.dtypes.get(s.buf) in ("f32", "f64"):
                    self.uses.add("fm")
                    return f"{acc} = fm.reassoc_add({acc}, {x})"
                return f"{acc} = {acc} + {x}"
            return f"{acc} += {x}"
        if s.op == "prod":
            return f"{acc} *= {x}"
        if s.op in ("or", "and"):
            return f"{acc} = {acc} {s.op} {x}"
        # LLVM vectorizes a float max only without NaNs (the `!=` keeps them here)
        cmp = ">" if s.op == "max" else "<"
        return f"{acc} = {x} if {x} {cmp} {acc} or {x} != {x} else {acc}"
