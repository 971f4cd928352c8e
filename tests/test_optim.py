"""adjit.optim: PyTorch's update formulas, checked by hand and, when torch is installed,
step by step against torch.optim on the same gradients."""
from __future__ import annotations

import math

import numpy as np
import pytest

import adjit
from adjit import nn, optim


def _param(values, dtype=np.float64):
    return nn.Parameter(np.array(values, dtype))


def _set_grad(p, g):
    p.grad = adjit.tensor(np.array(g, p.dtype))


def test_sgd_plain_by_hand() -> None:
    p = _param([1.0, 2.0])
    opt = optim.SGD([p], lr=0.1)
    _set_grad(p, [0.5, -1.0])
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(), [0.95, 2.1])


def test_sgd_momentum_by_hand() -> None:
    """buf_1 = g_1; buf_t = m * buf_{t-1} + (1 - dampening) * g_t; p -= lr * buf."""
    p = _param([1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1)
    _set_grad(p, [1.0])
    opt.step()  # g = 1 + 0.1 * 1 = 1.1; buf = 1.1; p = 1 - 0.11
    np.testing.assert_allclose(p.detach().numpy(), [0.89])
    _set_grad(p, [1.0])
    opt.step()  # g = 1 + 0.089 = 1.089; buf = 0.99 + 0.5445 = 1.5345; p = 0.89 - 0.15345
    np.testing.assert_allclose(p.detach().numpy(), [0.89 - 0.15345])
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"].numpy(), [1.5345])


def test_sgd_nesterov_by_hand() -> None:
    p = _param([0.0])
    opt = optim.SGD([p], lr=1.0, momentum=0.5, nesterov=True)
    _set_grad(p, [1.0])
    opt.step()  # buf = 1; step = g + m * buf = 1.5
    np.testing.assert_allclose(p.detach().numpy(), [-1.5])
    _set_grad(p, [1.0])
    opt.step()  # buf = 0.5 + 1 = 1.5; step = 1 + 0.75
    np.testing.assert_allclose(p.detach().numpy(), [-3.25])


def test_adam_by_hand() -> None:
    b1, b2, lr, eps = 0.9, 0.999, 0.01, 1e-8
    p = _param([1.0, -2.0])
    opt = optim.Adam([p], lr=lr)
    expected = np.array([1.0, -2.0])
    m = v = np.zeros(2)
    for t, g in enumerate([[0.5, 1.0], [-0.25, 2.0], [1.0, 1.0]], start=1):
        g = np.array(g)
        _set_grad(p, g)
        opt.step()
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        denom = np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps
        expected = expected - lr / (1 - b1 ** t) * m / denom
        np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-12)
    assert opt.state[p]["step"] == 3


def test_adam_amsgrad_and_weight_decay_by_hand() -> None:
    p = _param([1.0])
    opt = optim.Adam([p], lr=0.1, weight_decay=0.5, amsgrad=True)
    _set_grad(p, [2.0])
    opt.step()  # g = 2.5; m = 0.25; v = 0.00625; first step moves by lr * sign
    np.testing.assert_allclose(p.detach().numpy(), [0.9], rtol=1e-6)
    _set_grad(p, [0.0])
    opt.step()  # g = 0.45: v = 0.999 * 0.00625 + 0.001 * 0.2025 rises
    np.testing.assert_allclose(opt.state[p]["max_exp_avg_sq"].numpy(), [0.00644625])
    q = _param([1.0])
    opt = optim.Adam([q], lr=0.1, amsgrad=True)
    for g in (2.0, 0.0):
        _set_grad(q, [g])
        opt.step()  # v = 0.004, then 0.003996: the maximum keeps 0.004
    np.testing.assert_allclose(opt.state[q]["exp_avg_sq"].numpy(), [0.003996])
    np.testing.assert_allclose(opt.state[q]["max_exp_avg_sq"].numpy(), [0.004])


def test_adamw_decouples_weight_decay() -> None:
    p = _param([2.0])
    opt = optim.AdamW([p], lr=0.1, weight_decay=0.5)
    _set_grad(p, [0.0])
    opt.step()  # zero gradient: only the decay, p *= 1 - lr * wd
    np.testing.assert_allclose(p.detach().numpy(), [2.0 * 0.95])


def test_param_groups_and_skipping_parameters_without_grad() -> None:
    a, b, c = _param([1.0]), _param([1.0]), _param([1.0])
    opt = optim.SGD([{"params": [a]}, {"params": [b, c], "lr": 1.0}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 1.0]
    assert opt.param_groups[0]["momentum"] == 0
    _set_grad(a, [1.0])
    _set_grad(b, [1.0])
    opt.step()
    assert a.item() == pytest.approx(0.9) and b.item() == pytest.approx(0.0)
    assert c.item() == 1.0 and c not in opt.state
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    _set_grad(a, [3.0])
    opt.zero_grad(set_to_none=False)
    assert a.grad.numpy().tolist() == [0.0]


def test_optimizer_errors() -> None:
    p = _param([1.0])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(ValueError, match="Invalid beta"):
        optim.Adam([p], betas=(1.0, 0.9))


def test_step_bumps_versions_so_stale_graphs_are_caught() -> None:
    """A graph recorded before the step and backpropagated after it reports the change."""
    w = nn.Parameter(adjit.ones(3))
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    loss = (w * w).sum()
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_state_dict_round_trip() -> None:
    p = _param([1.0, 2.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    _set_grad(p, [1.0, 1.0])
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0]
    q = _param(p.detach().numpy())
    opt2 = optim.SGD([q], lr=0.5, momentum=0.9)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.1
    for o, t in ((opt, p), (opt2, q)):
        _set_grad(t, [1.0, 1.0])
        o.step()
    np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_step_with_closure_returns_the_loss() -> None:
    w = nn.Parameter(adjit.ones(2))
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 2.0
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 0.8])


CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9), eps=1e-3)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("AdamW", dict(lr=0.01)),
]


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=lambda c: str(c))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_against_torch_step_by_step(name, kwargs, dtype) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    shapes = [(5, 3), (3,)]
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(6)]
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in start]
    ap = [nn.Parameter(a.copy()) for a in start]
    topt = getattr(torch.optim, name)(tp, foreach=False, **kwargs)
    aopt = getattr(optim, name)(ap, **kwargs)
    # float32: torch's kernels may fuse a multiply-add (one rounding fewer)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    for step in grads:
        for t, a, g in zip(tp, ap, step, strict=True):
            t.grad = torch.tensor(g)
            a.grad = adjit.tensor(g)
        topt.step()
        aopt.step()
        for t, a in zip(tp, ap, strict=True):
            np.testing.assert_allclose(a.detach().numpy(), t.detach().numpy(), rtol=tol,
                                       atol=tol)
