"""The seed tutorials' training step (000 and 004), in adjit, then the frozen variant.

The tutorial loads a pretrained resnet18 from torchvision; adjit has no pretrained weights
and downloads nothing, so the same network starts from random weights. Everything else is
the tutorial's code with `torch` spelled `adjit`:

    python examples/seeds/training_step.py

The first run compiles resnet18's backward (a minute or two); the compiled code is cached
on disk, so later runs start in seconds.
"""
import time

import numpy as np

import adjit
from adjit import nn

# ---- the training step, as written -------------------------------------------------------------
model = adjit.models.resnet18()
data = adjit.rand(1, 3, 64, 64)
labels = adjit.rand(1, 1000)

prediction = model(data)  # forward pass
loss = (prediction - labels).sum()
loss.backward()  # backward pass: one compiled graph for the whole network

optim = adjit.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
before = model.conv1.weight.detach().numpy().copy()
optim.step()  # gradient descent

print(f"loss {loss.item():.4f}; {sum(p.numel() for p in model.parameters()):,} parameters, "
      f"every one with a gradient: {all(p.grad is not None for p in model.parameters())}")
moved = before - model.conv1.weight.detach().numpy()
print(f"conv1.weight moved by lr * grad: "
      f"{np.allclose(moved, 1e-2 * model.conv1.weight.grad.numpy(), atol=1e-7)}")


def timed(step, repeat=3):
    """The best of a few runs of `step` (after one to warm up), in milliseconds."""
    step()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def backward_of(network, target):
    def step():
        network.zero_grad()
        (network(data) - target).sum().backward()
    return step


full_ms = timed(backward_of(model, labels))
full_state = model.state_dict()

# ---- the frozen variant: fine-tune only a new classifier ---------------------------------------
model = adjit.models.resnet18()
model.load_state_dict(full_state)  # the same weights, for a fair comparison
for param in model.parameters():
    param.requires_grad = False
model.fc = nn.Linear(512, 10)  # a new layer: its parameters require gradients
optimizer = adjit.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)

labels10 = adjit.rand(1, 10)
loss = (model(data) - labels10).sum()
# Nothing before fc needs a gradient, so nothing before fc was recorded: the backward graph
# starts at fc, whose input (the pooled features) is a constant of it, and pruning drops the
# cotangent of those features. The report below says so.
report = adjit.inspect(loss)
print("\n--- adjit.inspect(loss), the frozen model: the recorded graph ---")
print(report.traced)
print("\n--- what pruning removed ---")
print(report.prune_report)
loss.backward()
optimizer.step()
print("\nparameters with a gradient:",
      [name for name, p in model.named_parameters() if p.grad is not None])

frozen_ms = timed(backward_of(model, labels10))
print(f"\nforward + backward: full {full_ms:.1f} ms, frozen {frozen_ms:.1f} ms "
      f"({full_ms / frozen_ms:.1f}x faster)")
