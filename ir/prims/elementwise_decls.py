"""The sympy declarations of adjit's scalar elementwise primitives.

One line per primitive: its IR name (numpy's), its formula in sympy syntax over
`x` (and `y`), the numpy function the reference interpreter uses, and optional
overrides: `d` gives a partial derivative in terms of `out` (a test proves it
equal to `sympy.diff`), `code` the scalar code where the formula is not the
numerically sound way to compute it, `domain` the inputs on which it is defined
(used to draw test points); `vector`, `guard`, `lines`, `complex`, `int_closed`
and `bool_closed` are the code variants and dtype behaviour the code generators read
(`ir.primitive.ScalarCode`). This module imports neither sympy nor numba: the
derived rules live in `_derived.py`, which `derive.py` writes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Decl:
    name: str
    expr: str
    numpy: object  # the function, or its dotted name imported on first use (scipy.special)
    d: dict[str, str] = field(default_factory=dict)
    code: str | None = None
    domain: str | None = None  # sympy boolean over x, y: where test points are drawn
    vector: str | None = None
    guard: str | None = None
    lines: Callable[[str, str, str], list[str]] | None = None
    complex: str | None = None
    int_closed: bool = False
    bool_closed: bool = False

    @property
    def args(self) -> tuple[str, ...]:
        if _mentions(self.expr, "z"):  # three arguments (scipy.special.betainc)
            return ("x", "y", "z")
        return ("x", "y") if _mentions(self.expr, "y") else ("x",)

    def key(self) -> str:
        return repr((self.name, self.expr, sorted(self.d.items()), self.code, self.domain))


def _mentions(expr: str, sym: str) -> bool:
    import re

    return re.search(rf"\b{sym}\b", expr) is not None


def _tanh_lines(x: str, name: str, exp: str) -> list[str]:
    """tanh as Cephes computes it, without libm's tanh (4x slower than exp in numba): a
    rational approximation for |x| < 0.625, 1 - 2/(exp(2|x|) + 1) above. Both are computed and
    one is selected, so the loop has no branch. Within 5e-16 relative of numpy; keeps -0.0
    and NaN; the exponent is clamped so plain Python cannot overflow."""
    r = ("(((-0.964399179425052238628 * {s} - 99.2877231001918586564) * {s} "
         "- 1614.68768441708447952) / ((({s} + 112.811678491632931402) * {s} "
         "+ 2235.48839060100448583) * {s} + 4844.06305325125486048))")
    a, e, sq = f"{name}_a", f"{name}_e", f"{name}_s"
    return [f"{a} = abs({x})",
            f"{e} = 1.0 - 2.0 / ({exp}(2.0 * ({a} if {a} < 20.0 else 20.0)) + 1.0)",
            f"{sq} = {x} * {x}",
            f"{name} = math.copysign({e}, {x}) if {a} >= 0.625 else {x} * (1.0 + {sq} * "
            + r.format(s=sq) + ")"]


def _relu(x: np.ndarray) -> np.ndarray:
    """max(x, 0) as PyTorch's relu: NaN stays NaN and -0.0 stays -0.0. np.where(x < 0, 0, x)
    is exact but branches on every element (10x slower on mixed signs); np.maximum is one
    pass, but the sign of a zero it returns depends on its loop, so zeros take x's sign."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        return np.maximum(x, 0)
    out = np.empty_like(x)
    np.maximum(x, 0, out=out)
    np.copysign(out, x, out=out, where=x == 0)
    return out


DECLS: tuple[Decl, ...] = (
    Decl("neg", "-x", np.negative, code="(-{x})", int_closed=True),
    Decl("add", "x + y", np.add, code="({x} + {y})", int_closed=True),
    Decl("sub", "x - y", np.subtract, code="({x} - {y})", int_closed=True),
    Decl("mul", "x * y", np.multiply, code="({x} * {y})", int_closed=True),
    Decl("div", "x / y", np.divide, d={"x": "1/y", "y": "-out/y"}, code="({x} / {y})",
         domain="Ne(y, 0)"),
    # d/dx is y * x**(y-1), not y * out / x (NaN at x = 0), and 0 where y = 0 (as PyTorch
    # has it: every polynomial's constant term; 0 * 0**-1 would be NaN). JAX's float pow gives
    # NaN there, its integer_pow 0. x**3 at x < 0 is 3 * x**2.0, exact. d/dy takes the log of
    # 1 where x = 0, as JAX does: 0 * out, which is 0 for y >= 0 (JAX and PyTorch) and NaN at
    # the pole y < 0 (JAX; PyTorch -inf); log(0) is never evaluated.
    Decl("pow", "x**y", np.power, d={"x": "Piecewise((0, Eq(y, 0)), (y * x**(y - 1), True))",
                                      "y": "log(Piecewise((1, Eq(x, 0)), (x, True))) * out"},
         code="({x} ** {y})", domain="x > 0", int_closed=True),
    Decl("exp", "exp(x)", np.exp, d={"x": "out"}, vector="fm.exp({x})"),
    Decl("exp2", "2**x", np.exp2, d={"x": "out * log(2)"}, code="(2.0 ** {x})"),
    Decl("expm1", "exp(x) - 1", np.expm1, d={"x": "out + 1"}, code="math.expm1({x})",
         vector="fm.expm1({x})", complex="(cmath.exp({x}) - 1.0)"),
    Decl("log", "log(x)", np.log, domain="x > 0", vector="fm.log({x})"),
    Decl("log2", "log(x) / log(2)", np.log2, code="math.log2({x})", domain="x > 0",
         complex="(cmath.log({x}) / 0.6931471805599453)"),
    Decl("log10", "log(x) / log(10)", np.log10, code="math.log10({x})", domain="x > 0"),
    Decl("log1p", "log(1 + x)", np.log1p, code="math.log1p({x})", domain="x > -1",
         vector="fm.log1p({x})", complex="cmath.log(1.0 + {x})"),
    Decl("sqrt", "sqrt(x)", np.sqrt, d={"x": "1 / (2 * out)"}, domain="x > 0"),
    # (fastmath's sin_small and cos_small reduce exactly only below 2^20: guarded)
    Decl("sin", "sin(x)", np.sin, vector="fm.sin_small({x})", guard="fm.trig_big({x})"),
    Decl("cos", "cos(x)", np.cos, vector="fm.cos_small({x})", guard="fm.trig_big({x})"),
    Decl("tan", "tan(x)", np.tan, d={"x": "1 + out**2"}, domain="abs(x) < 1.4",
         vector="fm.tan_small({x})", guard="fm.trig_big({x})"),
    Decl("sinh", "sinh(x)", np.sinh),
    Decl("cosh", "cosh(x)", np.cosh),
    Decl("tanh", "tanh(x)", np.tanh, d={"x": "1 - out**2"}, lines=_tanh_lines),
    Decl("arcsin", "asin(x)", np.arcsin, domain="abs(x) < 0.95"),
    Decl("arccos", "acos(x)", np.arccos, domain="abs(x) < 0.95"),
    Decl("arctan", "atan(x)", np.arctan),
    Decl("arcsinh", "asinh(x)", np.arcsinh),
    Decl("arccosh", "acosh(x)", np.arccosh, domain="x > 1"),
    Decl("arctanh", "atanh(x)", np.arctanh, domain="abs(x) < 0.95"),
    Decl("arctan2", "atan2(x, y)", np.arctan2,
         d={"x": "y / (x**2 + y**2)", "y": "-x / (x**2 + y**2)"},
         code="math.atan2({x}, {y})", domain="x**2 + y**2 > 0.01"),
    Decl("logistic", "1 / (1 + exp(-x))", lambda x: 1 / (1 + np.exp(-x)),
         d={"x": "out * (1 - out)"},
         code="(1.0 / (1.0 + math.exp(-{x})))", vector="(1.0 / (1.0 + fm.exp(-{x})))"),
    # |x|' = sign(x): 0 at 0, as PyTorch defines it.
    Decl("abs", "Abs(x)", np.abs, code="abs({x})", int_closed=True),
    # NaN == 0 is False and copysign(1, NaN) is 1: test for NaN explicitly, as np.sign does.
    Decl("sign", "sign(x)", np.sign, d={"x": "0"},
         code="(0.0 * {x} if {x} == 0 or {x} != {x} else math.copysign(1.0, {x}))"),
    # Ties split the derivative evenly (Heaviside(0) = 1/2), as JAX and PyTorch do.
    Decl("maximum", "Max(x, y)", np.maximum, code="({x} if {x} >= {y} or {x} != {x} else {y})",
         int_closed=True, bool_closed=True),
    Decl("minimum", "Min(x, y)", np.minimum, code="({x} if {x} <= {y} or {x} != {x} else {y})",
         int_closed=True, bool_closed=True),
    # PyTorch's relu: NaN stays NaN (`not x < 0`), relu(-0.0) is -0.0, and the derivative is
    # 0 where x <= 0 and 1 elsewhere, NaN included, as threshold_backward's mask (out <= 0)
    # has it. Its rules select the cotangent instead of multiplying by d (elementwise.py).
    Decl("relu", "Max(x, 0)", _relu, d={"x": "Piecewise((0, x <= 0), (1, True))"},
         code="({x} if not {x} < 0.0 else 0.0)"),
    # d/dx is the logistic of x - y, written with the exponent <= 0 on either side (no
    # overflow) and without |x - y| (whose kink would make the second derivative 0 at a tie,
    # where it is 1/4): 1/(1 + exp(y - x)) for x >= y, exp(x - y)/(1 + exp(x - y)) below. So
    # 1 at x = +inf and 0 at x = -inf. Equal infinite arguments, where x - y is NaN, split it
    # evenly, as maximum's ties do: logaddexp(inf, inf) has partials 1/2, 1/2 (JAX: 1, 1 at
    # +inf and NaN at -inf; PyTorch: NaN at both). 3e38 is "infinite" in float32 too; a finite
    # tie that large has partials 1/2 either way.
    Decl("logaddexp", "log(exp(x) + exp(y))", np.logaddexp,
         d={"x": "Piecewise((1/2, Eq(x, y) & (Abs(x) > 3e38)), (1 / (1 + exp(y - x)), x >= y), "
                 "(exp(x - y) / (1 + exp(x - y)), True))",
            "y": "Piecewise((1/2, Eq(x, y) & (Abs(y) > 3e38)), (1 / (1 + exp(x - y)), y > x), "
                 "(exp(y - x) / (1 + exp(y - x)), True))"},
         code="(max({x}, {y}) + math.log1p(math.exp(-abs({x} - {y}))) if {x} != {y} "
              "else {x} + 0.6931471805599453)"),
)
