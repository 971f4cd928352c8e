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

# CI runs each property test on a fixed set of examples, so a run cannot fail by chance;
# locally hypothesis explores new examples every time.
if os.environ.get("CI"):
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, database=None)
    settings.load_profile("ci")
