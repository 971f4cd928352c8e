"""The disk cache is keyed by the generated code, not its comments: the same graph generated
from another script (other `file:line` comments) finds the same entry and compiled kernel."""
from __future__ import annotations

from adjit.codegen import cache


def test_comment_lines_do_not_change_the_entry(tmp_path) -> None:
    folder = cache.open_folder(tmp_path / "c")
    a = "def f(x):\n    # %0 = mul x, x : f64[]   train.py:12\n    return x * x  # kept\n"
    b = "def f(x):\n    # %0 = mul x, x : f64[]   other.py:40 vjp(mul)\n    return x * x  # kept\n"
    assert folder.entry(a) == folder.entry(b)
    assert cache.code_hash(a) == cache.code_hash(b)
    # code, and comments after code (the fastmath version on the import line), do count
    assert folder.entry(a) != folder.entry(a.replace("x * x", "x + x"))
    assert folder.entry(a) != folder.entry(a.replace("# kept", "# other"))
    # line numbers are kept (a comment line is blanked, not removed)
    assert cache.code_hash(a) != cache.code_hash(a.replace("    # %0", "\n    # %0"))
