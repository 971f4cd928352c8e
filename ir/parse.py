"""Reading the text IR back: `parse(text) -> Graph`, the inverse of `printer.format_graph`.

Contract: for every graph `g` the printer prints, `str(parse(str(g))) == str(g)` and
`evaluate(parse(str(g)), *xs)` equals `evaluate(g, *xs)`. The grammar is the printer's:

    graph NAME(x: f32[8,4], w: f32[4,3]) -> (f32[], f32[8,3]):
      # a note (comment lines in a body become Graph.notes, in order)
      %0 = matmul[transpose_a=False, transpose_b=False] x, w : f32[8,3]   # model.py:5
      %1, %2 = PRIM[k=v] %0, 2.0, 1:i32, array<f64[2]>[1.0, nan] : t1, t2   # f.py:3 vjp(tanh)
        KEY: graph NAME(...) -> ...:       (a Graph-valued param; KEY[i] for a tuple of graphs)
          ...body...
          return ...
      return %1, x, 2.0:f32

Params are Python literals (`nan`, `inf` allowed). A bare scalar literal takes the dtype
`printer.literal_dtype` infers; a `:dtype` suffix overrides it. A trailing `# file:line role`
comment gives the equation's `Loc(file, line)` and role; a comment without a leading
`file:line` token is all role. Sub-graphs are closed scopes: they see only their own inputs.
Every output type written in the text is checked against the primitive's shape rule. Any
syntax or type error raises `IRError` naming the line number and showing the line.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any, Iterator, NoReturn

import numpy as np

from .core import DTYPES, ArrayType, Eqn, Graph, Lit, Loc, Value, Var, make_params
from .errors import IRError
from .primitive import PRIMS
from .printer import literal_dtype, literal_kind

_TYPE = re.compile(r"(\w+)\[([0-9,\s]*)\]")
_VAR_NAME = re.compile(r"%\w+|[A-Za-z_]\w*")
_PRIM_NAME = re.compile(r"[A-Za-z_]\w*")
_NUMBER = r"[-+]?(?:nan|inf|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"
_COMPLEX = rf"\({_NUMBER}[-+](?:nan|inf|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)j\)"
_SCALAR = re.compile(rf"(?P<val>True|False|{_COMPLEX}|{_NUMBER})(?::(?P<dtype>\w+))?")
_ARRAY = re.compile(r"array<(?P<type>[^>]*)>(?P<val>.*)", re.DOTALL)
_WHERE = re.compile(r"(?P<file>\S+):(?P<line>\d+)")
_SUB_HEADER = re.compile(r"(?P<key>[A-Za-z_]\w*)(?:\[(?P<index>\d+)\])?:\s+(?P<rest>graph\b.*)")


@dataclass(frozen=True)
class _Line:
    no: int  # 1-based line number in the text, for messages
    text: str
    indent: int

    @property
    def body(self) -> str:
        return self.text.strip()


class _Cursor:
    """The non-blank lines of the text and a read position."""

    def __init__(self, lines: list[_Line]) -> None:
        self.lines = lines
        self.pos = 0

    def peek(self) -> _Line | None:
        return self.lines[self.pos] if self.pos < len(self.lines) else None

    def take(self) -> _Line:
        line = self.lines[self.pos]
        self.pos += 1
        return line


def _fail(line: _Line, message: str) -> NoReturn:
    err = IRError(f"line {line.no}: {message}", eqn=line.text.strip())
    err.lineno = line.no  # type: ignore[attr-defined]  # for tools that point at the text
    raise err from None


def parse(text: str) -> Graph:
    """Read one graph in the text form printed by `str(graph)`."""
    lines = [_Line(i, raw.rstrip(), len(raw) - len(raw.lstrip()))
             for i, raw in enumerate(text.expandtabs(8).splitlines(), start=1) if raw.strip()]
    if not lines:
        raise IRError("empty IR text: expected a `graph name(...) -> ...:` header")
    cur = _Cursor(lines)
    head = cur.take()
    graph = _graph(cur, head, head.body)
    extra = cur.peek()
    if extra is not None:
        _fail(extra, "unexpected text after the graph's return")
    return graph


# ---- graphs ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Header:
    name: str
    inputs: list[tuple[str, ArrayType]]
    outputs: list[ArrayType]


def _header(line: _Line, text: str) -> _Header:
    if not (text.startswith("graph ") and text.endswith(":")):
        _fail(line, "expected a header `graph name(x: f32[3], ...) -> type:`")
    left, arrow, right = text[len("graph "):-1].rpartition(" -> ")
    if not arrow or not left.endswith(")") or "(" not in left:
        _fail(line, "expected a header `graph name(x: f32[3], ...) -> type:`")
    # Input names are identifiers and types have no parentheses, so the last '(' opens the
    # input list; anything before it (even '<lambda>') is the graph's name.
    open_at = left.rfind("(")
    inputs = []
    for item in _split_top(left[open_at + 1:-1]):
        name, colon, ty = item.partition(":")
        if not colon or not name.strip().isidentifier():
            _fail(line, f"expected `name: type` for a graph input, got {item!r}")
        inputs.append((name.strip(), _type(line, ty)))
    right = right.strip()
    if right.startswith("(") and right.endswith(")"):
        outputs = [_type(line, t) for t in _split_top(right[1:-1])]
    else:
        outputs = [_type(line, right)]
    return _Header(left[:open_at].strip(), inputs, outputs)


def _graph(cur: _Cursor, head: _Line, text: str) -> Graph:
    """Parse a header (already read, as `text`) and the body indented under it."""
    header = _header(head, text)
    env: dict[str, Var] = {}
    inputs = []
    for name, ty in header.inputs:
        _define(head, env, name, Var(ty, name))
        inputs.append(env[name])
    eqns: list[Eqn] = []
    notes: list[str] = []
    outputs: tuple[Value, ...] | None = None
    body_indent: int | None = None
    while (line := cur.peek()) is not None and line.indent > head.indent:
        cur.take()
        body_indent = line.indent if body_indent is None else body_indent
        if line.indent != body_indent:
            _fail(line, f"unexpected indentation (the body of graph {header.name!r} "
                        f"is indented {body_indent})")
        if outputs is not None:
            _fail(line, f"graph {header.name!r} continues after its return")
        body = line.body
        if body.startswith("#"):
            notes.append(body[2:] if body.startswith("# ") else body[1:])
        elif body == "return" or body.startswith("return "):
            outputs = tuple(_operand(line, env, tok, (), None)
                            for tok in _split_top(body[len("return"):]))
        else:
            eqns.append(_eqn(cur, line, env))
    if outputs is None:
        _fail(head, f"graph {header.name!r} has no `return` line")
    got = [v.type for v in outputs]
    if got != header.outputs:
        _fail(head, f"the header says graph {header.name!r} returns "
                    f"{_types(header.outputs)}, but its return line gives {_types(got)}")
    return Graph(header.name, tuple(inputs), tuple(eqns), outputs, tuple(notes))


def _define(line: _Line, env: dict[str, Var], name: str, var: Var) -> None:
    if name in env:
        _fail(line, f"{name} is defined twice")
    env[name] = var


def _types(ts: list[ArrayType]) -> str:
    return "(" + ", ".join(str(t) for t in ts) + ")"


# ---- equations ------------------------------------------------------------------------------

def _eqn(cur: _Cursor, line: _Line, env: dict[str, Var]) -> Eqn:
    code, comment = _split_comment(line.body)
    outs_text, eq, rhs = code.partition("=")
    out_names = [s.strip() for s in outs_text.split(",")]
    if not eq or not all(_VAR_NAME.fullmatch(n) for n in out_names):
        _fail(line, "expected an equation `%1 = prim[params] args : type`, a `# note`, "
                    "or `return ...`")
    prim, params, rest = _head(line, rhs.strip())
    # `rest` is " args : types", or " : types" when there are no arguments.
    args_text, colon, types_text = rest.rpartition(" : ")
    if not colon:
        _fail(line, "expected ` : type` after the arguments")
    declared = [_type(line, t) for t in _split_top(types_text)]
    if len(declared) != len(out_names):
        _fail(line, f"{len(out_names)} results are named but {len(declared)} types given")
    params.update(_subgraphs(cur, line, params))
    if prim in PRIMS:
        params = {**PRIMS[prim].extra.get("defaults", {}), **params}
    inputs = _operands(line, env, _split_top(args_text), declared[0] if declared else None)
    _check_types(line, prim, inputs, params, declared)
    outputs = tuple(Var(t) for t in declared)
    for name, var in zip(out_names, outputs, strict=True):
        _define(line, env, name, var)
    loc, role = _comment(comment)
    return Eqn(prim, inputs, outputs, make_params(params), loc, role)


def _head(line: _Line, rhs: str) -> tuple[str, dict[str, Any], str]:
    """Split `prim[k=v, ...] rest` into the primitive's name, its params and the rest."""
    m = _PRIM_NAME.match(rhs)
    if m is None:
        _fail(line, "expected a primitive name after `=`")
    prim, rest = m.group(), rhs[m.end():]
    if prim not in PRIMS:
        _fail(line, f"unknown primitive {prim!r}")
    params: dict[str, Any] = {}
    if rest.startswith("["):
        end = _matching_bracket(line, rest)
        params = _params(line, rest[1:end])
        rest = rest[end + 1:]
    if not rest.startswith(" "):
        _fail(line, f"expected a space after {prim!r} and its params")
    return prim, params, " " + rest.strip()


def _params(line: _Line, inner: str) -> dict[str, Any]:
    # Parse as keyword arguments of a call, so nesting, strings and commas are Python's problem.
    try:
        call = ast.parse(f"f({inner})", mode="eval").body
    except SyntaxError as e:
        _fail(line, f"cannot read params [{inner}]: {e.msg}")
    if not isinstance(call, ast.Call) or call.args or any(k.arg is None for k in call.keywords):
        _fail(line, f"params must be written `name=value`, got [{inner}]")
    return {k.arg: _literal(line, k.value) for k in call.keywords if k.arg is not None}


def _subgraphs(cur: _Cursor, line: _Line, params: dict[str, Any]) -> dict[str, Any]:
    """The indented `key: graph ...:` blocks under an equation, as Graph-valued params:
    `key:` gives a Graph, `key[0]:`, `key[1]:`, ... a tuple of them."""
    blocks: dict[str, dict[int | None, Graph]] = {}
    while (sub := cur.peek()) is not None and sub.indent > line.indent:
        cur.take()
        m = _SUB_HEADER.fullmatch(sub.body)
        if m is None:
            _fail(sub, "expected a sub-graph header `key: graph name(...) -> type:` "
                       "under the equation")
        key, index = m.group("key"), m.group("index")
        i = None if index is None else int(index)
        graph = _graph(cur, sub, m.group("rest"))
        slot = blocks.setdefault(key, {})
        if key in params or None in slot or i in slot or (i is None and slot):
            _fail(sub, f"param {key!r} is given twice")
        slot[i] = graph
    result: dict[str, Any] = {}
    for key, slot in blocks.items():
        if None in slot:
            result[key] = slot[None]
        elif sorted(slot) == list(range(len(slot))):
            result[key] = tuple(slot[i] for i in range(len(slot)))
        else:
            _fail(line, f"sub-graphs {key}[...] must be numbered 0, 1, ... without gaps")
    return result


def _check_types(line: _Line, prim: str, inputs: tuple[Value, ...], params: dict[str, Any],
                 declared: list[ArrayType]) -> None:
    try:
        expected = list(PRIMS[prim].out_types(tuple(v.type for v in inputs), params))
    except Exception as e:  # any failure of a shape rule means the text is not a valid eqn
        operands = ", ".join(str(v.type) for v in inputs)
        _fail(line, f"`{prim}` does not accept operands ({operands}) with params {params}: {e}")
    if expected != declared:
        _fail(line, f"`{prim}` gives {_types(expected)} here, but the text says "
                    f"{_types(declared)}")


def _comment(comment: str | None) -> tuple[Loc | None, str]:
    if comment is None:
        return None, ""
    first, _, rest = comment.partition(" ")
    m = _WHERE.fullmatch(first)
    if m is None:
        return None, comment
    return Loc(m.group("file"), int(m.group("line"))), rest.strip()


# ---- operands -------------------------------------------------------------------------------

def _operands(line: _Line, env: dict[str, Var], toks: list[str],
              out: ArrayType | None) -> tuple[Value, ...]:
    # Bare literals take their dtype from the equation's Var operands (as the printer
    # decided), so resolve the Vars first.
    named = tuple(env[t] for t in toks if t in env)
    return tuple(_operand(line, env, t, named, out) for t in toks)


def _operand(line: _Line, env: dict[str, Var], tok: str, named: tuple[Value, ...],
             out: ArrayType | None) -> Value:
    if tok in env:  # a name shadows a literal spelled the same (an input named `nan`)
        return env[tok]
    if tok.startswith("array<"):
        return _array_literal(line, tok)
    m = _SCALAR.fullmatch(tok)
    if m is None:
        what = "undefined value" if _VAR_NAME.fullmatch(tok) else "cannot read operand"
        _fail(line, f"{what} {tok!r}")
    value = _literal(line, m.group("val"))
    kind = _kind(value)
    dtype = m.group("dtype") or literal_dtype(kind, named, out)
    _check_kind(line, kind, dtype)
    with np.errstate(all="ignore"):  # numpy wraps or overflows silently; caught just below
        lit = Lit.make(value, dtype)
    kept = lit.scalar()
    if kind == "complex":
        if kept != value and not (np.isnan(value) or np.isfinite(kept)):
            _fail(line, f"literal {value!r} does not fit {dtype}")
    elif kept != value and not (kind == "float" and (np.isnan(value) or np.isfinite(kept))):
        _fail(line, f"literal {value!r} does not fit {dtype}")
    return lit


def _kind(value: Any) -> str:
    """'bool', 'int' or 'float' (printer.literal_kind's names); '' for anything else."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, complex):
        return "complex"
    return "int" if isinstance(value, int) else "float" if isinstance(value, float) else ""


def _check_kind(line: _Line, kind: str, dtype: str) -> None:
    if dtype not in DTYPES:
        _fail(line, f"unknown dtype {dtype!r}")
    # An integer written for a float dtype is exact, so accept it; anything else would be
    # silently changed by the cast.
    widening = {("int", "float"), ("int", "complex"), ("float", "complex")}
    if kind != literal_kind(dtype) and (kind, literal_kind(dtype)) not in widening:
        _fail(line, f"a {kind or 'non-numeric'} literal cannot have dtype {dtype}")


def _array_literal(line: _Line, tok: str) -> Lit:
    m = _ARRAY.fullmatch(tok)
    if m is None:
        _fail(line, f"expected `array<type>[...]`, got {tok!r}")
    ty = _type(line, m.group("type"))
    values = _literal(line, m.group("val"))
    for kind in sorted({_kind(leaf) for leaf in _leaves(values)}):
        _check_kind(line, kind, ty.dtype)  # the same rules as for scalars
    try:
        with np.errstate(all="ignore"):  # float overflow is caught just below
            arr = np.array(values, dtype=ty.np_dtype)
    except (OverflowError, ValueError) as e:  # ragged nesting, ints out of range
        _fail(line, f"cannot read the array literal: {e}")
    if ty.is_real_float and np.any(np.isinf(arr) & np.isfinite(np.array(values, dtype=float))):
        _fail(line, f"array literal has values too large for {ty.dtype}")
    if arr.shape != ty.shape:
        if arr.size != 0 or ty.size != 0:  # `[]` spells any empty shape
            _fail(line, f"array literal has shape {arr.shape}, its type says {ty}")
        arr = arr.reshape(ty.shape)
    return Lit.make(arr, ty.dtype)


def _leaves(v: Any) -> list[Any]:
    if isinstance(v, (list, tuple)):
        return [x for item in v for x in _leaves(item)]
    return [v]


class _NanInf(ast.NodeTransformer):
    """Lets `ast.literal_eval` read the printer's `nan`, `inf` and `-inf`."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in ("nan", "inf"):
            return ast.copy_location(ast.Constant(float(node.id)), node)
        if node.id in ("nanj", "infj"):  # the imaginary part of (1.0+infj)
            return ast.copy_location(ast.Constant(complex(0, float(node.id[:-1]))), node)
        return node


def _literal(line: _Line, src: str | ast.expr) -> Any:
    try:
        tree = ast.parse(src.strip(), mode="eval").body if isinstance(src, str) else src
        return ast.literal_eval(_NanInf().visit(tree))
    except (SyntaxError, ValueError, TypeError):
        text = src if isinstance(src, str) else ast.unparse(src)
        _fail(line, f"cannot read the literal {text.strip()!r}")


def _type(line: _Line, text: str) -> ArrayType:
    m = _TYPE.fullmatch(text.strip())
    if m is None or m.group(1) not in DTYPES:
        _fail(line, f"expected a type such as f32[8,3] or f64[], got {text.strip()!r}")
    dims = [d.strip() for d in m.group(2).split(",")] if m.group(2).strip() else []
    if not all(d.isdigit() for d in dims):
        _fail(line, f"bad shape in type {text.strip()!r}")
    return ArrayType(m.group(1), tuple(int(d) for d in dims))


# ---- lexing ---------------------------------------------------------------------------------

def _scan(text: str) -> Iterator[tuple[int, str, int]]:
    """(index, char, bracket depth after it) for every character outside quoted strings.

    Params are Python literals, so a string param may hold any of `#,[]()`."""
    depth, quote, escaped = 0, None, False
    for i, c in enumerate(text):
        if quote is not None:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                quote = None
            continue
        if c in "'\"":
            quote = c
            continue
        depth += 1 if c in "[(" else -1 if c in "])" else 0
        yield i, c, depth


def _split_comment(text: str) -> tuple[str, str | None]:
    """Split off a trailing `# comment`."""
    for i, c, _ in _scan(text):
        if c == "#":
            return text[:i].rstrip(), text[i + 1:].strip()
    return text, None


def _split_top(text: str) -> list[str]:
    """Split at commas outside brackets, parentheses and quotes; blank text gives []."""
    cuts = [i for i, c, depth in _scan(text) if c == "," and depth == 0]
    parts = [text[a + 1:b].strip() for a, b in zip([-1, *cuts], [*cuts, len(text)], strict=True)]
    return [] if parts == [""] else parts


def _matching_bracket(line: _Line, text: str) -> int:
    """Index of the ']' closing the '[' at text[0]."""
    for i, _c, depth in _scan(text):
        if depth == 0:
            return i
    _fail(line, "unclosed '[' in params")
