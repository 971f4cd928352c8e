"""adjit.compare: the seed examples F1, F4, F5 and F6 built traced, declared and recorded are one
graph."""
from __future__ import annotations

import numpy as np
import pytest

import adjit
from adjit.__main__ import main

ex = adjit.explicit
rng = np.random.default_rng(0)

SEEDS = [
    ("F1", lambda x: 2 * np.dot(x, x), lambda x: 2 * ex.dot(x, x), (np.arange(4.0),)),
    ("F4", lambda a, b: np.sum(3 * a**3 - b**2), lambda a, b: ex.sum(3 * a**3 - b**2),
     (np.array([2.0, 3.0]), np.array([6.0, 4.0]))),
    ("F5", lambda x: np.sum(x**2 * np.exp(x)), lambda x: ex.sum(x**2 * ex.exp(x)),
     (rng.normal(size=(3, 4)),)),
    ("F6", lambda w, x, b: np.sum(w * x + b), lambda w, x, b: ex.sum(x * w + b),
     (rng.normal(size=3), np.ones(3), rng.normal(size=3))),
]


@pytest.mark.parametrize("name,traced,declared,args", SEEDS, ids=[s[0] for s in SEEDS])
def test_seed_identical_three_ways(name, traced, declared, args) -> None:
    c = adjit.compare(traced, *args, declared=declared)
    assert [w.name for w in c.ways] == ["traced", "declared", "recorded"]
    assert c.identical and c.gradients_identical, str(c)
    text = str(c)
    assert "canonical IR: identical" in text
    assert "traced" in text and "declared" in text and "recorded" in text
    for row in ("build", "compile", "run", "nodes"):
        assert row in text
    assert all(w.build_s > 0 and w.compile_s > 0 and w.run_s > 0 for w in c.ways)


def test_recorded_way_from_its_own_callable_or_left_out() -> None:
    # the recorded callable receives tensors and may use the Tensor methods
    c = adjit.compare(lambda a, b: np.sum(3 * a**3 - b**2), np.array([2.0, 3.0]),
                      np.array([6.0, 4.0]), recorded=lambda a, b: (3 * a**3 - b**2).sum())
    assert [w.name for w in c.ways] == ["traced", "recorded"] and c.identical
    # its inputs are in the arguments' order, whatever order it uses them in
    c = adjit.compare(lambda a, b: np.sum(b * a**2), np.ones(2), np.full(2, 3.0))
    assert c.identical and c.gradients_identical, str(c)
    c = adjit.compare(lambda x: np.sum(x * x), np.ones(3), recorded=False)
    assert [w.name for w in c.ways] == ["traced"]


def test_a_function_that_does_not_run_on_tensors_is_said() -> None:
    # x.numpy() of a tensor that requires grad raises: the way is left out, with the reason
    c = adjit.compare(lambda x: np.sum(np.tanh(x)), np.ones(3), recorded=lambda x: x.numpy())
    assert [w.name for w in c.ways] == ["traced"]
    assert "recorded: not built" in str(c)


def test_recorded_reads_captured_arrays_as_inputs() -> None:
    w = np.arange(3.0)
    c = adjit.compare(lambda x: np.sum(np.tanh(x) * w), np.ones(3))
    recorded = c.ways[-1]
    assert recorded.name == "recorded" and len(recorded.graph.inputs) == 2
    assert "a1" in str(recorded.canonical) and not c.identical  # traced folds w in


def test_different_graphs_show_a_diff() -> None:
    c = adjit.compare(lambda x: np.sum(np.exp(x)), np.ones(3), declared=lambda x: ex.sum(x * x))
    assert not c.identical
    text = str(c)
    assert "not identical" in text and "-  %0 = exp a0" in text and "+  %0 = mul a0, a0" in text


def test_cli_compare(tmp_path, capsys) -> None:  # noqa: ANN001
    src = tmp_path / "model.py"
    src.write_text("import numpy as np\nimport adjit\nex = adjit.explicit\n"
                   "def f(x):\n    return np.sum(np.tanh(x) * x)\n"
                   "def build(x):\n    return ex.sum(ex.tanh(x) * x)\n"
                   "def rec(x):\n    return (x.tanh() * x).sum()\n")
    assert main(["compare", f"{src}:f", "--declared", f"{src}:build", "--args",
                 "np.ones(4)"]) == 0
    out = capsys.readouterr().out
    assert "canonical IR: identical" in out and "recorded" in out
    assert main(["compare", f"{src}:f", "--recorded", f"{src}:rec", "--args",
                 "np.ones(4)"]) == 0
    out = capsys.readouterr().out
    assert "canonical IR: identical" in out and "recorded" in out and "declared" not in out
    assert main(["compare", f"{src}:f", "--no-recorded", "--args", "np.ones(4)"]) == 0
    assert "recorded" not in capsys.readouterr().out


def test_dot_picture_of_pruning() -> None:
    ins = adjit.inspect(adjit.grad(lambda w, x, b: np.sum(w * x + b), argnums=(0, 2)),
                        np.ones(3), np.ones(3), np.ones(3))
    dot = ins.to_dot("pruned")
    assert dot.startswith("digraph") and "dashed" in dot and "vjp(mul)" in dot
    assert "traced" in ins.to_dot("traced") or "digraph" in ins.to_dot("traced")


def test_render_svg(tmp_path) -> None:  # noqa: ANN001
    import shutil

    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    ins = adjit.inspect(lambda x: np.sum(x * x), np.ones(2))
    path = ins.render(str(tmp_path / "g.svg"))
    assert open(path).read().lstrip().startswith(("<?xml", "<svg"))
