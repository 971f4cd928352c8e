"""Shared pytest setup. `tests/` is put on `sys.path` so suites can `import check`."""
import os
import pathlib
import sys

_TESTS = str(pathlib.Path(__file__).parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

# The suite tests the numba-compiled code at every first call; users get adjit's default, the
# first call of a small function run as plain Python (runtime/compiler.py `Tiered`), which
# tests/runtime/test_tiered.py tests by setting it back.
os.environ.setdefault("ADJIT_COMPILE_AFTER", "1")
# Likewise the first calls answered by the interpreter while numba compiles in a background
# thread (runtime/background.py): tests/runtime/test_background.py turns it on.
os.environ.setdefault("ADJIT_BACKGROUND_COMPILE", "0")

# Every output array is a buffer reused across calls (users: those of 1 MiB or more;
# runtime/buffers.py), so every compiled test also checks that a reused buffer gives the
# results of a fresh one; with ADJIT_CHECKS=1 (CI's last step) each is first filled with NaN.
os.environ.setdefault("ADJIT_REUSE_MIN_KB", "0")

# target="cuda" tests (tests/cuda) run on numba's CUDA simulator unless told otherwise
# (NUMBA_ENABLE_CUDASIM=0 on a machine with a GPU); numba reads it when first imported.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

# CI runs each property test on a fixed set of examples, so a run cannot fail by chance;
# locally hypothesis explores new examples every time.
if os.environ.get("CI"):
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, database=None)
    settings.load_profile("ci")

# The numpy/scipy coverage suites check the front end (what traces, its values and
# derivatives against numpy, scipy and finite differences) over hundreds of small graphs;
# they run the generated text as plain Python (ADJIT_NOJIT: the same source numba compiles),
# while tests/codegen and tests/prims compile each primitive's code with numba. A test in them
# that is about compiled code says so with @pytest.mark.compiled.
_PLAIN_PYTHON = {"test_np_building", "test_np_elementwise", "test_np_lists", "test_np_sorting",
                 "test_scipy_api", "test_complex", "test_fft", "test_linalg_complex"}


def pytest_configure(config):  # noqa: ANN001, ANN201
    config.addinivalue_line("markers", "compiled: run with numba even in a plain-Python suite")


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _plain_python_coverage_suites(request, monkeypatch):  # noqa: ANN001, ANN201
    module = request.node.module.__name__.rsplit(".", 1)[-1] if request.node.module else ""
    if module in _PLAIN_PYTHON and request.node.get_closest_marker("compiled") is None:
        monkeypatch.setenv("ADJIT_NOJIT", "1")
