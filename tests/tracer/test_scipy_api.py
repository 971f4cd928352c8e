"""scipy inside differentiated code (tracer/scipy_api.py, tracer/scipy_impl.py).

Each test function below runs the same Python function twice: on numpy arrays it calls
scipy itself (the hooks pass plain arrays to scipy unchanged), which is the oracle for the
values and, by central differences, for the gradients; under adjit it is traced, compiled
(one numba compilation per test function: many scipy functions are summed into one scalar)
and differentiated.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
import types

import adjit
import numpy as np
import pytest
import scipy.signal
import scipy.special as sc
import scipy.stats as st
from adjit.tracer import scipy_api
from check import check_grads

RNG = np.random.default_rng(11)


def _both(f, args, argnums, rtol=1e-6, atol=1e-8, dtype=np.float64):  # noqa: ANN001, ANN202
    """adjit's value and gradient of f against scipy's value and central differences."""
    args = [np.asarray(a, dtype=dtype) for a in args]
    vg = adjit.value_and_grad(f, argnums=argnums)  # one compilation for both
    value, _ = vg(*args)
    np.testing.assert_allclose(value, f(*args), rtol=rtol, atol=atol)
    check_grads(lambda *a: vg(*a)[1], f, args, argnums=argnums)
    # the same function on recorded tensors: backward() gives the same gradients
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    tensors = [adjit.tensor(a, requires_grad=i in nums) for i, a in enumerate(args)]
    f(*tensors).backward()
    grads = vg(*args)[1]
    for i, g in zip(nums, (grads,) if isinstance(argnums, int) else grads, strict=True):
        np.testing.assert_allclose(tensors[i].grad.numpy(), g, rtol=1e-9, atol=1e-12)


# ---- scipy.special ----------------------------------------------------------------------------

def _unary(x):  # noqa: ANN001, ANN202
    """Every unary ufunc, each on a part of its domain (x in (0.2, 0.8))."""
    p = x  # in (0, 1)
    pos = 0.5 + 2 * x
    terms = [sc.expit(3 * x - 1), sc.log_expit(3 * x - 1), sc.logit(p), sc.erf(x), sc.erfc(x),
             sc.erfcx(x), sc.erfinv(p - 0.5), sc.erfcinv(p), sc.gammaln(pos), sc.gamma(pos),
             sc.rgamma(pos), sc.gammasgn(pos), sc.psi(pos), sc.digamma(pos), sc.entr(p),
             sc.ndtr(2 * x - 1), sc.log_ndtr(2 * x - 1), sc.ndtri(p), sc.i0(2 * x),
             sc.i1(2 * x), sc.i0e(pos), sc.i1e(pos), sc.j0(3 * x), sc.j1(3 * x), sc.y0(pos),
             sc.y1(pos), sc.loggamma(pos), sc.exp10(x), sc.cbrt(pos), sc.softplus(x)]
    return sum(np.sum(t * (k + 1) / 10) for k, t in enumerate(terms))


def _binary(x, y):  # noqa: ANN001, ANN202
    """The functions of two or three arguments (x, y in (0.5, 2.5)); orders constant."""
    terms = [sc.xlogy(x, y), sc.xlog1py(x, y), sc.rel_entr(x, y), sc.kl_div(x, y),
             sc.betaln(x, y), sc.beta(x, y), sc.gammainc(1.5, y), sc.gammaincc(2.5, y),
             sc.betainc(1.5, 2.0, x / 3), sc.iv(1.5, y), sc.ive(0.5, y), sc.jv(2.0, y),
             sc.jn(1, y), sc.yv(1.5, y), sc.yn(2, y), sc.polygamma(2, x),
             sc.multigammaln(y + 2, 3), sc.pseudo_huber(1.5, x)]
    return sum(np.sum(t * (k + 1) / 10) for k, t in enumerate(terms))


def test_special_ufuncs() -> None:
    x = RNG.uniform(0.2, 0.8, 5)
    _both(_unary, [x], 0)


def test_special_functions_of_several_arguments() -> None:
    x, y = RNG.uniform(0.5, 2.5, (2, 4))
    _both(_binary, [x, y], (0, 1))


def test_special_float32() -> None:
    x = RNG.uniform(0.2, 0.8, 5).astype(np.float32)
    value, g = adjit.value_and_grad(_unary)(x)
    assert np.asarray(value).dtype == np.float32 and g.dtype == np.float32
    np.testing.assert_allclose(value, _unary(x.astype(np.float64)), rtol=1e-5)
    g64 = adjit.grad(_unary)(x.astype(np.float64))
    np.testing.assert_allclose(g, g64, rtol=1e-4, atol=1e-5)


def _reductions(a, b):  # noqa: ANN001, ANN202
    lse = [sc.logsumexp(a), sc.logsumexp(a, axis=0), sc.logsumexp(a, axis=1, keepdims=True),
           sc.logsumexp(a, axis=(0, 1), keepdims=True), sc.logsumexp(a, axis=-1, b=b),
           sc.logsumexp(a[0], b=b[0] - 0.5, return_sign=True)[0],
           sc.logsumexp(a[0], b=b[0] - 0.5, return_sign=True)[1] * a[0, 0],
           sc.logsumexp([a[0, 0], a[1, 1]]), sc.softmax(a, axis=1) * b,
           sc.softmax(a) * b, sc.log_softmax(a, axis=0) * b]
    return sum(np.sum(t) for t in lse)


def test_logsumexp_softmax() -> None:
    a = RNG.standard_normal((3, 4))
    b = RNG.uniform(0.2, 1.5, (3, 4))
    _both(_reductions, [a, b], (0, 1))


def test_logsumexp_matches_scipy_at_infinities() -> None:
    f = adjit.jit(lambda a: sc.logsumexp(a, axis=1))
    a = np.array([[-np.inf, -np.inf], [np.inf, 1.0], [0.0, 1.0]])
    np.testing.assert_array_equal(f(a), sc.logsumexp(a, axis=1))


# ---- scipy.stats ------------------------------------------------------------------------------

def _continuous(x, loc, scale, shape):  # noqa: ANN001, ANN202
    """x in (0.1, 0.9); loc in (-0.1, 0.1); scale in (0.8, 1.2); shape in (1.5, 3). The cdfs
    have no derivative in their shape parameters (incomplete gamma and beta functions):
    those are constants here."""
    terms = [st.norm.pdf(x, loc, scale), st.norm.logpdf(x, loc=loc, scale=scale),
             st.norm.cdf(x, loc, scale), st.norm.logcdf(x, loc, scale), st.norm.sf(x, loc),
             st.norm.logsf(x, scale=scale), st.norm.ppf(x, loc, scale), st.norm.isf(x),
             st.norm.logpdf(x), st.t.pdf(x, shape, loc, scale), st.t.logpdf(x, shape),
             st.t.cdf(x, 2.5, loc, scale), st.t.cdf(-x, 3.0), st.t.logcdf(x, 3.0, loc),
             st.gamma.pdf(x + 1, shape, loc, scale), st.gamma.logpdf(x, shape),
             st.gamma.cdf(x + 1, 2.0, loc, scale), st.gamma.sf(x, 1.5, scale=scale),
             st.chi2.pdf(x + 1, shape, loc, scale), st.chi2.logpdf(x, shape),
             st.chi2.cdf(x + 1, 3.0, loc, scale), st.beta.pdf(x, shape, shape + 1),
             st.beta.logpdf(x, 2.0, shape, loc - 0.2, scale + 0.5),
             st.beta.cdf(x, 2.0, 3.0, loc - 0.2, scale + 0.5),
             st.norm.entropy(loc, scale)]
    return sum(np.sum(t * (k + 1) / 10) for k, t in enumerate(terms))


def test_continuous_distributions() -> None:
    n = 4
    args = [RNG.uniform(0.1, 0.9, n), RNG.uniform(-0.1, 0.1, n), RNG.uniform(0.8, 1.2, n),
            RNG.uniform(1.5, 3, n)]
    _both(_continuous, args, (0, 1, 2, 3))


def _discrete(mu, x, alpha):  # noqa: ANN001, ANN202
    k = np.array([[0.0, 1.0, 3.0], [2.0, 5.0, 1.0]])
    xs = x / np.sum(x)
    terms = [st.poisson.pmf(k, mu), st.poisson.logpmf(k, mu), st.poisson.cdf(k, mu),
             st.poisson.sf(k, mu), st.poisson.logpmf(k + 1, mu, loc=1),
             st.dirichlet.logpdf(xs, alpha), st.dirichlet.pdf(xs, alpha),
             st.multivariate_normal.logpdf(x, alpha, alpha),
             st.multivariate_normal.pdf(np.stack([x, xs]), x * 0 + mu[0, 0], 2.0),
             st.multivariate_normal.entropy(x, alpha)]
    return sum(np.sum(t * (k + 1) / 10) for k, t in enumerate(terms))


def test_discrete_dirichlet_diagonal_mvn() -> None:
    mu = RNG.uniform(0.5, 3, (2, 1))
    x = RNG.uniform(0.2, 1, 3)
    alpha = RNG.uniform(1.2, 2.5, 3)
    _both(_discrete, [mu, x, alpha], (0, 1, 2))


def test_support_and_invalid_parameters_as_scipy() -> None:
    f = adjit.jit(lambda x, s: (st.norm.logpdf(x, 0, s), st.gamma.logpdf(x, 2.0),
                                st.beta.cdf(x, 2.0, 3.0), st.poisson.pmf(x, 2.0)))
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 2.5])
    s = np.array([1.0, -1.0, 0.0, 2.0, 1.0, 1.0])
    with np.errstate(all="ignore"):
        for got, want in zip(f(x, s), (st.norm.logpdf(x, 0, s), st.gamma.logpdf(x, 2.0),
                                       st.beta.cdf(x, 2.0, 3.0), st.poisson.pmf(x, 2.0)),
                             strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12)


def test_full_covariance_needs_linear_algebra() -> None:
    cov = np.eye(3) + 0.1
    x = RNG.standard_normal(3)
    f = adjit.grad(lambda x: st.multivariate_normal.logpdf(x, np.zeros(3), cov))
    if np.linalg.inv in __import__("adjit.tracer.numpy_api", fromlist=["FUNCTIONS"]).FUNCTIONS:
        check_grads(f, lambda x: st.multivariate_normal.logpdf(x, np.zeros(3), cov), [x])
    else:
        with pytest.raises(adjit.TraceError, match="np.linalg.inv"):
            f(x)
    f_sing = adjit.grad(lambda x: st.multivariate_normal.logpdf(x, np.zeros(3), cov,
                                                                 allow_singular=True))
    check_grads(f_sing, lambda x: st.multivariate_normal.logpdf(x, np.zeros(3), cov), [x])


def test_singular_covariance_as_scipy() -> None:
    """allow_singular=True: pseudo-inverse and pseudo-determinant over the support, -inf
    (density 0) off it; cov traced or not."""
    cov = np.zeros((4, 4))
    cov[:2, :2] = [[1.0, 0.3], [0.3, 0.5]]
    mean = np.array([0.3, -0.2, 0.1, 0.0])
    on = np.array([[0.1, 0.5, 0.1, 0.0], [1.0, -1.0, 0.1, 0.0]])
    off = on + np.array([0.0, 0.0, 0.2, 0.0])
    f = adjit.jit(lambda x, m, c: (st.multivariate_normal.logpdf(x, m, c, allow_singular=True),
                                   st.multivariate_normal.pdf(x, m, c, allow_singular=True)))
    for x in (on, off):
        want = (st.multivariate_normal.logpdf(x, mean, cov, allow_singular=True),
                st.multivariate_normal.pdf(x, mean, cov, allow_singular=True))
        for got, w in zip(f(x, mean, cov), want, strict=True):
            np.testing.assert_allclose(got, w, rtol=1e-12)

    def on_support(x):  # noqa: ANN001, ANN202
        x = np.concatenate([x[:2], mean[2:]])
        return st.multivariate_normal.pdf(x, mean, cov, allow_singular=True)

    check_grads(adjit.grad(on_support), on_support, [on[0]])


# ---- scipy.signal -----------------------------------------------------------------------------

def _convolutions(a, b):  # noqa: ANN001, ANN202
    out = [scipy.signal.convolve(a, b, mode=m) for m in ("full", "valid")]
    out += [scipy.signal.convolve(b, a, mode="same")]
    return sum(np.sum(o * (k + 1)) for k, o in enumerate(out))


def _interpret(f, *args):  # noqa: ANN001, ANN002, ANN202
    """f traced and run by the reference interpreter (no compilation)."""
    from adjit.ir import evaluate
    from adjit.tracer import trace

    return evaluate(trace(f, args).graph, *args)[0]


def test_convolve() -> None:
    # every mode's index arithmetic against scipy, interpreted (no compilation)
    for s1, s2 in [((6,), (3,)), ((3,), (6,)), ((5, 4), (2, 3)), ((4, 5), (4, 2))]:
        a, b = RNG.standard_normal(s1), RNG.standard_normal(s2)
        for mode in ("full", "valid", "same"):
            if mode == "valid" and not (np.all(np.greater_equal(s1, s2))
                                        or np.all(np.less_equal(s1, s2))):
                continue
            got = _interpret(lambda a, b, m=mode: scipy.signal.convolve(a, b, m), a, b)
            np.testing.assert_allclose(got, scipy.signal.convolve(a, b, mode), atol=1e-12)
    _both(_convolutions, [RNG.standard_normal(6), RNG.standard_normal(3)], (0, 1))


def test_convolve_2d_gradients(monkeypatch: pytest.MonkeyPatch) -> None:
    # the generated text run as plain Python: numba's compile of these einsums is slow
    monkeypatch.setenv("ADJIT_NOJIT", "1")
    _both(_convolutions, [RNG.standard_normal((5, 4)), RNG.standard_normal((2, 3))], (0, 1))


# ---- the three front ends and transformations of scipy callables ------------------------------

def test_recorded_tensor_through_scipy() -> None:
    x0 = RNG.uniform(0.2, 0.8, 4)

    def f(x):  # noqa: ANN001, ANN202
        return (np.sum(sc.erfinv(x) * st.norm.logpdf(x, 0.3, 2.0)) + sc.logsumexp(x)
                + np.sum(sc.gammaln(x + 1)) + np.sum(st.t.cdf(x, 3.0)))

    x = adjit.tensor(x0, requires_grad=True)
    y = f(x)
    assert isinstance(y, adjit.Tensor)
    y.backward()
    np.testing.assert_allclose(float(y.item()), f(x0), rtol=1e-12)
    check_grads(lambda _: x.grad.numpy() if hasattr(x.grad, "numpy") else np.asarray(x.grad),
                f, [x0])


def test_declared_values_through_scipy() -> None:
    from adjit import explicit as ex

    x0 = RNG.uniform(0.2, 0.8, 3)
    with ex.declaring():
        x = ex.var("x", (3,))
        y = ex.sum(sc.erf(x) * st.norm.logpdf(x, 0.5, 2.0)) + sc.logsumexp(x)
        (gx,) = ex.gradients(y, [x])
        fn = adjit.explicit.function([x], [y, gx])
    value, g = fn(x0)
    f = lambda v: np.sum(sc.erf(v) * st.norm.logpdf(v, 0.5, 2.0)) + sc.logsumexp(v)  # noqa: E731
    np.testing.assert_allclose(value, f(x0), rtol=1e-12)
    check_grads(lambda _: g, f, [x0])


def test_transformations_of_scipy_callables() -> None:
    x = RNG.standard_normal(4)
    check_grads(adjit.grad(sc.logsumexp), sc.logsumexp, [x])
    out, pullback = adjit.vjp(st.norm.logpdf, x)
    np.testing.assert_allclose(out, st.norm.logpdf(x))
    np.testing.assert_allclose(pullback(np.ones(4))[0], -x)


def test_constants_use_scipy_while_tracing() -> None:
    def f(x):  # noqa: ANN001, ANN202
        z = st.norm.ppf(0.975)  # plain numbers: scipy computes them while tracing
        return np.sum(x) * z + sc.comb(5, 2) + sc.logsumexp(np.arange(3.0)) \
            + np.sum(sc.erf(np.ones(2)))

    g = adjit.value_and_grad(f)(np.ones(3))
    np.testing.assert_allclose(g[0], f(np.ones(3)))
    np.testing.assert_allclose(g[1], np.full(3, st.norm.ppf(0.975)))


def test_names_bound_before_the_hooks() -> None:
    # A module that did `from scipy.special import logsumexp` before adjit hooked scipy
    # holds scipy's original function: tracing swaps the wrapper in, then puts it back.
    original = sc.logsumexp.__wrapped__
    mod = types.ModuleType("user_mod")
    exec(textwrap.dedent("""
        import numpy as np
        def f(x):
            return logsumexp(x) + np.sum(x)
    """), mod.__dict__)  # noqa: S102
    mod.logsumexp = original
    x = RNG.standard_normal(3)
    check_grads(adjit.grad(mod.f), mod.f, [x])
    assert mod.logsumexp is original
    check_grads(adjit.grad(original), original, [x])  # given to a transformation


def test_order_and_parameters_are_not_differentiable() -> None:
    x = RNG.uniform(0.5, 2, 3)

    def f(x, v):  # noqa: ANN001, ANN202
        return np.sum(sc.iv(v, x) + sc.gammainc(v, x) + sc.betainc(v, 2.0, x / 3))

    # an order that is an argument, traced but not differentiated, costs nothing
    g = adjit.grad(f)
    check_grads(lambda x: g(x, np.full(3, 1.5)), lambda x: f(x, np.full(3, 1.5)), [x])
    check_grads(lambda x: g(x, 1.5), lambda x: f(x, 1.5), [x])
    with pytest.raises(adjit.NotDifferentiable, match=r"scipy.special.(iv|gammainc|betainc) "
                                                      r"has no derivative with respect to its "
                                                      r"first argument"):
        adjit.grad(f, argnums=1)(x, 1.5)
    with pytest.raises(adjit.NotDifferentiable, match="first argument"):
        adjit.jvp(f, (x, 1.5), (x, 1.0))
    v = adjit.tensor(np.array(1.5), requires_grad=True)
    y = np.sum(sc.gammainc(v, adjit.tensor(x)))
    with pytest.raises(adjit.NotDifferentiable, match="gammainc"):
        y.backward()


# ---- the hooks --------------------------------------------------------------------------------

def test_wrappers_keep_scipy_behaviour() -> None:
    w = sc.logsumexp
    assert w.__wrapped__ is not w and w.__name__ == "logsumexp" and w.__doc__
    assert st.norm.logpdf.__wrapped__ == st.norm.__class__.logpdf.__get__(st.norm)
    a = RNG.standard_normal((3, 4))
    assert np.array_equal(w(a, axis=1), w.__wrapped__(a, axis=1))
    assert sc.logsumexp in scipy_api.REGISTRY.values() or w.__wrapped__ in scipy_api.REGISTRY
    assert st.norm.ppf(0.5) == 0.0 and isinstance(st.norm.pdf([0.0, 1.0]), np.ndarray)
    overhead = scipy_api.wrapper_overhead(20000)
    print(f"wrapper overhead per call with plain arrays: {overhead * 1e9:.0f} ns")
    assert overhead < 20e-6  # generous: CI machines are shared


def test_scipy_is_hooked_when_imported_after_adjit() -> None:
    code = textwrap.dedent("""
        import sys
        import adjit
        assert "scipy.stats" not in sys.modules, "importing adjit imported scipy.stats"
        import scipy.stats, scipy.special
        assert getattr(scipy.special.logsumexp, "__adjit_impl__", None) is not None
        assert getattr(scipy.stats.norm.logpdf, "__adjit_impl__", None) is not None
        import numpy as np
        g = adjit.grad(lambda x: scipy.stats.norm.logpdf(x).sum())(np.ones(2))
        assert np.allclose(g, -1.0)
    """)
    subprocess.run([sys.executable, "-c", code], check=True, env={**__import__("os").environ,
                                                                   "ADJIT_NOJIT": "1"})


def test_registry_merges_other_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    # another module's SCIPY_FUNCTIONS keyed by the scipy callable itself (as sp_linalg's)
    fake = types.ModuleType("adjit_fake_scipy_impls")
    original = sc.comb

    def impl(n, k, **kwargs):  # noqa: ANN001, ANN003, ANN202
        return n * 0 + 42.0

    fake.SCIPY_FUNCTIONS = {original: impl}
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    monkeypatch.setattr(scipy_api, "MODULES", [fake.__name__])
    monkeypatch.setattr(scipy_api, "_loaded", False)
    defining = sys.modules[original.__module__]
    try:
        scipy_api.install()
        assert sc.comb is not original and sc.comb.__wrapped__ is original
        assert sc.comb(5, 2) == original(5, 2)  # plain: scipy's
        assert adjit.jit(lambda x: sc.comb(x, 2))(np.ones(2))[0] == 42.0
    finally:
        sc.comb = original
        if getattr(defining, "comb", None) is not None:
            defining.comb = original
        scipy_api.REGISTRY.pop(original, None)
        scipy_api.WRAPPERS.pop(original, None)


def test_float32_stays_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    # the dtype rules, not numba's float32 kernels (tested above): run as plain Python
    monkeypatch.setenv("ADJIT_NOJIT", "1")
    n = 4
    args64 = [RNG.uniform(0.1, 0.9, n), RNG.uniform(-0.1, 0.1, n), RNG.uniform(0.8, 1.2, n),
              RNG.uniform(1.5, 3, n)]
    args32 = [a.astype(np.float32) for a in args64]
    nums = (0, 1, 2, 3)
    for f in (_continuous, lambda x, loc, scale, shape: _reductions(np.stack([x, loc]),
                                                                    np.stack([scale, shape]))):
        v32, g32 = adjit.value_and_grad(f, argnums=nums)(*args32)
        v64, g64 = adjit.value_and_grad(f, argnums=nums)(*args64)
        assert np.asarray(v32).dtype == np.float32
        assert all(g.dtype == np.float32 for g in g32)
        np.testing.assert_allclose(v32, v64, rtol=1e-4)
        for a, b in zip(g32, g64, strict=True):
            np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-4)
