"""codegen/fastmath.py and where codegen.cpu uses it: the inline `exp` against numpy and a
long-double reference (numba and plain Python, float64 and float32, special values bit for
bit), the generated source of sum(x**2 * exp(x)), the loops LLVM really vectorizes, and
numba's disk cache in a second process."""
from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from adjit.codegen import fastmath as fm
from adjit.codegen.cpu import emit_cpu
from adjit.codegen.cpu_passes import text_vectorizes
from adjit.ir import ArrayType, Builder, Graph, Var, building, ops
from adjit.passes.fuse import fuse
from codegen_graphs import mlp, random_args, softmax_ce, sum_x2_exp
from conftest import Compiler, check_against_evaluate

# exp(x) is finite below X_OVER and nonzero above X_UNDER (both are doubles next to the
# thresholds ln(DBL_MAX + ulp/2) and ln(2^-1075)), and subnormal below X_SUB = ln(DBL_MIN).
X_OVER, X_UNDER, X_SUB = 709.782712893384, -745.1332191019411, -708.3964185322641
SPECIAL = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, -5e-324, 1e-300, 1.0,
                    -1.0, X_OVER, np.nextafter(X_OVER, np.inf), X_UNDER,
                    np.nextafter(X_UNDER, -np.inf), X_SUB, np.nextafter(X_SUB, -np.inf),
                    -740.0, 710.0, -746.0, 1e4, -1e4, 1e308, -1e308, np.finfo(float).max,
                    -np.finfo(float).max, 0.5 * np.log(2), -0.5 * np.log(2)])


def _exp_kernel():
    import numba

    fm.register()

    @numba.njit(error_model="numpy")
    def kernel(a):
        out = np.empty_like(a)
        for i in range(a.size):
            out[i] = fm.exp(a[i])
        return out

    return kernel


@pytest.fixture(scope="module")
def exp_kernel():
    return _exp_kernel()


def _ulps(got: np.ndarray, x: np.ndarray) -> np.ndarray:
    """|got - exp(x)| in units in the last place of the correctly rounded result (long double
    reference: 11 more bits than float64 on x86). Overflowed or zero results must be exact."""
    with np.errstate(over="ignore"):
        exact = np.exp(x.astype(np.longdouble))
        rounded = exact.astype(got.dtype)
    finite = np.isfinite(rounded) & (rounded != 0)
    ulp = np.spacing(np.abs(rounded)).astype(np.longdouble)
    err = np.zeros(x.shape)
    err[finite] = np.abs((got[finite].astype(np.longdouble) - exact[finite])
                         / ulp[finite]).astype(float)
    same = (got == rounded) | (np.isnan(got) & np.isnan(rounded))
    err[~finite] = np.where(same[~finite], 0.0, np.inf)
    return err


needs_long_double = pytest.mark.skipif(np.finfo(np.longdouble).nmant < 60,
                                       reason="no 80-bit long double for the reference")


def _sweep(n: int = 2_000_000) -> np.ndarray:
    """A dense sweep of the whole range plus the regions where errors are likely."""
    rng = np.random.default_rng(7)
    return np.concatenate([np.linspace(X_UNDER - 0.5, X_OVER + 0.5, n // 2),
                           rng.uniform(-1.0, 1.0, n // 4),
                           rng.uniform(X_UNDER, X_SUB, n // 8),
                           rng.uniform(700.0, X_OVER, n // 8)])


@needs_long_double
def test_exp_within_one_ulp(exp_kernel) -> None:
    x = _sweep()
    got = exp_kernel(x)
    err = _ulps(got, x)
    normal = np.abs(got) >= np.finfo(float).tiny
    assert err.max() <= 1.0, (err.max(), x[err.argmax()])
    # measured: 0.70 ulp on normal results, ~0.76 on subnormal ones (rounded twice)
    assert err[normal].max() < 0.75 and (err > 0.5).mean() < 0.03
    # ... while numpy's own exp is the benchmark for "good enough"
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(got, np.exp(x), rtol=3e-16, atol=1e-323)


def test_exp_against_mpmath(exp_kernel) -> None:
    """A spot check with an independent, arbitrary-precision reference (the full sweep:
    `python benchmarks/bench_exp.py --accuracy`)."""
    mp = pytest.importorskip("mpmath")
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.uniform(X_UNDER, X_OVER, 3000), rng.uniform(-0.35, 0.35, 1000),
                        rng.uniform(X_UNDER, X_SUB, 500)])
    got = exp_kernel(x)
    with mp.workprec(120):
        for v, g in zip(x.tolist(), got.tolist(), strict=True):
            exact = mp.exp(mp.mpf(v))
            ulp = np.spacing(float(exact)) if float(exact) >= np.finfo(float).tiny else 5e-324
            assert abs(mp.mpf(g) - exact) <= ulp, v


def test_exp_special_values_bit_for_bit(exp_kernel) -> None:
    with np.errstate(over="ignore"):
        want = np.exp(SPECIAL)
    for got in (exp_kernel(SPECIAL), np.array([fm.exp(v) for v in SPECIAL])):
        assert np.isnan(got[:2]).all() and np.isnan(want[:2]).all()
        np.testing.assert_array_equal(got[2:].view(np.int64), want[2:].view(np.int64))
    assert fm.exp(-0.0) == 1.0 and fm.exp(X_UNDER) == 5e-324 and fm.exp(710.0) == np.inf
    assert 0 < fm.exp(X_SUB - 1) < np.finfo(float).tiny  # gradual underflow


def test_plain_python_is_bit_identical(exp_kernel) -> None:
    """The same code runs as Python (struct for the bit casts): the same bits."""
    x = np.concatenate([_sweep(40_000), SPECIAL])
    py = np.array([fm.exp(v) for v in x])
    np.testing.assert_array_equal(py.view(np.int64), exp_kernel(x).view(np.int64))
    assert isinstance(fm.exp(np.float32(1.0)), np.float32) and isinstance(fm.exp(1), float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings from numpy scalars
        assert fm.exp(np.float32(100.0)) == np.inf and fm.exp(np.float64(1e3)) == np.inf


@needs_long_double
def test_exp_float32(exp_kernel) -> None:
    """float32: computed in float64 and rounded once, so within 1 ulp of float32."""
    with np.errstate(over="ignore"):
        special = SPECIAL.astype(np.float32)
    x = np.concatenate([np.linspace(-104.0, 89.0, 1_000_000, dtype=np.float32), special])
    got = exp_kernel(x)
    assert got.dtype == np.float32
    assert _ulps(got, x).max() <= 1.0
    with np.errstate(over="ignore"):  # correctly rounded (numpy's float32 exp is not)
        want = np.exp(special.astype(np.longdouble)).astype(np.float32)
    tail = got[-len(SPECIAL):]
    np.testing.assert_array_equal(np.isnan(tail), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_array_equal(tail[ok], want[ok])
    py = np.array([fm.exp(v) for v in x[::100]], dtype=np.float32)
    np.testing.assert_array_equal(py.view(np.int32), got[::100].view(np.int32))


# ---- log, sin, cos, expm1, tanh ---------------------------------------------------------------

# The bound each is tested against (fastmath's docstring has the measured maxima).
BOUND = {"log": 1.0, "sin": 2.0, "cos": 2.0, "expm1": 2.0, "tanh": 3.0, "log1p": 2.0}
UNARY_SPECIAL = np.concatenate([SPECIAL, [1e22, 2.0**20, -(2.0**20), np.nextafter(2.0**20, 0),
                                          np.pi, np.pi / 2, 6381956970095103 * 2.0**797,
                                          -6381956970095103 * 2.0**797, 1e-20, -1e-20, 20.0,
                                          -20.0, 0.3, -0.3, 2.0**-54, -(2.0**-54), 1e-310,
                                          np.nextafter(1.0, 0), np.nextafter(1.0, 2)]])


def _kernel(f):
    import numba

    fm.register()

    @numba.njit(error_model="numpy")
    def kernel(a):
        out = np.empty_like(a)
        for i in range(a.size):
            out[i] = f(a[i])
        return out

    return kernel


@pytest.fixture(scope="module")
def kernels():
    return {name: _kernel(getattr(fm, name)) for name in BOUND}


def _domain(name: str, n: int, seed: int = 3) -> np.ndarray:
    """Dense over the whole domain: uniform bit patterns (every binade, subnormals included,
    up to DBL_MAX), plus uniform samples where the functions do their work."""
    rng = np.random.default_rng(seed)
    every = rng.integers(0, 0x7FF0000000000000, n // 4, dtype=np.int64).view(np.float64)
    sign = rng.choice([-1.0, 1.0], n // 4)
    if name == "log":
        return np.concatenate([every, rng.uniform(0.5, 2.0, n // 4),
                               1.0 + sign * 10.0 ** rng.uniform(-16, -1, n // 4),
                               10.0 ** rng.uniform(-310, 308, n // 4)])
    if name in ("sin", "cos"):
        return np.concatenate([every * sign, rng.uniform(-10.0, 10.0, n // 4),
                               sign * 10.0 ** rng.uniform(-9, 6.5, n // 4),
                               sign * 10.0 ** rng.uniform(6, 308, n // 4)])
    return np.concatenate([every * sign, rng.uniform(-750.0, 710.0, n // 4),
                           rng.uniform(-3.0, 3.0, n // 4), sign * 10.0 ** rng.uniform(-20, 0.5,
                                                                                      n // 4)])


def _ulps_ld(got: np.ndarray, x: np.ndarray, name: str) -> np.ndarray:
    """|got - f(x)| in ulps of the rounded result, against long double (sinl, logl, ...)."""
    with np.errstate(all="ignore"):
        exact = getattr(np, name)(x.astype(np.longdouble))
        rounded = exact.astype(np.float64)
    ulp = np.where(np.abs(rounded) < np.finfo(float).tiny, 5e-324,
                   np.spacing(np.abs(rounded))).astype(np.longdouble)
    finite = np.isfinite(rounded)
    err = np.zeros(x.shape)
    with np.errstate(all="ignore"):
        err[finite] = np.abs((got[finite].astype(np.longdouble) - exact[finite])
                             / ulp[finite]).astype(float)
    same = (got == rounded) | (np.isnan(got) & np.isnan(rounded))
    err[~finite] = np.where(same[~finite], 0.0, np.inf)
    return err


@needs_long_double
@pytest.mark.parametrize("name", list(BOUND))
def test_unary_within_bound(name: str, kernels) -> None:
    x = _domain(name, 1_000_000)
    err = _ulps_ld(kernels[name](x), x, name)
    assert err.max() <= BOUND[name], (err.max(), x[err.argmax()])


@pytest.mark.parametrize("name", list(BOUND))
def test_unary_against_mpmath(name: str, kernels) -> None:
    """An independent, arbitrary-precision reference: samples of the whole domain, huge
    arguments of sin and cos included (and the double closest to a multiple of pi/2)."""
    mp = pytest.importorskip("mpmath")
    x = np.concatenate([_domain(name, 6000, seed=5), UNARY_SPECIAL])
    lowest = {"log": 0.0, "log1p": -1.0}.get(name, -np.inf)  # (mpmath's are complex below)
    x = x[np.isfinite(x) & (x > lowest)]
    got = kernels[name](x)
    f = getattr(mp, name)
    with mp.workprec(200):
        for v, g in zip(x.tolist(), got.tolist(), strict=True):
            exact = f(mp.mpf(v))
            r = abs(float(exact))
            ulp = np.spacing(r) if r >= np.finfo(float).tiny else 5e-324
            if r > np.finfo(float).max:
                assert abs(g) == np.inf, v
                continue
            assert abs(mp.mpf(g) - exact) <= BOUND[name] * ulp, (v, g, float(exact))


@pytest.mark.parametrize("name", list(BOUND))
def test_unary_special_values_bit_for_bit(name: str, kernels) -> None:
    """inf, -inf, nan, +-0, subnormals, negative logs: numpy's values (NaN: any NaN), and
    the plain-Python run gives the same bits as numba's."""
    with np.errstate(all="ignore"):
        want = getattr(np, name)(UNARY_SPECIAL)
    got = kernels[name](UNARY_SPECIAL)
    py = np.array([getattr(fm, name)(v) for v in UNARY_SPECIAL])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want) & ~np.isfinite(want) | (want == 0) | (np.abs(UNARY_SPECIAL) < 1e-300)
    ok &= ~np.isnan(want)
    np.testing.assert_array_equal(got[ok].view(np.int64), want[ok].view(np.int64))
    assert np.isnan(py).tolist() == np.isnan(got).tolist()
    np.testing.assert_array_equal(py[~np.isnan(py)].view(np.int64),
                                  got[~np.isnan(got)].view(np.int64))
    x = _domain(name, 20_000, seed=9)
    np.testing.assert_array_equal(np.array([getattr(fm, name)(v) for v in x]).view(np.int64),
                                  kernels[name](x).view(np.int64))


def test_log_special_values() -> None:
    assert fm.log(0.0) == -np.inf and fm.log(-0.0) == -np.inf and fm.log(1.0) == 0.0
    assert np.isnan(fm.log(-1.0)) and np.isnan(fm.log(-np.inf)) and fm.log(np.inf) == np.inf
    assert fm.log(5e-324) == np.log(5e-324)
    assert str(fm.sin(-0.0)) == "-0.0" and fm.cos(-0.0) == 1.0 and np.isnan(fm.cos(np.inf))
    assert str(fm.tanh(-0.0)) == "-0.0" and fm.tanh(-np.inf) == -1.0
    assert str(fm.expm1(-0.0)) == "-0.0" and fm.expm1(-np.inf) == -1.0


# (sin and cos take the same float32 path, widened to the float64 code and rounded once:
# their Payne-Hanek reduction is the slowest code here to compile, ~10 s per dtype)
@needs_long_double
@pytest.mark.parametrize("name", [n for n in BOUND if n not in ("sin", "cos")])
def test_unary_float32(name: str, kernels) -> None:
    """float32: through float64 and rounded once: within 1 ulp of float32."""
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.integers(0, 0x7F800000, 300_000, dtype=np.int32).view(np.float32)
                        * rng.choice([1, -1], 300_000).astype(np.float32),
                        rng.uniform(-10, 10, 100_000).astype(np.float32)])
    x = np.abs(x) if name == "log" else x
    got = kernels[name](x)
    assert got.dtype == np.float32
    with np.errstate(all="ignore"):
        exact = getattr(np, name)(x.astype(np.longdouble))
        rounded = exact.astype(np.float32)
    ulp = np.spacing(np.abs(rounded)).astype(np.longdouble)
    fin = np.isfinite(rounded)
    err = np.abs((got[fin].astype(np.longdouble) - exact[fin]) / ulp[fin])
    assert err.max() <= 1.0
    np.testing.assert_array_equal(got[~fin], rounded[~fin])
    assert isinstance(getattr(fm, name)(np.float32(0.5)), np.float32)


def test_reassoc_add() -> None:
    assert fm.reassoc_add(1.5, 2) == 3.5 and fm.reassoc_add(np.float32(1), np.float32(2)) == 3


# ---- where the generated code uses it ---------------------------------------------------------

def _loop_body(text: str, header: str) -> list[str]:
    return [ln.strip() for ln in text.split(header + "\n")[1].splitlines()
            if ln.strip() and not ln.strip().startswith("#")][:-1]  # up to the return


def test_sum_x2_exp_source_uses_the_inline_exp() -> None:
    """Golden: the one loop of sum(x**2 * exp(x)) and its gradient calls fm.exp and sums with
    fm.reassoc_add, and the module imports fastmath with its tag."""
    g = sum_x2_exp(1000)
    text = emit_cpu(g, fuse(g), "f").text
    assert f"\nfrom adjit.codegen import fastmath as fm  # fastmath {fm.TAG}\n" in text
    assert _loop_body(text, "    for i0 in range(1000):") == [
        "v0 = x[i0] * x[i0]", "v1 = fm.exp(x[i0])", "v2 = v0 * v1",
        "v3 = fm.reassoc_add(v3, v2)", "v5 = v4 * v1", "v6 = 2.0 * x[i0]", "v7 = v5 * v6",
        "v8 = v4 * v0", "v9 = v8 * v1", "v10 = v7 + v9", "a10[i0] = v10"]
    assert "math.exp" not in text


def test_traced_sum_x2_exp_uses_the_inline_exp() -> None:
    """The same through the whole pipeline (trace, adjoint, simplify, fuse, emit)."""
    import adjit

    f = adjit.value_and_grad(lambda x: np.sum(x**2 * np.exp(x)))
    text = adjit.inspect(f, np.linspace(-1.0, 1.0, 1000)).source
    body = _loop_body(text, "    for i0 in range(1000):")
    assert "v1 = fm.exp(x[i0])" in body and "math.exp" not in text
    assert any(re.fullmatch(r"v(\d+) = fm\.reassoc_add\(v\1, v\d+\)", ln) for ln in body)


def test_scalar_loops_keep_libm() -> None:
    """A loop that calls libm anyway (here sinh, which has no inline version) stays scalar:
    there libm's exp is faster, and its sum stays in sequential order."""
    x = Var(ArrayType("f64", (100,)), "x")
    with building(Builder()) as b:
        g = b.graph("f", (x,), (ops.reduce_sum(ops.mul(ops.ew("sinh", x), ops.exp(x)), (0,)),))
    text = emit_cpu(g, fuse(g), "f").text
    assert "fm." not in text and "import fastmath" not in text
    assert "math.exp(" in text and "math.sinh(" in text and re.search(r"v\d+ \+= v\d+", text)


def test_vector_text() -> None:
    """An equation's vectorized form (the primitive's `ScalarCode.vector` template, fm.*) is
    accepted as written; libm calls other than sqrt/fabs/copysign, `**`, `//`, `%` keep the
    loop scalar (subscripts and accumulations are judged on the loop IR)."""
    ok = ("fm.exp(x0) + fm.exp(-x1)", "fm.log(x0) * fm.tanh(x1)",
          "x0 if x0 > x1 else np.float32(0.5)", "fm.expm1(x0)", "math.sqrt(abs(x0))")
    for code in ok:
        assert text_vectorizes(code), code
    for blocked in ("math.sin(x0)", "math.cos(x0)", "x0 ** 2.5", "math.exp(x0)", "x0 // 3",
                    "x0 % 3", "math.log1p(x0)", "len(x0)", "math.log2(x0)", "math.sinh(x0)"):
        assert not text_vectorizes(blocked), blocked


def test_vector_forms_come_from_the_declarations() -> None:
    """The fm.* forms are the primitives' declared `ScalarCode.vector` templates, which name
    functions codegen/fastmath.py defines; tanh's statements call fm.exp there."""
    from adjit.codegen import fastmath
    from adjit.ir.primitive import PRIMS

    declared = {n: p.scalar.vector for n, p in PRIMS.items() if p.scalar.vector}
    assert {"exp", "expm1", "log", "logistic"} <= set(declared)
    for name, template in declared.items():
        for f in re.findall(r"fm\.(\w+)\(", template):
            assert hasattr(fastmath, f), (name, f)
    assert any("fm.exp(" in ln for ln in PRIMS["tanh"].scalar.lines("x", "v", "fm.exp"))


def _graph(name: str, fn, shape=(64, 37), dtype: str = "f64") -> Graph:
    x, y = Var(ArrayType(dtype, shape), "x"), Var(ArrayType(dtype, shape), "y")
    with building(Builder()) as b:
        return b.graph(name, (x, y), tuple(fn(x, y)))


# One loop nest each, with exp among other elementwise work; the shapes are not multiples of
# the vector width, so remainders are exercised.
PATTERNS = {
    "exp_max_select": lambda x, y: [ops.select(ops.ew("gt", x, 0.0),
                                               ops.ew("maximum", ops.exp(x), y), ops.neg(y))],
    "logistic_sum": lambda x, y: [ops.reduce_sum(ops.ew("logistic", x), (0, 1))],
    "tanh_row_sums": lambda x, y: [ops.reduce_sum(ops.mul(ops.tanh(x), y), (1,))],
    "exp_broadcast": lambda x, y: [ops.exp(ops.sub(x, ops.reduce_sum(y, (0,))))],
}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Compiler:
    """Compiles into a cache directory of its own: a function numba loads from its disk cache
    (the same source compiled by another test) has no LLVM IR to inspect."""
    return Compiler(tmp_path_factory.mktemp("fastmath_cache"))


@pytest.mark.parametrize("dtype", ["f64", "f32"])
@pytest.mark.parametrize("name", list(PATTERNS))
def test_loops_with_fm_exp_vectorize(name: str, dtype: str, fresh: Compiler) -> None:
    """Every innermost loop given fm.exp is vectorized by LLVM (vector types in the optimized
    IR, no call to a scalar exp) and matches the reference interpreter, jit and plain."""
    c = fresh(("fastmath", name, dtype), lambda: _graph(name, PATTERNS[name], dtype=dtype))
    assert "fm.exp(" in c.source.text and "math.exp(" not in c.source.text
    args = random_args(c.graph)
    check_against_evaluate(c, args, dtype)
    _assert_vectorized(c.fn, "float" if dtype == "f32" else "double")


def _assert_vectorized(fn, elem: str) -> None:
    """The loop with fm.exp is vectorized: only exp shifts int64s (its 2^n), and here they
    are vectors; and nothing calls a scalar exp."""
    llvm = fn.inspect_llvm(fn.signatures[0])
    assert re.search(rf"<\d+ x {elem}>", llvm) and re.search(r"shl <\d+ x i64>", llvm), \
        "the loop with fm.exp was not vectorized"
    assert not re.search(r"call [^\n]*@(llvm\.)?exp(f)?(\.f\d\d)?\(", llvm)


@pytest.mark.parametrize("which", ["sum_x2_exp", "softmax", "mlp"])
def test_target_graphs_vectorize(which: str, fresh: Compiler) -> None:
    make = {"sum_x2_exp": lambda: sum_x2_exp(1000), "softmax": lambda: softmax_ce(8, 100),
            "mlp": lambda: mlp(batch=16, n_in=20, hidden=40)}[which]
    c = fresh(("fastmath-target", which), make)
    assert c.source.text.count("fm.exp(") == 1
    check_against_evaluate(c, random_args(c.graph))
    _assert_vectorized(c.fn, "double")


def test_numba_disk_cache_hit_in_a_second_process(tmp_path: pathlib.Path) -> None:
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r})
        from adjit.codegen.compile import compile_source
        from adjit.codegen.cpu import emit_cpu
        from adjit.passes.fuse import fuse
        from codegen_graphs import sum_x2_exp
        g = sum_x2_exp(100)
        fn = compile_source(emit_cpu(g, fuse(g), "f"), {str(tmp_path)!r})
        s, grad = fn(np.linspace(-1.0, 1.0, 100))
        print(sum(fn.stats.cache_hits.values()), sum(fn.stats.cache_misses.values()), repr(s))
        """)
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True, timeout=120).stdout.split() for _ in range(2)]
    assert runs[0][:2] == ["0", "1"] and runs[1][:2] == ["1", "0"], runs
    assert runs[0][2] == runs[1][2]


# ---- sin_small, cos_small (the guarded vector forms of sin and cos) ---------------------------

@pytest.mark.parametrize("name", ["sin", "cos"])
def test_small_trig_is_the_full_one_below_2_20(name: str, kernels) -> None:
    """Below 2^20 (and at inf and nan) sin_small is fm.sin bit for bit, in numba and in plain
    Python: the same reduction and polynomials, so fm.sin's accuracy tests cover it."""
    small = getattr(fm, f"{name}_small")
    x = _domain(name, 200_000, seed=11)
    x = np.concatenate([x[np.abs(x) < 2.0**20], UNARY_SPECIAL[np.abs(UNARY_SPECIAL) < 2.0**20],
                        [np.inf, -np.inf, np.nan, np.nextafter(2.0**20, 0), -0.0]])
    got = _kernel(small)(x)
    want = kernels[name](x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_array_equal(got[ok].view(np.int64), want[ok].view(np.int64))
    py = np.array([small(v) for v in x[::97]])
    np.testing.assert_array_equal(py[ok[::97]].view(np.int64), got[::97][ok[::97]].view(np.int64))
    assert isinstance(small(np.float32(0.5)), np.float32)
    assert str(fm.sin_small(-0.0)) == "-0.0" and fm.cos_small(-0.0) == 1.0


def test_trig_big_marks_where_the_small_forms_are_wrong() -> None:
    x = np.array([0.0, 1.0, -3.0, np.nextafter(2.0**20, 0), 2.0**20, -(2.0**20), 1e22, np.inf,
                  -np.inf, np.nan])
    want = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    assert [fm.trig_big(v) for v in x] == want
    assert _kernel(fm.trig_big)(x).tolist() == want
    # (where it is 0, the small forms are exact: above; where 1, they are not)
    assert fm.sin_small(1e22) != np.sin(1e22)


def test_tan_small_within_3_ulp_below_2_20() -> None:
    """tan_small = sin_small / cos_small: 2.53 ulp measured (long double, 1e6 points), to
    mpmath on samples; tan(+-0) keeps its sign, tan(inf) and tan(nan) are nan."""
    k = _kernel(fm.tan_small)
    x = _domain("sin", 400_000, seed=13)
    x = np.concatenate([x[np.abs(x) < 2.0**20], [np.pi / 2, -np.pi / 2, 1.0, 1e-300, 5e-324]])
    got = k(x)
    if np.finfo(np.longdouble).nmant > 52:
        assert _ulps_ld(got, x, "tan").max() <= 3.0
    mp = pytest.importorskip("mpmath")
    with mp.workprec(200):
        for v, g in zip(x[::200].tolist(), got[::200].tolist(), strict=True):
            exact = mp.tan(mp.mpf(v))
            assert abs(mp.mpf(g) - exact) <= 3.0 * np.spacing(abs(float(exact))), v
    special = k(np.array([0.0, -0.0, np.inf, -np.inf, np.nan]))
    assert str(special[1]) == "-0.0" and special[0] == 0.0 and np.isnan(special[2:]).all()
    assert isinstance(fm.tan_small(np.float32(0.5)), np.float32)
    assert fm.tan_small(0.7) == k(np.array([0.7]))[0]


# ---- the implementations compiled once (fastmath._compiled) -----------------------------------

def test_compiled_implementations_are_inlined_and_vectorize() -> None:
    """tanh, log1p, sin_small and expm1 are calls of functions compiled once per process and
    marked alwaysinline: LLVM inlines them (no call is left in the optimized loop) and the
    loop vectorizes; the values are the plain-Python ones, bit for bit."""
    import numba

    fm.register()

    @numba.njit(error_model="numpy")
    def kernel(a):
        out = np.empty_like(a)
        for i in range(a.size):
            out[i] = fm.tanh(a[i]) + fm.log1p(a[i] * a[i]) + fm.sin_small(a[i]) \
                + fm.expm1(a[i] * 0.5)
        return out

    x = np.linspace(-4.0, 4.0, 1001)
    got = kernel(x)
    want = np.array([fm.tanh(v) + fm.log1p(v * v) + fm.sin_small(v) + fm.expm1(v * 0.5)
                     for v in x])
    assert np.array_equal(got.view(np.int64), want.view(np.int64))
    llvm = kernel.inspect_llvm(kernel.signatures[0])
    assert re.search(r"<\d+ x double>", llvm), "not vectorized"
    for name in ("_tanh_f64", "_log1p_f64", "_sin_small_f64", "_expm1_f64"):
        assert not re.search(rf"call [^\n]*{name}", llvm), f"{name} was not inlined"


def test_compiled_implementations_come_from_the_cache_folder(tmp_path: pathlib.Path) -> None:
    """A second process loads them from the folder (HMAC-checked entries, as kernels')."""
    script = textwrap.dedent(f"""
        import numba, numpy as np
        from adjit.codegen import cache, fastmath as fm
        fm.register(cache.open_folder({str(tmp_path)!r}))

        @numba.njit(error_model="numpy")
        def k(a):
            return fm.tanh(a[0]) + fm.log(a[1])

        print(repr(k(np.array([0.5, 2.0]))),
              *(fm._COMPILED[n]._cache.last is not None for n in ("_tanh_f64", "_log_f64")))
        """)
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True, timeout=300).stdout.split() for _ in range(2)]
    assert runs[0][1:] == ["False", "False"], runs  # compiled, then saved
    assert runs[1][1:] == ["True", "True"], runs  # loaded
    assert runs[0][0] == runs[1][0] == repr(fm.tanh(0.5) + fm.log(2.0))
