"""adjit.nn.functional and the layers: values and gradients against numpy formulas and, when
torch is installed, against torch.nn; one recorded node per layer with PyTorch's names; the
same functions on numpy arrays and inside @adjit.grad."""
from __future__ import annotations

import numpy as np
import pytest

import adjit
import adjit.nn.functional as F
from adjit import nn

RNG = np.random.default_rng(7)


def _t(a, grad=False):
    return adjit.tensor(np.array(a), requires_grad=grad)


def _np(t):
    return t.detach().numpy()


def test_backward_names_are_pytorchs() -> None:
    x = _t(RNG.standard_normal((4, 3)).astype(np.float32), grad=True)
    lin = nn.Linear(3, 5)
    y = lin(x)
    assert y.grad_fn.name() == "AddmmBackward0"
    assert F.linear(x, lin.weight).grad_fn.name() == "MmBackward0"
    assert F.relu(y).grad_fn.name() == "ReluBackward0"
    assert F.softmax(y, 1).grad_fn.name() == "SoftmaxBackward0"
    assert F.log_softmax(y, 1).grad_fn.name() == "LogSoftmaxBackward0"
    assert F.cross_entropy(y, _t([0, 1, 2, 4])).grad_fn.name() == "NllLossBackward0"
    assert F.mse_loss(y, _t(np.zeros((4, 5), np.float32))).grad_fn.name() == "MseLossBackward0"
    assert nn.Tanh()(y).grad_fn.name() == "TanhBackward0"
    assert nn.Sigmoid()(y).grad_fn.name() == "SigmoidBackward0"
    # one node per layer: the linear's inputs are x and its two parameters
    assert [f.name() if f else None for f, _ in y.grad_fn.next_functions] == [
        "AccumulateGrad", "AccumulateGrad", "AccumulateGrad"]


def test_linear_relu_values_and_grads() -> None:
    x = RNG.standard_normal((6, 4)).astype(np.float32)
    lin = nn.Linear(4, 3)
    xt = _t(x, grad=True)
    out = F.relu(lin(xt))
    w, b = _np(lin.weight), _np(lin.bias)
    pre = x @ w.T + b
    np.testing.assert_allclose(_np(out), np.maximum(pre, 0), rtol=1e-6, atol=1e-6)
    out.sum().backward()
    mask = (pre > 0).astype(np.float32)
    np.testing.assert_allclose(lin.weight.grad.numpy(), mask.T @ x, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(lin.bias.grad.numpy(), mask.sum(0), rtol=1e-6)
    np.testing.assert_allclose(xt.grad.numpy(), mask @ w, rtol=1e-5, atol=1e-6)


def test_cross_entropy_by_hand() -> None:
    logits = RNG.standard_normal((5, 4))
    target = np.array([0, 3, 1, 1, 2])
    lt = _t(logits, grad=True)
    loss = F.cross_entropy(lt, _t(target))
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    assert loss.item() == pytest.approx(-logp[np.arange(5), target].mean(), rel=1e-12)
    loss.backward()
    expected = np.exp(logp)
    expected[np.arange(5), target] -= 1
    np.testing.assert_allclose(lt.grad.numpy(), expected / 5, rtol=1e-10, atol=1e-12)
    total = F.cross_entropy(_t(logits), _t(target), reduction="sum")
    assert total.item() == pytest.approx(-logp[np.arange(5), target].sum())
    each = nn.CrossEntropyLoss(reduction="none")(_t(logits), _t(target))
    np.testing.assert_allclose(_np(each), -logp[np.arange(5), target])


def test_mse_and_softmax_by_hand() -> None:
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    at = _t(a, grad=True)
    loss = nn.MSELoss()(at, _t(b))
    assert loss.item() == pytest.approx(((a - b) ** 2).mean())
    loss.backward()
    np.testing.assert_allclose(at.grad.numpy(), 2 * (a - b) / a.size)
    s = nn.Softmax(dim=1)(_t(a))
    np.testing.assert_allclose(_np(s), np.exp(a) / np.exp(a).sum(1, keepdims=True))
    np.testing.assert_allclose(_np(nn.LogSoftmax(1)(_t(a))), np.log(_np(s)), atol=1e-12)


def test_batch_norm_1d_training_and_eval() -> None:
    x = RNG.standard_normal((8, 3)) * 2 + 1
    bn = nn.BatchNorm1d(3).double()
    xt = _t(x, grad=True)
    y = bn(xt)
    mean, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(_np(y), (x - mean) / np.sqrt(var + 1e-5), rtol=1e-10)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * mean, rtol=1e-10)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * x.var(0, ddof=1))
    assert bn.num_batches_tracked.item() == 1
    assert not bn.running_mean.requires_grad and bn.running_mean.grad_fn is None
    (y * y).sum().backward()  # normalized output: d/dx sum(y^2) is 0 up to eps
    assert np.abs(xt.grad.numpy()).max() < 1e-3
    bn.eval()
    z = bn(_t(x))
    np.testing.assert_allclose(
        _np(z), (x - bn.running_mean.numpy()) / np.sqrt(bn.running_var.numpy() + 1e-5))
    assert bn.num_batches_tracked.item() == 1


def test_functional_on_numpy_arrays() -> None:
    x = RNG.standard_normal((4, 3))
    w = RNG.standard_normal((2, 3))
    out = F.linear(x, w)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, x @ w.T)
    assert isinstance(F.relu(x), np.ndarray)
    loss = F.cross_entropy(x, np.array([0, 1, 2, 0]))
    assert np.ndim(loss) == 0


def test_functional_inside_grad() -> None:
    x = RNG.standard_normal((4, 3))
    target = np.array([0, 2, 1, 1])

    @adjit.grad
    def loss(w):
        return F.cross_entropy(F.relu(F.linear(x, w)), target)

    w = RNG.standard_normal((5, 3))
    g = loss(w)
    wt = _t(w, grad=True)
    F.cross_entropy(F.relu(F.linear(_t(x), wt)), _t(target)).backward()
    np.testing.assert_allclose(g, wt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_no_grad_records_nothing() -> None:
    lin = nn.Linear(3, 2)
    with adjit.no_grad():
        y = lin(adjit.randn(4, 3))
    assert y.grad_fn is None and not y.requires_grad


def test_dropout_train_and_eval() -> None:
    adjit.manual_seed(0)
    x = adjit.ones(1000, requires_grad=True)
    drop = nn.Dropout(0.25)
    y = drop(x)
    kept = _np(y) != 0
    assert 0.6 < kept.mean() < 0.9
    np.testing.assert_allclose(_np(y)[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), _np(y))
    assert drop.eval()(x) is x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_against_torch(dtype) -> None:
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((6, 5)).astype(dtype)
    target = RNG.integers(0, 4, 6)
    ours = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 7), nn.Sigmoid(),
                         nn.BatchNorm1d(7), nn.ReLU(), nn.Linear(7, 4))
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 7),
                                 torch.nn.Sigmoid(), torch.nn.BatchNorm1d(7),
                                 torch.nn.ReLU(), torch.nn.Linear(7, 4))
    if dtype == np.float64:
        ours.double()
        theirs.double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    loss = F.cross_entropy(ours(_t(x)), _t(target))
    tloss = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(target))
    loss.backward()
    tloss.backward()
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert loss.item() == pytest.approx(tloss.item(), rel=tol)
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters(),
                                      strict=True):
        assert name == tname
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=tol * 10,
                                   atol=tol, err_msg=name)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=tol,
                                   atol=tol, err_msg=key)
