"""Loop-IR expressions (ir/loops.py) as Python code with numpy scalars, shared by the printers
of the CPU (codegen/cpu_print.py) and CUDA (codegen/cuda.py) targets: subscripts with their
index arithmetic, literals of their dtype, casts, and an elementwise equation as its
primitive's template (codegen/scalar.py)."""
from __future__ import annotations

from adjit.codegen.scalar import NP_DTYPE, literal, scalar_expr, strip_parens
from adjit.ir.loops import Add, Affine, Apply, Cast, Const, Expr, Idx, Load, Local, Span


class ExprPrinter:
    """`uses` collects the modules the code calls (cmath, sf, fm) and other features a
    printer must import for (prange)."""

    def __init__(self) -> None:
        self.uses: set[str] = set()

    def index(self, index: tuple[Expr | Span, ...]) -> str:
        if not index:
            return "()"  # a 0-d array's element
        return ", ".join(self.subscript(i) for i in index)

    def subscript(self, i: Expr | Span) -> str:
        if isinstance(i, Span):
            return f"{'' if i.lo is None else i.lo}:{'' if i.hi is None else i.hi}"
        if not isinstance(i, Affine):
            return strip_parens(self.code(i))
        base = self.code(i.base)
        if i.step == -1:
            return f"{i.start} - {base}" if i.start else f"-{base}"
        if i.step != 1:
            base = f"{i.step} * {base}" if i.step > 0 else f"({i.step}) * {base}"
        if i.start > 0:
            return f"{base} + {i.start}"
        if i.start < 0:
            return f"{base} - {-i.start}"
        return base

    def code(self, e: Expr) -> str:
        """`e` as code; a compound expression in parentheses (a statement strips them)."""
        if isinstance(e, Const):
            return literal(e.value, e.dtype)
        if isinstance(e, Idx):
            return f"{e.var}{e.axis}"
        if isinstance(e, Local):
            return e.name
        if isinstance(e, Load):
            return f"{e.buf}[{self.index(e.index)}]"
        if isinstance(e, Affine):
            return f"({self.subscript(e)})"
        if isinstance(e, Cast):
            return f"{NP_DTYPE[e.dtype]}({strip_parens(self.code(e.x))})"
        if isinstance(e, Add):
            return "(" + " + ".join(self.code(a) for a in e.args) + ")"
        assert isinstance(e, Apply)
        text = self.apply(e, [self.code(a) for a in e.args])
        return text if strip_parens(text) != text else f"({text})"

    device = False  # printing for numba.cuda (`ScalarCode.device` templates)

    def apply(self, e: Apply, args: list[str], vector: bool = False) -> str:
        """Elementwise equation `e.eqn` on the code of its arguments (a float32 math call is
        rounded to float32 by scalar_expr); `vector`: its vector form."""
        text, uses_cmath = scalar_expr(e.eqn, args, vector=vector, device=self.device)
        if uses_cmath:
            self.uses.add("cmath")
        if "sf." in text:  # scipy.special's scalar kernels (numba functions, codegen/special.py)
            self.uses.add("sf")
        for module in ("fm", "cm"):
            if f"{module}." in text:
                self.uses.add(module)
        return text
