"""The compiled backward of a recorded graph reads what the eager forward computed (it does
not run the forward again), its cache is hit at every step, and gradients accumulate as in
PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import adjit
from adjit import autograd


def _prims(loss: adjit.Tensor) -> list[str]:
    return [e.prim for e in adjit.inspect(loss).simplified.eqns]


def test_the_backward_does_not_recompute_the_forward_matmul() -> None:
    rng = np.random.default_rng(0)
    x = adjit.tensor(rng.normal(size=(16, 8)).astype(np.float32))
    w1 = adjit.tensor(rng.normal(size=(8, 6)).astype(np.float32), requires_grad=True)
    w2 = adjit.tensor(rng.normal(size=(6, 3)).astype(np.float32), requires_grad=True)
    loss = (np.tanh(x @ w1) @ w2).sum()
    # the backward needs w2's gradient (tanh(x @ w1).T @ ct) and w1's (x.T @ (ct @ w2.T *
    # (1 - t**2))): three products; recomputing the forward would add two more
    assert _prims(loss).count("matmul") == 3
    assert "tanh" not in _prims(loss)  # its output is read, not computed again
    loss.backward()
    t = np.tanh(x.numpy() @ w1.detach().numpy())
    ct = np.ones((16, 3), np.float32)
    np.testing.assert_allclose(w2.grad.numpy(), t.T @ ct, rtol=1e-5)
    np.testing.assert_allclose(w1.grad.numpy(),
                               x.numpy().T @ ((ct @ w2.detach().numpy().T) * (1 - t * t)),
                               rtol=1e-4, atol=1e-5)


def test_a_saved_output_changed_in_place_is_reported() -> None:
    a = adjit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = a.exp()  # exp's backward reads its output
    z = y.sum()
    y.detach().mul_(2)  # shares y's memory and version counter
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_an_output_changed_in_place_after_use_keeps_what_ran() -> None:
    a = adjit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = a.exp()
    z = (y * y).sum()
    y.mul_(3)  # recorded: the node that made y keeps the values it made
    z.backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * np.exp(2 * np.array([1.0, 2.0, 3.0])),
                               rtol=1e-6)


def test_a_training_loop_hits_the_structure_cache() -> None:
    rng = np.random.default_rng(1)
    x = adjit.tensor(rng.normal(size=(8, 5)).astype(np.float32))
    w = adjit.tensor(rng.normal(size=(5, 2)).astype(np.float32), requires_grad=True)
    before = autograd.cache_info()
    for _ in range(10):
        loss = (np.tanh(x @ w) ** 2).mean()
        loss.backward()
        with adjit.no_grad():
            w -= 0.1 * w.grad
        w.grad = None
    after = autograd.cache_info()
    assert after["compilations"] - before["compilations"] <= 1
    # the first step may find it by its text (an earlier test compiled it); the others
    # find it by structure, without building the joined graph
    assert after["structure"] - before["structure"] >= 9
    # another leaf requiring grad is another structure, and another gradient
    x.requires_grad_(True)
    loss = (np.tanh(x @ w) ** 2).mean()
    loss.backward()
    assert x.grad is not None and x.grad.shape == (8, 5)


def test_a_leaf_differentiated_itself_keys_by_its_shape() -> None:
    for n in (3, 4):
        x = adjit.ones(n, requires_grad=True)
        x.backward(adjit.ones(n) * 2)
        assert x.grad.tolist() == [2.0] * n


def test_gradients_accumulate_in_place_as_in_pytorch() -> None:
    w = adjit.tensor([1.0, 2.0], requires_grad=True)
    (w * 3).sum().backward()  # the first backward assigns
    g = w.grad
    (w * w).sum().backward()  # later ones add into the same tensor
    assert w.grad is g and g.tolist() == [5.0, 7.0]
    mine = adjit.zeros(2)
    w.grad = mine  # a .grad the user set and holds
    (w * 3).sum().backward()
    assert w.grad is mine and mine.tolist() == [3.0, 3.0]


def test_accumulating_changes_no_other_array() -> None:
    x = adjit.tensor([1.0, 2.0, 3.0])
    w = adjit.tensor([0.5, 0.5, 0.5], requires_grad=True)
    for _ in range(2):
        (x * w).sum().backward()  # w's gradient is x itself
    assert w.grad.tolist() == [2.0, 4.0, 6.0] and x.tolist() == [1.0, 2.0, 3.0]
    a = adjit.tensor([1.0, 2.0], requires_grad=True)
    b = adjit.tensor([3.0, 4.0], requires_grad=True)
    for _ in range(2):
        (a + b).sum().backward()  # one cotangent for both
    assert a.grad.tolist() == [2.0, 2.0] and b.grad.tolist() == [2.0, 2.0]
    with adjit.no_grad():
        a.grad += 1
    assert b.grad.tolist() == [2.0, 2.0]


def test_recorded_results_are_arrays_of_their_own() -> None:
    """A recorded operation's graph runs through a function written for it (tracer/runner.py):
    results never share memory with the inputs (a reshape, a transpose, an identity)."""
    x = adjit.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    for y in (x.reshape(6), x.T, x[0], +x if hasattr(x, "__pos__") else x * 1):
        assert not np.shares_memory(y.numpy() if not y.requires_grad else y.detach().numpy(),
                                    x.detach().numpy())
    v, i = x.max(dim=1)  # two results, one of them integer
    assert v.grad_fn is not None and i.grad_fn is None and i.tolist() == [2, 2]
    small = adjit.tensor(np.array([1, 2, 3], np.uint8))  # widened to i64 in the graph
    z = (x[1] * small).sum()
    assert z.item() == 3 * 1 + 4 * 2 + 5 * 3
    z.backward()
    assert x.grad.tolist() == [[0, 0, 0], [1, 2, 3]]
