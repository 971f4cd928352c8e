"""Training loops: the recorded graph of a step does not change, so its backward compiles
once for the whole loop, and the model learns."""
from __future__ import annotations

import numpy as np

import adjit
import adjit.nn.functional as F
from adjit import nn, optim


def test_mlp_100_steps_compile_one_backward() -> None:
    adjit.manual_seed(0)
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    # a learnable task: the class is which of 10 blocks of pixels is brightest
    x = rng.standard_normal((64, 784)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    for i, c in enumerate(y):
        x[i, c * 78:(c + 1) * 78] += 1.0
    data, labels = adjit.tensor(x), adjit.tensor(y)
    before = adjit.autograd.compilations()
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = F.cross_entropy(model(data), labels)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert adjit.autograd.compilations() - before == 1
    assert losses[-1] < 0.05 * losses[0]


def test_adam_mlp_learns() -> None:
    adjit.manual_seed(1)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32))[:, None] ** 2
    model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))
    opt = optim.Adam(model.parameters(), lr=0.02)
    data, target = adjit.tensor(x), adjit.tensor(y)
    first = None
    for _ in range(200):
        opt.zero_grad()
        loss = F.mse_loss(model(data), target)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.1 * first
