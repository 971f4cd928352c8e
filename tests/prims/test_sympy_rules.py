"""The sympy declarations of the elementwise primitives and what `derive.py` makes of them.

- A `d=` override equals `sympy.diff` of the expression once `out` is replaced by it:
  proved by `sympy.simplify`, or, where simplify cannot decide (Piecewise, Heaviside,
  Max), compared at 50 random points of the declaration's `domain`.
- Every derived partial (the primitive tree `elementwise.py` replays as IR) evaluates to
  `sympy.diff` at random points of the domain.
- The scalar code, run with Python's `math`, agrees with the numpy `impl` at random points,
  at edge values (0, -0, negatives, huge, inf) inside the domain, and on NaN.
"""
from __future__ import annotations

import ast
import itertools
import math
from typing import Any

import numpy as np
import pytest
import sympy as sp
from adjit.ir import PRIMS
from adjit.ir.prims import _derived, derive
from adjit.ir.prims.elementwise_decls import DECLS, Decl

X, Y, OUT = derive.X, derive.Y, derive.OUT
N_POINTS = 50

OVERRIDES = [pytest.param(d, arg, id=f"{d.name}-d{arg}") for d in DECLS for arg in sorted(d.d)]
PARTIALS = [pytest.param(d, arg, id=f"{d.name}-d{arg}") for d in DECLS for arg in d.args]
BY_NAME = [pytest.param(d, id=d.name) for d in DECLS]


def domain_points(decl: Decl, n: int = N_POINTS, seed: int = 0) -> list[np.ndarray]:
    """n points (one array per argument) drawn from [-3, 3] and kept where `domain` holds."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(-3, 3, (2, 20 * n))
    if decl.domain is not None:
        pred = sp.lambdify((X, Y), derive.parse(decl.domain), "numpy")
        pts = pts[:, np.broadcast_to(pred(pts[0], pts[1]), pts.shape[1:])]
    assert pts.shape[1] >= n, f"{decl.name}: domain {decl.domain} too small to sample"
    return list(pts[:len(decl.args), :n])


def _numeric(expr: sp.Expr, decl: Decl, points: list[np.ndarray]) -> np.ndarray:
    # sympy's d sign(x)/dx is 2 DiracDelta(x): zero at every point drawn (never exactly 0).
    dirac = {"DiracDelta": lambda *a: np.zeros_like(a[0])}
    fn = sp.lambdify([X, Y][:len(decl.args)], expr, [dirac, "numpy"])
    with np.errstate(all="ignore"):
        return np.broadcast_to(np.asarray(fn(*points), dtype=np.float64), points[0].shape)


@pytest.mark.parametrize("decl,arg", OVERRIDES)
def test_override_equals_sympy_diff(decl: Decl, arg: str) -> None:
    f = derive.parse(decl.expr)
    override = derive.parse(decl.d[arg]).subs(OUT, f)
    truth = sp.diff(f, derive.SYMS[arg])
    if sp.simplify(override - truth) == 0:
        return
    # simplify cannot decide (Piecewise, Heaviside, Max): compare inside the domain.
    points = domain_points(decl)
    np.testing.assert_allclose(_numeric(override, decl, points), _numeric(truth, decl, points),
                               rtol=1e-12, atol=1e-12,
                               err_msg=f"{decl.name}: d{arg} override {decl.d[arg]} != {truth}")


def eval_tree(tree: Any, env: dict[str, np.ndarray]) -> np.ndarray:
    """Evaluate a derived partial (see derive.to_tree) with the primitives' numpy impls."""
    if isinstance(tree, str):
        return env[tree]
    if isinstance(tree, float):
        return np.float64(tree)
    name, *args = tree
    return PRIMS[name].impl(*[eval_tree(a, env) for a in args])


@pytest.mark.parametrize("decl,arg", PARTIALS)
def test_derived_partial_matches_sympy(decl: Decl, arg: str) -> None:
    points = domain_points(decl, seed=1)
    env = dict(zip(decl.args, points, strict=True))
    with np.errstate(all="ignore"):
        env["out"] = PRIMS[decl.name].impl(*points)
        got = np.broadcast_to(eval_tree(_derived.TABLE[decl.name]["partials"][arg], env),
                              points[0].shape)
    truth = sp.diff(derive.parse(decl.expr), derive.SYMS[arg])
    np.testing.assert_allclose(got, _numeric(truth, decl, points), rtol=1e-12, atol=1e-12,
                               err_msg=f"{decl.name}: derived d{arg} disagrees with sympy.diff")


def test_max_min_split_ties() -> None:
    # Heaviside(0) = 1/2: at x == y each argument of maximum/minimum gets half.
    env = {"x": np.float64(1.5), "y": np.float64(1.5), "out": np.float64(1.5)}
    for name in ("maximum", "minimum"):
        for arg in ("x", "y"):
            assert float(eval_tree(_derived.TABLE[name]["partials"][arg], env)) == 0.5


# ---- scalar code ------------------------------------------------------------------------------

class IEEEMath:
    """`math` as numba and CUDA compile it: overflow gives inf and an invalid argument NaN,
    where Python's `math` raises instead."""

    def __getattr__(self, name: str) -> Any:
        fn = getattr(math, name)
        if not callable(fn):
            return fn

        def wrapped(*args: float) -> float:
            try:
                return fn(*args)
            except OverflowError:
                return math.copysign(math.inf, args[0]) if name == "sinh" else math.inf
            except ValueError:
                return math.nan

        return wrapped


def scalar_fn(decl: Decl) -> Any:
    code = PRIMS[decl.name].code.format(x="x", y="y")
    compiled = compile(code, f"<{decl.name} code>", "eval")
    ns = {"math": IEEEMath()}

    def run(*args: float) -> float | None:
        try:
            return eval(compiled, ns, dict(zip(decl.args, args, strict=True)))  # noqa: S307
        except OverflowError:  # Python's `**` raises where IEEE arithmetic gives inf
            return None

    return run


def _compare(decl: Decl, args: tuple[float, ...]) -> None:
    with np.errstate(all="ignore"):
        expected = float(PRIMS[decl.name].impl(*[np.float64(a) for a in args]))
    got = scalar_fn(decl)(*args)
    where = f"{decl.name}{args}: code gives {got}, numpy {expected}"
    if got is None:
        assert math.isinf(expected), where
    elif math.isnan(expected) or math.isnan(got):
        assert math.isnan(expected) and math.isnan(got), where
    else:
        assert got == pytest.approx(expected, rel=1e-14, abs=1e-300), where


@pytest.mark.parametrize("decl", BY_NAME)
def test_scalar_code_uses_only_math(decl: Decl) -> None:
    """The code is one expression over the arguments, `math.*` and abs/max/min, which numba's
    njit and cuda.jit both compile."""
    code = PRIMS[decl.name].code
    assert code == _derived.TABLE[decl.name]["code"]
    tree = ast.parse(code.format(x="x", y="y"), mode="eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            assert isinstance(node.value, ast.Name) and node.value.id == "math" \
                and hasattr(math, node.attr), f"{decl.name}: {ast.unparse(node)}"
        elif isinstance(node, ast.Name) and node.id != "math":
            assert node.id in (*decl.args, "abs", "max", "min"), f"{decl.name}: name {node.id}"


@pytest.mark.parametrize("decl", BY_NAME)
def test_scalar_code_matches_numpy(decl: Decl) -> None:
    for args in zip(*domain_points(decl, seed=2), strict=True):
        _compare(decl, tuple(float(a) for a in args))


EDGES_1 = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1e-300, -1e-300, 30.0, -30.0, 750.0, -750.0, 1e10,
           -1e10, 1e300, -1e300, math.inf, -math.inf]
EDGES_2 = [0.0, -0.0, -1.0, 2.5, -30.0, 750.0, 1e300, -math.inf, math.inf]


@pytest.mark.parametrize("decl", BY_NAME)
def test_scalar_code_edge_values(decl: Decl) -> None:
    edges = EDGES_1 if len(decl.args) == 1 else EDGES_2
    points = list(itertools.product(edges, repeat=len(decl.args)))
    if decl.domain is not None:
        pred = sp.lambdify((X, Y), derive.parse(decl.domain), "numpy")
        with np.errstate(all="ignore"):
            points = [p for p in points
                      if bool(pred(np.float64(p[0]), np.float64(p[-1] if len(p) > 1 else 0.0)))]
    assert points
    for args in points:
        _compare(decl, args)


@pytest.mark.parametrize("decl", BY_NAME)
def test_scalar_code_propagates_nan(decl: Decl) -> None:
    for pos in range(len(decl.args)):
        args = tuple(math.nan if i == pos else 0.5 for i in range(len(decl.args)))
        _compare(decl, args)
