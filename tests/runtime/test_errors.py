"""Bad input gets an adjit error naming the user's file and line and saying what to do."""
from __future__ import annotations

import numpy as np
import pytest

import adjit


def _raises(exc: type, fn, *args, match: str):  # noqa: ANN001, ANN202
    with pytest.raises(exc) as info:
        fn(*args)
    text = str(info.value)
    assert match in text, text
    return text


def test_unsupported_numpy_function_names_it_and_the_line() -> None:
    def f(x):
        return np.sum(np.spacing(x))  # np.spacing is not supported

    text = _raises(adjit.TraceError, adjit.grad(f), np.ones(3), match="spacing")
    assert "test_errors.py" in text and "np.spacing(x)" in text
    assert "^" in text  # a caret under the call
    assert "supported" in text


def test_unsupported_function_via_array_function() -> None:
    def f(x):
        return np.sum(np.histogram2d(x, x)[0])

    _raises(adjit.TraceError, adjit.grad(f), np.ones(3), match="np.histogram2d")


def test_integer_argument_in_argnums() -> None:
    f = adjit.grad(lambda x, n: np.sum(x) * n, argnums=1)
    text = _raises(adjit.NotDifferentiable, f, np.ones(3), np.array(2), match="integer")
    assert "argument 1" in text and "test_errors.py" in text


def test_integer_array_argument() -> None:
    text = _raises(adjit.NotDifferentiable, adjit.grad(lambda x: np.sum(x * 1.0)),
                   np.arange(3), match="integer")
    assert "float" in text


def test_grad_needs_scalar_output() -> None:
    text = _raises(adjit.TraceError, adjit.grad(lambda x: x * 2), np.ones(3),
                   match="one float scalar")
    assert "f64[3]" in text and "vjp" in text


def test_shape_mismatch_names_the_line() -> None:
    def f(x, y):
        return np.sum(x + y)

    text = _raises(adjit.ShapeError, adjit.grad(f), np.ones(3), np.ones(4), match="broadcast")
    assert "x + y" in text and "test_errors.py" in text


def test_matmul_mismatch() -> None:
    text = _raises(adjit.ShapeError, adjit.grad(lambda a, b: np.sum(a @ b)), np.ones((2, 3)),
                   np.ones((4, 2)), match="matmul")
    assert "(2, 3)" in text


def test_truth_value_of_traced_array() -> None:
    # `if` on a traced value is captured (tests/tracer/test_control_capture.py), and a truth
    # value Python needs at the top level is guarded (tests/runtime/test_guards.py); one
    # needed inside a traced loop body, where no single value exists, is an error that says
    # what to write.
    def f(x):
        while np.sum(x) < 10:
            positive = bool(x.sum() > 0)
            x = x * 2 if positive else x - 1
        return np.sum(x)

    text = _raises(adjit.TraceError, adjit.grad(f), np.ones(3), match="truth value")
    assert "positive = bool(x.sum() > 0)" in text and "np.where" in text and "if" in text


def test_bool_at_top_level_is_guarded() -> None:
    def f(x):
        positive = bool(x.sum() > 0)
        return np.sum(x) if positive else -np.sum(x)

    g = adjit.grad(f)
    assert g(np.ones(3)).tolist() == [1.0, 1.0, 1.0]
    assert g(-np.ones(3)).tolist() == [-1.0, -1.0, -1.0]
    assert g.compilations == 2


def test_in_place_assignment() -> None:
    def f(x):
        x[0] = 1.0
        return np.sum(x)

    _raises(adjit.TraceError, adjit.grad(f), np.ones(3), match="in-place")


def test_out_argument() -> None:
    _raises(adjit.TraceError, adjit.grad(lambda x: np.sum(np.exp(x, out=x))), np.ones(3),
            match="out=")


def test_masked_selection_shape_is_an_error() -> None:
    _raises(adjit.TraceError, adjit.grad(lambda x: np.sum(x[x > 0].reshape(-1))), np.ones(3),
            match="depends on the data")


def test_index_out_of_bounds() -> None:
    _raises(adjit.ShapeError, adjit.grad(lambda x: x[5]), np.ones(3), match="out of bounds")


def test_argnums_out_of_range() -> None:
    _raises(adjit.TraceError, adjit.grad(lambda x: np.sum(x), argnums=2), np.ones(3),
            match="out of range")


def test_errors_are_adjit_errors_without_internal_frames() -> None:
    with pytest.raises(adjit.AdjitError) as info:
        adjit.grad(lambda x: np.sum(np.spacing(x)))(np.ones(2))
    frames = [str(f.path) for f in info.traceback]
    assert not any("/tracer/" in f or "/ir/" in f for f in frames), frames


def test_array_method_as_first_operation() -> None:
    # regression: methods were installed only once a numpy function had been traced
    g = adjit.grad(lambda x: x.max() + x.sum())(np.array([1.0, 3.0, 2.0]))
    assert g.tolist() == [1.0, 2.0, 1.0]


def test_unwritable_cache_dir_falls_back(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import os

    from adjit.runtime import config

    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(blocked / "cache"))
    path = config.cache_dir()
    assert path.is_dir() and os.access(path, os.W_OK)
