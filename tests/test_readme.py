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


def test_readme_compare_output_matches_but_for_the_times() -> None:
    """The three-way compare shown in the README is what adjit prints (timings aside)."""
    blocks = _blocks()
    i = next(i for i, (lang, _, code) in enumerate(blocks)
             if lang == "python" and "adjit.compare(" in code)
    shown = blocks[i + 1][2]
    namespace: dict = {"__name__": "readme"}
    buf = io.StringIO()
    import adjit

    # a fresh declaring graph: another test may have declared the README's `x` already
    with contextlib.redirect_stdout(buf), adjit.explicit.declaring():
        for lang, line, code in blocks[:i + 1]:
            if lang == "python":
                exec(compile("\n" * (line - 1) + code, str(README), "exec"), namespace)
    printed = buf.getvalue()
    assert "tensor([ 0.,  4.,  8., 12.], dtype=float64)" in printed

    def untimed(text: str) -> list[str]:
        return [ln.rstrip() for ln in text.strip().splitlines()
                if not re.match(r"\s+(build|compile|run)\s", ln)]

    got = untimed(printed[printed.index("adjit.compare: f"):])
    assert got == untimed(shown), "\n".join(got)
