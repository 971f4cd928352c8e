"""Shared pytest setup. `tests/` is put on `sys.path` so suites can `import check`."""
import pathlib
import sys

_TESTS = str(pathlib.Path(__file__).parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
