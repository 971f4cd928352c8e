"""Every script in examples/seeds/ runs (in a subprocess, in an empty working directory) and
prints, with `ok`, every value EXAMPLES.md expects of the seed tutorial it rewrites."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

SEEDS = pathlib.Path(__file__).resolve().parents[2] / "examples" / "seeds"
SCRIPTS = sorted(p.name for p in SEEDS.glob("s*.py"))

# What each script must print as checked: the EXAMPLES.md rows it covers, by their labels.
EXPECTED = {
    "s000_training_step.py": [
        "training step: every parameter has a gradient of its shape: [True, True, True, True]",
        "training step: the loss went down: True",
        "F4 a.grad: [36.0, 81.0]", "F4 b.grad: [-12.0, -8.0]",
        "F4 functional (dQ/da, dQ/db): [[36.0, 81.0], [-12.0, -8.0]]",
        "F1 y: 28.0", "F1 y.grad_fn: MulBackward0", "F1 x.grad: [0.0, 4.0, 8.0, 12.0]",
        "F1 functional: [0.0, 4.0, 8.0, 12.0]", "F2 x.grad: [1.0, 1.0, 1.0, 1.0]",
        "F3 x.grad: [0.0, 2.0, 4.0, 6.0]", "F8 x.grad == u: [True, True, True, True]",
        "F8 functional: [0.0, 1.0, 4.0, 9.0]"],
    "s001_autograd_chapter.py": [
        "R1 c.grad_fn: AddBackward0", "R1 d.grad_fn: SumBackward0",
        "R1 a.is_leaf, b.is_leaf, c.is_leaf, d.is_leaf: [True, True, False, False]",
        "F5 x.grad == gradf(x):", "F5 functional:",
        "R2 requires_grad x, w, b, y, z: [False, True, True, True, True]",
        "R2 z.grad_fn.next_functions: [['MulBackward0', 0], ['AccumulateGrad', 0]]",
        "R2 y.grad_fn.next_functions: [['AccumulateGrad', 0], [None, 0]]",
        "R2 w.grad_fn, x.grad_fn: [None, None]",
        "R3 w.grad: [1.0]", "R3 w.grad after a second backward (accumulated): [2.0]",
        "R4 the error names retain_graph=True: True",
        "R8 no_grad: w, x, y requires_grad: [True, False, False]",
        "R8 set_grad_enabled(False): y.requires_grad, y.grad_fn: [False, None]",
        "R9 d.requires_grad: False", "R9 tensor.requires_grad: False",
        "R9 detach shares memory: True",
        "R10 w.grad, y.grad: [[1.0], None]", "R10 t.autograd.grad(z, y): [[1.0, 1.0, 1.0]]",
        "y的梯度： tensor([1., 1., 1.])",
        "R11 the hook saw y's gradient: [[1.0, 1.0, 1.0]]", "R11 removed: not called again: 1",
        "F7 x.grad from z.backward(): [2.0, 4.0, 6.0]",
        "R5 grad can be implicitly created only for scalar outputs: True",
        "R6 x.grad from y.backward(ones): [2.0, 4.0, 6.0]",
        "F7 functional vjp: [[2.0, 4.0, 6.0]]",
        "R12 d2/dx2 x**3 = 6x: [6.0, 12.0, -18.0]",
        "R13 z.grad_fn: MultiplyAddBackward", "R13 x.grad, w.grad, b.grad: [None, [1.0], [1.0]]",
        "R14 a.requires_grad, b.requires_grad: [False, True]"],
    "s002_d2l_autograd.py": [
        "F1 y: 28.0", "F1 x.grad: [0.0, 4.0, 8.0, 12.0]",
        "F2 x.grad, y: [[1.0, 1.0, 1.0, 1.0], 6.0]", "F3 x.grad: [0.0, 2.0, 4.0, 6.0]",
        "F8 x.grad, u.grad: [[0.0, 1.0, 4.0, 9.0], None]",
        "F9 a.grad (exact slope):", "F9 a.grad == d / a: True",
        "F9 a.grad on the else branch: 409600.0",
        "F9 traced grad at a = 0.0984: 16384.0", "F9 traced grad at a = -0.37: 409600.0"],
    "s003_modes_and_plot.py": [
        "explicit, implicit (recorded) and traced: one graph: "
        "[['traced', 'declared', 'recorded'], True]",
        "canonical IR: identical",
        "explicit: y, dy/dx: [14.0, [0.0, 2.0, 4.0, 6.0]]",
        "reverse mode: one pass, every input:", "forward mode: one pass per input:",
        "forward mode, compiled (adjit.jvp):",
        "F10 d.backward() on a vector: grad can be implicitly created only for scalar outputs",
        "F10 a.grad == f(a)/a everywhere:", "F10 every entry equal: 1",
        "exercise 4: dh/dx = 2 h(x)/x:",
        "F11 recorded: x.grad == cos(x): <array of shape (400,)",
        "F11 functional: grad == cos(x): <array of shape (400,)"],
    "s004_gentle_intro.py": [
        "every parameter has a gradient: [True, True, True, True]",
        "F4 dQ/da = 9a**2: [36.0, 81.0]", "F4 dQ/db = -2b: [-12.0, -8.0]",
        "frozen: only the classifier has gradients: [False, False, True, True]",
        "matrix products in the backward: full, frozen: [3, 1]",
        "relu's backward (a mask, out <= 0, and a select): full, frozen: [2, 0]",
        "frozen: pruning reports what it removed: True"],
}


def _run(script: str, tmp_path: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, str(SEEDS / script), *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)


def test_every_script_is_checked() -> None:
    assert SCRIPTS == sorted(EXPECTED)


@pytest.mark.parametrize("script", SCRIPTS)
def test_seed_script(script: str, tmp_path: pathlib.Path) -> None:
    r = _run(script, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "all ok" and "FAIL" not in r.stdout
    for want in EXPECTED[script]:
        # printed, and (for a checked value) with `ok`: a FAIL line fails above
        assert any(ln.startswith(want) for ln in lines), f"{script} did not print {want!r}"
    assert list(tmp_path.iterdir()) == []  # no file unless asked


def test_plot_of_sin_goes_where_asked(tmp_path: pathlib.Path) -> None:
    pytest.importorskip("matplotlib")
    r = _run("s003_modes_and_plot.py", tmp_path, "plots-sin.png")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "plots-sin.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote plots-sin.png" in r.stdout
