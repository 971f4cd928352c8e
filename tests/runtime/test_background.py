"""The first calls of a kernel not in the disk cache are answered by the numpy interpreter
while numba compiles it in a background thread (runtime/background.py); the rest of the
suite turns this off (tests/conftest.py)."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest

import adjit
from adjit.ir.errors import CodegenError
from adjit.runtime import background
from adjit.runtime.background import Background, BackgroundCompileWarning


@pytest.fixture(autouse=True)
def _background(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.setenv("ADJIT_BACKGROUND_COMPILE", "1")
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path / "cache"))  # every kernel a miss
    monkeypatch.setenv("ADJIT_COMPILE_WORKER", "0")


def _spec(f: object) -> object:
    (spec,) = f.specializations.values()
    return spec


def euler(x: np.ndarray, dt: np.ndarray, n: np.ndarray) -> np.ndarray:
    t = 0
    while t < n:
        x = x + dt * np.sin(x)
        t = t + 1
    return np.sum(x * x)


def mlp(W1, b1, W2, x, y):  # noqa: ANN001, ANN201
    return np.mean((np.tanh(x @ W1 + b1) @ W2 - y) ** 2)


rng = np.random.default_rng(0)
CASES = {
    "f4": (adjit.value_and_grad, lambda a, b: np.sum(3 * a**3 - b**2), (0, 1),
           (rng.random(1000), rng.random(1000))),
    "mlp": (adjit.grad, mlp, (0, 1, 2),
            (rng.standard_normal((6, 5)), rng.standard_normal(5), rng.standard_normal((5, 2)),
             rng.standard_normal((4, 6)), rng.standard_normal((4, 2)))),
    "euler": (adjit.value_and_grad, euler, 0,
              (rng.standard_normal(20), np.array(0.01), np.array(30, dtype=np.int64))),
}


def _close(a: object, b: object) -> None:
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _close(x, y)
        return
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", sorted(CASES))
def test_first_call_interpreted_then_the_kernel(case: str) -> None:
    transform, fun, argnums, args = CASES[case]
    f = transform(fun, argnums=argnums)
    first = f(*args)
    spec = _spec(f)
    assert type(spec.fn) is Background and spec.fn.interpreted == 1
    kernel = spec.fn.wait()
    assert hasattr(kernel, "signatures")  # numba's dispatcher, compiled for these types
    second = f(*args)
    assert spec.fn is kernel  # switched: the wrapper is gone
    third = f(*args)  # the direct call path the runtime installs after the switch
    _close(first, second)  # the interpreter and the kernel differ in rounding only
    assert np.array_equal(np.asarray(second[0] if isinstance(second, tuple) else second),
                          np.asarray(third[0] if isinstance(third, tuple) else third))
    assert f.compilations == 1
    # the same numbers as with the compile before the first call
    os.environ["ADJIT_BACKGROUND_COMPILE"] = "0"
    try:
        _close(first, transform(fun, argnums=argnums)(*args))
    finally:
        os.environ["ADJIT_BACKGROUND_COMPILE"] = "1"


def test_inspect_shows_the_compiled_source() -> None:
    f = adjit.grad(lambda x: np.sum(np.sin(x) * x))
    x = np.linspace(0, 1, 7)
    f(x)
    assert type(_spec(f).fn) is Background
    text = adjit.inspect(f, x).source
    text = text if isinstance(text, str) else text.text
    assert "def " in text and "np.sin" not in text  # numba's code, not the interpreter's


def test_switch_off_and_cache_hits_compile_before_the_first_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fun = lambda x: np.sum(np.cos(x) ** 2)  # noqa: E731
    x = np.linspace(0, 1, 9)
    f = adjit.grad(fun)
    f(x)
    _spec(f).fn.wait()
    g = adjit.grad(fun)  # the same kernel: now in the disk cache, loaded at the first call
    g(x)
    assert type(_spec(g).fn) is not Background
    monkeypatch.setenv("ADJIT_BACKGROUND_COMPILE", "0")
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(pathlib.Path(os.environ["ADJIT_CACHE_DIR"]) / "b"))
    h = adjit.grad(fun)
    h(x)
    assert type(_spec(h).fn) is not Background


def test_graphs_too_large_to_interpret_compile_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(background, "MAX_BYTES", 1000)
    f = adjit.grad(lambda x: np.sum(x * np.exp(x)))
    f(np.ones(1000))
    assert type(_spec(f).fn) is not Background


def test_a_failed_compile_warns_and_the_interpreter_keeps_answering(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import adjit.codegen.compile as compile_mod

    def broken(*a: object, **k: object) -> None:
        raise CodegenError("numba could not compile the generated kernel (test)")

    monkeypatch.setattr(compile_mod, "compile_source", broken)
    f = adjit.grad(lambda x: np.sum(np.tanh(x)))
    x = np.linspace(-1, 1, 5)
    expected = 1 - np.tanh(x) ** 2
    np.testing.assert_allclose(f(x), expected, rtol=1e-14)
    spec = _spec(f)
    with pytest.raises(CodegenError, match="test"):
        spec.fn.wait()
    with pytest.warns(BackgroundCompileWarning, match="could not compile"):
        np.testing.assert_allclose(f(x), expected, rtol=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once only
        np.testing.assert_allclose(f(x), expected, rtol=1e-14)


def test_an_interpreter_failure_waits_for_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*a: object) -> None:
        raise NotImplementedError("no numpy rule")

    monkeypatch.setattr(background, "evaluate", failing)
    f = adjit.grad(lambda x: np.sum(x ** 3))
    x = np.arange(4.0)
    np.testing.assert_allclose(f(x), 3 * x**2)
    assert hasattr(_spec(f).fn, "signatures")  # the call ran the kernel, and switched


def test_the_interpreter_stops_once_the_kernel_is_ready() -> None:
    """Between two primitives (inside a loop too) the interpreter asks whether the kernel is
    ready; once it is, the interpretation is dropped and the call runs the kernel."""
    import itertools

    f = adjit.value_and_grad(euler)
    args = (np.linspace(0, 1, 8), np.array(0.001), np.array(10, dtype=np.int64))
    f(*args)
    kernel = _spec(f).fn.wait()
    asked = itertools.count()

    class ReadyAfterFive:  # a Background whose kernel is ready at the fifth question
        graph = _spec(f).final

        @property
        def compiled(self) -> object:
            return kernel if next(asked) >= 5 else None

    with pytest.raises(background._Ready):
        background._interpret(ReadyAfterFive(), args)
    assert next(asked) == 6


def test_composed_transforms_under_background_compile() -> None:
    def loss(w: np.ndarray) -> np.ndarray:
        return np.sum(np.sin(w) * w ** 2)

    w = np.linspace(-1, 1, 4)
    hess = adjit.hessian(loss)(w)
    jac = adjit.jacfwd(adjit.grad(loss))(w)
    per = adjit.vmap(adjit.grad(loss))(np.stack([w, 2 * w]))
    exact = np.diag(np.sin(w) * (2 - w**2) + 4 * w * np.cos(w))
    np.testing.assert_allclose(hess, exact, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(jac, exact, rtol=1e-12, atol=1e-12)
    g = lambda v: np.cos(v) * v**2 + 2 * v * np.sin(v)  # noqa: E731
    np.testing.assert_allclose(per, np.stack([g(w), g(2 * w)]), rtol=1e-12)


def test_two_threads_share_one_compilation() -> None:
    """Two threads calling while the kernel compiles: both are answered (by the interpreter,
    then the kernel), right, and nothing is compiled twice."""
    f = adjit.grad(lambda x: np.sum(np.exp(-x * x)))
    x = np.linspace(-2, 2, 50)
    expected = -2 * x * np.exp(-x * x)
    results, errors = [f(x)], []  # the first call starts the compilation

    def call() -> None:
        try:
            for _ in range(5):
                results.append(f(x))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 11
    for r in results:
        np.testing.assert_allclose(r, expected, rtol=1e-12, atol=1e-15)
    assert f.compilations == 1


EXIT_SCRIPT = textwrap.dedent("""
    import json, os, sys, numpy as np, adjit
    f = adjit.value_and_grad(lambda x: np.sum(np.log1p(x * x)))
    v, g = f(np.linspace(0, 1, 11))
    spec, = f.specializations.values()
    kind = type(spec.fn).__name__
    if sys.argv[1] == "fork":
        pid = os.fork()  # while the parent's compilation may still run
        if pid == 0:
            w, h = f(np.linspace(0, 1, 11))
            spec.fn.wait() if kind == "Background" and hasattr(spec.fn, "wait") else None
            os._exit(0 if abs(w - v) < 1e-12 else 3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
    print(json.dumps({"kind": kind, "v": float(v)}))
    # exits while the kernel compiles: the interpreter waits for the thread, never crashes
""")


@pytest.mark.parametrize("how", ["exit", "fork"])
def test_exit_and_fork_while_compiling(how: str, tmp_path: pathlib.Path) -> None:
    if how == "fork" and not hasattr(os, "fork"):
        pytest.skip("no fork")
    env = {**os.environ, "ADJIT_CACHE_DIR": str(tmp_path / "c")}
    runs = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", EXIT_SCRIPT, how], capture_output=True,
                             text=True, env=env, timeout=300)
        assert out.returncode == 0, out.stderr
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    # the first process left its kernel in the cache: the second loads it at its first call
    assert runs[0]["kind"] == "Background" and runs[1]["kind"] != "Background"
    assert abs(runs[0]["v"] - runs[1]["v"]) < 1e-12


def test_small_functions_run_as_python_first_then_compile_in_the_background(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """ADJIT_COMPILE_AFTER=2 (users' default): a small function's first call runs its text as
    plain Python and starts nothing (a one-off call leaves no compilation to wait for at
    exit); the second starts the background compilation and is interpreted."""
    from adjit.runtime.compiler import Tiered

    monkeypatch.setenv("ADJIT_COMPILE_AFTER", "2")
    f = adjit.grad(lambda x: np.sum(np.sin(x) * x))
    x = np.linspace(0, 1, 6)
    expected = np.cos(x) * x + np.sin(x)
    np.testing.assert_allclose(f(x), expected, rtol=1e-14)
    assert type(_spec(f).fn) is Tiered and _spec(f).fn.compiled is None
    np.testing.assert_allclose(f(x), expected, rtol=1e-14)
    bg = _spec(f).fn
    assert type(bg) is Background and bg.interpreted == 1
    kernel = bg.wait()
    np.testing.assert_allclose(f(x), expected, rtol=1e-14)
    assert _spec(f).fn is kernel


def test_guarded_sin_while_compiling_and_after() -> None:
    """A kernel with sin's guarded vector form (codegen/cpu_passes.py): the interpreter's
    answers carry no flag, the compiled kernel's do; both are right for a huge argument."""
    g = adjit.value_and_grad(lambda x: np.sum(np.sin(x) * x))
    x = np.linspace(-2.0, 2.0, 5000)
    x[7] = 3e9
    for _ in range(3):
        v, d = g(x)
        np.testing.assert_allclose(v, np.sum(np.sin(x) * x), rtol=1e-12)
        np.testing.assert_allclose(d, np.cos(x) * x + np.sin(x), rtol=1e-9, atol=1e-9)
    if isinstance(_spec(g).fn, Background):
        _spec(g).fn.wait()  # then the kernel answers
    v, d = g(x)
    np.testing.assert_allclose(d, np.cos(x) * x + np.sin(x), rtol=1e-9, atol=1e-9)
    assert "fm.sin_small(" in adjit.inspect(g, x).source
