"""adjit.vmap: equal to stacking the function over slices, composed with the other
transformations, with batching rules that keep matrix products single BLAS calls."""
import numpy as np
import pytest

import adjit
from adjit.passes.vmap import batch

RNG = np.random.default_rng(7)
X = RNG.normal(size=(5, 3, 4))
Y = RNG.normal(size=(4, 2))


def _stack(f, *args, axes):
    n = next(a.shape[ax] for a, ax in zip(args, axes, strict=True) if ax is not None)
    return np.stack([f(*[a if ax is None else np.take(a, i, axis=ax)
                         for a, ax in zip(args, axes, strict=True)]) for i in range(n)])


def _net(x, y):
    return np.sum(np.tanh(x @ y) ** 2, axis=0) + np.mean(x) - x[1:, ::2].max()


@pytest.mark.parametrize("axes", [(0, None), (2, 1)])
def test_equals_stacking_the_function(axes) -> None:
    y = Y if axes[1] is None else RNG.normal(size=(3, 4, 2))
    got = adjit.vmap(_net, in_axes=axes)(X, y)
    np.testing.assert_allclose(got, _stack(_net, X, y, axes=axes), rtol=1e-12)


def test_out_axes_and_pytrees() -> None:
    f = adjit.vmap(lambda d: {"s": d["a"] * 2 + d["b"].sum()}, in_axes=0, out_axes=1)
    d = {"a": X, "b": X[:, 0]}
    got = f(d)["s"]
    want = np.stack([X[i] * 2 + X[i, 0].sum() for i in range(5)], axis=1)
    np.testing.assert_allclose(got, want)


def test_out_axes_per_result_as_jax() -> None:
    """out_axes a prefix of the result's structure (JAX's): an int per result, negative
    counts from the end, None for a result that does not depend on the mapped arguments
    (and an error for one that does)."""
    w = RNG.normal(size=4)

    def f(x, w):
        return x * 2, {"s": x.sum(), "w": w * 3}

    got = adjit.vmap(f, in_axes=(0, None), out_axes=(-1, {"s": 0, "w": None}))(X, w)
    np.testing.assert_allclose(got[0], np.moveaxis(X * 2, 0, -1))
    np.testing.assert_allclose(got[1]["s"], X.sum(axis=(1, 2)))
    np.testing.assert_allclose(got[1]["w"], w * 3)
    assert got[1]["w"].shape == (4,)
    with pytest.raises(adjit.TraceError, match="out_axes is None for result 0"):
        adjit.vmap(f, in_axes=(0, None), out_axes=None)(X, w)
    with pytest.raises(adjit.TraceError, match="does not match the result's structure"):
        adjit.vmap(f, in_axes=(0, None), out_axes=(0, 1, 2))(X, w)
    # composed: the gradient through a result placed at axis 1
    g = adjit.grad(lambda x: adjit.vmap(f, in_axes=(0, None), out_axes=(1, 0))(x, w)[0][:, 1]
                   .sum())(X)
    want = np.zeros_like(X)
    want[1] = 2.0
    np.testing.assert_allclose(g, want)


def _loss(p, x, y):
    h = np.tanh(x @ p["W1"] + p["b1"])
    return np.sum((h @ p["W2"] - y) ** 2)


def test_per_example_gradients() -> None:
    p = {"W1": RNG.normal(size=(6, 8)), "b1": RNG.normal(size=8),
         "W2": RNG.normal(size=(8, 3))}
    xs, ys = RNG.normal(size=(9, 6)), RNG.normal(size=(9, 3))
    per_example = adjit.vmap(adjit.grad(_loss), in_axes=(None, 0, 0))
    got = per_example(p, xs, ys)
    for i in range(9):
        want = adjit.grad(_loss)(p, xs[i], ys[i])
        for k in p:
            np.testing.assert_allclose(got[k][i], want[k], rtol=1e-12, atol=1e-14)
    per_example(p, xs, ys)  # a cache hit


def test_matmul_against_shared_weights_stays_one_product() -> None:
    g = adjit.jit(lambda x, w: np.tanh(x @ w)).specialize((X[0], Y)).traced.graph
    b = batch(g, [True, False], 5)
    matmuls = [e for e in b.eqns if e.prim == "matmul"]
    assert len(matmuls) == 1 and matmuls[0].inputs[0].shape == (15, 4)


def test_grad_of_vmap_and_vmap_of_jvp() -> None:
    w = RNG.normal(size=(3, 4))
    f = lambda w: np.sum(adjit.vmap(lambda x: np.sin(x @ w.T))(X))  # noqa: E731
    np.testing.assert_allclose(adjit.grad(f)(w), adjit.grad(
        lambda w: np.sum(np.sin(X @ w.T)))(w), rtol=1e-12)
    t = adjit.vmap(lambda x: adjit.jvp(np.sin, (x,), (np.ones_like(x),))[1])(X)
    np.testing.assert_allclose(t, np.cos(X))


def _doubled(a):
    x = a
    while x < 10.0:
        x = x * 2.0
    return x


def _branch(a):
    if a.sum() > 0:
        return a * 2
    return -a


def test_control_flow_runs_per_example() -> None:
    a = np.array([0.3, 3.0, 11.0, 1.7])
    np.testing.assert_allclose(adjit.vmap(_doubled)(a), [_doubled(v) for v in a])
    A = np.array([[1.0, 2.0], [-3.0, 1.0], [0.5, -2.0]])
    np.testing.assert_allclose(adjit.vmap(_branch)(A), [_branch(v) for v in A])
    g = adjit.vmap(adjit.grad(lambda a: _doubled(a) ** 2))(a)
    np.testing.assert_allclose(g, [2 * _doubled(v) * _doubled(v) / v for v in a])


def test_indexing_with_batched_indices() -> None:
    idx = np.array([0, 1, 2, 0, 1])
    got = adjit.vmap(lambda x, i: x[i], in_axes=(0, 0))(X, idx)
    np.testing.assert_allclose(got, X[np.arange(5), idx])


def test_errors() -> None:
    with pytest.raises(adjit.TraceError, match="different sizes"):
        adjit.vmap(lambda a, b: a + b)(np.ones(3), np.ones(4))
    with pytest.raises(adjit.TraceError, match="at least one mapped"):
        adjit.vmap(lambda a: a, in_axes=None)(np.ones(3))
    with pytest.raises(adjit.TraceError, match="one axis"):
        adjit.vmap(lambda a, b: a, in_axes=(0,))(np.ones(3), np.ones(3))


@pytest.mark.parametrize("ta, tb", [(False, False), (True, False), (False, True),
                                    (True, True)])
def test_matmul_folding_in_every_orientation(ta, tb) -> None:
    from adjit.ir import Builder, Graph, Var, building, evaluate, ops
    from adjit.ir.core import ArrayType

    a = Var(ArrayType("f64", (4, 3) if ta else (3, 4)))
    b = Var(ArrayType("f64", (2, 4) if tb else (4, 2)))
    with building(Builder()) as bld:
        out = ops.matmul(a, b, ta, tb)
    g = Graph("g", (a, b), tuple(bld.eqns), (out,))
    A = RNG.normal(size=(5,) + a.shape)
    B = RNG.normal(size=(5,) + b.shape)
    for flags, args in (([True, False], (A, B[0])), ([False, True], (A[0], B))):
        (got,) = evaluate(batch(g, flags, 5), *args)
        want = np.stack([evaluate(g, *[x[i] if f else x
                                       for x, f in zip(args, flags, strict=True)])[0]
                         for i in range(5)])
        np.testing.assert_allclose(got, want, rtol=1e-12)
        assert sum(e.prim == "matmul" for e in batch(g, flags, 5).eqns) == 1
