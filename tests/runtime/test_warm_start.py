"""A warm start finds every kernel: a second process with the same cache folder compiles
nothing, control-flow kernels (a `while` under differentiation, a `cond`) included.

numba's compilations are counted with its own event ("numba:compile", one per function it
compiles: a control kernel's sub-graph callees too), so a callee compiled afresh behind a
cache hit of its caller would show.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json, numpy as np, adjit
    from numba.core import event

    compiled = []

    class Count(event.Listener):
        def on_start(self, ev):
            compiled.append(str(ev.data["dispatcher"].py_func.__name__))

        def on_end(self, ev):
            pass

    event.register("numba:compile", Count())

    def euler(x, dt, n):
        t = 0
        while t < n:
            x = x + dt * np.sin(x)
            t = t + 1
        return np.sum(x * x)

    def tutorial(a):
        b = a * 2
        while np.linalg.norm(b) < 1000:
            b = b * 2
        c = b if np.sum(b) > 0 else 100 * b
        return np.sum(c)

    v, g = adjit.value_and_grad(euler)(np.linspace(0, 1, 50), np.array(0.01),
                                       np.array(20, dtype=np.int64))
    w, h = adjit.value_and_grad(tutorial)(np.array([1.0, 2.0, 3.0]))
    print(json.dumps({"compiled": compiled, "v": float(v), "g": g.tolist(), "w": float(w),
                      "h": h.tolist()}))
""")


def _run(cache: pathlib.Path) -> dict:
    env = {**os.environ, "ADJIT_CACHE_DIR": str(cache), "ADJIT_COMPILE_WORKER": "0",
           "ADJIT_BACKGROUND_COMPILE": "0", "ADJIT_COMPILE_AFTER": "1"}
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_process_compiles_no_control_flow_kernel(tmp_path: pathlib.Path) -> None:
    cache = tmp_path / "cache"
    first = _run(cache)
    assert first["compiled"], "the first process compiles the kernels"
    second = _run(cache)
    assert second["compiled"] == [], second["compiled"]
    for k in ("v", "g", "w", "h"):
        assert second[k] == first[k]
