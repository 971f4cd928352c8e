"""The only module that reads adjit's environment variables.

ADJIT_CACHE_DIR   where generated source and compiled kernels are cached (default
                  ~/.cache/adjit); it must be yours and writable by no one else (codegen/cache.py)
ADJIT_CACHE_MAX_MB=500  the disk cache's size bound; least recently used entries go first
ADJIT_COMPILE_WORKER=0  compile in this process (default: kernels not on disk yet are compiled
                  by a helper process, whose compiler memory numba would otherwise never free)
ADJIT_LOG=compile report each compilation: what, why, how long (logger "adjit", INFO)
ADJIT_NOJIT=1     run the generated source as plain Python (debugging)
ADJIT_COMPILE_AFTER=2  a small function (little array work, no loops) runs its generated
                  source as plain Python for its first call and is compiled by numba at the
                  second: code called once (tests, one-off gradients) never waits for numba.
                  1 compiles every function at its first call
ADJIT_BACKGROUND_COMPILE=0  compile a kernel that is not in the disk cache before the first
                  call returns (default: the first calls are answered by the numpy reference
                  interpreter while numba compiles in a background thread; runtime/background.py)
ADJIT_SPLIT_LINES=600  a generated function longer than this many lines is compiled as
                  several numba functions called in order (codegen/split.py): numba's compile
                  time grows faster than a function's size; 0 never splits
ADJIT_REUSE_MIN_KB=1024  output arrays of this size or more are buffers reused across calls
                  once the caller drops them (runtime/buffers.py); 0 all, -1 none
ADJIT_REUSE_MAX_MB  what those buffers may hold in all (default: a quarter of the memory)
ADJIT_CHECKS=1    verify the IR after every pass (and fill reused buffers with NaN first)
ADJIT_DUMP=after:prune[,after:simplify]  print the IR after the named passes (DUMP_POINTS);
                  an entry naming no pass is reported once, with the valid ones
"""
from __future__ import annotations

import functools
import os
import pathlib
import warnings
from typing import Any


def requested_cache_dir() -> pathlib.Path:
    """The cache folder asked for; `codegen.cache.open_folder` checks it before use."""
    root = os.environ.get("ADJIT_CACHE_DIR")
    if root:
        return pathlib.Path(root).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "adjit"


def cache_folder() -> Any:
    """The checked cache folder (`codegen.cache.Folder`): the requested one when it is safe,
    else a private temporary folder for this process (with a warning)."""
    from adjit.codegen.cache import open_folder

    return open_folder(requested_cache_dir(), cache_max_bytes())


def cache_dir() -> pathlib.Path:
    """The folder compiled code is cached in (see `cache_folder`)."""
    return cache_folder().path


def cache_max_bytes() -> int:
    text = os.environ.get("ADJIT_CACHE_MAX_MB", "").strip() or "500"
    try:
        mb = float(text)
    except ValueError:
        mb = -1.0
    if not mb > 0:
        raise ValueError(f"ADJIT_CACHE_MAX_MB must be a positive number of megabytes, got "
                         f"{text!r}")
    return int(mb * 2**20)


def compile_worker() -> bool:
    return os.environ.get("ADJIT_COMPILE_WORKER", "1") not in ("", "0")


def background_compile() -> bool:
    return os.environ.get("ADJIT_BACKGROUND_COMPILE", "1") not in ("", "0")


def log_topics() -> set[str]:
    """ADJIT_LOG=compile[,...]: what to report on stderr."""
    return {t.strip() for t in os.environ.get("ADJIT_LOG", "").split(",") if t.strip()}


def nojit() -> bool:
    return os.environ.get("ADJIT_NOJIT", "") not in ("", "0")


def compile_after() -> int:
    return _int("ADJIT_COMPILE_AFTER", 2)


def checks() -> bool:
    return os.environ.get("ADJIT_CHECKS", "") not in ("", "0")


# The points of the pipeline where ADJIT_DUMP can print: `passes.pipeline` prints the graph
# after trace, adjoint, prune and simplify, and `runtime.compiler` the kernel plan after fuse.
# tests/runtime/test_cli_config.py checks that the two lists agree.
DUMP_POINTS = ("trace", "adjoint", "prune", "simplify", "fuse")


def dump_after() -> frozenset[str]:
    """The passes named by ADJIT_DUMP (`after:prune,after:simplify`). An entry that names no
    pass is not ignored silently: it is reported once (per value of ADJIT_DUMP) with a warning
    that lists the valid entries."""
    return _parse_dump(os.environ.get("ADJIT_DUMP", ""))


@functools.lru_cache(maxsize=16)
def _parse_dump(spec: str) -> frozenset[str]:
    names, bad = set(), []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        kind, _, name = part.partition(":")
        if kind.strip() == "after" and name.strip() in DUMP_POINTS:
            names.add(name.strip())
        else:
            bad.append(part)
    if bad:
        warnings.warn(f"ADJIT_DUMP={spec!r}: nothing is printed for "
                      f"{', '.join(repr(b) for b in bad)}. An entry is after:<pass>, comma "
                      f"separated, with <pass> one of {', '.join(DUMP_POINTS)}",
                      UserWarning, stacklevel=3)
    return frozenset(names)


def max_specializations() -> int:
    """ADJIT_MAX_SPECIALIZATIONS: compiled versions kept per function (least recent out)."""
    return _int("ADJIT_MAX_SPECIALIZATIONS", 32)


def recompile_warning() -> int:
    """ADJIT_RECOMPILE_WARNING: compilations of one function after which adjit warns once."""
    return _int("ADJIT_RECOMPILE_WARNING", 16)


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return max(1, int(raw)) if raw else default
    except ValueError:
        return default


def max_tape_bytes() -> int:
    """ADJIT_MAX_TAPE_MB: how much a `while` under differentiation may record (default 4096)."""
    return _int("ADJIT_MAX_TAPE_MB", 4096) << 20


def reuse_min_bytes() -> int:
    """ADJIT_REUSE_MIN_KB: output arrays of at least this many KiB are reused across calls
    (runtime/buffers.py; default 1024, 0: all of them, -1: none). Returns -1 for none."""
    import sys

    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        return -1  # (free-threaded Python: the reference-count check would race)
    raw = os.environ.get("ADJIT_REUSE_MIN_KB", "").strip()
    try:
        kb = int(raw) if raw else 1024
    except ValueError:
        kb = 1024
    return -1 if kb < 0 else kb << 10


def reuse_max_bytes() -> int:
    """ADJIT_REUSE_MAX_MB: what all pools of reused outputs keep together (default: a quarter
    of the machine's memory)."""
    raw = os.environ.get("ADJIT_REUSE_MAX_MB", "").strip()
    if raw.isdigit():
        return int(raw) << 20
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4
    except (ValueError, OSError, AttributeError):
        return 1 << 30


def split_lines() -> int:
    """ADJIT_SPLIT_LINES: the length past which a generated function is split (0: never)."""
    raw = os.environ.get("ADJIT_SPLIT_LINES", "").strip()
    return max(0, int(raw)) if raw.isdigit() else 600
