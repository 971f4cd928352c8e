"""Cut a long generated function into pieces that numba compiles one by one.

numba's passes (SSA, liveness) and LLVM take time that grows faster than the size of the
function: resnet18's backward, one function of ~2900 lines, took minutes to compile. So a
function with more than `max_lines` lines is written as several: each kernel (`codegen.cpu`
renders the function as sections, one per kernel), or a run of consecutive small kernels,
becomes a function of its own, `def part_<hash>(<the names it reads>):` returning the names
later pieces read, and the function itself becomes a plain-Python driver calling them in order:

    def backward_kernel(x, w, c0):
        (a3, v5) = part_5be0c1d2a3f4(x, w)
        (a7,) = part_0c11ad9e8b21(a3, v5, c0)
        del a3, v5
        return part_9e07f2c4d1aa(a7, x)

The last piece ends with the function's own `return`. Some sections run in the driver as
they are written, in plain Python: a call of a convolution or pooling kernel (numba would
compile the kernel into every piece that calls it; codegen/library_calls.py compiles it once
for all), a reshape, and a `return` of values computed before.

`codegen.compile` compiles each piece as a numba function with its own disk-cache entry,
keyed by its text: a piece's names do not depend on where it stands (its parameters and
locals are renumbered in order of first appearance: `arg_104` becomes `p0`, `a312` `a0`,
`v312_w` `v0_w`), so the same computation at two places of a graph, or in two graphs, is the
same text, compiled once (and written once in the module). Comment lines, which name the
original values and the user's lines, are not part of the cache key (`cache.code_hash`).

A cut is made only where every value live across it is an array, a scalar (`v3`: its dtype is
restored on entry, as numba passes a float32 or int32 scalar back to Python as a Python
float or int) or a parameter of the function: a `while`'s tape (a list) stays with the
`while_grad` that reads it. The driver deletes each array once no later piece reads it, as
numba's own function would have freed it.
"""
from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from adjit.ir.errors import CodegenError

# A section with at least this many code lines is a piece of its own (a loop kernel); smaller
# ones (library calls, matmuls, reshapes) are grouped with their neighbours.
BIG = 12
# numba gives float32, int32 and complex64 scalars back to Python as float, int and complex:
# a piece casts such parameters back to their dtype.
_CASTS = {"f32": "np.float32", "i32": "np.int32", "c64": "np.complex64"}
_ARRAY = re.compile(r"a\d+")
_SCALAR = re.compile(r"v(\d+)(?:_\d+)?")
# Generated names that carry a number from the graph (var, kernel or constant numbers).
_NUMBERED = re.compile(r"(it|[vacstnr])(\d+)(\w*)")


@dataclass(frozen=True)
class Piece:
    name: str
    lines: tuple[str, ...]  # `def name(...):` and its body


@dataclass(frozen=True)
class Split:
    pieces: tuple[Piece, ...]  # each once, in the order of their first call
    driver: tuple[str, ...]


class _Flow(ast.NodeVisitor):
    """Names in program order: `free` are read before this code stores them (in order of
    first read), `stored` the ones it stores (in order of first store)."""

    def __init__(self) -> None:
        self.free: dict[str, None] = {}
        self.stored: dict[str, None] = {}
        self.nodes: list[ast.Name] = []

    def visit_Name(self, node: ast.Name) -> None:
        self.nodes.append(node)
        if isinstance(node.ctx, ast.Load):
            if node.id not in self.stored:
                self.free.setdefault(node.id)
        else:
            self.stored.setdefault(node.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)  # the value is read before the targets are stored
        for t in node.targets:
            self.visit(t)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name) and node.target.id not in self.stored:
            self.free.setdefault(node.target.id)  # `n += 1` reads n first
        self.visit(node.target)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        for s in [*node.body, *node.orelse]:
            self.visit(s)


def _flow(lines: Sequence[str]) -> _Flow:
    """The names of function-body lines (indented by 4)."""
    tree = ast.parse("def _():\n" + "\n".join(lines) + "\n    pass\n")
    flow = _Flow()
    for stmt in tree.body[0].body:  # type: ignore[attr-defined]
        flow.visit(stmt)
    return flow


def _code_lines(lines: Sequence[str]) -> int:
    return sum(1 for ln in lines if ln.strip() and not ln.lstrip().startswith("#"))


def _inline(kind: str, lines: Sequence[str]) -> bool:
    """Whether a section runs in the driver as it is: a call of a convolution or pooling
    kernel (codegen/library_calls.py compiles those once for all callers), a reshape, a
    `return` of the values alone."""
    code = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if kind == "library":
        return all(ln.startswith("ck.") or _ALLOC.fullmatch(ln) for ln in code)
    if kind == "return":
        return len(code) == 1 and code[0].startswith("return ")
    return kind == "view"


_ALLOC = re.compile(r"a\d+ = np\.empty\([^=]*\)")


def split(name: str, params: Sequence[str], sections: Sequence[Sequence[str]],
          kinds: Sequence[str], dtype_of: Callable[[str], str | None],
          max_lines: int) -> Split | None:
    """The pieces and the driver for function `name(params)` whose body is `sections`
    (lines indented by 4) of `kinds` (the first "setup": statements before the kernels,
    then each kernel's kind, the last "return"); `dtype_of(num)` is the dtype of value
    %num. None when there is nothing to cut."""
    flows = [_flow(s) for s in sections]
    sizes = [_code_lines(s) for s in sections]

    def crossable(n: str) -> bool:
        return n in params or n == "tape_bytes" or bool(_ARRAY.fullmatch(n)
                                                          or _SCALAR.fullmatch(n))

    needed_after: list[set[str]] = [set() for _ in sections]  # names read after section k
    later: set[str] = set()
    for k in range(len(sections) - 1, -1, -1):
        needed_after[k] = set(later)
        later |= set(flows[k].free)
    defined: set[str] = set(params)
    units: list[tuple[bool, list[int]]] = []  # (runs in the driver, its sections)
    size = 0
    for k, sec in enumerate(sections):
        inline = _inline(kinds[k], sec)
        if k <= 1:  # the set-up statements (`tape_bytes = 0`) go with the first kernel
            units[:] = [(inline, [*range(k + 1)])]
            size = sum(sizes[:k + 1])
        elif not sizes[k]:  # comments alone: with the code before them
            units[-1][1].append(k)
        else:
            was_inline, current = units[-1]
            cut = all(crossable(n) for n in needed_after[current[-1]] & defined)
            if not size or was_inline and inline:
                units[-1] = (inline if not size else True, [*current, k])
            elif cut and (inline or was_inline or sizes[k] >= BIG or size + sizes[k] > max_lines
                          or any(sizes[j] >= BIG for j in current)):
                units.append((inline, [k]))
                size = 0
            else:  # in the current piece
                units[-1] = (False, [*current, k])
            size += sizes[k]
        defined |= set(flows[k].stored)
    if len(units) < 2:
        return None
    return _assemble(name, params, sections, units, dtype_of)


def _assemble(name: str, params: Sequence[str], sections: Sequence[Sequence[str]],
              units: list[tuple[bool, list[int]]], dtype_of: Callable[[str], str | None],
              ) -> Split:
    bodies = [[ln for k in ks for ln in sections[k]] for _, ks in units]
    flows = [_flow(b) for b in bodies]
    reads_after: list[set[str]] = [set() for _ in units]
    later: set[str] = set()
    for k in range(len(units) - 1, -1, -1):
        reads_after[k] = set(later)
        later |= set(flows[k].free)
    defined = set(params)
    pieces: dict[str, Piece] = {}
    driver = [f"def {name}({', '.join(params)}):"]
    for k, ((inline, _), body, flow) in enumerate(zip(units, bodies, flows, strict=True)):
        args = [n for n in flow.free if n in defined]
        last = k == len(units) - 1
        outs = [] if last else [n for n in flow.stored if n in reads_after[k]]
        if inline:
            driver += body
        else:
            piece = _piece(body, flow, args, outs, dtype_of)
            pieces.setdefault(piece.name, piece)
            call = f"{piece.name}({', '.join(args)})"
            if last:
                driver.append(f"    return {call}")
            elif outs:
                driver.append(f"    ({', '.join(outs)}{',' if len(outs) == 1 else ''}) = "
                              f"{call}")
            else:
                driver.append(f"    {call}")
        defined |= set(flow.stored)
        gone = [n for n in args if n not in params and n not in reads_after[k]]
        if gone and not last:  # freed now, as numba frees a value after its last use
            driver.append(f"    del {', '.join(gone)}")
    return Split(tuple(pieces.values()), tuple(driver))


def _piece(body: list[str], flow: _Flow, args: list[str], outs: list[str],
           dtype_of: Callable[[str], str | None]) -> Piece:
    """The text of one piece, its names renumbered (see the module docstring) and its name a
    hash of its code."""
    local = set(args) | set(flow.stored)
    rename = _renaming([n.id for n in flow.nodes if n.id in local], set(args),
                       {n.id for n in flow.nodes} - local)
    sig, casts = [], []
    for a in args:
        m = _SCALAR.fullmatch(a)
        cast = _CASTS.get(dtype_of(m.group(1)) or "") if m else None
        if cast:
            sig.append(f"{rename[a]}_arg")
            casts.append(f"    {rename[a]} = {cast}({rename[a]}_arg)")
        else:
            sig.append(rename[a])
    lines = _apply(body, flow.nodes, rename)
    if outs:
        ret = [rename[n] for n in outs]
        lines.append(f"    return ({', '.join(ret)}{',' if len(ret) == 1 else ''})")
    code = [f"def part({', '.join(sig)}):", *casts, *lines]
    digest = hashlib.sha256("\n".join(ln for ln in code if not ln.lstrip().startswith("#"))
                            .encode()).hexdigest()[:12]
    pname = f"part_{digest}"
    return Piece(pname, (f"def {pname}({', '.join(sig)}):", *code[1:]))


def _renaming(order: list[str], args: set[str], others_used: set[str]) -> dict[str, str]:
    """New names for a piece's locals, by first appearance: numbered generated names keep
    their prefix and suffix with numbers counted from 0 (one count per kind of number); other
    parameters (the function's inputs) become `p0, p1, ...`; other locals keep their names."""
    counts: dict[str, dict[str, str]] = {}
    rename: dict[str, str] = {}
    others = 0
    for n in order:
        if n in rename:
            continue
        m = _NUMBERED.fullmatch(n)
        if m:
            prefix, digits, rest = m.groups()
            kind = ("const" if prefix == "c" and not rest
                    else "kernel" if prefix in ("it", "n", "r", "t") else "value")
            table = counts.setdefault(kind, {})
            rename[n] = f"{prefix}{table.setdefault(digits, str(len(table)))}{rest}"
        elif n in args:
            rename[n] = f"p{others}"
            others += 1
        else:
            rename[n] = n
    if len(set(rename.values())) != len(rename) or others_used & set(rename.values()):
        return {n: n for n in rename}  # a clash (not seen in generated code): keep the names
    return rename


def _apply(lines: list[str], nodes: list[ast.Name], rename: dict[str, str]) -> list[str]:
    """`lines` with each name node replaced (line 1 of the parse was the `def`)."""
    by_line: dict[int, list[ast.Name]] = {}
    for node in nodes:
        if rename.get(node.id, node.id) != node.id:
            by_line.setdefault(node.lineno - 2, []).append(node)
    out = list(lines)
    for i, found in by_line.items():
        raw = out[i].encode()
        for node in sorted(found, key=lambda n: -n.col_offset):
            if raw[node.col_offset:node.end_col_offset].decode() != node.id:
                raise CodegenError(f"codegen/split.py could not rename {node.id!r} in "
                                   f"{out[i]!r}", hint="this is an adjit bug")
            raw = raw[:node.col_offset] + rename[node.id].encode() + raw[node.end_col_offset:]
        out[i] = raw.decode()
    return out
