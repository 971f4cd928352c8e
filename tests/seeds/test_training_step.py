"""The seed's training step (resnet18, SGD with momentum) and its frozen variant, from
examples/seeds/training_step.py run in this process (so its compiled backward is shared with
the other tests here, which record the same graph structure)."""
from __future__ import annotations

import pathlib
import runpy

import numpy as np
import pytest

import adjit

EXAMPLE = pathlib.Path(__file__).parents[2] / "examples" / "seeds" / "training_step.py"


@pytest.fixture(scope="module")
def example():
    return runpy.run_path(str(EXAMPLE), run_name="__main__")


def test_resnet18_has_torchvisions_parameter_count() -> None:
    model = adjit.models.resnet18()
    assert sum(p.numel() for p in model.parameters()) == 11_689_512
    assert len(model.state_dict()) == 122  # 62 parameters, 60 batch-norm buffers
    assert sum(p.numel() for p in adjit.models.resnet18(num_classes=10).parameters()) == \
        11_689_512 - 990 * 513
    with pytest.warns(UserWarning, match="no pretrained weights"):
        adjit.models.resnet18(pretrained=True)


def test_the_training_step_as_written(example) -> None:
    model, loss, optim = example["model"], example["loss"], example["optim"]
    assert isinstance(optim, adjit.optim.SGD)
    assert np.isfinite(loss.item())
    # the SGD step ran on every parameter of the full model: the first momentum buffer is
    # the gradient, and the step is lr times it
    full = optim.param_groups[0]["params"]
    assert len(full) == 62 and all(p in optim.state for p in full)
    first = optim.state[full[0]]["momentum_buffer"].numpy()
    assert np.abs(first).max() > 0
    np.testing.assert_allclose(example["moved"], 1e-2 * first, atol=1e-7)
    # the frozen variant: only the new classifier has gradients
    grads = [n for n, p in model.named_parameters() if p.grad is not None]
    assert grads == ["fc.weight", "fc.bias"]
    assert model.fc.weight.shape == (10, 512)


def test_frozen_backward_does_no_work_for_frozen_layers(example) -> None:
    report = example["report"]
    # nothing before fc was recorded: the graph's inputs are the pooled features (a
    # constant), fc's weight and bias, and the labels; no convolution is in it
    assert [str(v.type) for v in report.traced.inputs] == [
        "f32[1,512]", "f32[10,512]", "f32[10]", "f32[1,10]"]
    prims = {e.prim for e in report.pruned.eqns}
    assert not prims & {"conv2d", "conv2d_input_grad", "conv2d_weight_grad",
                        "max_pool2d_index"}
    text = str(report.prune_report)
    assert "cotangents not requested: arg0" in text  # the features' cotangent: pruned
    assert "vjp(matmul)" in text
    # (how much faster it is: benchmarks/bench_recorded.py, not a timed test)


def test_gradients_match_torch(example) -> None:
    torch = pytest.importorskip("torch")
    from torch_resnet import ResNet18

    torch.manual_seed(0)
    theirs = ResNet18()
    ours = adjit.models.resnet18()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(0)
    data = rng.random((1, 3, 64, 64)).astype(np.float32)
    labels = rng.random((1, 1000)).astype(np.float32)
    before = adjit.autograd.compilations()
    loss = (ours(adjit.tensor(data)) - adjit.tensor(labels)).sum()
    loss.backward()
    assert adjit.autograd.compilations() == before  # the example's compiled backward
    tloss = (theirs(torch.tensor(data)) - torch.tensor(labels)).sum()
    tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-5)
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters(),
                                  strict=True):
        g, tg = p.grad.numpy(), tp.grad.numpy()
        assert np.abs(g - tg).max() <= 2e-3 * np.abs(tg).max() + 1e-6, name
    for key, value in theirs.state_dict().items():  # running statistics moved the same way
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-4,
                                   atol=1e-5, err_msg=key)
    # and the SGD step with momentum, twice, as torch's
    opt = adjit.optim.SGD(ours.parameters(), lr=1e-2, momentum=0.9)
    topt = torch.optim.SGD(theirs.parameters(), lr=1e-2, momentum=0.9)
    for _ in range(2):
        opt.step()
        topt.step()
    np.testing.assert_allclose(ours.fc.weight.detach().numpy(),
                               theirs.fc.weight.detach().numpy(), rtol=1e-4, atol=1e-6)
