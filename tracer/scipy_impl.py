"""adjit's implementations of scipy functions, written with numpy over traced values.

`ufunc_rules()` gives, for each supported `scipy.special` ufunc, what it is on tracers: a
primitive of ir/prims/special_decls.py (`erf`, `iv`, ...) or a formula over primitives
(`expit` is `logistic`, `log_expit(x)` is `-logaddexp(0, -x)`). `SCIPY_FUNCTIONS` maps the
dotted name of each scipy Python function adjit implements (`scipy.special.logsumexp`,
`scipy.stats.norm.logpdf`) to its implementation; tracer/scipy_api.py installs them. The
formulas follow scipy's definitions and argument conventions (positional or keyword `loc`
and `scale`, `axis`, `keepdims`, `b=`, `return_sign`), including the values scipy gives
outside a distribution's support (0 density, -inf log density) and for an invalid
parameter (NaN for a scale <= 0), so the results equal scipy's; arguments are validated
only as far as their values are known (a traced `x` given to `dirichlet.pdf` is not
checked to lie in the simplex: a NaN marks it instead).

Derivatives come from the primitives: with respect to any argument, except the parameters
of the incomplete gamma and beta functions (`gammainc(a, x)`, `betainc(a, b, x)`), so the
cdfs of gamma, beta, chi2, t and poisson differentiate in x, loc and scale but refuse (with
`adjit.NotDifferentiable`) in their shape parameters.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from adjit.ir.errors import TraceError

from adjit.ir import current_loc
from .values import Tracer

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _sc() -> Any:
    import scipy.special

    return scipy.special


def _sg(x: Any) -> Any:
    """stop_gradient of a traced value; anything else unchanged."""
    from .numpy_api import stop_gradient

    return stop_gradient(x) if isinstance(x, Tracer) else x


def _weak(v: Any) -> Any:
    """A float64 scalar that scipy or numpy computed from Python numbers (gammaln(2.0),
    np.log(scale) of the default scale 1.0) as a Python float, so that it does not turn a
    float32 computation into float64 (a numpy float64 scalar is strongly typed, NEP 50)."""
    if not isinstance(v, Tracer) and np.ndim(v) == 0 and np.asarray(v).dtype == np.float64:
        return float(v)
    return v


def _log(v: Any) -> Any:
    return _weak(np.log(v))


def _when(cond: Any, value: Any, otherwise: float) -> Any:
    """np.where(cond, value, otherwise), skipped when cond is known to hold everywhere."""
    if not isinstance(cond, Tracer) and bool(np.all(cond)):
        return value
    return np.where(cond, value, otherwise)


def _safe(cond: Any, x: Any, fill: float) -> Any:
    """x where cond holds, else `fill`: an argument kept inside a function's domain so that
    the branch np.where discards has no NaN (whose derivative, times 0, would be NaN)."""
    if not isinstance(cond, Tracer) and bool(np.all(cond)):
        return x
    return np.where(cond, x, fill)


def _arr(a: Any) -> Any:
    """An array argument: a list or tuple holding traced values is stacked (scipy's
    np.asarray would make an object array of them)."""
    if isinstance(a, (list, tuple)):
        items = [_arr(e) for e in a]
        if any(isinstance(e, Tracer) for e in items):
            return np.stack(items)
        return np.asarray(a)
    return a


# ---- scipy.special ufuncs ---------------------------------------------------------------------

_PRIM_UFUNCS = {
    "logit": "logit", "erf": "erf", "erfc": "erfc", "erfcx": "erfcx", "erfinv": "erfinv",
    "erfcinv": "erfcinv", "gammaln": "gammaln", "gamma": "gamma", "rgamma": "rgamma",
    "gammasgn": "gammasgn", "psi": "digamma", "xlogy": "xlogy", "xlog1py": "xlog1py",
    "entr": "entr", "rel_entr": "rel_entr", "kl_div": "kl_div", "ndtr": "ndtr",
    "log_ndtr": "log_ndtr", "ndtri": "ndtri", "betaln": "betaln", "beta": "beta",
    "gammainc": "gammainc", "gammaincc": "gammaincc", "betainc": "betainc", "i0": "i0",
    "i1": "i1", "i0e": "i0e", "i1e": "i1e", "iv": "iv", "ive": "ive", "j0": "j0", "j1": "j1",
    "jv": "jv", "y0": "y0", "y1": "y1", "yv": "yv", "yn": "yn", "expit": "logistic",
}


def _prim(name: str) -> Callable[..., Any]:
    def rule(*xs: Any) -> Any:
        from .numpy_api import elementwise

        return elementwise(name, *xs)

    return rule


def _log_expit(x: Any) -> Any:
    return -np.logaddexp(0.0, -x)


def _loggamma(x: Any) -> Any:
    # real loggamma: log Gamma(x) for x > 0, NaN below (scipy's real loggamma)
    sc = _sc()
    return _when(x > 0, sc.gammaln(_safe(x > 0, x, 1.0)), np.nan)


def _stdtr(df: Any, t: Any) -> Any:
    return t_cdf(t, df)


def _pseudo_huber(delta: Any, r: Any) -> Any:
    return delta ** 2 * (np.sqrt(1 + (r / delta) ** 2) - 1)


def ufunc_rules() -> dict[Any, Callable[..., Any]]:
    """{scipy.special ufunc: its implementation on tracers} for the ufuncs adjit supports."""
    sc = _sc()
    rules: dict[Any, Callable[..., Any]] = {}
    for uname, prim in _PRIM_UFUNCS.items():
        uf = getattr(sc, uname, None)
        if uf is not None:
            rules[uf] = _prim(prim)
    extra = {"log_expit": _log_expit, "loggamma": _loggamma, "stdtr": _stdtr,
             "pseudo_huber": _pseudo_huber, "exp10": lambda x: 10.0 ** x,
             "exp2": lambda x: 2.0 ** x, "expm1": np.expm1, "log1p": np.log1p,
             "cbrt": lambda x: np.sign(x) * np.abs(x) ** (1.0 / 3.0),
             "sindg": lambda x: np.sin(x * (math.pi / 180)),
             "cosdg": lambda x: np.cos(x * (math.pi / 180))}
    for uname, fn in extra.items():
        uf = getattr(sc, uname, None)
        if uf is not None:
            rules[uf] = fn
    return rules


# ---- scipy.special functions ------------------------------------------------------------------

def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(int(a) % ndim if ndim else 0 for a in axes)


def logsumexp(a: Any, axis: Any = None, b: Any = None, keepdims: bool = False,
              return_sign: bool = False) -> Any:
    """log(sum(b * exp(a))) along `axis`, as scipy.special.logsumexp."""
    a, b = _arr(a), _arr(b)
    if b is not None:
        shape = np.broadcast_shapes(np.shape(a), np.shape(b))
        a = np.broadcast_to(a, shape)
        b = np.broadcast_to(b, shape)
    a = a * 1.0 if not isinstance(a, Tracer) else a
    ndim = np.ndim(a)
    axes = _axes(axis, ndim)
    # the maximum is a constant shift: its derivative cancels, so none is taken
    m = _sg(np.max(a, axis=axes, keepdims=True)) if ndim else _sg(a)
    m = np.where(np.abs(m) < np.inf, m, 0.0)  # +-inf maxima: shift by 0, as scipy does
    e = np.exp(a - m)
    if b is not None:
        e = b * e
    s = np.sum(e, axis=axes, keepdims=keepdims) if ndim else e
    m_out = m if keepdims or not ndim else np.squeeze(m, axis=axes)
    if return_sign:
        sign = np.sign(s)
        return np.log(np.abs(s)) + m_out, sign
    return np.log(s) + m_out


def softmax(x: Any, axis: Any = None) -> Any:
    x = _arr(x)
    ndim = np.ndim(x)
    axes = _axes(axis, ndim)
    e = np.exp(x - _sg(np.max(x, axis=axes, keepdims=True)))
    return e / np.sum(e, axis=axes, keepdims=True)


def log_softmax(x: Any, axis: Any = None) -> Any:
    x = _arr(x)
    ndim = np.ndim(x)
    axes = _axes(axis, ndim)
    return x - logsumexp(x, axis=axes, keepdims=True)


def softplus(x: Any, **kwargs: Any) -> Any:
    return np.logaddexp(0.0, x)


def polygamma(n: Any, x: Any) -> Any:
    from .numpy_api import elementwise

    return elementwise("polygamma", n, x)


def multigammaln(a: Any, d: Any) -> Any:
    if isinstance(d, Tracer) or int(d) != d or d <= 0:
        raise TraceError("scipy.special.multigammaln needs a positive integer d known while "
                         "tracing", loc=current_loc())
    d = int(d)
    sc = _sc()
    total = d * (d - 1) / 4 * math.log(math.pi)
    for j in range(d):
        total = total + _weak(sc.gammaln(a - j / 2))
    # scipy raises for a <= (d - 1) / 2; a traced a's values are not known: NaN there
    return _when(a > (d - 1) / 2, total, np.nan)


# ---- scipy.stats ------------------------------------------------------------------------------

def _z(x: Any, loc: Any, scale: Any) -> Any:
    return (x - loc) / scale


def _scaled(value: Any, scale: Any) -> Any:
    """scipy's value for a positive scale, NaN for scale <= 0."""
    return _when(np.asarray(scale) > 0 if not isinstance(scale, Tracer) else scale > 0,
                 value, np.nan)


# norm
def norm_logpdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    z = _z(x, loc, scale)
    return _scaled(-0.5 * z * z - _LOG_SQRT_2PI - _log(scale), scale)


def norm_pdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    z = _z(x, loc, scale)
    return _scaled(np.exp(-0.5 * z * z) / (math.sqrt(2 * math.pi) * scale), scale)


def norm_cdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return _scaled(_sc().ndtr(_z(x, loc, scale)), scale)


def norm_logcdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return _scaled(_sc().log_ndtr(_z(x, loc, scale)), scale)


def norm_sf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return _scaled(_sc().ndtr(-_z(x, loc, scale)), scale)


def norm_logsf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return _scaled(_sc().log_ndtr(-_z(x, loc, scale)), scale)


def norm_ppf(q: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return _scaled(loc + scale * _sc().ndtri(q), scale)


def norm_isf(q: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return _scaled(loc - scale * _sc().ndtri(q), scale)


def norm_entropy(loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return _scaled(0.5 * math.log(2 * math.pi * math.e) + _log(scale) + 0.0 * loc, scale)


# t
def t_logpdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    sc = _sc()
    z = _z(x, loc, scale)
    val = (_weak(sc.gammaln((df + 1) / 2) - sc.gammaln(df / 2) - 0.5 * np.log(df * math.pi))
           - _log(scale) - (df + 1) / 2 * np.log1p(z * z / df))
    return _scaled(val, scale)


def t_pdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return np.exp(t_logpdf(x, df, loc, scale))


def t_cdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    # P(T <= z) = 1 - I_w(df/2, 1/2) / 2 for z > 0, with w = df / (df + z^2)
    z = _z(x, loc, scale)
    tail = 0.5 * _sc().betainc(df / 2, 0.5, df / (df + z * z))
    return _scaled(np.where(z > 0, 1.0 - tail, tail), scale)


def t_logcdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return np.log(t_cdf(x, df, loc, scale))


def t_sf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return t_cdf(-x, df, -loc, scale)


def t_logsf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return np.log(t_sf(x, df, loc, scale))


# gamma
def gamma_logpdf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    sc = _sc()
    z = _z(x, loc, scale)
    inside = z >= 0
    zs = _safe(inside, z, 1.0)
    val = sc.xlogy(a - 1.0, zs) - zs - _weak(sc.gammaln(a)) - _log(scale)
    return _scaled(_when(inside, val, -np.inf), scale)


def gamma_pdf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return np.exp(gamma_logpdf(x, a, loc, scale))


def gamma_cdf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    z = _z(x, loc, scale)
    return _scaled(_when(z > 0, _sc().gammainc(a, _safe(z > 0, z, 1.0)), 0.0), scale)


def gamma_logcdf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return np.log(gamma_cdf(x, a, loc, scale))


def gamma_sf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    z = _z(x, loc, scale)
    return _scaled(_when(z > 0, _sc().gammaincc(a, _safe(z > 0, z, 1.0)), 1.0), scale)


def gamma_logsf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return np.log(gamma_sf(x, a, loc, scale))


# chi2: gamma(df / 2, scale = 2 scale)
def chi2_logpdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return gamma_logpdf(x, df / 2, loc, 2 * scale)


def chi2_pdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return np.exp(chi2_logpdf(x, df, loc, scale))


def chi2_cdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return gamma_cdf(x, df / 2, loc, 2 * scale)


def chi2_logcdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return np.log(chi2_cdf(x, df, loc, scale))


def chi2_sf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return gamma_sf(x, df / 2, loc, 2 * scale)


# beta
def beta_logpdf(x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    sc = _sc()
    z = _z(x, loc, scale)
    inside = (z >= 0) & (z <= 1)
    zs = _safe(inside, z, 0.5)
    val = sc.xlogy(a - 1.0, zs) + sc.xlog1py(b - 1.0, -zs) - _weak(sc.betaln(a, b)) - _log(scale)
    return _scaled(_when(inside, val, -np.inf), scale)


def beta_pdf(x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return np.exp(beta_logpdf(x, a, b, loc, scale))


def beta_cdf(x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    z = _z(x, loc, scale)
    inside = (z > 0) & (z < 1)
    val = _sc().betainc(a, b, _safe(inside, z, 0.5))
    return _scaled(np.where(inside, val, np.where(z >= 1, val * 0.0 + 1.0, val * 0.0)), scale)


def beta_logcdf(x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return np.log(beta_cdf(x, a, b, loc, scale))


def beta_sf(x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return 1.0 - beta_cdf(x, a, b, loc, scale)


# poisson (discrete: k is a count, its values never differentiated)
def _count(k: Any, loc: Any) -> tuple[Any, Any]:
    k = k - loc
    return k, (k >= 0) & (k == np.floor(k))


def poisson_logpmf(k: Any, mu: Any, loc: Any = 0) -> Any:
    sc = _sc()
    k, valid = _count(k, loc)
    ks = _safe(valid, k, 0.0)
    return _when(valid, sc.xlogy(ks, mu) - _weak(sc.gammaln(ks + 1.0)) - mu, -np.inf)


def poisson_pmf(k: Any, mu: Any, loc: Any = 0) -> Any:
    return np.exp(poisson_logpmf(k, mu, loc))


def poisson_cdf(k: Any, mu: Any, loc: Any = 0) -> Any:
    k = k - loc
    inside = k >= 0
    return _when(inside, _sc().gammaincc(np.floor(_safe(inside, k, 0.0)) + 1.0, mu), 0.0)


def poisson_logcdf(k: Any, mu: Any, loc: Any = 0) -> Any:
    return np.log(poisson_cdf(k, mu, loc))


def poisson_sf(k: Any, mu: Any, loc: Any = 0) -> Any:
    k = k - loc
    inside = k >= 0
    return _when(inside, _sc().gammainc(np.floor(_safe(inside, k, 0.0)) + 1.0, mu), 1.0)


# dirichlet (x: components along the first axis, as scipy)
def dirichlet_logpdf(x: Any, alpha: Any) -> Any:
    sc = _sc()
    x, alpha = _arr(x), _arr(alpha)
    k = np.shape(alpha)[0]
    if np.shape(x)[0] == k - 1:  # scipy completes x with 1 - sum(x)
        x = np.concatenate([x, 1.0 - np.sum(x, axis=0, keepdims=True)], axis=0)
    log_b = _weak(np.sum(sc.gammaln(alpha)) - sc.gammaln(np.sum(alpha)))
    xt = np.transpose(x) if np.ndim(x) > 1 else x
    terms = sc.xlogy(alpha - 1.0, xt)
    val = np.sum(np.transpose(terms) if np.ndim(x) > 1 else terms, axis=0) - log_b
    # scipy raises when x is not in the simplex; a traced x's values are not known: NaN
    in_simplex = (np.abs(np.sum(x, axis=0) - 1.0) <= 1e-9) & (np.min(x, axis=0) >= 0)
    return _when(in_simplex, val, np.nan)


def dirichlet_pdf(x: Any, alpha: Any) -> Any:
    return np.exp(dirichlet_logpdf(x, alpha))


# ---- scipy.signal -----------------------------------------------------------------------------

_CONVOLVE_LIMIT = 4_000_000  # elements of one axis' selection tensor (in1 x in2 x out)


def convolve(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Any:
    """scipy.signal.convolve of two arrays of the same number of dimensions: for each axis a
    constant 0/1 tensor T[i, j, n] = (i + j == n + offset) picks the pairs of elements that
    meet in output element n, and one einsum contracts them all."""
    if mode not in ("full", "valid", "same"):
        raise TraceError(f"scipy.signal.convolve: mode must be 'full', 'valid' or 'same', got "
                         f"{mode!r}", loc=current_loc())
    in1, in2 = _arr(in1), _arr(in2)
    s1, s2 = np.shape(in1), np.shape(in2)
    if len(s1) != len(s2):
        raise TraceError("scipy.signal.convolve: in1 and in2 should have the same "
                         "dimensionality", loc=current_loc())
    if len(s1) == 0:
        return in1 * in2
    if mode == "valid" and not (all(a >= b for a, b in zip(s1, s2, strict=True))
                                or all(a <= b for a, b in zip(s1, s2, strict=True))):
        raise TraceError("scipy.signal.convolve: for 'valid' mode, one must be at least as "
                         "large as the other in every dimension", loc=current_loc())
    letters = "abcdefghijklmnopqrstuvwxyz"
    n = len(s1)
    if 3 * n > len(letters):
        raise TraceError("scipy.signal.convolve: too many dimensions", loc=current_loc())
    ops: list[Any] = [in1, in2]
    specs = [letters[:n], letters[n:2 * n]]
    out_spec = letters[2 * n:3 * n]
    for d, (a, b) in enumerate(zip(s1, s2, strict=True)):
        full = a + b - 1
        if mode == "full":
            size, start = full, 0
        elif mode == "same":
            size, start = a, (full - a) // 2
        else:
            size, start = max(a, b) - min(a, b) + 1, min(a, b) - 1
        if a * b * size > _CONVOLVE_LIMIT:
            raise TraceError("scipy.signal.convolve of arrays this large is not supported by "
                             "adjit yet", loc=current_loc(),
                             hint="use adjit's convolution layers (adjit.nn) for large inputs")
        i = np.arange(a)[:, None, None]
        j = np.arange(b)[None, :, None]
        k = np.arange(size)[None, None, :] + start
        ops.append((i + j == k).astype(np.result_type(float, np.asarray(0.0).dtype)))
        specs.append(letters[d] + letters[n + d] + letters[2 * n + d])
    return np.einsum(",".join(specs) + "->" + out_spec, *ops)


# ---- the registry ------------------------------------------------------------------------------

from . import scipy_mvn as mvn  # noqa: E402  (it uses this module's helpers)

_STATS: dict[str, dict[str, Callable[..., Any]]] = {
    "norm": {"pdf": norm_pdf, "logpdf": norm_logpdf, "cdf": norm_cdf, "logcdf": norm_logcdf,
             "sf": norm_sf, "logsf": norm_logsf, "ppf": norm_ppf, "isf": norm_isf,
             "entropy": norm_entropy},
    "t": {"pdf": t_pdf, "logpdf": t_logpdf, "cdf": t_cdf, "logcdf": t_logcdf, "sf": t_sf,
          "logsf": t_logsf},
    "gamma": {"pdf": gamma_pdf, "logpdf": gamma_logpdf, "cdf": gamma_cdf,
              "logcdf": gamma_logcdf, "sf": gamma_sf, "logsf": gamma_logsf},
    "chi2": {"pdf": chi2_pdf, "logpdf": chi2_logpdf, "cdf": chi2_cdf, "logcdf": chi2_logcdf,
             "sf": chi2_sf},
    "beta": {"pdf": beta_pdf, "logpdf": beta_logpdf, "cdf": beta_cdf, "logcdf": beta_logcdf,
             "sf": beta_sf},
    "poisson": {"pmf": poisson_pmf, "logpmf": poisson_logpmf, "cdf": poisson_cdf,
                "logcdf": poisson_logcdf, "sf": poisson_sf},
    "dirichlet": {"pdf": dirichlet_pdf, "logpdf": dirichlet_logpdf},
    "multivariate_normal": {"pdf": mvn.pdf, "logpdf": mvn.logpdf, "entropy": mvn.entropy},
}

SCIPY_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "scipy.special.logsumexp": logsumexp,
    "scipy.special.softmax": softmax,
    "scipy.special.log_softmax": log_softmax,
    "scipy.special.softplus": softplus,
    "scipy.special.polygamma": polygamma,
    "scipy.special.multigammaln": multigammaln,
    "scipy.signal.convolve": convolve,
    **{f"scipy.stats.{dist}.{method}": fn for dist, methods in _STATS.items()
       for method, fn in methods.items()},
}
