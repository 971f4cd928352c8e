"""Modules inside traced code: a model captured by an @adjit.grad function (a global or a
closure variable) is traced with its parameters read at every call, so the compiled
gradient equals the recorded one and never goes stale."""
from __future__ import annotations

import numpy as np

import adjit
import adjit.nn.functional as F
from adjit import nn

adjit.manual_seed(3)
MODEL = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(),
                      nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * 2 * 2, 3))
X = np.random.default_rng(0).random((2, 1, 4, 4)).astype(np.float32)
Y = np.array([0, 2])


@adjit.grad
def grad_x(x):
    return F.cross_entropy(MODEL(x), Y)


def recorded_grad_x(model=MODEL):
    xt = adjit.tensor(X, requires_grad=True)
    F.cross_entropy(model(xt), adjit.tensor(Y)).backward()
    return xt.grad.numpy()


def test_captured_global_model_matches_recorded() -> None:
    np.testing.assert_allclose(grad_x(X), recorded_grad_x(), rtol=1e-5, atol=1e-7)


def test_captured_parameters_are_read_at_every_call() -> None:
    before = grad_x(X)
    with adjit.no_grad():
        MODEL[5].weight.mul_(2)  # in place
    np.testing.assert_allclose(grad_x(X), recorded_grad_x(), rtol=1e-5, atol=1e-7)
    MODEL[5].weight.data = MODEL[5].weight.data * 0.5  # a new array
    np.testing.assert_allclose(grad_x(X), before, rtol=1e-5, atol=1e-7)


def test_training_batch_norm_in_a_trace_leaves_running_stats() -> None:
    bn = MODEL[1]
    stats = bn.running_mean.numpy().copy(), bn.num_batches_tracked.item()
    for _ in range(3):
        grad_x(X)
    assert bn.running_mean.numpy().tolist() == stats[0].tolist()
    assert bn.num_batches_tracked.item() == stats[1]


def test_eval_mode_retraces_and_uses_running_stats() -> None:
    MODEL.eval()
    try:
        np.testing.assert_allclose(grad_x(X), recorded_grad_x(), rtol=1e-5, atol=1e-7)
    finally:
        MODEL.train()
    np.testing.assert_allclose(grad_x(X), recorded_grad_x(), rtol=1e-5, atol=1e-7)


def test_closure_model_and_parameter_gradients_as_arguments() -> None:
    lin = nn.Linear(3, 2)
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)

    def loss(w, b):
        return (F.linear(x, w, b) ** 2).sum()

    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    gw, gb = adjit.grad(loss, argnums=(0, 1))(w, b)
    (lin(adjit.tensor(x)) ** 2).sum().backward()
    np.testing.assert_allclose(gw, lin.weight.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(gb, lin.bias.grad.numpy(), rtol=1e-5)

    @adjit.grad
    def through_closure(x):
        return (lin(x) ** 2).sum()

    xt = adjit.tensor(x, requires_grad=True)
    (lin(xt) ** 2).sum().backward()
    np.testing.assert_allclose(through_closure(x), xt.grad.numpy(), rtol=1e-5)
