"""Long generated functions are split into pieces compiled one by one (codegen/split.py):
the same numbers as one function, identical kernels compiled once, pieces cached on disk."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from adjit.codegen import split
from adjit.codegen.compile import compile_source
from adjit.codegen.cpu import Source
from adjit.ir import evaluate
from adjit.ir.errors import CodegenError
from adjit.runtime.compiler import build
from adjit.tracer import trace


def block(h, w):
    z = h @ w
    return np.tanh(z - z.mean(axis=0))  # the mean: a kernel of its own before the tanh


def net(x, w1, w2, w3):
    h = block(block(block(x, w1), w2), w3)  # the last two blocks: the same shapes
    s = (h * h).sum()  # a float32 scalar read by a later kernel
    return (h / s).sum() + np.maximum(x, 0.0).sum()


def _args(dtype=np.float32):
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s).astype(dtype) for s in ((16, 8), (8, 12), (12, 12), (12, 12))]


def _grad(monkeypatch, lines, tmp_path, args):
    monkeypatch.setenv("ADJIT_SPLIT_LINES", str(lines))
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path / "cache"))
    traced = trace(net, tuple(args), ())
    return build(traced, wrt=[0, 1, 2, 3], static=(), n_args=4)


def _calls(text):
    return re.findall(r"\b(part_[0-9a-f]{12})\(", text.split("\ndef net")[-1])


@pytest.mark.parametrize("lines", [1, 40])  # each kernel a piece; kernels grouped
def test_split_matches_one_function_and_the_interpreter(monkeypatch, tmp_path, lines):
    args = _args()
    whole = _grad(monkeypatch, 0, tmp_path, args)
    cut = _grad(monkeypatch, lines, tmp_path, args)
    assert not whole.source.parts and cut.source.parts
    assert set(cut.fn.parts) == {p.name for p in cut.source.parts}
    assert cut.fn.__source__ == cut.source.text
    assert Path(cut.fn.__source_path__).read_text() == cut.source.text
    got, want = cut.run(args), whole.run(args)
    for a, b in zip(got, want, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)  # the same code, cut: the same bits
    for a, b in zip(got, evaluate(cut.final, *args), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)


def test_identical_kernels_are_one_piece(monkeypatch, tmp_path):
    args = _args(np.float64)
    spec = _grad(monkeypatch, 1, tmp_path, args)
    calls = _calls(spec.source.text)
    assert len(calls) > len(set(calls)) == len(spec.source.parts)  # some piece called twice
    for part in spec.source.parts:  # each piece's module: only its own function's code
        assert part.text.count("\ndef ") == 1 + len(part.callees)
        params = re.search(r"def part_\w+\((.*)\):", part.text).group(1).split(", ")
        assert all(re.fullmatch(r"p\d+|[avs]\d+(_arg)?", p) for p in params), params
        assert f"def {part.name}(" in spec.source.text
    spec.run(args)
    shared = [n for n in set(calls) if calls.count(n) > 1]
    assert all(len(spec.fn.parts[n].signatures) == 1 for n in shared)


def test_plain_python_runs_the_split_text(monkeypatch, tmp_path):
    args = _args(np.float64)
    spec = _grad(monkeypatch, 40, tmp_path, args)
    py = compile_source(spec.source, tmp_path / "cache", jit=False)
    want = spec.run(args)
    buffers = [np.empty(shape, dtype) for shape, dtype in spec.source.reused]  # its outputs
    got = py(*args, *spec.source.consts, *buffers)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_small_functions_are_not_split(monkeypatch, tmp_path):
    args = _args()
    spec = _grad(monkeypatch, 10_000, tmp_path, args)
    assert not spec.source.parts and hasattr(spec.fn, "signatures")


def test_a_failing_piece_names_its_file_and_line(tmp_path):
    part_text = "import math\n\nimport numpy as np\n\n\ndef part_0(p0):\n    return (p0 + 'x',)\n"
    driver = part_text + "\n\ndef f(x):\n    return part_0(x)\n"
    src = Source(driver, "f", (), (), (Source(part_text, "part_0"),))
    fn = compile_source(src, tmp_path)
    with pytest.raises(CodegenError, match=r"part_0\.py.*\n  line 7: return \(p0 \+ 'x',\)"):
        fn(np.ones(3))


def test_scalars_cross_pieces_in_their_dtype():
    lines = ["    v3 = np.float32(1.0) / np.float32(3.0)"], ["    a4 = np.full((2,), v3)"]
    cut = split.split("f", [], [[], *lines, ["    return (a4,)"]],
                      ["setup", "loop", "loop", "return"], {"3": "f32"}.get, 1)
    assert cut is not None
    second = next(p for p in cut.pieces if "np.full" in "\n".join(p.lines))
    assert second.lines[0].endswith("(v0_arg):")
    assert second.lines[1] == "    v0 = np.float32(v0_arg)"


SCRIPT = textwrap.dedent('''
    import numpy as np
    import adjit

    def net(x, w1, w2, w3):
        def block(h, w):
            z = h @ w
            return np.tanh(z - z.mean(axis=0))
        h = block(block(block(x, w1), w2), w3)
        return (h / (h * h).sum()).sum()

    rng = np.random.default_rng(0)
    args = [rng.standard_normal(s) for s in ((16, 8), (8, 12), (12, 12), (12, 12))]
    print(adjit.grad(net, argnums=(0, 1, 2, 3))(*args)[2].sum())
''')


def test_pieces_come_from_the_disk_cache_in_another_process(tmp_path):
    env = {**os.environ, "ADJIT_CACHE_DIR": str(tmp_path / "cache"), "ADJIT_SPLIT_LINES": "40",
           "ADJIT_LOG": "compile", "ADJIT_COMPILE_WORKER": "0", "ADJIT_COMPILE_AFTER": "1"}

    def run():
        out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                             text=True, timeout=300, check=False)
        assert out.returncode == 0, out.stderr
        return out.stdout, out.stderr

    value, first = run()
    assert re.search(r"numba: part_\w+\(.*\) compiled by numba", first), first
    again, second = run()
    assert again == value
    assert "compiled by numba" not in second, second
    assert re.search(r"numba: part_\w+\(.*\) loaded from the disk cache", second), second


def convnet(x, w1, w2):
    from adjit.tracer import nn_functional as F

    y = F.conv2d(x, w1, padding=1)
    y = np.tanh(y - y.mean(axis=(0, 2, 3), keepdims=True))
    y = F.max_pool2d(y, 2)
    return (F.conv2d(y, w2, padding=1) ** 2).sum()


def test_convolutions_run_in_the_driver(monkeypatch, tmp_path):
    """A split function calls convolutions itself, through kernels compiled once for every
    caller (codegen/library_calls.py): the same numbers as one function."""
    rng = np.random.default_rng(1)
    args = [rng.standard_normal(s).astype(np.float32)
            for s in ((2, 3, 8, 8), (4, 3, 3, 3), (5, 4, 3, 3))]
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path / "cache"))
    specs = []
    for lines in (0, 1):
        monkeypatch.setenv("ADJIT_SPLIT_LINES", str(lines))
        specs.append(build(trace(convnet, tuple(args), ()), wrt=[0, 1, 2], static=(),
                           n_args=3))
    whole, cut = specs
    driver = cut.source.text.split("\ndef convnet")[-1]
    assert "ck.conv2d(" in driver and "ck.conv2d_weight_grad(" in driver
    assert not any("ck." in line for part in cut.source.parts
                   for line in part.text.splitlines() if not line.lstrip().startswith("#"))
    for a, b in zip(cut.run(args), whole.run(args), strict=True):
        np.testing.assert_array_equal(a, b)
    assert {"conv2d", "conv2d_weight_grad"} <= set(vars(cut.fn.__globals__["ck"]))


def test_a_while_loop_and_its_gradient_stay_together(monkeypatch, tmp_path):
    """The tape a `while` records is a list: never passed between pieces."""
    from control_graphs import euler

    args = [np.linspace(0.5, 1.5, 6), np.array(40), np.float64(0.01)]
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path / "cache"))
    specs = []
    for lines in (0, 1):
        monkeypatch.setenv("ADJIT_SPLIT_LINES", str(lines))
        specs.append(build(trace(euler, tuple(args), ()), wrt=[0], static=(), n_args=3))
    whole, cut = specs
    assert cut.source.parts
    taped = [p for p in cut.source.parts if ".append(" in p.text]
    assert taped and all("range(n" in p.text for p in taped)
    for a, b in zip(cut.run(args), whole.run(args), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_piece_imports_every_module_its_code_names():
    from adjit.codegen.cpu_module import split_part as _part

    piece = split.Piece("part_0", ("def part_0(p0):", "    # ck.conv2d: a comment",
                                   "    v0 = fm.exp(p0[0]) + sf.erf(p0[1])", "    return (v0,)"))
    text = _part(piece, {}).text
    assert "fastmath as fm" in text and "special as sf" in text
    assert "conv_kernels" not in text and "cmath" not in text
