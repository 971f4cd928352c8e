"""The sympy declarations of the elementwise primitives behind `scipy.special`'s ufuncs.

Same `Decl` records as `elementwise_decls.py` (derived by `derive.py` into
`_derived_special.py`), with three differences:

- The reference implementation is scipy's ufunc, named as a string and imported on first
  use, so importing adjit does not import scipy.special.
- The scalar code calls `sf.<name>(...)`: `adjit.codegen.special`, which runs scipy's own
  scalar kernels (`scipy.special.cython_special`) from numba-compiled code, and scipy's
  ufunc in plain Python (`ADJIT_NOJIT=1`). There is no `math.*` formula for these.
- Arguments are scipy's, in scipy's order, named x, y, z: `iv(v, x)` is declared over
  (x, y) = (v, x). A partial that does not exist as a computable function (the order of a
  Bessel function, the parameters of an incomplete gamma or beta function) is declared
  `"nondiff"`: asking for it raises `adjit.NotDifferentiable` (a derivative that is never
  needed, because the argument does not depend on what is differentiated, costs nothing).

A `d=` formula may name these primitives as functions (`i1e(x)`, `ive(y, x)`,
`betaln(x, y)`) where sympy has no function of that name or its form would overflow;
sympy's own `erf`, `loggamma`, `polygamma`, `besseli`/`besselj`/`bessely` become the
primitives of the same meaning (see `derive.to_tree`). Where the partial is sympy's own
`diff`, no `d=` is given.
"""
from __future__ import annotations

from .elementwise_decls import Decl


def _sc(name: str) -> str:
    return f"scipy.special.{name}"


def _decl(name: str, expr: str, d: dict[str, str] | None = None, domain: str | None = None,
          scipy_name: str | None = None) -> Decl:
    args = Decl(name, expr, None).args
    code = f"sf.{name}(" + ", ".join("{%s}" % a for a in args) + ")"
    return Decl(name, expr, _sc(scipy_name or name), d=d or {}, code=code, domain=domain)


_POS = "x > 0"
_DIFF_Y_ONLY = "nondiff"

SPECIAL_DECLS: tuple[Decl, ...] = (
    _decl("logit", "log(x / (1 - x))", d={"x": "1 / (x * (1 - x))"}, domain="(x > 0) & (x < 1)"),
    _decl("erf", "erf(x)"),
    _decl("erfc", "erfc(x)"),
    _decl("erfcx", "exp(x**2) * erfc(x)", d={"x": "2 * x * out - 2 / sqrt(pi)"}),
    _decl("erfinv", "erfinv(x)", d={"x": "sqrt(pi) / 2 * exp(out**2)"}, domain="Abs(x) < 1"),
    _decl("erfcinv", "erfcinv(x)", d={"x": "-sqrt(pi) / 2 * exp(out**2)"},
          domain="(x > 0) & (x < 2)"),
    # log|Gamma(x)|: its derivative is digamma on both sides of 0.
    _decl("gammaln", "loggamma(x)", domain=_POS),
    _decl("gamma", "gamma(x)", d={"x": "out * polygamma(0, x)"}, domain=_POS),
    _decl("rgamma", "1 / gamma(x)", d={"x": "-out * polygamma(0, x)"}, domain=_POS),
    _decl("gammasgn", "sign(gamma(x))", d={"x": "0"}, domain=_POS),
    _decl("digamma", "polygamma(0, x)", domain=_POS, scipy_name="psi"),
    # scipy.special.polygamma is a Python function (not a ufunc): the tracer reaches this
    # primitive through tracer/scipy_api.py. The order n is an integer.
    _decl("polygamma", "polygamma(x, y)", d={"x": _DIFF_Y_ONLY}, domain="(x >= 0) & (y > 0)"),
    _decl("xlogy", "x * log(y)", domain="y > 0"),
    _decl("xlog1py", "x * log(1 + y)", domain="y > -1"),
    _decl("entr", "-x * log(x)", domain=_POS),
    _decl("rel_entr", "x * log(x / y)", domain="(x > 0) & (y > 0)"),
    _decl("kl_div", "x * log(x / y) - x + y", domain="(x > 0) & (y > 0)"),
    # The normal distribution's cdf, its log (accurate far in the left tail) and inverse.
    _decl("ndtr", "(1 + erf(x / sqrt(2))) / 2", d={"x": "exp(-x**2 / 2) / sqrt(2 * pi)"}),
    _decl("log_ndtr", "log((1 + erf(x / sqrt(2))) / 2)",
          d={"x": "exp(-x**2 / 2 - out) / sqrt(2 * pi)"}),
    _decl("ndtri", "sqrt(2) * erfinv(2 * x - 1)", d={"x": "sqrt(2 * pi) * exp(out**2 / 2)"},
          domain="(x > 0) & (x < 1)"),
    _decl("betaln", "loggamma(x) + loggamma(y) - loggamma(x + y)", domain="(x > 0) & (y > 0)"),
    _decl("beta", "gamma(x) * gamma(y) / gamma(x + y)",
          d={"x": "out * (polygamma(0, x) - polygamma(0, x + y))",
             "y": "out * (polygamma(0, y) - polygamma(0, x + y))"},
          domain="(x > 0) & (y > 0)"),
    # Regularized incomplete gamma and beta functions: d/dx of the integral's upper limit;
    # the parameters' partials are not computable in closed form.
    _decl("gammainc", "lowergamma(x, y) / gamma(x)",
          d={"x": _DIFF_Y_ONLY, "y": "exp(-y + (x - 1) * log(y) - loggamma(x))"},
          domain="(x > 0) & (y > 0)"),
    _decl("gammaincc", "uppergamma(x, y) / gamma(x)",
          d={"x": _DIFF_Y_ONLY, "y": "-exp(-y + (x - 1) * log(y) - loggamma(x))"},
          domain="(x > 0) & (y > 0)"),
    _decl("betainc", "betainc_regularized(x, y, 0, z)",
          d={"x": _DIFF_Y_ONLY, "y": _DIFF_Y_ONLY,
             "z": "exp((x - 1) * log(z) + (y - 1) * log(1 - z) - betaln(x, y))"},
          domain="(x > 0) & (y > 0) & (z > 0) & (z < 1)"),
    # Modified Bessel functions of the first kind; the exponentially scaled ones
    # (i0e = i0 exp(-|x|)) have derivatives in the scaled functions, which do not overflow.
    _decl("i0", "besseli(0, x)"),
    _decl("i1", "besseli(1, x)", d={"x": "(besseli(0, x) + besseli(2, x)) / 2"}),
    _decl("i0e", "besseli(0, x) * exp(-Abs(x))", d={"x": "i1e(x) - sign(x) * out"}),
    _decl("i1e", "besseli(1, x) * exp(-Abs(x))",
          d={"x": "(i0e(x) + ive(2, x)) / 2 - sign(x) * out"}),
    _decl("iv", "besseli(x, y)",
          d={"x": _DIFF_Y_ONLY, "y": "(besseli(x - 1, y) + besseli(x + 1, y)) / 2"},
          domain="y > 0"),
    _decl("ive", "besseli(x, y) * exp(-Abs(y))",
          d={"x": _DIFF_Y_ONLY, "y": "(ive(x - 1, y) + ive(x + 1, y)) / 2 - sign(y) * out"},
          domain="y > 0"),
    # Bessel functions of the first and second kind (jn is scipy's name for jv).
    _decl("j0", "besselj(0, x)"),
    _decl("j1", "besselj(1, x)", d={"x": "(besselj(0, x) - besselj(2, x)) / 2"}),
    _decl("jv", "besselj(x, y)",
          d={"x": _DIFF_Y_ONLY, "y": "(besselj(x - 1, y) - besselj(x + 1, y)) / 2"}),
    _decl("y0", "bessely(0, x)", domain=_POS),
    _decl("y1", "bessely(1, x)", d={"x": "(bessely(0, x) - bessely(2, x)) / 2"}, domain=_POS),
    _decl("yv", "bessely(x, y)",
          d={"x": _DIFF_Y_ONLY, "y": "(bessely(x - 1, y) - bessely(x + 1, y)) / 2"},
          domain="y > 0"),
    _decl("yn", "bessely(x, y)",
          d={"x": _DIFF_Y_ONLY, "y": "(bessely(x - 1, y) - bessely(x + 1, y)) / 2"},
          domain="y > 0"),
)
