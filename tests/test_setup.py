"""Installing and running adjit as the README says: from the root of a checkout (where the
`adjit/` folder shadows the installed package) and from a normal, non-editable install, which
must carry what error messages point to (the list of the numpy that traces).

.ci/run runs the README's commands themselves on a fresh clone; these tests check the
mechanisms in a few seconds."""
from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
STAGE_FOLDERS = ("ir", "tracer", "passes", "codegen", "runtime")

# Run first in a child Python: drop the finder of an editable install (`pip install -e`), so
# that only sys.path decides where `adjit` and its subpackages come from, as after a normal
# `pip install .`.
NO_EDITABLE = ("import sys\n"
               "sys.meta_path[:] = [f for f in sys.meta_path\n"
               "                    if '__editable__' not in getattr(f, '__module__', '')]\n"
               "sys.path_hooks[:] = [h for h in sys.path_hooks\n"
               "                     if '__editable__' not in getattr(h, '__module__', '')]\n"
               "sys.path_importer_cache.clear()\n")


def _python(code: str, cwd: pathlib.Path, tmp: pathlib.Path, pythonpath: str = "",
            timeout: float = 240) -> str:
    env = dict(os.environ, ADJIT_CACHE_DIR=str(tmp / "cache"), ADJIT_NOJIT="1",
               PYTHONPATH=pythonpath)
    r = subprocess.run([sys.executable, "-c", NO_EDITABLE + code], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_checkout_root_imports_the_stage_folders_without_an_editable_install(
        tmp_path: pathlib.Path) -> None:
    """`pip install . && python -m adjit demo` in the root: the root's adjit/ is imported (the
    current folder comes first on sys.path) and must find adjit.ir etc. in the checkout."""
    out = _python(
        "import adjit, numpy as np\n"
        "import adjit.ir, adjit.tracer, adjit.passes, adjit.codegen, adjit.runtime\n"
        "print(adjit.__file__)\n"
        "for m in (adjit.ir, adjit.tracer, adjit.passes, adjit.codegen, adjit.runtime):\n"
        "    print(m.__file__)\n"
        "print(adjit.grad(lambda x: (x * x).sum())(np.arange(3.0)).tolist())\n"
        "from adjit.__main__ import numpy_doc\n"
        "print(numpy_doc().splitlines()[0])\n", cwd=ROOT, tmp=tmp_path)
    lines = out.splitlines()
    assert lines[0] == str(ROOT / "adjit" / "__init__.py")
    assert lines[1:6] == [str(ROOT / d / "__init__.py") for d in STAGE_FOLDERS]
    assert lines[6:] == ["[0.0, 2.0, 4.0]", "# The numpy that adjit traces"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """adjit's wheel, built as `pip install .` builds it (in an isolated build environment),
    from a copy of the sources so that the checkout stays clean."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "checkout"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for d in ("adjit", "docs", *STAGE_FOLDERS):
        shutil.copytree(ROOT / d, src / d, ignore=ignore)
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, src / f)
    out = tmp / "dist"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                        str(src)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = out.glob("adjit-*.whl")
    return wheel


def test_wheel_holds_every_subpackage_and_the_numpy_list(wheel: pathlib.Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for d in (*STAGE_FOLDERS, "ir/prims"):
        assert f"adjit/{d}/__init__.py" in names, d
    assert {"adjit/__init__.py", "adjit/__main__.py", "adjit/demo.py",
            "adjit/docs/numpy.md"} <= names
    assert not any(n.startswith(("tests/", "ir/", "adjit/tests/")) for n in names)


def test_wheel_install_runs_from_another_folder_and_from_the_root(
        wheel: pathlib.Path, tmp_path: pathlib.Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Another folder: the installed copy, whose search path is left alone.
    out = _python("import runpy, adjit\n"
                  "print(adjit.__file__, list(adjit.__path__))\n"
                  "sys.argv = ['adjit', 'numpy']\n"
                  "runpy.run_module('adjit', run_name='__main__')\n",
                  cwd=elsewhere, tmp=tmp_path, pythonpath=str(site))
    first, *doc = out.splitlines()
    assert first == f"{site / 'adjit' / '__init__.py'} {[str(site / 'adjit')]}"
    assert doc[0] == "# The numpy that adjit traces"
    assert "### `np.linalg`" in out and "`norm`" in out
    # The demo, from the installed copy (plain Python: ADJIT_NOJIT keeps this test short).
    out = _python("import runpy\n"
                  "sys.argv = ['adjit', 'demo']\n"
                  "try:\n"
                  "    runpy.run_module('adjit', run_name='__main__')\n"
                  "except SystemExit as e:\n"
                  "    assert e.code == 0, e.code\n",
                  cwd=elsewhere, tmp=tmp_path, pythonpath=str(site))
    assert "F10 " in out and "BAD" not in out
    # Frames in the installed adjit.nn and adjit.optim are adjit's, not the user's line.
    out = _python("import adjit.nn.layers as a, adjit.optim as b, adjit.tracer.loc as loc\n"
                  "print(loc._internal(a.__file__), loc._internal(b.__file__), "
                  "loc._internal('/home/me/train.py'))\n",
                  cwd=elsewhere, tmp=tmp_path, pythonpath=str(site))
    assert out.split() == ["True", "True", "False"]
    assert list(elsewhere.iterdir()) == []
    # The root of the checkout: its own adjit/, complete.
    out = _python("import adjit.runtime\nprint(adjit.runtime.__file__)\n",
                  cwd=ROOT, tmp=tmp_path, pythonpath=str(site))
    assert out.strip() == str(ROOT / "runtime" / "__init__.py")


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"^```bash\n(.*?)^```", text, re.DOTALL | re.MULTILINE).group(1)
    return [ln.strip() for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]


def test_ci_runs_the_readme_commands_exactly() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    assert any("pip install . && python -m adjit demo" in c for c in commands)
    assert any("python -m pytest" in c for c in commands)
    ci = (ROOT / ".ci" / "run").read_text()
    for command in commands:
        assert command in ci, command
    assert "ruff check" in ci and "ADJIT_CHECKS=1" in ci


def test_numpy_reference_is_generated_from_the_registry() -> None:
    """The reference part of docs/numpy.md is what the dispatch tables generate now (run
    `python -m adjit numpy --write` after adding a function)."""
    from adjit.tracer import surface

    current = (ROOT / "docs" / "numpy.md").read_text()
    assert surface.MARKER in current
    assert current == surface.page(current), "run `python -m adjit numpy --write`"


def test_numpy_list_names_every_registered_numpy_function() -> None:
    """docs/numpy.md (printed by `python -m adjit numpy`) mentions every ufunc and function
    the tracer registers, so the list error messages point to cannot fall behind."""
    from adjit.tracer import numpy_api

    words = set(re.findall(r"\w+", (ROOT / "docs" / "numpy.md").read_text()))
    ufuncs = set(numpy_api._UFUNC_PRIMS) | set(numpy_api._UFUNC_EXTRA)
    functions = {getattr(f, "__name__", str(f)) for f, impl in numpy_api.FUNCTIONS.items()
                 if "unsupported" not in getattr(impl, "__name__", "")}
    assert not sorted((ufuncs | functions) - words)
