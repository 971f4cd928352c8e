"""The disk cache's size bound (codegen/cache.py): least recently used entries go first, whole;
the folder is scanned rarely; `python -m adjit cache info|clear`."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from adjit.codegen import cache
from adjit.codegen.compile import compile_source
from adjit.codegen.cpu import Source


def _folder(path: Path, max_bytes: int) -> cache.Folder:
    cache._FOLDERS.clear()
    return cache.open_folder(path, max_bytes)


def _entry(f: cache.Folder, i: int, size: int, used: float) -> Path:
    """An entry of about `size` bytes (source + one compiled file), last used at `used`."""
    text = f"kernel = {i}\n"  # code: comment lines do not key an entry (code_hash)
    f.write_source(text, "k")
    entry = f.entry(text)
    f.write_kernel(entry, hashlib.sha256(text.encode()).digest(), "tag", b"x" * size)
    os.utime(entry, (used, used))
    return entry


def test_least_recently_used_entries_go_whole(tmp_path: Path) -> None:
    f = _folder(tmp_path / "c", max_bytes=2**30)  # the writes below do not evict ...
    entries = [_entry(f, i, 1000, used=1_000_000 + i) for i in range(15)]
    f.max_bytes = 10_000  # ... this bound does
    f.touch(entries[0])  # used just now: the oldest write, the most recent use
    assert f.evict() > 0
    left = [e for e in entries if e.exists()]
    assert entries[0] in left and entries[1] not in left
    assert left == [entries[0], *entries[-len(left) + 1:]]  # the newest survive
    info = f.info()
    assert info.entries == len(left) and info.bytes <= 0.8 * 10_000
    for e in left:  # nothing half-removed
        assert sorted(p.suffix for p in e.iterdir()) == [".nbk", ".py"]
    assert not [p for p in f.path.iterdir() if p.name.startswith(".trash")]


def test_the_folder_is_scanned_rarely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = _folder(tmp_path / "c", max_bytes=2**30)
    scans = []
    monkeypatch.setattr(cache.Folder, "evict", lambda self: scans.append(1) or 0)
    for i in range(2 * cache.SCAN_EVERY + 1):
        _entry(f, i, 10, used=1_000_000)
    assert len(scans) == 3  # the first write of the process, then every SCAN_EVERY writes
    f.write_source("# only read\n", "k")  # sources alone never trigger one
    assert len(scans) == 3


def test_a_write_past_the_limit_evicts(tmp_path: Path) -> None:
    f = _folder(tmp_path / "c", max_bytes=8 * 1000)
    for i in range(40):
        _entry(f, i, 1000, used=1_000_000 + i)
    assert f.info().bytes <= 8 * 1000 + 8 * 1000 // 8 + 2000  # scanned every max/8 bytes


def test_compiled_entries_are_evicted_and_recompiled(tmp_path: Path) -> None:
    f = _folder(tmp_path / "c", max_bytes=1)  # every write evicts everything older
    x = np.arange(3.0)
    srcs = [Source(f"def k(x):\n    return (x * {i}.0,)\n", "k") for i in range(3)]
    for s in srcs:
        compile_source(s, f, signature_args=(x,))
    fn = compile_source(srcs[0], f, signature_args=(x,))
    assert fn(x)[0].tolist() == [0.0, 0.0, 0.0]


def test_clear_and_old_layout(tmp_path: Path) -> None:
    f = _folder(tmp_path / "c", max_bytes=2**20)
    for i in range(3):
        _entry(f, i, 100, used=1_000_000)
    old = f.path / ("0" * 20 + ".py")  # the layout before entries: flat sources, __pycache__
    old.write_text("x = 1\n")
    (f.path / "__pycache__").mkdir()
    (f.path / "__pycache__" / ("0" * 20 + ".k-4.py311.nbi")).write_bytes(b"x")
    mine = f.path / "notes.txt"  # not adjit's: left alone
    mine.write_text("keep")
    assert f.clear() == 3
    assert sorted(p.name for p in f.path.iterdir()) == [cache.KEY_NAME, "notes.txt"]


def test_cli_info_and_clear(tmp_path: Path) -> None:
    env = {**os.environ, "ADJIT_CACHE_DIR": str(tmp_path / "c"), "ADJIT_CACHE_MAX_MB": "7"}
    f = _folder(tmp_path / "c", max_bytes=7 * 2**20)
    _entry(f, 0, 2**20, used=1_000_000)

    def run(*args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "adjit", "cache", *args], env=env,
                             capture_output=True, text=True, timeout=120, check=False)
        assert out.returncode == 0, out.stderr
        return out.stdout

    info = run("info")
    assert str(tmp_path / "c") in info and "entries  1" in info
    assert "size     1.0 MB" in info and "limit    7 MB" in info
    assert "removed 1 entries" in run("clear")
    assert "entries  0" in run("info")
    env["ADJIT_CACHE_MAX_MB"] = "lots"
    out = subprocess.run([sys.executable, "-m", "adjit", "cache", "info"], env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2 and "ADJIT_CACHE_MAX_MB must be a positive number" in out.stderr
