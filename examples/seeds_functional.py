"""The functional seed examples F1-F11; the same as `python -m adjit demo [--plot PATH]`."""
import sys

from adjit.__main__ import main

if __name__ == "__main__":
    raise SystemExit(main(["demo", *sys.argv[1:]]))
