"""Bad input to the command line, to ADJIT_DUMP and to adjit.inspect is a clear message
saying what is wrong and what is valid, never a raw traceback or a silent no-op."""
from __future__ import annotations

import importlib
import pathlib
import re
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import adjit
from adjit.__main__ import STAGES, main
from adjit.runtime import config
from adjit.runtime.inspect import Inspection

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def model(tmp_path: pathlib.Path) -> str:
    src = tmp_path / "model.py"
    src.write_text(textwrap.dedent("""
        import numpy as np

        def loss(x, y=1.0):
            return np.sum(x ** 2) * y
    """))
    return f"{src}:loss"


# ---- --stage ----------------------------------------------------------------------------------

def test_cli_stages_are_the_inspection_stages() -> None:
    assert STAGES == Inspection.STAGES
    ins = adjit.inspect(lambda x: np.sum(x * x), np.ones(3))
    for stage in STAGES:
        assert hasattr(ins, stage), stage


def test_cli_bad_stage_lists_the_valid_ones(model: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as e:
        main(["inspect", model, "--args", "np.ones(3)", "--stage", "pruning"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'pruning'" in err
    for stage in STAGES:
        assert repr(stage) in err
    assert "Traceback" not in err


def test_cli_every_stage_prints(model: str, capsys: pytest.CaptureFixture) -> None:
    for stage in STAGES:
        assert main(["inspect", model, "--args", "np.ones(3)", "--stage", stage]) == 0, stage
        assert capsys.readouterr().out.strip(), stage


def test_cli_stage_a_jit_function_lacks(tmp_path: pathlib.Path,
                                        capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "jitted.py"
    src.write_text("import numpy as np\nimport adjit\n\n"
                   "@adjit.jit\ndef f(x):\n    return np.sin(x) * 2\n")
    assert main(["inspect", f"{src}:f", "--args", "np.ones(3)", "--stage", "adjoint"]) == 1
    assert "no adjoint stage: it is compiled without a derivative" in capsys.readouterr().err


# ---- --args -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("np.arnge(4)", "--args 'np.arnge(4)' failed to evaluate: AttributeError: module 'numpy' "
                    "has no attribute 'arnge'"),
    ("np.ones(3), undefined_name", "--args 'np.ones(3), undefined_name': the expression "
                                   "'undefined_name' failed to evaluate: NameError"),
    ("np.ones(3), 1 / 0", "the expression '1 / 0' failed to evaluate: ZeroDivisionError"),
    ("np.ones(3", "--args 'np.ones(3' is not a Python expression: '(' was never closed"),
])
def test_cli_bad_args_expression_says_which_and_why(model: str, text: str, message: str,
                                                    capsys: pytest.CaptureFixture) -> None:
    assert main(["inspect", model, "--args", text]) == 2
    err = capsys.readouterr().err
    assert err.startswith("adjit: ") and message in err, err
    assert "Traceback" not in err
    assert main(["compare", model, "--args", text]) == 2
    assert message in capsys.readouterr().err


def test_cli_args_forms(model: str, capsys: pytest.CaptureFixture) -> None:
    # one value, several, a parenthesized tuple: the same arguments
    for text in ("np.arange(3.0), 2.0", "(np.arange(3.0), 2.0)"):
        assert main(["inspect", model, "--args", text, "--stage", "traced"]) == 0
        assert "y: f64[]" in capsys.readouterr().out
    assert main(["inspect", model, "--args", "np.arange(3.0)", "--stage", "traced"]) == 0
    assert "graph loss(x: f64[3]) ->" in capsys.readouterr().out


def test_cli_missing_file_or_function(model: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["inspect", "nowhere.py:f", "--args", "1.0"]) == 2
    assert capsys.readouterr().err == "adjit: no such file nowhere.py\n"
    assert main(["inspect", model.replace(":loss", ":los"), "--args", "1.0"]) == 2
    assert "has no function 'los'" in capsys.readouterr().err
    assert main(["inspect", "model.py", "--args", "1.0"]) == 2
    assert "expected path/to/file.py:function" in capsys.readouterr().err


# ---- adjit.inspect(f) -------------------------------------------------------------------------

def test_inspect_without_arguments_says_it_needs_examples() -> None:
    @adjit.grad
    def energy(x):  # noqa: ANN001, ANN202
        return np.sum(x * x)

    with pytest.raises(adjit.TraceError) as e:
        adjit.inspect(energy)
    text = str(e.value)
    assert text.startswith("adjit.inspect(energy) needs example arguments")
    assert "adjit.inspect(energy, np.arange(4.0))" in text
    assert f"{__file__}:" in text  # the user's line, not adjit's
    with pytest.raises(adjit.TraceError, match=re.escape("adjit.inspect(f, np.arange(4.0))")):
        adjit.inspect(lambda x: np.sum(x))
    # with arguments, as before
    assert "vjp(mul)" in str(adjit.inspect(energy, np.arange(4.0)).simplified)


# ---- ADJIT_DUMP -------------------------------------------------------------------------------

def _compile_fresh(k: float) -> None:
    adjit.grad(lambda x: np.sum(np.sin(x) * k))(np.ones(3))


def test_adjit_dump_unknown_pass_warns_once_listing_the_valid_ones(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("ADJIT_DUMP", "after:prune,after:pruned,simplify")
    config._parse_dump.cache_clear()
    with pytest.warns(UserWarning) as record:
        _compile_fresh(1.5)
    (w,) = record
    msg = str(w.message)
    assert "'after:pruned', 'simplify'" in msg
    for point in config.DUMP_POINTS:
        assert point in msg
    assert "--- after prune ---" in capsys.readouterr().out  # the valid entry still works
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _compile_fresh(2.5)  # once: no second warning for the same setting
    assert config.dump_after() == frozenset({"prune"})


def test_adjit_dump_valid_settings_do_not_warn(monkeypatch: pytest.MonkeyPatch) -> None:
    for spec in ("", "after:prune", " after:trace , after:fuse,"):
        monkeypatch.setenv("ADJIT_DUMP", spec)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            config.dump_after()


def test_adjit_dump_points_are_what_the_pipeline_prints(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    # Every dump point prints something...
    for i, point in enumerate(config.DUMP_POINTS):
        monkeypatch.setenv("ADJIT_DUMP", f"after:{point}")
        _compile_fresh(10.0 + i)
        out = capsys.readouterr().out
        assert f"--- after {point} ---" in out or (point == "fuse" and "--- kernel plan" in out)
    # ...and every point the pipeline and the compiler print at is a dump point.
    named = set()
    for path in (ROOT / "passes" / "pipeline.py", ROOT / "runtime" / "compiler.py"):
        text = path.read_text()
        named |= set(re.findall(r'_after\("(\w+)"', text))
        named |= set(re.findall(r'"(\w+)" in dump\b', text))
    assert named and named <= set(config.DUMP_POINTS), named


# ---- ADJIT_CHECKS -----------------------------------------------------------------------------

def test_adjit_checks_verifies_the_ir_after_every_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """.ci/run runs a subset of the suite under ADJIT_CHECKS=1: the setting must reach the
    verifier, once per pass."""
    # the module (adjit.ir's attribute `verify` is the function)
    verify_module = importlib.import_module("adjit.ir.verify")
    seen = []
    real = verify_module.verify

    def counting(g, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen.append(g.name)
        return real(g, *args, **kwargs)

    monkeypatch.setattr(verify_module, "verify", counting)
    monkeypatch.setenv("ADJIT_CHECKS", "0")
    _compile_fresh(20.0)
    assert seen == []
    monkeypatch.setenv("ADJIT_CHECKS", "1")
    _compile_fresh(21.0)
    assert len(seen) >= 4  # trace, adjoint, prune, simplify


def test_cli_output_cut_short_by_the_reader_is_not_an_error() -> None:
    """`python -m adjit numpy | head -1`: no BrokenPipeError traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "adjit", "numpy"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before the child writes anything (importing adjit takes longer)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
