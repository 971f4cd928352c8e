"""The text form of a graph: deterministic, typed, with source locations as comments.

    graph f(x: f64[4]) -> f64[]:
      %0 = mul x, x : f64[4]                          # f.py:3
      %1 = reduce_sum[axes=(0,)] %0 : f64[]           # f.py:3
      return %1

`ir.parse` reads it back. Inputs keep the user's names; temporaries are numbered in
order of definition. Scalar literals take the dtype the parser will infer for them
(`literal_dtype`), and carry a `:dtype` suffix only where that inference would differ.
"""
from __future__ import annotations

import math
from typing import Any

from .core import ArrayType, Eqn, Graph, Lit, Value, Var

COMMENT_COLUMN = 50


def literal_dtype(kind: str, inputs: tuple[Value, ...], out: ArrayType | None) -> str:
    """The dtype a bare scalar literal of `kind` ('float', 'int', 'bool') has in an equation."""
    if kind == "bool":
        return "bool"
    wanted = {"float": ("f32", "f64"), "complex": ("c64", "c128")}.get(kind, ("i32", "i64"))
    for v in inputs:
        if isinstance(v, Var) and v.dtype in wanted:
            return v.dtype
    if out is not None and out.dtype in wanted:
        return out.dtype
    return {"float": "f64", "complex": "c128"}.get(kind, "i64")


def format_scalar(value: Any, dtype: str) -> str:
    if dtype == "bool":
        return "True" if value else "False"
    if dtype in ("i32", "i64"):
        return str(int(value))
    if dtype in ("c64", "c128"):  # (1.5-2.0j), (nan+infj): parse reads it back
        z = complex(value)
        im = z.imag
        sign = "-" if im < 0 else "+"
        return f"({format_scalar(z.real, 'f64')}{sign}{format_scalar(abs(im), 'f64')}j)"
    f = float(value)
    if math.isnan(f):
        return "nan"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    return repr(f)


def literal_kind(dtype: str) -> str:
    if dtype in ("c64", "c128"):
        return "complex"
    return "bool" if dtype == "bool" else "int" if dtype in ("i32", "i64") else "float"


def format_literal(lit: Lit, inputs: tuple[Value, ...], out: ArrayType | None) -> str:
    if lit.is_scalar:
        text = format_scalar(lit.scalar(), lit.dtype)
        if literal_dtype(literal_kind(lit.dtype), inputs, out) != lit.dtype:
            text += f":{lit.dtype}"
        return text
    return f"array<{lit.type}>{_nested(lit.value.tolist(), lit.dtype)}"


def _nested(v: Any, dtype: str) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_nested(x, dtype) for x in v) + "]"
    return format_scalar(v, dtype)


_RESERVED = {"nan", "inf", "True", "False", "array", "return", "graph"}  # spelled like literals


class Namer:
    """Assigns printed names: user names for inputs, %N for everything else."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.counter = 0
        self.used: set[str] = set()

    def input(self, v: Var) -> str:
        base = v.name if v.name and v.name.isidentifier() and v.name not in _RESERVED else "arg"
        name, i = base, 1
        while name in self.used:
            name, i = f"{base}_{i}", i + 1
        self.used.add(name)
        self.names[id(v)] = name
        return name

    def define(self, v: Var) -> str:
        name = f"%{self.counter}"
        self.counter += 1
        self.names[id(v)] = name
        return name

    def ref(self, v: Value, inputs: tuple[Value, ...] = (), out: ArrayType | None = None) -> str:
        if isinstance(v, Lit):
            return format_literal(v, inputs, out)
        return self.names.get(id(v), f"<undefined {v!r}>")


def _format_param(v: Any) -> str:
    return repr(v)


def format_eqn(eqn: Eqn, namer: Namer, locs: bool = True) -> str:
    from .primitive import PRIMS

    defaults = PRIMS[eqn.prim].extra.get("defaults", {}) if eqn.prim in PRIMS else {}
    plain = [(k, v) for k, v in eqn.params
             if not _is_graphs(v) and not (k in defaults and defaults[k] == v)]
    head = eqn.prim
    if plain:
        head += "[" + ", ".join(f"{k}={_format_param(v)}" for k, v in plain) + "]"
    out_t = eqn.outputs[0].type if eqn.outputs else None
    args = ", ".join(namer.ref(v, eqn.inputs, out_t) for v in eqn.inputs)
    outs = ", ".join(namer.define(o) for o in eqn.outputs)
    types = ", ".join(str(o.type) for o in eqn.outputs)
    text = f"{outs} = {head} {args} : {types}" if args else f"{outs} = {head} : {types}"
    if locs and (eqn.loc is not None or eqn.role):
        where = eqn.loc.short() if eqn.loc is not None else ""
        comment = " ".join(s for s in (where, eqn.role) if s)
        text = text.ljust(COMMENT_COLUMN - 2) + "  # " + comment
    return text


def _is_graphs(v: Any) -> bool:
    return isinstance(v, Graph) or (isinstance(v, tuple) and bool(v)
                                    and all(isinstance(g, Graph) for g in v))


def _signature(g: Graph, namer: Namer) -> str:
    ins = ", ".join(f"{namer.input(v)}: {v.type}" for v in g.inputs)
    outs = [str(v.type) for v in g.outputs]
    ret = outs[0] if len(outs) == 1 else "(" + ", ".join(outs) + ")"
    return f"{g.name}({ins}) -> {ret}"


def _body(g: Graph, namer: Namer, indent: str, locs: bool) -> list[str]:
    lines = [f"{indent}# {n}" for n in g.notes]
    for eqn in g.eqns:
        lines.append(indent + format_eqn(eqn, namer, locs))
        for key, sub in eqn.subgraphs():
            # `body: graph name(...) -> ...:` (`branches[0]: ...` for a tuple of graphs) keeps
            # the sub-graph's name and reuses the top-level header, so `parse` reads both alike.
            # A sub-graph is a closed scope with its own input names; %N numbering goes on
            # from the enclosing graph so every temporary in one dump has a distinct name.
            sub_namer = Namer()
            sub_namer.counter = namer.counter
            lines.append(f"{indent}  {key}: graph {_signature(sub, sub_namer)}:")
            lines.extend(_body(sub, sub_namer, indent + "    ", locs))
            namer.counter = sub_namer.counter
    lines.append(indent + "return " + ", ".join(namer.ref(v) for v in g.outputs))
    return lines


def format_graph(g: Graph, locs: bool = True) -> str:
    namer = Namer()
    lines = [f"graph {_signature(g, namer)}:"]
    lines.extend(_body(g, namer, "  ", locs))
    return "\n".join(lines)
