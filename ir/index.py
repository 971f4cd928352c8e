"""Index algebra for lowering: `Term`s, and the index maps primitives declare.

A value inside a loop nest is read at an index: a tuple of `Term`s, one per dimension, each
`start + step * (loop index | an integer value read at an index | 0)`. A primitive that only
moves data (broadcast, transpose, slice, a size-1 reshape, gather) declares how its output's
index maps to the index its input is read at (`Lowering.index`): fusion then reads the input
at that index instead of materialising the output. An accumulation (unslice, scatter_add)
declares the index it writes for a given index of its input (`Lowering.target`).
passes/fuse.py builds plans from these; passes/lower.py turns them into loop-IR subscripts.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .core import Value


@dataclass(frozen=True)
class Term:
    """One coordinate of an index: start + step * (i_axis | value[index] | 0)."""

    start: int = 0
    step: int = 1
    axis: int | None = None
    data: tuple[Value, tuple[Term, ...]] | None = None

    @property
    def is_const(self) -> bool:
        return self.axis is None and self.data is None

    def affine(self, start: int, step: int) -> Term:
        """start + step * self."""
        if self.is_const:
            return Term(start + step * self.start)
        return Term(start + step * self.start, step * self.step, self.axis, self.data)


CONST0 = Term()
Index = tuple[Term, ...]


def squeeze(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1)


def driving_terms(shape: tuple[int, ...]) -> Index:
    """The identity index of a driving shape: its non-size-1 dims are loops 0, 1, ..."""
    out, axis = [], 0
    for d in shape:
        if d == 1:
            out.append(CONST0)
        else:
            out.append(Term(axis=axis))
            axis += 1
    return tuple(out)


def term_values(terms: Index) -> Iterator[tuple[Value, Index]]:
    """The values an index reads (a gather's or a scatter's indices), with where."""
    for t in terms:
        if t.data is not None:
            yield t.data


def reduced_axes(eqn: Any) -> tuple[int, ...]:
    p = eqn.p
    return tuple(p["axes"]) if "axes" in p else (p["axis"],)


def is_size1_reshape(eqn: Any) -> bool:
    return squeeze(eqn.inputs[0].shape) == squeeze(eqn.out.shape)


# ---- index maps (`Lowering.index`): the index input j is read at for output index `terms` --

def broadcast_terms(eqn: Any, j: int, terms: Index) -> Index:
    """Elementwise and broadcast_to: numpy broadcasting (size-1 dims read at 0)."""
    x = eqn.inputs[j]
    out_shape = eqn.out.shape
    off = len(out_shape) - len(x.shape)
    return tuple(CONST0 if d == 1 and out_shape[off + i] != 1 else terms[off + i]
                 for i, d in enumerate(x.shape))


def reshape_terms(eqn: Any, j: int, terms: Index) -> Index:
    """A reshape that only adds or drops size-1 dims (`is_size1_reshape`)."""
    big = iter(t for t, d in zip(terms, eqn.out.shape, strict=True) if d != 1)
    return tuple(CONST0 if d == 1 else next(big) for d in eqn.inputs[0].shape)


def transpose_terms(eqn: Any, j: int, terms: Index) -> Index:
    out = [CONST0] * len(terms)
    for i, a in enumerate(eqn.p["perm"]):
        out[a] = terms[i]
    return tuple(out)


def slice_terms(eqn: Any, j: int, terms: Index) -> Index:
    p = eqn.p
    return tuple(t.affine(s, st) for t, s, st in zip(terms, p["starts"], p["steps"],
                                                      strict=True))


def gather_terms(eqn: Any, j: int, terms: Index) -> Index:
    """x[..., idx[...], ...]: the indices (input 1) are read at the output's index there."""
    axis, r = eqn.p["axis"], eqn.inputs[1].type.ndim
    if j == 1:
        return terms[axis:axis + r]
    return terms[:axis] + (Term(data=(eqn.inputs[1], terms[axis:axis + r])),) \
        + terms[axis + r:]


def size1_reduce_terms(eqn: Any, j: int, terms: Index) -> Index:
    """A reduction over size-1 dims only: a reshape."""
    axes = reduced_axes(eqn)
    it = iter(terms)
    return tuple(CONST0 if i in axes else next(it) for i in range(eqn.inputs[0].type.ndim))


# ---- targets (`Lowering.target`): the index an accumulation writes for input index `terms` --

def unslice_target(eqn: Any, terms: Index) -> Index:
    p = eqn.p
    return tuple(t.affine(s, st) for t, s, st in zip(terms, p["starts"], p["steps"],
                                                      strict=True))


def scatter_target(eqn: Any, terms: Index) -> Index:
    """out[..., idx[...], ...] += x[...]: the element the indices (input 1) name."""
    axis, r = eqn.p["axis"], eqn.inputs[1].type.ndim
    return terms[:axis] + (Term(data=(eqn.inputs[1], terms[axis:axis + r])),) \
        + terms[axis + r:]
