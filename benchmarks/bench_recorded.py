"""The recorded (PyTorch-style) front end against PyTorch eager: training steps per second and
the cost of recording one operation.

Run:  python benchmarks/bench_recorded.py [--quick] [--case NAME ...] [--no-torch]

Cases (float32, fixed seeds, ONE thread everywhere, the process pinned to one CPU):

  overhead      a chain of 64 small operations (4x4 tensors, one requiring a gradient):
                microseconds per recorded operation (forward only: recording), and per
                operation with nothing to record (eager numpy under the hood)
  mlp           784-512-10 MLP (Linear, ReLU, Linear), batch 256, cross_entropy with integer
                labels, SGD(lr=0.01, momentum=0.9): zero_grad, forward, backward, step
  resnet18_b1   adjit.models.resnet18() on 1x3x64x64, the seed's step: loss =
                (model(data) - labels).sum(), backward, SGD(lr=1e-2, momentum=0.9).step()
  resnet18_b32  the same at batch 32
  frozen        the seed's frozen variant at batch 1: every parameter but a new fc (512 -> 10)
                frozen; forward, backward and the step of fc

PyTorch (if importable) runs the same model with the same weights (tests/torch_resnet.py is
torchvision's resnet18 written out in torch.nn), torch.set_num_threads(1), eager mode. Before
timing, each case checks that both give the same loss from the same weights.

Timing: after warm-up steps (the first one, which records, compiles the backward and loads or
builds it, is timed separately as "first"), adjit and torch blocks alternate `repeats` times,
each block as many steps as fit in budget/repeats; the figure is the minimum per-step time of
the blocks (the least noisy estimate on a shared machine).
"""
from __future__ import annotations

import os

# steady-state timings: every timed call runs the kernel (a kernel compiling in the
# background has its first calls answered by the interpreter: runtime/background.py)
os.environ.setdefault("ADJIT_BACKGROUND_COMPILE", "0")

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse
import pathlib
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import adjit
import adjit.nn.functional as F
from adjit import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is optional
    torch = None


@dataclass
class Case:
    name: str
    what: str
    target: float | None  # adjit / torch at most this (None: reported only)
    unit: str  # "step" or "op"
    make: Callable[[], tuple[Callable[[], Any], Callable[[], Any] | None, str]]


@dataclass
class Row:
    name: str
    unit: str
    adjit: float
    torch: float | None
    first: float
    target: float | None
    note: str


# ---- the cases ----------------------------------------------------------------------------------

def _sgd_step_adjit(model: nn.Module, opt: Any, loss_of: Callable[[], Any]) -> Callable[[], Any]:
    def step() -> Any:
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        opt.step()
        return loss
    return step


def _sgd_step_torch(model: Any, opt: Any, loss_of: Callable[[], Any]) -> Callable[[], Any]:
    def step() -> Any:
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        opt.step()
        return loss
    return step


def _copy_weights(ours: nn.Module, theirs: Any) -> None:
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _check(a: Any, t: Any, what: str) -> str:
    la, lt = float(a), float(t)
    if abs(la - lt) > 1e-3 * max(1.0, abs(lt)):
        raise SystemExit(f"{what}: adjit's loss {la} differs from torch's {lt}")
    return f"same loss ({la:.4g})"


def make_mlp() -> tuple[Callable[[], Any], Callable[[], Any] | None, str]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 784)).astype(np.float32)
    y = rng.integers(0, 10, 256)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    opt = adjit.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    data, labels = adjit.tensor(x), adjit.tensor(y)
    ours = _sgd_step_adjit(model, opt, lambda: F.cross_entropy(model(data), labels))
    if torch is None:
        return ours, None, ""
    tm = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(),
                             torch.nn.Linear(512, 10))
    _copy_weights(model, tm)
    topt = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
    tx, ty = torch.tensor(x), torch.tensor(y)
    theirs = _sgd_step_torch(tm, topt,
                             lambda: torch.nn.functional.cross_entropy(tm(tx), ty))
    with adjit.no_grad(), torch.no_grad():
        note = _check(F.cross_entropy(model(data), labels).item(),
                      torch.nn.functional.cross_entropy(tm(tx), ty).item(), "mlp")
    return ours, theirs, note


def _resnet(batch: int, frozen: bool) -> tuple[Callable[[], Any], Callable[[], Any] | None, str]:
    rng = np.random.default_rng(0)
    x = rng.random((batch, 3, 64, 64)).astype(np.float32)
    classes = 10 if frozen else 1000
    lab = rng.random((batch, classes)).astype(np.float32)
    model = adjit.models.resnet18()
    if torch is not None:
        from torch_resnet import ResNet18

        torch.manual_seed(0)
        tm = ResNet18()
        _copy_weights(model, tm)
    if frozen:
        for p in model.parameters():
            p.requires_grad = False
        model.fc = nn.Linear(512, classes)
    opt = adjit.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    data, labels = adjit.tensor(x), adjit.tensor(lab)
    ours = _sgd_step_adjit(model, opt, lambda: (model(data) - labels).sum())
    if torch is None:
        return ours, None, ""
    if frozen:
        for p in tm.parameters():
            p.requires_grad = False
        tm.fc = torch.nn.Linear(512, classes)
        model.fc.load_state_dict({k: v.detach().numpy() for k, v in tm.fc.state_dict().items()})
    topt = torch.optim.SGD([p for p in tm.parameters() if p.requires_grad], lr=1e-2,
                           momentum=0.9)
    tx, tl = torch.tensor(x), torch.tensor(lab)
    theirs = _sgd_step_torch(tm, topt, lambda: (tm(tx) - tl).sum())
    model.eval()
    tm.eval()
    with adjit.no_grad(), torch.no_grad():
        note = _check((model(data) - labels).sum().item(), (tm(tx) - tl).sum().item(),
                      "resnet18")
    model.train()
    tm.train()
    return ours, theirs, note


N_OPS = 64


def make_overhead() -> tuple[Callable[[], Any], Callable[[], Any] | None, str]:
    """64 operations a step: mul, add, tanh, sub cycling on 4x4 tensors."""
    rng = np.random.default_rng(0)
    a0 = rng.standard_normal((4, 4)).astype(np.float32)
    b0 = rng.standard_normal((4, 4)).astype(np.float32)

    def chain(a: Any, b: Any, tanh: Callable[[Any], Any]) -> Any:
        for _ in range(N_OPS // 4):
            a = a * b
            a = a + b
            a = tanh(a)
            a = a - b
        return a

    a, b = adjit.tensor(a0, requires_grad=True), adjit.tensor(b0)
    ours = lambda: chain(a, b, adjit.Tensor.tanh)  # noqa: E731
    if torch is None:
        return ours, None, ""
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0)
    theirs = lambda: chain(ta, tb, torch.tanh)  # noqa: E731
    return ours, theirs, f"{N_OPS} ops per step; figures are per op"


def make_eager_ops() -> tuple[Callable[[], Any], Callable[[], Any] | None, str]:
    ours, theirs, _ = make_overhead()

    def ours_nograd() -> Any:
        with adjit.no_grad():
            return ours()

    def theirs_nograd() -> Any:
        with torch.no_grad():
            return theirs()

    return ours_nograd, (theirs_nograd if theirs is not None else None), \
        "nothing recorded (no_grad)"


CASES = [
    Case("overhead", "record one op, 4x4 f32", 5e-6, "op", make_overhead),
    Case("eager_op", "one op under no_grad, 4x4", None, "op", make_eager_ops),
    Case("mlp", "784-512-10 MLP, batch 256, SGD", 1.0, "step", make_mlp),
    Case("resnet18_b1", "resnet18 1x3x64x64, SGD", 1.5, "step", lambda: _resnet(1, False)),
    Case("resnet18_b32", "resnet18 32x3x64x64, SGD", 1.5, "step", lambda: _resnet(32, False)),
    Case("frozen", "resnet18 frozen but fc, 1x3x64x64", None, "step", lambda: _resnet(1, True)),
]


# ---- timing -------------------------------------------------------------------------------------

def _block(fn: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def measure(ours: Callable[[], Any], theirs: Callable[[], Any] | None, budget: float,
            repeats: int) -> tuple[float, float | None]:
    for fn in (ours, theirs):
        if fn is not None:
            fn()
            fn()
    best_a = best_t = float("inf")
    one_a = _block(ours, 1)
    one_t = _block(theirs, 1) if theirs is not None else 0.0
    n_a = max(1, int(budget / repeats / max(one_a, 1e-7)))
    n_t = max(1, int(budget / repeats / max(one_t, 1e-7))) if theirs is not None else 0
    for _ in range(repeats):
        best_a = min(best_a, _block(ours, n_a))
        if theirs is not None:
            best_t = min(best_t, _block(theirs, n_t))
    return best_a, (best_t if theirs is not None else None)


def run_case(case: Case, budget: float, repeats: int, use_torch: bool) -> Row:
    ours, theirs, note = case.make()
    start = time.perf_counter()
    ours()  # the first step: records, compiles (or loads) the backward
    first = time.perf_counter() - start
    a, t = measure(ours, theirs if use_torch else None, budget, repeats)
    if case.unit == "op":
        a, t = a / N_OPS, (t / N_OPS if t is not None else None)
    return Row(case.name, case.unit, a, t, first, case.target, note)


def fmt(seconds: float | None, unit: str) -> str:
    if seconds is None:
        return "-"
    if unit == "op":
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.1f} ms ({1 / seconds:.1f}/s)"


def print_table(rows: list[Row]) -> None:
    head = ["case", "adjit", "torch eager", "adjit/torch", "target", "", "first step", "note"]
    lines = [head]
    for r in rows:
        ratio = r.adjit / r.torch if r.torch else None
        if r.target is None:
            target, verdict = "-", ""
        elif r.unit == "op":
            target = f"< {r.target * 1e6:.0f} us"
            verdict = "PASS" if r.adjit < r.target else "FAIL"
        else:
            target = f"<= {r.target:g}x"
            verdict = "" if ratio is None else ("PASS" if ratio <= r.target else "FAIL")
        lines.append([r.name, fmt(r.adjit, r.unit), fmt(r.torch, r.unit),
                      "-" if ratio is None else f"{ratio:.2f}x", target, verdict,
                      f"{r.first:.2f} s", r.note])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for i, line in enumerate(lines):
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="shorter measurements (noisier)")
    p.add_argument("--case", action="append", choices=[c.name for c in CASES],
                   help="run only these cases (repeatable)")
    p.add_argument("--no-torch", action="store_true", help="do not time PyTorch")
    opts = p.parse_args(argv)
    budget, repeats = (1.0, 3) if opts.quick else (4.0, 5)
    use_torch = torch is not None and not opts.no_torch
    print(f"python {platform.python_version()}, numpy {np.__version__}, adjit "
          f"{adjit.__version__}, torch {torch.__version__ if torch else 'not installed'}; "
          f"one thread, pinned to CPU {sorted(os.sched_getaffinity(0))}; "
          f"{budget:g} s x{repeats} per case")
    rows = []
    for case in CASES:
        if opts.case and case.name not in opts.case:
            continue
        print(f"  {case.name}: {case.what} ...", flush=True)
        rows.append(run_case(case, budget, repeats, use_torch))
    print()
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
