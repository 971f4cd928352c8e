"""nn.Module's registration, traversal, modes and state, with PyTorch's names and order."""
from __future__ import annotations

import numpy as np
import pytest

import adjit
from adjit import nn


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.scale = nn.Parameter(adjit.ones(1))
        self.register_buffer("steps", adjit.zeros(()))
        self.head = nn.Sequential(nn.Linear(8, 3), nn.Tanh())
        self.note = "plain attribute"

    def forward(self, x):
        return self.head(self.act(self.fc1(x))) * self.scale


def test_registration_and_names() -> None:
    net = Net()
    # a module's own parameters first, then its children's (PyTorch's order)
    assert [n for n, _ in net.named_parameters()] == [
        "scale", "fc1.weight", "fc1.bias", "head.0.weight", "head.0.bias"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "head"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "head", "head.0",
                                                   "head.1"]
    assert [n for n, _ in net.named_buffers()] == ["steps"]
    assert list(net.state_dict()) == ["scale", "steps", "fc1.weight", "fc1.bias",
                                      "head.0.weight", "head.0.bias"]
    assert net.note == "plain attribute" and "note" in net.__dict__
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert isinstance(net.scale, adjit.Tensor) and net.scale.is_leaf
    assert "Parameter containing" in repr(net.scale)


def test_shared_parameters_counted_once() -> None:
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.named_modules())) == 3


def test_reassignment_and_deletion() -> None:
    net = Net()
    net.fc1 = nn.Linear(4, 8, bias=False)
    assert "fc1.bias" not in dict(net.named_parameters())
    assert net.fc1.bias is None
    with pytest.raises(TypeError, match="nn.Parameter or None expected"):
        net.scale = adjit.ones(1)
    net.scale = None
    assert "scale" not in dict(net.named_parameters())
    del net.head
    assert not hasattr(net, "head")
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        net.missing  # noqa: B018


def test_assigning_before_init_is_an_error() -> None:
    class Bad(nn.Module):
        def __init__(self) -> None:
            self.w = nn.Parameter(adjit.ones(2))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()


def test_train_eval_and_requires_grad() -> None:
    net = Net()
    assert net.training and net.head[0].training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_zero_grad() -> None:
    net = Net()
    net(adjit.randn(2, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_round_trip_tensors_and_arrays() -> None:
    a, b = Net(), Net()
    sd = a.state_dict()
    assert all(not t.requires_grad for t in sd.values())
    assert np.shares_memory(sd["fc1.weight"].numpy(), a.fc1.weight.detach().numpy())
    b.load_state_dict(sd)
    x = adjit.randn(2, 4)
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    c = Net()
    version = c.fc1.weight._version[0]
    result = c.load_state_dict({k: v.numpy() * 2 for k, v in sd.items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(c.fc1.weight.detach().numpy(), 2 * sd["fc1.weight"].numpy())
    assert c.fc1.weight._version[0] > version  # changed in place: the version moves on


def test_load_state_dict_errors() -> None:
    net = Net()
    sd = dict(net.state_dict())
    sd.pop("scale")
    sd["extra"] = np.zeros(2)
    with pytest.raises(RuntimeError, match='Missing key.*"scale"'):
        net.load_state_dict(sd)
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["scale"] and result.unexpected_keys == ["extra"]
    bad = dict(net.state_dict())
    bad["fc1.weight"] = np.zeros((2, 2))
    with pytest.raises(RuntimeError, match="size mismatch for fc1.weight"):
        net.load_state_dict(bad)


def test_sequential_indexing() -> None:
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.Linear)
    assert len(seq) == 3 and [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    head = seq[1:]
    assert isinstance(head, nn.Sequential) and len(head) == 2
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and list(seq._modules) == ["0", "1", "2", "3"]
    with pytest.raises(IndexError):
        seq[4]  # noqa: B018
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    holder = nn.Module()
    holder.layers = ml
    assert len(list(holder.parameters())) == 6


def test_repr_is_pytorchs() -> None:
    seq = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Conv2d(3, 64, 7, 2, 3, bias=False),
                        nn.BatchNorm2d(64), nn.MaxPool2d(3, 2, 1), nn.AdaptiveAvgPool2d((1, 1)))
    assert repr(seq) == (
        "Sequential(\n"
        "  (0): Linear(in_features=784, out_features=512, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)\n"
        "  (3): BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, bias=True, "
        "track_running_stats=True)\n"
        "  (4): MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)\n"
        "  (5): AdaptiveAvgPool2d(output_size=(1, 1))\n"
        ")")


def test_linear_init_bounds_are_pytorchs() -> None:
    adjit.manual_seed(0)
    lin = nn.Linear(400, 30)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    bound = 1 / np.sqrt(400)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.abs(b).max() <= bound
    assert w.dtype == np.float32
    conv = nn.Conv2d(3, 8, 3)
    cb = 1 / np.sqrt(3 * 9)
    assert np.abs(conv.weight.detach().numpy()).max() <= cb


def test_module_float64() -> None:
    lin = nn.Linear(3, 2).double()
    assert lin.weight.dtype == np.float64
    out = lin(adjit.randn(4, 3, dtype=np.float64))
    assert out.dtype == np.float64


def test_custom_module_forward_and_backward_match_numpy() -> None:
    net = Net()
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    out = net(adjit.tensor(x))
    w1, b1 = net.fc1.weight.detach().numpy(), net.fc1.bias.detach().numpy()
    w2, b2 = net.head[0].weight.detach().numpy(), net.head[0].bias.detach().numpy()
    h = np.maximum(x @ w1.T + b1, 0)
    expected = np.tanh(h @ w2.T + b2) * net.scale.detach().numpy()
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-5, atol=1e-6)
    out.sum().backward()
    t = np.tanh(h @ w2.T + b2)
    ct = (1 - t * t) * net.scale.detach().numpy()
    np.testing.assert_allclose(net.head[0].bias.grad.numpy(), ct.sum(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(net.scale.grad.numpy(), [t.sum()], rtol=1e-4)
