"""The functional seed examples F1-F8 and F11; the same as `python -m adjit demo`."""
from adjit.demo import main

if __name__ == "__main__":
    raise SystemExit(main())
