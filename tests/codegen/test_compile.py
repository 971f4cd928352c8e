"""compile_source: the file in the cache directory, numba's disk cache across processes, and
errors as CodegenError naming the generated file."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from adjit.codegen.compile import compile_for, compile_source, source_path, write_source
from adjit.codegen.cpu import Source
from adjit.ir.errors import CodegenError

GOOD = Source(textwrap.dedent('''\
    import math

    import numpy as np


    def twice(x):
        a0 = np.empty((3,), np.float64)
        for i0 in range(3):
            # %0 = mul 2.0, x : f64[3]
            v0 = 2.0 * x[i0]
            a0[i0] = v0
        return (a0,)
    '''), "twice")

BAD = Source(textwrap.dedent('''\
    import numpy as np


    def bad(x):
        # %0 = frobnicate x : f64[3]
        v0 = x.frobnicate()
        return (v0,)
    '''), "bad")


def test_writes_once_atomically(tmp_path: pathlib.Path) -> None:
    path = write_source(GOOD, tmp_path)
    assert path == source_path(GOOD, tmp_path) and path.read_text() == GOOD.text
    assert len(path.parent.name) == 20 and path.name == "twice.py"  # <sha256[:20]>/<name>.py
    os.utime(path, (1_000_000, 1_000_000))
    assert write_source(GOOD, tmp_path) == path
    assert path.stat().st_mtime == 1_000_000  # untouched: numba's cache keys on it
    path.write_text("damaged")
    write_source(GOOD, tmp_path)
    assert path.read_text() == GOOD.text
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".tmp")] == []


def test_jit_and_plain(tmp_path: pathlib.Path) -> None:
    x = np.arange(3.0)
    fn = compile_source(GOOD, tmp_path)
    py = compile_source(GOOD, tmp_path, jit=False)
    assert fn.__source__ == GOOD.text == py.__source__
    assert fn.__source_path__ == str(source_path(GOOD, tmp_path))
    assert not fn.signatures  # numba compiles lazily ...
    compile_for(fn, x)  # ... unless asked
    assert len(fn.signatures) == 1
    np.testing.assert_array_equal(fn(x)[0], 2 * x)
    np.testing.assert_array_equal(py(x)[0], 2 * x)
    assert compile_for(py, x) is py


def test_numba_errors_become_codegen_errors(tmp_path: pathlib.Path) -> None:
    path = source_path(BAD, tmp_path)
    with pytest.raises(CodegenError) as info:
        compile_source(BAD, tmp_path, signature_args=(np.zeros(3),))
    msg = str(info.value)
    assert str(path) in msg and "line 6: v0 = x.frobnicate()" in msg
    assert "frobnicate x" in msg  # the IR equation the line came from
    assert info.value.__cause__ is None and info.value.__suppress_context__
    # the first call compiles lazily: its failure is wrapped too
    fn = compile_source(BAD, tmp_path)
    with pytest.raises(CodegenError, match=str(path)):
        fn(np.zeros(3))


def test_damaged_numba_cache_is_recompiled(tmp_path: pathlib.Path) -> None:
    x = np.arange(3.0)
    compile_source(GOOD, tmp_path, signature_args=(x,))
    cached = list(tmp_path.glob("*/*.nbk"))
    assert cached
    for p in cached:
        p.write_bytes(b"not a pickle")
    fn = compile_source(GOOD, tmp_path, signature_args=(x,))
    np.testing.assert_array_equal(fn(x)[0], 2 * x)


def test_second_process_hits_numba_cache(tmp_path: pathlib.Path) -> None:
    x = np.arange(3.0)
    fn = compile_source(GOOD, tmp_path, signature_args=(x,))
    assert sum(fn.stats.cache_misses.values()) == 1
    assert list(tmp_path.glob("*/*.nbk")), "no cache file written"
    script = textwrap.dedent(f'''\
        import pathlib, numpy as np
        from adjit.codegen.compile import compile_source
        from adjit.codegen.cpu import Source
        src = Source(pathlib.Path({str(source_path(GOOD, tmp_path))!r}).read_text(), "twice")
        fn = compile_source(src, pathlib.Path({str(tmp_path)!r}),
                            signature_args=(np.arange(3.0),))
        assert fn(np.arange(3.0))[0].tolist() == [0.0, 2.0, 4.0]
        print(sum(fn.stats.cache_hits.values()), sum(fn.stats.cache_misses.values()))
        ''')
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "0"]  # loaded from disk, not compiled


def test_arguments_named_like_the_generated_modules_imports() -> None:
    """A function whose parameters are called lk, fk, cmath (the generated code's module
    aliases) is compiled with them renamed, not shadowing the imports."""
    import adjit
    import numpy as np

    def f(lk, fk, cmath):
        return np.sum(np.linalg.inv(lk) @ fk) + np.abs(np.fft.fft(cmath)).sum()

    g = adjit.grad(f, argnums=(0, 1))(np.eye(2) * 2, np.ones(2), np.arange(4.0))
    np.testing.assert_allclose(g[0], np.full((2, 2), -0.25))
    np.testing.assert_allclose(g[1], np.full(2, 0.5))
