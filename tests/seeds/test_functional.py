"""The functional seed examples F1-F11 with their exact expected values, compiled."""
from __future__ import annotations

import numpy as np
import pytest

from adjit import demo


@pytest.mark.parametrize("example", demo.EXAMPLES, ids=lambda f: f.__name__.upper())
def test_seed_example(example) -> None:  # noqa: ANN001
    name, _, got, expected = example()
    assert demo._close(got, expected), (name, got, expected)


def test_f1_value_and_gradient_exact() -> None:
    _, _, (value, g), _ = demo.f1()
    assert value == 28.0
    assert g.tolist() == [0.0, 4.0, 8.0, 12.0]
    assert g.dtype == np.float64


def test_f4_exact() -> None:
    _, _, (ga, gb), _ = demo.f4()
    assert ga.tolist() == [36.0, 81.0] and gb.tolist() == [-12.0, -8.0]


def test_f8_stop_gradient_makes_u_constant() -> None:
    _, _, g, _ = demo.f8()
    assert g.tolist() == [0.0, 1.0, 4.0, 9.0]


def test_demo_runs(capsys: pytest.CaptureFixture) -> None:
    assert demo.main() == 0
    out = capsys.readouterr().out
    assert "F11" in out and "graph" in out and "BAD" not in out
