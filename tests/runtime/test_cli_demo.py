"""`python -m adjit demo` covers every functional seed example (F1-F11, with the tutorial's
while/if function as F9 and F10) and writes a file only where `--plot PATH` asks."""
from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

import adjit
from adjit import demo
from adjit.__main__ import main


def test_demo_covers_every_functional_seed_example() -> None:
    assert [ex.__name__.upper() for ex in demo.EXAMPLES] == [f"F{i}" for i in range(1, 12)]


def test_f9_scalar_gradient_is_the_slope_exactly() -> None:
    _, _, (g_pos, g_neg), (k_pos, k_neg) = demo.f9()
    assert float(g_pos) == k_pos and float(g_neg) == k_neg
    a = np.random.default_rng(9).normal()
    # the slope is f(a) / a, and the two signs take the two branches of the `if`
    assert np.isclose(k_pos, demo.tutorial(np.float64(a)) / a, rtol=1e-14)
    assert np.isclose(k_neg, demo.tutorial(np.float64(-a)) / -a, rtol=1e-14)
    assert max(k_pos, k_neg) == 100 * min(k_pos, k_neg)


def test_f10_vector_gradient_is_f_over_a_everywhere() -> None:
    _, _, g, k = demo.f10()
    a = np.random.default_rng(10).normal(size=10)
    assert g.shape == (10,) and np.array_equal(g, k)
    np.testing.assert_allclose(g, demo.tutorial(a) / a, rtol=1e-14)


def test_tutorial_compiles_once_for_every_input() -> None:
    """The loop count and the branch are decided in the kernel: other inputs, the same code."""
    g = adjit.grad(demo.tutorial_sum)
    for scale in (1e-3, 1.0, -1.0, 50.0, -700.0):
        a = np.random.default_rng(3).normal(size=10) * scale
        assert np.array_equal(g(a), np.full(10, demo.slope(a)))
    src = adjit.inspect(g, np.ones(10)).source
    assert "while" in src


def test_demo_writes_no_file_unless_asked(tmp_path: pathlib.Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "BAD" not in out and "F9 " in out and "F10 " in out and "F11 " in out
    assert list(tmp_path.iterdir()) == []


def test_demo_plot_goes_where_asked(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "plots" / "f11.png"
    target.parent.mkdir()
    assert main(["demo", "--plot", str(target)]) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["f11.png", "plots"]
    # a folder that is not there: a message, not a traceback
    assert main(["demo", "--plot", str(tmp_path / "missing" / "f11.png")]) == 1
    assert "cannot write the plot to" in capsys.readouterr().err


def test_demo_plot_without_matplotlib_says_so(tmp_path: pathlib.Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    assert main(["demo", "--plot", str(tmp_path / "f11.png")]) == 2
    assert "--plot needs matplotlib" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_demo_covers_every_recorded_row(capsys: pytest.CaptureFixture) -> None:
    assert [r.__name__.upper() for r in demo.RECORDED] == [f"R{i}" for i in range(1, 15)]
    for row in demo.RECORDED:
        name, _, got, ok = row()
        assert ok, (name, got)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for i in range(1, 15):
        line = next(ln for ln in out.splitlines() if ln.startswith(f"R{i} "))
        assert " ok " in line and "FAIL" not in line, line


def test_demo_says_fail_for_a_recorded_row_that_fails(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(demo, "RECORDED", (lambda: ("R99", "a row that fails", 1, False),))
    assert main(["demo"]) == 1
    assert "R99  a row that fails" in capsys.readouterr().out
