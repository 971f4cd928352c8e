"""adjit.tracer.nn_functional: the functions on numpy arrays and traced, compiled and
differentiated, against finite differences and (when installed) torch.nn.functional.

Each compiled function here is compiled once (numba compiles dominate the run time): a
small network in float64 against finite differences; the resnet18 stem (7x7 stride 2
padding 3, batch norm, ReLU, 3x3 stride 2 max pooling) through to a cross-entropy loss in
float32 and float64 against torch; a Hessian-vector product; max pooling over ties.
"""
from __future__ import annotations

import adjit
import numpy as np
import pytest
from adjit.tracer import nn_functional as F
from check import check_grads

RNG = np.random.default_rng(7)


def _small_net(x, w1, b1, gamma, beta, w2, fc_w, fc_b):
    y = F.conv2d(x, w1, b1, stride=2, padding=1)
    y, _, _ = F.batch_norm(y, None, None, gamma, beta, training=True)
    y = F.max_pool2d(F.relu(y), 3, stride=2, padding=1)
    y = F.conv2d(y, w2, padding=1)
    y = F.avg_pool2d(np.tanh(y), 2, padding=1, count_include_pad=False)
    y = F.adaptive_avg_pool2d(y, 1).reshape(y.shape[0], -1)
    logits = F.linear(y, fc_w, fc_b)
    return np.sum(F.log_softmax(logits) * F.softmax(logits * 0.5)) + F.mse_loss(logits, 0.5)


def test_small_network_against_finite_differences() -> None:
    shapes = [(2, 2, 8, 7), (3, 2, 3, 3), (3,), (3,), (3,), (4, 3, 3, 3), (5, 4), (5,)]
    args = [RNG.standard_normal(s) for s in shapes]
    args[3] = 1 + 0.1 * args[3]
    nums = tuple(range(len(args)))
    check_grads(adjit.grad(_small_net, argnums=nums), _small_net, args, argnums=nums)


def test_numpy_path_matches_traced_values() -> None:
    shapes = [(2, 2, 8, 7), (3, 2, 3, 3), (3,), (3,), (3,), (4, 3, 3, 3), (5, 4), (5,)]
    args = [RNG.standard_normal(s) for s in shapes]
    np.testing.assert_allclose(adjit.jit(_small_net)(*args), _small_net(*args), rtol=1e-12)


def test_errors_say_what_is_unsupported() -> None:
    x = np.zeros((1, 3, 8, 8))
    with pytest.raises(NotImplementedError, match="dilation"):
        F.conv2d(x, np.zeros((2, 3, 3, 3)), dilation=2)
    with pytest.raises(NotImplementedError, match="ceil_mode"):
        F.max_pool2d(x, 2, ceil_mode=True)
    with pytest.raises(ValueError, match="4-d"):
        F.conv2d(np.zeros((3, 8, 8)), np.zeros((2, 3, 3, 3)))
    with pytest.raises(adjit.ShapeError, match="3 channels, the weight expects 2"):
        adjit.jit(lambda x, w: F.conv2d(x, w))(x, np.zeros((2, 2, 3, 3)))
    with pytest.raises(adjit.ShapeError, match="more than half the kernel"):
        adjit.jit(lambda x: F.max_pool2d(x, 2, padding=2))(x)
    with pytest.raises(IndexError, match="outside"):
        F.cross_entropy(np.zeros((2, 3)), np.array([0, 3]))


# ---- against torch ----------------------------------------------------------------------------

def _torch():
    return pytest.importorskip("torch")


def _t(a, grad=False):
    torch = _torch()
    return torch.tensor(np.asarray(a), requires_grad=grad)


FORWARD = {
    "conv2d": (lambda m, x, w, b: m.conv2d(x, w, b, stride=2, padding=3), [(2, 3, 13, 12),
                                                                          (4, 3, 7, 7), (4,)]),
    "conv2d-s1x2-p0x1": (lambda m, x, w: m.conv2d(x, w, stride=(1, 2), padding=(0, 1)),
                         [(1, 2, 6, 7), (3, 2, 2, 3)]),
    "max_pool2d": (lambda m, x: m.max_pool2d(x, 3, 2, 1), [(2, 3, 9, 8)]),
    "avg_pool2d": (lambda m, x: m.avg_pool2d(x, (3, 2), (2, 1), (1, 1)), [(2, 3, 9, 8)]),
    "avg_pool2d-exclude-pad": (lambda m, x: m.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
                               [(2, 3, 9, 8)]),
    "adaptive_avg_pool2d": (lambda m, x: m.adaptive_avg_pool2d(x, 1), [(2, 3, 5, 4)]),
    "adaptive_avg_pool2d-2": (lambda m, x: m.adaptive_avg_pool2d(x, 2), [(2, 3, 6, 4)]),
    "relu": (lambda m, x: m.relu(x), [(3, 4)]),
    "linear": (lambda m, x, w, b: m.linear(x, w, b), [(3, 4), (5, 4), (5,)]),
    "softmax": (lambda m, x: m.softmax(x, dim=1), [(3, 4, 2)]),
    "log_softmax": (lambda m, x: m.log_softmax(x, dim=-1), [(3, 4)]),
    "mse_loss": (lambda m, x, y: m.mse_loss(x, y), [(3, 4), (3, 4)]),
    "mse_loss-sum": (lambda m, x, y: m.mse_loss(x, y, reduction="sum"), [(3, 4), (3, 4)]),
}


@pytest.mark.parametrize("name", sorted(FORWARD))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_forward_matches_torch(name: str, dtype: type) -> None:
    torch = _torch()
    fn, shapes = FORWARD[name]
    args = [RNG.standard_normal(s).astype(dtype) for s in shapes]
    got = fn(F, *args)
    want = fn(torch.nn.functional, *[_t(a) for a in args]).numpy()
    assert got.dtype == want.dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_cross_entropy_and_batch_norm_match_torch() -> None:
    torch = _torch()
    tf = torch.nn.functional
    logits = RNG.standard_normal((5, 4))
    target = np.array([0, 3, -100, 1, 3])
    for reduction in ("mean", "sum", "none"):
        np.testing.assert_allclose(F.cross_entropy(logits, target, reduction=reduction),
                                   tf.cross_entropy(_t(logits), _t(target), reduction=reduction),
                                   rtol=1e-12)
    probs = F.softmax(RNG.standard_normal((5, 4)))
    np.testing.assert_allclose(F.cross_entropy(logits, probs),
                               tf.cross_entropy(_t(logits), _t(probs)), rtol=1e-12)
    x = RNG.standard_normal((4, 3, 5, 6))
    rm, rv = RNG.standard_normal(3), 1 + RNG.random(3)
    w, b = RNG.standard_normal(3), RNG.standard_normal(3)
    for training in (True, False):
        trm, trv = _t(rm.copy()), _t(rv.copy())
        want = tf.batch_norm(_t(x), trm, trv, _t(w), _t(b), training=training, momentum=0.2,
                             eps=1e-3)
        y, new_rm, new_rv = F.batch_norm(x, rm, rv, w, b, training=training, momentum=0.2,
                                         eps=1e-3)
        np.testing.assert_allclose(y, want.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(new_rm, trm.numpy(), rtol=1e-12)
        np.testing.assert_allclose(new_rv, trv.numpy(), rtol=1e-12)


def _stem(m, x, w1, gamma, beta, w2, b2, fc_w, fc_b, target):
    """resnet18's stem, one 3x3 convolution, global pooling, a linear layer, cross-entropy;
    `m` is torch.nn.functional or adjit's (whose batch_norm also returns the statistics)."""
    y = m.conv2d(x, w1, stride=2, padding=3)
    y = m.batch_norm(y, None, None, gamma, beta, training=True)
    y = y[0] if isinstance(y, tuple) else y
    y = m.max_pool2d(m.relu(y), 3, stride=2, padding=1)
    y = m.relu(m.conv2d(y, w2, b2, padding=1))
    y = m.adaptive_avg_pool2d(y, 1).reshape(y.shape[0], -1)
    return m.cross_entropy(m.linear(y, fc_w, fc_b), target)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resnet_stem_gradients_match_torch(dtype: type) -> None:
    torch = _torch()
    shapes = [(2, 3, 32, 32), (8, 3, 7, 7), (8,), (8,), (6, 8, 3, 3), (6,), (10, 6), (10,)]
    args = [(RNG.standard_normal(s) * (0.3 if len(s) > 1 else 1)).astype(dtype)
            for s in shapes]
    args[2] = (1 + 0.1 * args[2]).astype(dtype)
    target = np.array([3, 7])
    nums = tuple(range(len(args)))
    value, grads = adjit.value_and_grad(lambda *a: _stem(F, *a), argnums=nums)(*args, target)
    ts = [_t(a, grad=True) for a in args]
    loss = _stem(torch.nn.functional, *ts, _t(target))
    loss.backward()
    tol = 2e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(value, loss.item(), rtol=tol)
    for i, (g, t) in enumerate(zip(grads, ts, strict=True)):
        assert g.dtype == dtype
        scale = np.abs(t.grad.numpy()).max()
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=tol, atol=tol * scale,
                                   err_msg=f"gradient {i}")


def test_second_derivatives_match_torch() -> None:
    """A Hessian-vector product through conv2d (both operands), batch norm, max and average
    pooling: grad of a function of grad."""
    torch = _torch()
    tf = torch.nn.functional
    x, w = RNG.standard_normal((2, 2, 9, 8)), RNG.standard_normal((3, 2, 3, 3))
    vx, vw = RNG.standard_normal(x.shape), RNG.standard_normal(w.shape)

    def f(m, x, w):
        y = m.conv2d(x, w, stride=2, padding=1)
        y = m.batch_norm(y, None, None, training=True)
        y = y[0] if isinstance(y, tuple) else y
        y = m.avg_pool2d(m.max_pool2d(y * y, 2, 1), 2, 1, 1)
        return (y * y).sum()

    grad_f = adjit.grad(lambda x, w: f(F, x, w), argnums=(0, 1))

    def hvp(x, w):
        gx, gw = grad_f(x, w)
        return np.sum(gx * vx) + np.sum(gw * vw)

    hx, hw = adjit.grad(hvp, argnums=(0, 1))(x, w)
    tx, tw = _t(x, grad=True), _t(w, grad=True)
    gx, gw = torch.autograd.grad(f(tf, tx, tw), (tx, tw), create_graph=True)
    want = torch.autograd.grad((gx * _t(vx)).sum() + (gw * _t(vw)).sum(), (tx, tw))
    for got, t in ((hx, want[0]), (hw, want[1])):
        np.testing.assert_allclose(got, t.numpy(), rtol=1e-9, atol=1e-9 * t.abs().max().item())


def test_max_pool_ties_route_to_the_first_maximum_as_torch() -> None:
    torch = _torch()
    x = RNG.integers(-2, 3, (2, 3, 7, 6)).astype(np.float64)  # many ties in every window
    x[0, 0, :3, :3] = -np.inf
    weights = RNG.standard_normal((2, 3, 4, 3))

    def f(m, x, weights):
        return (m.max_pool2d(x, 3, 2, 1) * weights).sum()

    got = adjit.grad(lambda x: f(F, x, weights))(x)
    tx = _t(x, grad=True)
    f(torch.nn.functional, tx, _t(weights)).backward()
    np.testing.assert_array_equal(got, tx.grad.numpy())
