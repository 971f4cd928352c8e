"""relu is PyTorch's at its special values, through every entry point: relu(NaN) is NaN (not
0, which would hide a NaN), relu(-0.0) is -0.0, and the gradient is threshold_backward's:
the cotangent where the result is > 0 or NaN, 0 where it is <= 0 (even for an inf or NaN
cotangent). The expected values are torch 2.13's, written out (CI has no torch); the last
test checks them against torch when it is installed. Finite differences of the primitive
are in tests/prims (prim_cases.py)."""
from __future__ import annotations

import numpy as np
import pytest

import adjit
import adjit.nn.functional as F
from adjit import nn

NAN, INF = np.nan, np.inf
X = [NAN, -0.0, 0.0, 1.5, -1.0, INF, -INF, 2.0, -3.0]
RELU = [NAN, -0.0, 0.0, 1.5, 0.0, INF, 0.0, 2.0, 0.0]
CT = [3.0, 3.0, 3.0, NAN, NAN, INF, INF, -INF, -INF]
GRAD = [3.0, 0.0, 0.0, NAN, 0.0, INF, 0.0, -INF, 0.0]  # torch's threshold_backward(CT, RELU)
DTYPES = [np.float32, np.float64]


def _same(got, want) -> None:
    """Equal values, NaN where NaN, and the same sign on every zero."""
    got, want = np.asarray(got), np.asarray(want, got.dtype)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


ENTRY_POINTS = {
    "F.relu": F.relu,
    "Tensor.relu": lambda t: t.relu(),
    "nn.ReLU": nn.ReLU(),
    "nn.ReLU(inplace)": nn.ReLU(inplace=True),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_recorded_values_and_gradient(name: str, dtype) -> None:
    x = adjit.tensor(np.array(X, dtype), requires_grad=True)
    y = ENTRY_POINTS[name](x)
    assert y.grad_fn.name() == "ReluBackward0"
    assert y.dtype == x.dtype
    _same(y.detach().numpy(), RELU)
    y.backward(adjit.tensor(np.array(CT, dtype)))
    _same(x.grad.numpy(), GRAD)


@pytest.mark.parametrize("dtype", DTYPES)
def test_inplace_relu_(dtype) -> None:
    x = adjit.tensor(np.array(X, dtype), requires_grad=True)
    y = x * 1.0
    y.relu_()
    assert y.grad_fn.name() == "ReluBackward0"
    _same(y.detach().numpy(), RELU)
    y.backward(adjit.tensor(np.array(CT, dtype)))
    _same(x.grad.numpy(), GRAD)


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_arrays_and_no_grad(dtype) -> None:
    _same(F.relu(np.array(X, dtype)), RELU)
    with adjit.no_grad():
        _same(adjit.tensor(np.array(X, dtype)).relu().numpy(), RELU)
    ints = adjit.tensor(np.array([-2, 0, 3]))
    assert ints.relu().numpy().tolist() == [0, 0, 3] and ints.relu().dtype == ints.dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_traced_and_compiled(dtype) -> None:
    """Inside @adjit.grad the value and the gradient come from the generated numba code."""
    x, ct = np.array(X, dtype), np.array(CT, dtype)

    def f(v):
        return F.relu(v)

    _same(adjit.jit(f)(x), RELU)
    value, pullback = adjit.vjp(f, x)
    _same(value, RELU)
    _same(pullback(ct)[0], GRAD)
    # a loss: the mask and the value in one fused loop
    g = adjit.grad(lambda v: np.sum(F.relu(v) * np.asarray(CT, dtype)))(x)
    _same(g, GRAD)


def test_relu_is_one_fused_elementwise_op() -> None:
    """relu is one elementwise equation, fused with the bias add in the loop after the
    product, and its backward reads the result (out <= 0), not the input."""
    w = np.ones((3, 4), np.float32)
    b = np.ones(3, np.float32)
    x = np.ones((5, 4), np.float32)
    ins = adjit.inspect(adjit.grad(lambda w, b: np.sum(F.relu(x @ w.T + b)), argnums=(0, 1)),
                        w, b)
    text = str(ins.traced)
    assert text.count(" relu ") == 1 and "select" not in text and "maximum" not in text
    plan = str(ins.plan).splitlines()
    fused = [ln for ln in plan if ln.startswith("k") and "loop" in ln]
    reads = [ln.split(" reads ")[1].split(" writes ")[0].split(", ") for ln in fused]
    assert len(fused) == 1 and "b" in reads[0]  # forward, mask and bias gradient in one loop
    assert "relu" in ins.source and "np.where" not in ins.source


def test_jvp_vmap_and_hessian() -> None:
    x = np.array([1.5, -1.0, 0.0, -0.0, 2.0])
    t = np.array([1.0, 2.0, 3.0, 4.0, NAN])
    out, tan = adjit.jvp(F.relu, (x,), (t,))
    _same(out, [1.5, 0.0, 0.0, -0.0, 2.0])
    _same(tan, [1.0, 0.0, 0.0, 0.0, NAN])
    batch = np.array([X, X[::-1]])
    _same(adjit.vmap(F.relu)(batch), [RELU, RELU[::-1]])
    # relu'' is 0: the Hessian of sum(relu(x)**3) is diag(6 relu(x)) (6x where x > 0)
    xs = np.array([1.5, -1.0, 2.0])
    h = adjit.hessian(lambda v: np.sum(F.relu(v) ** 3))(xs)
    np.testing.assert_allclose(h, np.diag([9.0, 0.0, 12.0]))


def test_np_maximum_keeps_numpys_semantics() -> None:
    """np.maximum(x, 0) is not relu: its derivative splits the tie at 0 (JAX's convention)."""
    g = adjit.grad(lambda v: np.sum(np.maximum(v, 0.0)))(np.array([0.0, 1.0, -1.0]))
    np.testing.assert_array_equal(g, [0.5, 1.0, 0.0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_against_torch(dtype) -> None:
    torch = pytest.importorskip("torch")
    tx = torch.tensor(np.array(X, dtype), requires_grad=True)
    ty = torch.relu(tx)
    ty.backward(torch.tensor(np.array(CT, dtype)))
    _same(ty.detach().numpy(), RELU)
    _same(tx.grad.numpy(), GRAD)
    assert type(ty.grad_fn).__name__ == "ReluBackward0"
