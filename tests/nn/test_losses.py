"""cross_entropy and nll_loss with PyTorch's options (per-class weight, ignore_index,
label_smoothing, class-probability targets, extra dimensions): values and gradients
against a per-sample loop written from PyTorch's documented formulas, and against PyTorch
itself when it is installed."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import adjit
import adjit.nn.functional as F
from adjit.tracer import nn_functional as nf

RNG = np.random.default_rng(3)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def reference(x, t, weight, ignore, smoothing, reduction):
    """PyTorch's documentation, one sample at a time: l_n = -w[t_n] logp[n, t_n] mixed with
    the smoothing term e/C sum_c -w_c logp[n, c]; 'mean' divides by sum_n w[t_n] over kept n.
    Probability targets: -sum_c w_c t'_c logp_c with t' = t (1 - e) + e/C, mean over n."""
    logp = np.moveaxis(_log_softmax(x), 1, -1).reshape(-1, x.shape[1])
    c = x.shape[1]
    w = np.ones(c) if weight is None else weight
    if t.dtype.kind == "f":
        probs = np.moveaxis(t, 1, -1).reshape(-1, c) * (1 - smoothing) + smoothing / c
        losses = np.array([-(w * p * lp).sum() for p, lp in zip(probs, logp, strict=True)])
        denom = len(losses)
    else:
        losses, denom = [], 0.0
        for tn, lp in zip(t.reshape(-1), logp, strict=True):
            if tn == ignore:
                losses.append(0.0)
                continue
            losses.append((1 - smoothing) * -w[tn] * lp[tn] + smoothing / c * -(w * lp).sum())
            denom += w[tn]
        losses = np.array(losses)
    if reduction == "mean":
        return losses.sum() / denom
    if reduction == "sum":
        return losses.sum()
    return losses.reshape((x.shape[0],) + x.shape[2:])


CASES = [c for c in itertools.product([(6, 4), (3, 4, 5)], ["mean", "sum", "none"],
                                      [False, True], [0.0, 0.2], [-100, 2], [False, True])
         if not (c[5] and c[4] != -100)]  # (ignore_index applies to class indices)
# gradients compile a backward per case: a few cases that together cover every option
GRAD_CASES = [((6, 4), "mean", True, 0.2, 2, False), ((3, 4, 5), "mean", False, 0.0, -100, False),
              ((3, 4, 5), "sum", True, 0.2, -100, True), ((6, 4), "none", True, 0.0, 2, False)]


def _inputs(shape, ignore, probs):
    x = RNG.normal(size=shape)
    c = shape[1]
    tshape = (shape[0],) + shape[2:]
    if probs:
        p = RNG.dirichlet(np.ones(c), size=int(np.prod(tshape))).reshape(tshape + (c,))
        return x, np.moveaxis(p, -1, 1)
    t = RNG.integers(0, c, tshape)
    t.flat[1] = ignore  # one ignored sample
    t.flat[2] = 2  # one sample of the class ignore_index=2 names
    return x, t


@pytest.mark.parametrize("shape,reduction,weighted,smoothing,ignore,probs", CASES)
def test_cross_entropy_values_match_the_formula(shape, reduction, weighted, smoothing, ignore,
                                                probs) -> None:
    x, t = _inputs(shape, ignore, probs)
    w = RNG.uniform(0.5, 2, shape[1]) if weighted else None
    got = F.cross_entropy(adjit.tensor(x), adjit.tensor(t),
                          weight=None if w is None else adjit.tensor(w), reduction=reduction,
                          ignore_index=ignore, label_smoothing=smoothing)
    np.testing.assert_allclose(got.numpy(), reference(x, t, w, ignore, smoothing, reduction),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape,reduction,weighted,smoothing,ignore,probs", GRAD_CASES)
def test_cross_entropy_gradients(shape, reduction, weighted, smoothing, ignore, probs) -> None:
    x, t = _inputs(shape, ignore, probs)
    w = RNG.uniform(0.5, 2, shape[1]) if weighted else None
    kw = dict(reduction=reduction, ignore_index=ignore, label_smoothing=smoothing)
    xa = adjit.tensor(x, requires_grad=True)
    got = F.cross_entropy(xa, adjit.tensor(t), weight=None if w is None else adjit.tensor(w), **kw)
    np.testing.assert_allclose(got.detach().numpy(),
                               reference(x, t, w, ignore, smoothing, reduction), rtol=1e-12,
                               atol=1e-14)
    got.sum().backward()
    # the same function traced and compiled: the gradient equals the recorded one
    g = adjit.grad(lambda x: np.sum(nf.cross_entropy(x, t, weight=w, **kw)))(x)
    np.testing.assert_allclose(xa.grad.numpy(), g, rtol=1e-12, atol=1e-14)
    eps = 1e-6
    d = RNG.normal(size=x.shape)
    fd = (np.sum(reference(x + eps * d, t, w, ignore, smoothing, reduction))
          - np.sum(reference(x - eps * d, t, w, ignore, smoothing, reduction))) / (2 * eps)
    np.testing.assert_allclose(np.sum(g * d), fd, rtol=1e-6, atol=1e-8)


def test_nll_loss_and_the_loss_modules() -> None:
    x, t = _inputs((6, 4), 2, False)
    w = RNG.uniform(0.5, 2, 4)
    want = reference(x, t, w, 2, 0.0, "mean")
    got = F.nll_loss(F.log_softmax(adjit.tensor(x), dim=1), adjit.tensor(t),
                     weight=adjit.tensor(w), ignore_index=2)
    np.testing.assert_allclose(got.item(), want, rtol=1e-12)
    m = adjit.nn.CrossEntropyLoss(weight=adjit.tensor(w), ignore_index=2, label_smoothing=0.1)
    np.testing.assert_allclose(m(adjit.tensor(x), adjit.tensor(t)).item(),
                               reference(x, t, w, 2, 0.1, "mean"), rtol=1e-12)
    assert "weight" in dict(m.named_buffers())
    with pytest.raises(ValueError, match="one entry per class"):
        F.cross_entropy(adjit.tensor(x), adjit.tensor(t), weight=adjit.tensor(w[:3]))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(adjit.tensor(x), adjit.tensor(t), label_smoothing=1.5)


@pytest.mark.parametrize("shape,reduction,weighted,smoothing,ignore,probs", CASES[::4])
def test_cross_entropy_matches_pytorch(shape, reduction, weighted, smoothing, ignore,
                                       probs) -> None:
    torch = pytest.importorskip("torch")
    x, t = _inputs(shape, ignore, probs)
    w = RNG.uniform(0.5, 2, shape[1]) if weighted else None
    kw = dict(reduction=reduction, ignore_index=ignore, label_smoothing=smoothing)
    xt = torch.tensor(x, requires_grad=True)
    want = torch.nn.functional.cross_entropy(
        xt, torch.tensor(t), weight=None if w is None else torch.tensor(w), **kw)
    want.sum().backward()
    xa = adjit.tensor(x, requires_grad=True)
    got = F.cross_entropy(xa, adjit.tensor(t), weight=None if w is None else adjit.tensor(w), **kw)
    got.sum().backward()
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12,
                               atol=1e-14)
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-14)
