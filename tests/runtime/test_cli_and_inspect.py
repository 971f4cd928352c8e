"""adjit.inspect shows every stage; `python -m adjit inspect` prints the same."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

import adjit
from adjit.__main__ import main

STAGES = ("traced IR", "adjoint (joint forward + backward) IR", "pruned IR", "simplified IR",
          "kernel plan", "generated source")


def test_inspect_prints_every_stage_with_headers() -> None:
    f = adjit.grad(lambda w, b, x: np.sum(np.tanh(x @ w + b) ** 2), argnums=0)
    rng = np.random.default_rng(0)
    ins = adjit.inspect(f, rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=(8, 4)))
    text = str(ins)
    for title in STAGES:
        assert f"=== {title}" in text
    assert "cotangents not requested: b, x" in str(ins.prune_report)
    assert "vjp(tanh)" in str(ins.adjoint)
    assert "matmul[transpose_a=True]" in str(ins.simplified)
    assert "def " in ins.source and "np.dot" in ins.source
    assert "memory passes" in str(ins.plan)
    # pruning removed the adjoint work for x and b
    assert len(ins.pruned.eqns) < len(ins.adjoint.eqns)


def test_inspect_plain_function_and_jit() -> None:
    ins = adjit.inspect(lambda x: np.sum(np.sin(x)), np.ones(3))
    assert "vjp(sin)" in str(ins.simplified)
    j = adjit.inspect(adjit.jit(lambda x: np.sin(x) * 2), np.ones(3))
    assert j.adjoint is None and "=== adjoint" not in str(j)


def test_cli_inspect(tmp_path, capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    src = tmp_path / "model.py"
    src.write_text(textwrap.dedent("""
        import numpy as np

        def loss(x):
            return np.sum(x ** 2 * np.exp(x))
    """))
    assert main(["inspect", f"{src}:loss", "--args", "np.arange(4.0)"]) == 0
    out = capsys.readouterr().out
    for title in STAGES:
        assert f"=== {title}" in out
    assert "model.py:5" in out
    assert main(["inspect", f"{src}:loss", "--args", "np.arange(4.0)", "--stage", "plan"]) == 0
    assert "memory passes" in capsys.readouterr().out


def test_cli_reports_adjit_errors(tmp_path, capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    src = tmp_path / "bad.py"
    src.write_text("import numpy as np\ndef f(x):\n    return np.sum(np.spacing(x))\n")
    assert main(["inspect", f"{src}:f", "--args", "np.ones(2)"]) == 1
    err = capsys.readouterr().err
    assert "np.spacing" in err and "bad.py:3" in err
