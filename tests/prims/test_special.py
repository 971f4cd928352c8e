"""The scipy.special primitives (ir/prims/special_decls.py) against sympy and scipy.

- A `d=` override equals `sympy.diff` of the declared expression (once `out` is replaced by
  it), compared at random points of the domain, where sympy can evaluate both (with scipy's
  functions); every derived partial (the primitive tree replayed as IR) equals a central
  finite difference of scipy's function there.
- The scalar code, compiled by numba (scipy's C kernels through cython_special) and run as
  plain Python, equals scipy's ufunc at random points, at edge values and on NaN, in float64
  and float32: all primitives in two compiled functions.
- A partial declared "nondiff" refuses only when a gradient needs it.
"""
from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import sympy as sp
from adjit.ir import PRIMS
from adjit.ir.prims import _derived_special, derive
from adjit.ir.prims.special_decls import SPECIAL_DECLS, Decl
import prim_cases  # noqa: F401  (first: special_cases imports from it, and it from special_cases)
from special_cases import SPECIAL_RANGES
from test_sympy_rules import eval_tree

SYMS = (derive.X, derive.Y, derive.Z)
BY_NAME = [pytest.param(d, id=d.name) for d in SPECIAL_DECLS]
PARTIALS = [pytest.param(d, a, id=f"{d.name}-d{a}") for d in SPECIAL_DECLS for a in d.args
            if d.d.get(a) != "nondiff"]
# sympy cannot evaluate these numerically: betainc_regularized has no scipy counterpart in
# its printer, and d sign(gamma(x))/dx stays an unevaluated Derivative (it is 0 where defined)
NO_SYMPY = {"betainc", "gammasgn"}


def _scipy(decl: Decl):  # noqa: ANN202
    module, _, attr = decl.numpy.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def points(decl: Decl, n: int = 40, seed: int = 0) -> list[np.ndarray]:
    """n points per argument inside the test ranges (tests/prims/special_cases.py)."""
    rng = np.random.default_rng(seed)
    draws, _ = SPECIAL_RANGES[decl.name]
    return [np.asarray(d(rng, (n,)), dtype=np.float64) for d in draws]


def _lambdify(expr: sp.Expr, decl: Decl):  # noqa: ANN202
    # undefined functions named after primitives (i1e(x)) evaluate with scipy's ufuncs
    import scipy.special

    names = {d.name: getattr(scipy.special, d.numpy.rpartition(".")[2])
             for d in SPECIAL_DECLS}
    return sp.lambdify(SYMS[:len(decl.args)], expr, [names, "scipy", "numpy"])


@pytest.mark.parametrize("decl,arg", [p for p in PARTIALS if p.values[0].name not in NO_SYMPY
                                      and p.values[1] in p.values[0].d])
def test_override_equals_sympy_diff(decl: Decl, arg: str) -> None:
    f = derive.parse(decl.expr)
    override = derive.parse(decl.d[arg]).subs(derive.OUT, f)
    truth = sp.diff(f, derive.SYMS[arg])
    if sp.simplify(override - truth) == 0:
        return
    pts = points(decl)
    with np.errstate(all="ignore"):
        got = np.broadcast_to(_lambdify(override, decl)(*pts), pts[0].shape)
        want = np.broadcast_to(_lambdify(truth, decl)(*pts), pts[0].shape)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12,
                               err_msg=f"{decl.name}: d{arg} override != {truth}")


@pytest.mark.parametrize("decl,arg", PARTIALS)
def test_derived_partial_matches_finite_differences(decl: Decl, arg: str) -> None:
    pts = points(decl, seed=1)
    i = decl.args.index(arg)
    fn = _scipy(decl)
    env = dict(zip(decl.args, pts, strict=True))
    env["out"] = PRIMS[decl.name].impl(*pts)
    got = np.broadcast_to(eval_tree(_derived_special.TABLE[decl.name]["partials"][arg], env),
                          pts[0].shape)
    h = 1e-6
    up = [p + h if k == i else p for k, p in enumerate(pts)]
    down = [p - h if k == i else p for k, p in enumerate(pts)]
    fd = (fn(*up) - fn(*down)) / (2 * h)
    np.testing.assert_allclose(got, fd, rtol=2e-6, atol=2e-7,
                               err_msg=f"{decl.name}: d{arg} disagrees with scipy")


def test_nondiff_partials_are_marked() -> None:
    table = _derived_special.TABLE
    for d in SPECIAL_DECLS:
        for a in d.args:
            if d.d.get(a) == "nondiff":
                assert table[d.name]["partials"][a] == derive.NONDIFF


def test_derived_table_is_up_to_date() -> None:
    assert derive.decls_hash(SPECIAL_DECLS) == _derived_special.DECLS_HASH, \
        "special_decls.py changed: run `python -m adjit.ir.prims.derive`"
    assert derive.derive_all(SPECIAL_DECLS) == _derived_special.TABLE


def test_scalar_code_calls_sf() -> None:
    from adjit.codegen import special

    for d in SPECIAL_DECLS:
        assert PRIMS[d.name].code == f"sf.{d.name}(" + ", ".join(
            "{%s}" % a for a in d.args) + ")"
        assert d.name in special.FUNCTIONS or d.name == "polygamma"


# ---- the scalar kernels ---------------------------------------------------------------------

EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, 2.5, -2.5, 30.0, -30.0, 1e-300, 1e300, math.inf,
         -math.inf, math.nan]


def _kernel_inputs(dtype: type) -> tuple[list[np.ndarray], dict[str, list[int]]]:
    """One column per primitive argument: random domain points, then the edges (each
    argument in turn, the others at a point inside the domain)."""
    cols: list[np.ndarray] = []
    where: dict[str, list[int]] = {}
    for d in SPECIAL_DECLS:
        pts = points(d, n=20, seed=3)
        n = len(d.args)
        rows = [pts]
        for k in range(n):
            base = [np.full(len(EDGES), p[0]) for p in pts]
            base[k] = np.asarray(EDGES)
            rows.append(base)
        where[d.name] = list(range(len(cols), len(cols) + n))
        length = len(pts[0]) + 3 * len(EDGES)  # the same for every primitive
        for k in range(n):
            col = np.concatenate([r[k] for r in rows])
            col = np.concatenate([col, np.resize(pts[k], length - len(col))])
            with np.errstate(over="ignore"):
                cols.append(col.astype(dtype))
    return cols, where


def _kernel_source() -> str:
    lines = ["def kernel(cols, out):", "    for i in range(cols.shape[1]):"]
    col = 0
    for j, d in enumerate(SPECIAL_DECLS):
        args = ", ".join(f"cols[{col + k}, i]" for k in range(len(d.args)))
        lines.append(f"        out[{j}, i] = sf.{d.name}({args})")
        col += len(d.args)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernels_match_scipy(dtype: type) -> None:
    import numba
    from adjit.codegen import special as sf

    sf.register()
    cols, where = _kernel_inputs(dtype)
    data = np.stack(cols)
    ns: dict[str, object] = {"sf": sf}
    exec(compile(_kernel_source(), "<special kernels>", "exec"), ns)  # noqa: S102
    out = np.zeros((len(SPECIAL_DECLS), data.shape[1]), dtype=dtype)
    py_out = out.copy()
    with np.errstate(all="ignore"):
        numba.njit(error_model="numpy")(ns["kernel"])(data, out)  # as adjit compiles
        ns["kernel"](data, py_out)  # plain Python (ADJIT_NOJIT=1): scipy's ufuncs
        for j, d in enumerate(SPECIAL_DECLS):
            args = [data[c] for c in where[d.name]]
            if d.name in ("polygamma", "yn"):  # whole orders only (as scipy defines them)
                ok = np.isfinite(args[0]) & (args[0] == np.floor(args[0])) & (args[0] >= 0)
            else:
                ok = np.ones(data.shape[1], bool)
            # float32: computed in float64 and rounded once
            want = np.asarray(_scipy(d)(*[a.astype(np.float64) for a in args]), dtype=dtype)
            tol = 1e-13 if dtype == np.float64 else 2e-6
            for got, how in ((out[j], "numba"), (py_out[j], "python")):
                np.testing.assert_allclose(got[ok], want[ok], rtol=tol, atol=0,
                                           equal_nan=True, err_msg=f"{d.name} ({how})")


def test_hurwitz_zeta() -> None:
    import scipy.special
    from adjit.codegen.special import hurwitz_zeta

    for x, q in [(2.0, 0.3), (3.0, 2.5), (5.0, 10.0), (2.0, -0.5), (4.0, 1e-3), (1.5, 7.0)]:
        assert hurwitz_zeta(x, q) == pytest.approx(scipy.special.zeta(x, q), rel=1e-14)
    assert math.isinf(hurwitz_zeta(1.0, 2.0)) and math.isinf(hurwitz_zeta(2.0, -1.0))
    assert math.isnan(hurwitz_zeta(0.5, 2.0)) and math.isnan(hurwitz_zeta(2.5, -0.5))
