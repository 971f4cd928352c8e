"""PyTorch's top-level functions (tracer/torch_functions.py): `adjit.exp(x)` is `x.exp()`,
`adjit.cat([a, b], dim=1)` numpy's concatenate through the tensors, and so on; values and
gradients against numpy here, and against torch itself when it is installed."""
from __future__ import annotations

import numpy as np
import pytest

import adjit


def _outputs(L, x, y):
    return [L.exp(x), L.log(x), L.sin(x), L.cos(x), L.tanh(x), L.sigmoid(x), L.sqrt(x),
            L.rsqrt(x), L.abs(x - 0.5), L.asin(x), L.acos(x), L.atan(x), L.dot(x[0], y[0]),
            L.matmul(x, y.t()), L.mm(x, y.T), L.sum(x), L.sum(x, dim=1), L.mean(x, 0), L.max(x),
            L.clamp(x, 0.2, 0.7), L.softmax(x, dim=1), L.log_softmax(x, dim=0),
            L.logsumexp(x, dim=1), L.logsumexp(x, 0, keepdim=True), L.cat([x, y], dim=1),
            L.stack([x, y]), L.where(x > 0.5, x, y), L.maximum(x, y), L.minimum(x, y),
            L.pow(x, 3), L.mul(x, y), L.add(x, y, alpha=2), L.masked_fill(x, x > 0.5, 0.0),
            L.reshape(x, (4, 3)), L.flatten(x), L.transpose(x, 0, 1), L.unsqueeze(x, 0),
            L.square(x), L.norm(x)]


def _run(L):
    rng = np.random.default_rng(0)
    x = L.tensor(rng.uniform(0.1, 0.9, (3, 4)), requires_grad=True)
    y = L.tensor(rng.uniform(0.1, 0.9, (3, 4)), requires_grad=True)
    outs = _outputs(L, x, y)
    sum(((o * o).sum() if o.ndim else o * o) for o in outs).backward()
    return [o.detach().numpy() for o in outs], x.grad.numpy(), y.grad.numpy()


def test_functions_are_the_methods() -> None:
    outs, gx, gy = _run(adjit)
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.1, 0.9, (3, 4)), rng.uniform(0.1, 0.9, (3, 4))
    np.testing.assert_allclose(outs[0], np.exp(a))
    np.testing.assert_allclose(outs[7], 1 / np.sqrt(a))
    np.testing.assert_allclose(outs[12], a[0] @ b[0])
    np.testing.assert_allclose(outs[22], np.log(np.exp(a).sum(1)))
    np.testing.assert_allclose(outs[24], np.concatenate([a, b], 1))
    np.testing.assert_allclose(outs[32], np.where(a > 0.5, 0.0, a))
    assert np.isfinite(gx).all() and np.isfinite(gy).all()
    big = adjit.tensor([1000.0, -np.inf], requires_grad=True)  # shifted by its maximum
    adjit.logsumexp(big, 0).backward()
    assert big.grad.tolist() == [1.0, 0.0]


def test_factories_and_dtypes() -> None:
    assert adjit.float == np.float32 and adjit.double == np.float64 and adjit.long == np.int64
    assert adjit.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert adjit.eye(2).dtype == np.float32 and adjit.randint(0, 5, (3,)).dtype == np.int64
    a = np.ones(2)
    t = adjit.from_numpy(a)
    a[0] = 5.0
    assert t.tolist() == [5.0, 1.0] and adjit.is_tensor(t) and not adjit.is_tensor(a)
    assert adjit.as_tensor(t) is t
    x = adjit.tensor([0.0, 1.0, 2.0], requires_grad=True)
    y = 2 * adjit.dot(x, x)  # the tutorial's line, torch. replaced
    y.backward()
    assert x.grad.tolist() == [0.0, 4.0, 8.0]


def test_same_as_torch() -> None:
    torch = pytest.importorskip("torch")
    mine, theirs = _run(adjit), _run(torch)
    for a, b in zip(mine[0], theirs[0], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-9)
    np.testing.assert_allclose(mine[2], theirs[2], rtol=1e-9)


def test_ufunc_named_methods_with_and_without_a_gradient() -> None:
    """`t.floor()`, `t.fmod(u)`, `t.remainder(u)` (numpy's ufunc names, PyTorch's too): on a
    tensor that needs no gradient they raised AttributeError (an ndarray has no such method),
    and a binary one on a tensor that does raised '.mod(): too many positional arguments'."""
    a, b = np.array([7.5, -7.5, 2.25]), np.array([2.0, 2.0, -0.5])
    for rg in (False, True):
        x, y = adjit.tensor(a, requires_grad=rg), adjit.tensor(b)
        np.testing.assert_array_equal(x.floor().detach().numpy(), np.floor(a))
        np.testing.assert_array_equal(x.square().detach().numpy(), a * a)
        np.testing.assert_array_equal(x.fmod(y).detach().numpy(), np.fmod(a, b))
        np.testing.assert_array_equal(x.remainder(y).detach().numpy(), np.remainder(a, b))
        np.testing.assert_array_equal(x.maximum(y).detach().numpy(), np.maximum(a, b))
        q, r = x.divmod(y)
        np.testing.assert_array_equal(q.detach().numpy(), a // b)
        np.testing.assert_array_equal(r.detach().numpy(), a % b)
    x = adjit.tensor(a, requires_grad=True)
    (x.fmod(y) * x.remainder(y)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.fmod(a, b) + np.remainder(a, b), rtol=1e-15)
