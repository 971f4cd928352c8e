"""The README's first example runs and prints exactly the output the README shows."""
from __future__ import annotations

import contextlib
import io
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[tuple[str, int, str]]:
    text = README.read_text()
    out = []
    for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
        line = text[:m.start(2)].count("\n") + 1
        out.append((m.group(1), line, m.group(2)))
    return out


def test_readme_example_prints_what_the_readme_shows() -> None:
    blocks = _blocks()
    i = next(i for i, (lang, _, _) in enumerate(blocks) if lang == "python")
    _, line, code = blocks[i]
    _, _, expected = blocks[i + 1]
    # Pad so the code keeps its README line numbers: the printed IR shows them.
    source = "\n" * (line - 1) + code
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(source, str(README), "exec"), {"__name__": "readme"})
    got = [ln.rstrip() for ln in buf.getvalue().strip().splitlines()]
    want = [ln.rstrip() for ln in expected.strip().splitlines()]
    assert got == want, "\n".join(got)


def test_every_readme_python_block_runs() -> None:
    namespace: dict = {"__name__": "readme"}
    buf = io.StringIO()
    for lang, line, code in _blocks():
        if lang != "python":
            continue
        source = "\n" * (line - 1) + code
        with contextlib.redirect_stdout(buf):
            exec(compile(source, str(README), "exec"), namespace)
    assert "canonical IR: identical" in buf.getvalue()
