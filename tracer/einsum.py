"""np.einsum on tracers, with numpy's semantics, lowered to slices, sums and matmuls.

Both of numpy's spellings are read: the subscripts string (`'ij,jk->ik'`, implicit output
`'ij,jk'`, `'...'`) and the operand/sublist form (`np.einsum(a, [0, 1], b, [1, 2])`).
Every axis gets a label: a letter, or for the axes an ellipsis stands for, a label per
broadcast position (right-aligned across operands, as numpy aligns them). Then:

1. A label repeated in one operand takes the diagonal (`'ii->i'`): the two axes are
   merged and sliced with stride n + 1.
2. A label of size 1 in an operand where another operand has it larger is broadcast:
   the axis is dropped from that operand (numpy's singleton broadcasting).
3. Operands are contracted pairwise along the path `np.einsum_path(...,
   optimize='greedy')` chooses. A pair is summed over the labels only it holds, then
   transposed to (batch, free, contracted) and multiplied with one batched `matmul` (a
   broadcast product when nothing is contracted).
4. The last operand is summed over the labels not in the output and transposed to it.

All of these are differentiable primitives, so gradients come for free; numpy's einsum
is the oracle in tests/tracer/test_einsum.py.
"""
from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np
from adjit.ir import current_loc
from adjit.ir.builder import emit
from adjit.ir.errors import ShapeError, TraceError

_LETTERS = string.ascii_letters
# numpy's sublist integers: 0-25 are 'A'-'Z' and 26-51 'a'-'z' (sorted as numpy sorts them)
_SUBLIST = string.ascii_uppercase + string.ascii_lowercase
Labels = list[str]


def _err(msg: str) -> TraceError:
    return TraceError(f"einsum: {msg}", loc=current_loc(),
                      hint="numpy's einsum rules apply: see np.einsum's documentation")


def _from_sublists(args: Sequence[Any]) -> tuple[str, list[Any]]:
    """np.einsum(op0, sublist0, op1, sublist1, ..., [sublist_out]) as a subscripts string."""
    def term(sub: Any) -> str:
        out = []
        for s in sub:
            if s is Ellipsis:
                out.append("...")
            elif isinstance(s, (int, np.integer)) and 0 <= int(s) < len(_SUBLIST):
                out.append(_SUBLIST[int(s)])
            else:
                raise _err(f"subscript {s!r} in a sublist is not an integer in [0, 52) or "
                           "Ellipsis")
        return "".join(out)

    pairs = args[:len(args) - len(args) % 2]
    subs = ",".join(term(s) for s in pairs[1::2])
    if len(args) % 2:
        subs += "->" + term(args[-1])
    return subs, list(pairs[0::2])


def _parse(subscripts: str, shapes: list[tuple[int, ...]]) -> tuple[list[Labels], Labels]:
    """Each operand's axis labels and the output's, with ellipses expanded."""
    s = subscripts.replace(" ", "")
    if s.count("->") > 1 or ("-" in s.replace("->", "")) or (">" in s.replace("->", "")):
        raise _err(f"bad subscripts {subscripts!r}: '->' may appear once")
    lhs, arrow, rhs = s.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise _err(f"{len(terms)} operand subscripts for {len(shapes)} operands")
    for t in terms + [rhs]:
        bad = set(t.replace("...", "")) - set(_LETTERS)
        if bad or t.replace("...", "").count(".") or t.count("...") > 1:
            raise _err(f"bad subscripts {t!r}: use letters and at most one '...'")
    extras = []
    for t, shape in zip(terms, shapes, strict=True):
        extra = len(shape) - len(t.replace("...", ""))
        if extra < 0 or (extra and "..." not in t):
            raise _err(f"operand subscripts {t!r} do not match an operand of {len(shape)} "
                       "dimensions")
        extras.append(extra)
    n_ell = max(extras, default=0)
    # An operand's ellipsis stands for the last `extra` of the n_ell broadcast positions.
    ins = [_expand(t, range(n_ell - extra, n_ell)) for t, extra in zip(terms, extras,
                                                                        strict=True)]
    ell = [f".{i}" for i in range(n_ell)]
    if arrow:
        if "..." not in rhs and n_ell:
            raise _err("the output has no '...' but the operands' ellipses stand for "
                       f"{n_ell} dimensions")
        out = _expand(rhs, range(n_ell))
        for c in out:
            if out.count(c) > 1:
                raise _err(f"output subscript {c!r} appears more than once")
            if not any(c in labels for labels in ins):
                raise _err(f"output subscript {c!r} never appears in an input")
    else:  # implicit: the ellipsis, then letters seen once, in ASCII order (as numpy)
        flat = [c for labels in ins for c in labels if not c.startswith(".")]
        out = ell + sorted(c for c in set(flat) if flat.count(c) == 1)
    return ins, out


def _expand(term: str, positions: range) -> Labels:
    head, dots, tail = term.partition("...")
    return list(head) + ([f".{i}" for i in positions] if dots else []) + list(tail)


def _diagonal(x: Any, labels: Labels) -> tuple[Any, Labels]:
    """Take the diagonal over every label repeated in one operand ('ii->i', 'iij->j')."""
    from .numpy_api import reshape, transpose
    from .values import wrap

    while True:
        dup = next((c for c in labels if labels.count(c) > 1), None)
        if dup is None:
            return x, labels
        p, q = [i for i, c in enumerate(labels) if c == dup][:2]
        n, m = x.shape[p], x.shape[q]
        if n != m:
            raise ShapeError(f"einsum: dimensions in an operand for collapsing index {dup!r} "
                             f"do not match ({n} != {m})", loc=current_loc())
        rest = [i for i in range(x.ndim) if i not in (p, q)]
        x = reshape(transpose(x, rest + [p, q]), tuple(x.shape[i] for i in rest) + (n * n,))
        if n > 1:  # elements (k, k) of the merged axis: start 0, stride n + 1
            x = wrap(emit("slice", x.val, starts=(0,) * x.ndim,
                          steps=(1,) * (x.ndim - 1) + (n + 1,),
                          shape=x.shape[:-1] + (n,)), x.weak)
        labels = [labels[i] for i in rest] + [dup]


def _sizes(xs: list[Any], ins: list[Labels]) -> dict[str, int]:
    """Each label's size; a size of 1 broadcasts against a larger one, as numpy allows."""
    size: dict[str, int] = {}
    for x, labels in zip(xs, ins, strict=True):
        for c, d in zip(labels, x.shape, strict=True):
            if size.get(c, 1) != 1 and d != 1 and d != size[c]:
                shapes = " ".join(str(y.shape) for y in xs)
                raise ShapeError(f"einsum: operands could not be broadcast together: "
                                 f"{_show(c)} is {size[c]} in one and {d} in another "
                                 f"(shapes {shapes})", loc=current_loc())
            if d != 1 or c not in size:
                size[c] = d
    return size


def _show(label: str) -> str:
    return "an axis of '...'" if label.startswith(".") else f"index {label!r}"


def _squeeze_broadcast(x: Any, labels: Labels, size: dict[str, int]) -> tuple[Any, Labels]:
    from .numpy_api import reshape

    keep = [i for i, c in enumerate(labels) if not (x.shape[i] == 1 and size[c] > 1)]
    if len(keep) == len(labels):
        return x, labels
    return reshape(x, tuple(x.shape[i] for i in keep)), [labels[i] for i in keep]


def _sum_out(x: Any, labels: Labels, keep: set[str]) -> tuple[Any, Labels]:
    from .numpy_api import sum_

    drop = [i for i, c in enumerate(labels) if c not in keep]
    if not drop:
        return x, labels
    return sum_(x, axis=tuple(drop)), [c for c in labels if c in keep]


def _contract(a: Any, la: Labels, b: Any, lb: Labels, keep: set[str]) -> tuple[Any, Labels]:
    """The pair's product, summed over the labels that neither `keep` nor the other holds."""
    from .numpy_api import elementwise, matmul, reshape, transpose

    a, la = _sum_out(a, la, keep | set(lb))
    b, lb = _sum_out(b, lb, keep | set(la))
    dims = dict(zip(la, a.shape, strict=True)) | dict(zip(lb, b.shape, strict=True))
    batch = [c for c in la if c in lb and c in keep]
    contract = [c for c in la if c in lb and c not in keep]
    free_a = [c for c in la if c not in lb]
    free_b = [c for c in lb if c not in la]

    def size(cs: Labels) -> int:
        return int(np.prod([dims[c] for c in cs], dtype=np.int64))

    if not contract:  # an outer or elementwise product: broadcast, no BLAS call
        a3 = reshape(transpose(a, [la.index(c) for c in batch + free_a]),
                     tuple(dims[c] for c in batch + free_a) + (1,) * len(free_b))
        b3 = reshape(transpose(b, [lb.index(c) for c in batch + free_b]),
                     tuple(dims[c] for c in batch) + (1,) * len(free_a)
                     + tuple(dims[c] for c in free_b))
        return elementwise("mul", a3, b3), batch + free_a + free_b
    a3 = reshape(transpose(a, [la.index(c) for c in batch + free_a + contract]),
                 (size(batch), size(free_a), size(contract)))
    b3 = reshape(transpose(b, [lb.index(c) for c in batch + contract + free_b]),
                 (size(batch), size(contract), size(free_b)))
    r = matmul(a3, b3)
    order = batch + free_a + free_b
    return reshape(r, tuple(dims[c] for c in order)), order


def _path(ins: list[Labels], shapes: list[tuple[int, ...]], out: Labels) -> list[tuple[int, ...]]:
    """numpy's greedy contraction order, asked of np.einsum_path on stand-in arrays."""
    if len(ins) <= 2:
        return [tuple(range(len(ins)))]
    names = {c: _LETTERS[i] for i, c in enumerate(dict.fromkeys(
        [c for labels in ins for c in labels] + out))}
    if len(names) > len(_LETTERS):
        return [(0, 1)] * (len(ins) - 1)
    subs = ",".join("".join(names[c] for c in labels) for labels in ins)
    subs += "->" + "".join(names[c] for c in out)
    stand_ins = [np.broadcast_to(np.zeros((), np.float64), s) for s in shapes]
    path, _ = np.einsum_path(subs, *stand_ins, optimize="greedy")
    return [tuple(step) for step in path[1:]]


def einsum(*args: Any, out: Any = None, optimize: Any = None, dtype: Any = None,
           order: Any = "K", casting: Any = "safe") -> Any:
    from .numpy_api import _t, astype, transpose

    if out is not None:
        raise TraceError("np.einsum(..., out=...) writes in place, which adjit cannot trace",
                         loc=current_loc(), hint="use the returned value instead of out=")
    if not args:
        raise _err("no subscripts given")
    if isinstance(args[0], str):
        subscripts, operands = args[0], list(args[1:])
    else:
        subscripts, operands = _from_sublists(args)
    xs = [_t(o) for o in operands]
    if dtype is not None:
        xs = [astype(x, dtype) for x in xs]
    ins, out_labels = _parse(subscripts, [x.shape for x in xs])
    pairs = [_diagonal(x, labels) for x, labels in zip(xs, ins, strict=True)]
    size = _sizes([p[0] for p in pairs], [p[1] for p in pairs])
    pairs = [_squeeze_broadcast(x, labels, size) for x, labels in pairs]
    for step in _path([p[1] for p in pairs], [p[0].shape for p in pairs], out_labels):
        picked = [pairs[i] for i in step]
        pairs = [p for i, p in enumerate(pairs) if i not in step]
        rest = set(out_labels).union(*[set(p[1]) for p in pairs])
        x, labels = picked[0]
        for k in range(1, len(picked)):
            later = rest.union(*[set(p[1]) for p in picked[k + 1:]])
            x, labels = _contract(x, labels, picked[k][0], picked[k][1], later)
        pairs.append((x, labels))
    ((x, labels),) = pairs
    x, labels = _sum_out(x, labels, set(out_labels))
    return transpose(x, [labels.index(c) for c in out_labels]) if labels != out_labels else x
