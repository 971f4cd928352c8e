"""The only module that reads adjit's environment variables.

ADJIT_CACHE_DIR   where generated source and numba's cache live (default ~/.cache/adjit)
ADJIT_NOJIT=1     run the generated source as plain Python (debugging)
ADJIT_CHECKS=1    verify the IR after every pass
ADJIT_DUMP=after:prune[,after:simplify]  print the IR after the named passes (DUMP_POINTS);
                  an entry naming no pass is reported once, with the valid ones
"""
from __future__ import annotations

import functools
import os
import pathlib
import warnings


def cache_dir() -> pathlib.Path:
    root = os.environ.get("ADJIT_CACHE_DIR")
    if root:
        path = pathlib.Path(root)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = pathlib.Path(base) / "adjit"
    try:
        path.mkdir(parents=True, exist_ok=True)
        if os.access(path, os.W_OK):
            return path
    except OSError:
        pass
    # An unwritable cache location must not stop compilation: use a private temp folder.
    import tempfile

    fallback = pathlib.Path(tempfile.gettempdir()) / f"adjit-{os.getuid()}"
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def nojit() -> bool:
    return os.environ.get("ADJIT_NOJIT", "") not in ("", "0")


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
