"""`python -m adjit cache info` and `python -m adjit cache clear`: the disk cache's folder,
entries, size and limit, and emptying it (codegen/cache.py has the rules)."""
from __future__ import annotations

import argparse
import sys

from . import config


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m adjit cache",
                                     description="adjit's disk cache of compiled kernels")
    parser.add_argument("action", choices=("info", "clear"),
                        help="info: folder, entries, size and limit; clear: remove every entry")
    ns = parser.parse_args(argv)
    try:
        folder = config.cache_folder()
    except ValueError as e:  # a bad ADJIT_CACHE_MAX_MB
        print(f"adjit: {e}", file=sys.stderr)
        return 2
    if ns.action == "clear":
        n = folder.clear()
        print(f"removed {n} entries from {folder.path}")
        return 0
    info = folder.info()
    print(f"folder   {info.folder}")
    if info.why_not:
        print(f"         (not {info.requested}: {info.why_not})")
    print(f"entries  {info.entries}")
    print(f"size     {info.bytes / 2**20:.1f} MB")
    print(f"limit    {info.max_bytes / 2**20:.0f} MB (ADJIT_CACHE_MAX_MB); least recently used "
          f"entries are removed past it")
    return 0
