"""Command line: `python -m adjit demo [--plot PATH]`, `inspect`, `compare` and `numpy`.

A bad command line (an unknown stage, an `--args` expression that does not evaluate, a missing
file) is reported in one line saying what is wrong, with exit status 2; an adjit error in the
user's function is printed as adjit prints it (file, line, caret, hint), with status 1.
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import pathlib
import sys
from typing import Any

# What `--stage` accepts; runtime/inspect.py's Inspection.STAGES, spelled here so that the
# parser (and `--help`) does not import adjit. tests/runtime/test_cli_config.py keeps the
# two equal.
STAGES = ("traced", "guards", "adjoint", "pruned", "prune_report", "simplified", "rewrites",
          "plan", "loops", "source")


class UsageError(Exception):
    """A command line that cannot run: the message says what is wrong in it."""


def _load(target: str) -> Any:
    path, _, name = target.rpartition(":")
    if not path or not name:
        raise UsageError(f"expected path/to/file.py:function, got {target!r}")
    file = pathlib.Path(path)
    if not file.is_file():
        raise UsageError(f"no such file {path}")
    spec = importlib.util.spec_from_file_location(file.stem, file)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(file.parent.resolve()))
    spec.loader.exec_module(module)
    try:
        return getattr(module, name)
    except AttributeError:
        raise UsageError(f"{path} has no function {name!r}") from None


def _args(text: str) -> tuple:
    """The arguments `--args` spells: one expression, or several separated by commas, with
    `np` and `numpy` in scope. One that fails is named, with its error."""
    import numpy as np

    env = {"np": np, "numpy": np}
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as e:
        raise UsageError(f"--args {text!r} is not a Python expression: {e.msg}") from None
    body = tree.body
    spread = isinstance(body, ast.Tuple) and not any(isinstance(e, ast.Starred)
                                                     for e in body.elts)
    parts = body.elts if spread else [body]
    values = []
    for node in parts:
        expr = ast.get_source_segment(source, node) or source
        try:
            # The user's own expression, evaluated by design (as the shell would run it).
            code = compile(ast.Expression(node), "<--args>", "eval")
            values.append(eval(code, env))  # noqa: S307
        except Exception as e:  # noqa: BLE001  (any failure is reported, not a traceback)
            what = f"--args {text!r}" + ("" if expr == source else
                                          f": the expression {expr!r}")
            raise UsageError(f"{what} failed to evaluate: {type(e).__name__}: {e}") from None
    if spread:
        return tuple(values)
    value = values[0]
    return value if isinstance(value, tuple) else (value,)


def _demo(ns: argparse.Namespace) -> int:
    from adjit.demo import main as demo

    return demo(plot_path=ns.plot)


def _inspect(ns: argparse.Namespace) -> int:
    import adjit

    fn = _load(ns.target)
    args = _args(ns.args)
    try:
        ins = adjit.inspect(fn, *args, target=ns.device)
    except adjit.AdjitError as e:
        print(f"adjit: {e}", file=sys.stderr)
        return 1
    if not ns.stage:
        print(ins)
        return 0
    value = getattr(ins, ns.stage)
    if ns.stage == "guards":
        print("\n".join(map(str, value)) if value else "no guards: no Python decision was "
                                                        "taken on a traced value")
        return 0
    if value is None:
        print(f"adjit: {ns.target} has no {ns.stage} stage: it is compiled without a "
              f"derivative", file=sys.stderr)
        return 1
    print(value)
    return 0


def _compare(ns: argparse.Namespace) -> int:
    import adjit

    fn = _load(ns.target)
    build = _load(ns.declared) if ns.declared else None
    recorded = False if ns.no_recorded else _load(ns.recorded) if ns.recorded else True
    args = _args(ns.args)
    try:
        print(adjit.compare(fn, *args, declared=build, recorded=recorded))
    except adjit.AdjitError as e:
        print(f"adjit: {e}", file=sys.stderr)
        return 1
    return 0


def numpy_doc() -> str:
    """The list of the numpy that traces (docs/numpy.md, shipped with the package)."""
    from importlib.resources import files

    return files("adjit.docs").joinpath("numpy.md").read_text(encoding="utf-8")


def _numpy(ns: argparse.Namespace) -> int:
    if ns.write:
        from importlib.resources import as_file, files

        from adjit.tracer import surface

        with as_file(files("adjit.docs").joinpath("numpy.md")) as path:
            path.write_text(surface.page(path.read_text(encoding="utf-8")), encoding="utf-8")
            print(f"wrote {path}")
        return 0
    print(numpy_doc())
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m adjit")
    sub = top.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="run the seed examples: functional F1-F11 and recorded "
                                       "R1-R14")
    d.add_argument("--plot", metavar="PATH", help="also draw sin(x) and its derivative (F11) "
                                                  "into PATH, e.g. f11.png (needs matplotlib)")
    d.set_defaults(run=_demo)
    p = sub.add_parser("inspect", help="print every compilation stage of a function")
    p.add_argument("target", help="path/to/file.py:function")
    p.add_argument("--args", required=True, help='Python expression for the arguments, '
                                                 'e.g. "np.arange(4.0)" or "np.ones(3), 2.0"')
    p.add_argument("--stage", choices=STAGES, metavar="STAGE",
                   help=f"print only this stage: {', '.join(STAGES)}")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None,
                   help="compile for this target (cuda: numba.cuda kernels; without a GPU set "
                        "NUMBA_ENABLE_CUDASIM=1)")
    p.set_defaults(run=_inspect)
    c = sub.add_parser("compare", help="the traced, declared and recorded graphs of a "
                                       "function, side by side")
    c.add_argument("target", help="path/to/file.py:function (traced, and recorded: run on "
                                  "adjit.Tensor arguments)")
    c.add_argument("--declared", help="path/to/file.py:build, called with one declared "
                                      "variable per argument")
    rec = c.add_mutually_exclusive_group()
    rec.add_argument("--recorded", help="path/to/file.py:function to run on tensors instead "
                                        "of the target")
    rec.add_argument("--no-recorded", action="store_true", help="leave the recorded way out")
    c.add_argument("--args", required=True, help="Python expression for the arguments")
    c.set_defaults(run=_compare)
    n = sub.add_parser("numpy", help="list the numpy functions, methods and Python constructs "
                                     "that trace")
    n.add_argument("--write", action="store_true", help="regenerate the reference part of "
                   "docs/numpy.md from the dispatch tables (for adjit's developers)")
    n.set_defaults(run=_numpy)
    k = sub.add_parser("cache", help="the disk cache: `cache info` or `cache clear`")
    k.add_argument("action", choices=("info", "clear"),
                   help="info: folder, entries, size and limit; clear: remove every entry")
    k.set_defaults(run=_cache)
    # Further subcommands register here: a parser with set_defaults(run=...).
    return top


def _cache(ns: argparse.Namespace) -> int:
    from adjit.runtime.diskcache import main as cache_main

    return cache_main([ns.action])


def main(argv: list[str] | None = None) -> int:
    ns = parser().parse_args(argv)
    try:
        return ns.run(ns)
    except UsageError as e:
        print(f"adjit: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader stopped early (`python -m adjit numpy | head`): not an error. Point
        # stdout at devnull so that the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
