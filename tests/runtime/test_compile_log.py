"""ADJIT_LOG=compile and the "adjit" logger report what is compiled, why, how, and how long
(runtime/log.py)."""
from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from adjit.runtime.compiler import build
from adjit.tracer import trace

SCRIPT = textwrap.dedent('''
    import numpy as np
    import adjit

    def loss(x):
        return (np.tanh(x) ** 2).sum()

    g = adjit.grad(loss)
    g(np.ones(3))
    g(np.ones(4))
''')


def _run(env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    return out.stderr


def test_adjit_log_compile(tmp_path: Path) -> None:
    env = {**os.environ, "ADJIT_CACHE_DIR": str(tmp_path / "cache"), "ADJIT_LOG": "compile"}
    first = _run(env)
    assert re.search(r"^adjit: compile loss\(x: f64\[3\]\) \[first call\]: trace [0-9.]+ ms, "
                     r"passes [0-9.]+ ms, codegen [0-9.]+ ms", first, re.MULTILINE), first
    assert "compile loss(x: f64[4]) [argument 0 changes shape or dtype" in first
    # (the gradient's buffer follows x where the suite reuses every output: tests/conftest.py)
    assert re.search(r"^adjit: numba: loss_\w+_kernel\(array\(float64, 1d, C\)"
                     r"(, array\(float64, 1d, C\))?\) compiled by "
                     r"numba \(not in the disk cache\) in [0-9.]+ ms", first, re.MULTILINE), first
    second = _run(env)  # a new process: the kernel comes from the disk cache
    assert re.search(r"loaded from the disk cache in [0-9.]+ ms", second), second
    env.pop("ADJIT_LOG")
    assert "adjit:" not in _run(env)  # silent unless asked


def test_logger_reports_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ADJIT_LOG", raising=False)
    caplog.set_level(logging.INFO, logger="adjit")

    def cube(x):
        return (x ** 3).sum()

    x = np.arange(3.0)
    traced = trace(cube, (x,), ())
    spec = build(traced, wrt=[0], static=(), n_args=1, reason="guard failed: x > 0",
                 trace_s=0.002)
    assert spec.fn(x)[1].tolist() == (3 * x ** 2).tolist()
    messages = [r.getMessage() for r in caplog.records if r.name == "adjit"]
    assert any(m.startswith("compile cube(x: f64[3]) [guard failed: x > 0]: trace 2.0 ms")
               for m in messages), messages
    assert any(m.startswith("numba: cube_") and " ms" in m for m in messages), messages
