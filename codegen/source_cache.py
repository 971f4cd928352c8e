"""Generated sources kept in the disk cache by the graph they come from: a warm start skips
code generation.

A warm start (a new process, its kernels in the disk cache) still traces the function and
runs the passes (a specialization keeps their results), but the kernel's text is a function
of the final graph, the emitter's options and adjit's own code only; generating it costs as
much as the passes (2.6 s for a 5,700-equation gradient, 3-12 ms and the code generator's
imports, ~40 ms, for a small one). `load` finds the `Source` that `save` stored for the same
key, so that `emit_cpu` runs only on a miss (`cached`).

The key is the sha256 of
- adjit's code generator: every `.py` file of ir/, passes/ and codegen/ (hashed once per
  process), ADJIT_PARALLEL (codegen/parallel.py), which changes the text, and the versions
  of numpy and Python (values print by their rules);
- the emitter's options and the kernel's name;
- the graph, written out exactly: the graph's name and notes; each value's type and name;
  variables numbered in the order they are defined; literals by dtype, shape and the sha256
  of their bytes; each equation's primitive, full location (file, line, function, source
  line: the text's comments and messages name them) and role; parameters by type and value,
  sub-graphs recursively. A parameter of any other type than those `_param` knows gives no
  key: the graph is not cached (a miss each time, never a wrong hit).

The entry is `<folder>/<key, 20 hex digits>/source.nbk`, written and read by
`cache.Folder.write_kernel`/`read_kernel`: an HMAC with the folder's key binds it to the key,
so a damaged, swapped or planted file is refused. Its payload is JSON (nothing is unpickled):
the Source's fields, with its array constants as indices into the graph's literals in the
order the key's walk meets them, so that the arrays are this graph's own.
Split functions (`Source.parts`) are not stored: rare (very large functions) and nested.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import pathlib
import struct
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from adjit.ir.core import ArrayType, Graph, Lit, Var

from . import parallel
from .cache import Folder
from .cpu_module import Source

log = logging.getLogger("adjit")

TAG = "source"  # the entry's file: source.nbk
_FORMAT = 1


class _NoKey(Exception):
    """The graph holds a parameter whose value this module cannot write out exactly."""


@functools.cache
def code_version() -> str:
    """The sha256 of the code generator's code: ir/, passes/, codegen/ (every .py file)."""
    import adjit.codegen
    import adjit.ir
    import adjit.passes

    h = hashlib.sha256()
    for pkg in (adjit.ir, adjit.passes, adjit.codegen):
        root = pathlib.Path(pkg.__file__).parent
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root.parent)).encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


class _Writer:
    """Writes a graph out exactly, for its hash (see the module docstring)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.var_numbers: dict[int, int] = {}
        self.lits: list[Lit] = []  # every literal, in the order met (the constants' indices)
        self._lit_ids: set[int] = set()

    def var(self, v: Var) -> str:
        n = self.var_numbers.setdefault(id(v), len(self.var_numbers))
        return f"%{n}:{v.type}:{v.name}"

    def value(self, v: Any) -> str:
        if isinstance(v, Var):
            return self.var(v)
        if isinstance(v, Lit):
            if id(v) not in self._lit_ids:
                self._lit_ids.add(id(v))
                self.lits.append(v)
            data = v.value.tobytes()
            body = data.hex() if len(data) <= 16 else hashlib.sha256(data).hexdigest()
            return f"lit:{v.type}:{body}"
        raise _NoKey(type(v).__name__)

    def graph(self, g: Graph) -> None:
        self.parts.append(f"graph {g.name!r} notes={g.notes!r}")
        self.parts.append("in " + " ".join(self.var(v) for v in g.inputs))
        for e in g.eqns:
            ins = " ".join(self.value(v) for v in e.inputs)
            outs = " ".join(self.var(v) for v in e.outputs)
            loc = (None if e.loc is None else
                   (e.loc.file, e.loc.line, e.loc.func, e.loc.source))
            self.parts.append(f"{e.prim} ({ins}) -> ({outs}) role={e.role!r} loc={loc!r}")
            for k, p in e.params:
                self.parts.append(f"  {k}=")
                self.param(p)
        self.parts.append("out " + " ".join(self.value(v) for v in g.outputs))

    def param(self, p: Any) -> None:
        if isinstance(p, Graph):
            self.graph(p)
            self.parts.append("end")
            return
        if isinstance(p, (tuple, list)):
            self.parts.append(f"{type(p).__name__}[{len(p)}]")
            for x in p:
                self.param(x)
            return
        self.parts.append(_atom(p) if not isinstance(p, (Var, Lit)) else self.value(p))


def _atom(p: Any) -> str:
    """An exact text of a parameter value, or _NoKey."""
    kind = type(p).__name__
    if p is None or isinstance(p, (bool, int, str, bytes)):
        return f"{kind}:{p!r}"
    if isinstance(p, float):
        return f"float:{struct.pack('<d', p).hex()}"
    if isinstance(p, complex):
        return f"complex:{struct.pack('<dd', p.real, p.imag).hex()}"
    if isinstance(p, np.generic):
        return f"np.{kind}:{p.tobytes().hex()}"
    if isinstance(p, np.dtype):
        return f"dtype:{p.str}"
    if isinstance(p, ArrayType):
        return f"type:{p}"
    if isinstance(p, np.ndarray):
        return (f"ndarray:{p.dtype.str}:{p.shape}:"
                f"{hashlib.sha256(np.ascontiguousarray(p).tobytes()).hexdigest()}")
    if isinstance(p, slice):
        return f"slice:{_atom(p.start)}:{_atom(p.stop)}:{_atom(p.step)}"
    if isinstance(p, frozenset):
        return "frozenset{" + ",".join(sorted(_atom(x) for x in p)) + "}"
    raise _NoKey(kind)


def key(graph: Graph, name: str, options: dict[str, Any]) -> tuple[bytes, list[Lit]] | None:
    """The key of the source `emit_cpu(graph, plan, name, **options)` generates, and the
    graph's literals in walk order; None where a parameter cannot be written out exactly."""
    w = _Writer()
    try:
        w.graph(graph)
    except _NoKey as e:
        log.debug("generated source of %s not cached: a parameter of type %s", name, e)
        return None
    head = json.dumps([_FORMAT, code_version(), parallel.available(), np.__version__,
                       sys.version, name, sorted(options.items())])
    h = hashlib.sha256(b"adjit-source\0" + head.encode() + b"\0")
    for part in w.parts:
        h.update(part.encode() + b"\n")
    return h.digest(), w.lits


def _entry(folder: Folder, digest: bytes) -> pathlib.Path:
    return folder.path / digest.hex()[:20]


def load(folder: Folder, found: tuple[bytes, list[Lit]]) -> Source | None:
    """The stored Source for this key, with this graph's constants; None when missing or
    refused (cache.Folder.read_kernel deletes a file that fails its check)."""
    digest, lits = found
    entry = _entry(folder, digest)
    payload = folder.read_kernel(entry, digest, TAG)
    if payload is None:
        return None
    try:
        d = json.loads(payload)
        consts = tuple(lits[i].value for i in d["consts"])
        parts = tuple(Source(p["text"], p["name"], (), tuple(p["callees"]))
                      for p in d["parts"])
        src = Source(d["text"], d["name"], consts, tuple(d["callees"]), parts,
                     guarded=bool(d["guarded"]), parallel=bool(d["parallel"]),
                     reused=tuple((tuple(s), str(t)) for s, t in d["reused"]),
                     copied=tuple(int(i) for i in d["copied"]))
    except (ValueError, KeyError, TypeError, IndexError) as e:  # verified, yet not readable
        log.warning("cached source %s is not readable (%s): generating it again", entry, e)
        return None
    folder.touch(entry)
    return src


def save(folder: Folder, found: tuple[bytes, list[Lit]], src: Source) -> None:
    """Store `src` under this key, unless its constants are not the graph's literals (then
    the next process generates it again)."""
    digest, lits = found
    if any(p != Source(p.text, p.name, (), p.callees) or p.consts for p in src.parts):
        return  # (split_part makes pieces of text, name and callees only)
    if not all(isinstance(t, str) for _, t in src.reused):
        return
    by_id: dict[int, int] = {}  # a literal's array -> its first index
    by_value: dict[Lit, int] = {}  # (a Lit compares by type and bytes)
    for i, lit in enumerate(lits):
        by_id.setdefault(id(lit.value), i)
        by_value.setdefault(lit, i)
    consts = []
    for c in src.consts:
        i = by_id.get(id(c))
        if i is None:  # an equal literal will do: its array is the same
            i = by_value.get(Lit(c, ArrayType.of(c)))
        if i is None:
            log.debug("generated source of %s not cached: a constant is not the graph's",
                      src.name)
            return
        consts.append(i)
    payload = json.dumps({"text": src.text, "name": src.name, "consts": consts,
                          "callees": list(src.callees), "guarded": src.guarded,
                          "parts": [{"text": p.text, "name": p.name, "callees": list(p.callees)}
                                    for p in src.parts],
                          "parallel": src.parallel,
                          "reused": [[list(s), str(t)] for s, t in src.reused],
                          "copied": list(src.copied)}).encode()
    try:
        folder.write_kernel(_entry(folder, digest), digest, TAG, payload)
    except OSError as e:
        log.warning("could not write the generated source of %s to the disk cache: %s",
                    src.name, e)


def cached(folder: Folder, graph: Graph, name: str, options: dict[str, Any],
           generate: Callable[[], Source]) -> Source:
    """The Source stored for this graph, name and options, else `generate()`'s, stored for
    the next process. A failure of the cache itself (a bug) is reported and the text
    generated: the generated text is always right, a cached one only saves time."""
    try:
        found = key(graph, name, options)
        src = load(folder, found) if found is not None else None
    except Exception as e:  # noqa: BLE001  (see the docstring)
        log.warning("source cache lookup for %s failed (%s: %s): generating the text",
                    name, type(e).__name__, e)
        found, src = None, None
    if src is not None:
        return src
    src = generate()
    if found is not None:
        try:
            save(folder, found, src)
        except Exception as e:  # noqa: BLE001
            log.warning("could not store the generated source of %s (%s: %s)", name,
                        type(e).__name__, e)
    return src
