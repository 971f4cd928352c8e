"""Command line: `python -m adjit demo` and `python -m adjit inspect file.py:func --args "..."`."""
from __future__ import annotations

import argparse
import importlib.util
import pathlib
import sys
from typing import Any


def _load(target: str) -> Any:
    path, _, name = target.rpartition(":")
    if not path or not name:
        raise SystemExit(f"adjit: expected path/to/file.py:function, got {target!r}")
    file = pathlib.Path(path)
    if not file.exists():
        raise SystemExit(f"adjit: no such file {path}")
    spec = importlib.util.spec_from_file_location(file.stem, file)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(file.parent.resolve()))
    spec.loader.exec_module(module)
    try:
        return getattr(module, name)
    except AttributeError:
        raise SystemExit(f"adjit: {path} has no function {name!r}") from None


def _args(text: str) -> tuple:
    import numpy as np

    value = eval(text, {"np": np, "numpy": np})  # the user's own expression, by design
    return value if isinstance(value, tuple) else (value,)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["cache"]:  # `cache info` / `cache clear`: runtime/diskcache.py
        from adjit.runtime.diskcache import main as cache_main

        return cache_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m adjit")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the functional seed examples F1-F8 and F11")
    sub.add_parser("cache", help="the disk cache: `cache info` or `cache clear`")
    p = sub.add_parser("inspect", help="print every compilation stage of a function")
    p.add_argument("target", help="path/to/file.py:function")
    p.add_argument("--args", required=True, help='Python expression for the arguments, '
                                                 'e.g. "np.arange(4.0)" or "np.ones(3), 2.0"')
    p.add_argument("--stage", help="print only this stage: traced, adjoint, pruned, "
                                   "simplified, plan, source")
    c = sub.add_parser("compare", help="the traced and declared graphs of a function, "
                                       "side by side")
    c.add_argument("target", help="path/to/file.py:function (traced)")
    c.add_argument("--declared", help="path/to/file.py:build, called with one declared "
                                      "variable per argument")
    c.add_argument("--args", required=True, help="Python expression for the arguments")
    ns = parser.parse_args(argv)
    if ns.command == "demo":
        from adjit.demo import main as demo

        return demo()
    import adjit

    fn = _load(ns.target)
    if ns.command == "compare":
        build = _load(ns.declared) if ns.declared else None
        try:
            print(adjit.compare(fn, *_args(ns.args), declared=build))
        except adjit.AdjitError as e:
            print(f"adjit: {e}", file=sys.stderr)
            return 1
        return 0
    try:
        ins = adjit.inspect(fn, *_args(ns.args))
    except adjit.AdjitError as e:
        print(f"adjit: {e}", file=sys.stderr)
        return 1
    print(getattr(ins, ns.stage) if ns.stage else ins)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
