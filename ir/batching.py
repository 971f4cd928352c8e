"""Batching rules: how an equation runs over a leading batch axis (what `adjit.vmap` needs
of each primitive; passes/vmap.py applies them).

A rule is `rule(eqn, vals, flags, size) -> outputs`: `vals` are the equation's operands
rewritten by the batching pass, `flags[i]` says whether operand i carries a leading batch
axis of length `size`, and the outputs all carry one. Every primitive has a rule, declared
with its other rules (`Primitive(..., batch=...)`); one declared without gets its kind's
default when it is registered (ir/primitive.py `register`):

- elementwise: batched operands are padded to the equation's rank after the batch axis, so
  numpy broadcasting lines every operand up; unbatched ones broadcast as they did;
- reductions and scans: their axes move by one;
- everything else (control flow, custom rules, library kernels): one copy of the equation
  per example, stacked. Always right; a primitive with a better rule declares it.

The rules of shape ops, gather/scatter and matmul are here too, beside the generic ones they
build on, and their primitives name them.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from . import ops
from .builder import emit_multi
from .core import Eqn, Value

Rule = Callable[[Eqn, list[Value], list[bool], int], list[Value]]


def _emit(eqn: Eqn, vals: Sequence[Value], **params: Any) -> list[Value]:
    p = dict(eqn.params)
    p.update(params)
    return list(emit_multi(eqn.prim, *vals, **p))


def lead(v: Value, flag: bool, size: int) -> Value:
    """v with the batch axis in front (an unbatched value broadcast along it)."""
    return v if flag else ops.broadcast_to(v, (size,) + v.shape, v.dtype)


def elementwise(eqn: Eqn, vals: list[Value], flags: list[bool], size: int) -> list[Value]:
    rank = max(v.type.ndim - f for v, f in zip(vals, flags, strict=True))
    lined = [ops.reshape(v, (size,) + (1,) * (rank - v.type.ndim + 1) + v.shape[1:])
             if f and v.type.ndim - 1 < rank else v for v, f in zip(vals, flags, strict=True)]
    return _emit(eqn, lined)


def axes_shifted(eqn: Eqn, vals: list[Value], flags: list[bool], size: int) -> list[Value]:
    """Reductions and scans over `axes` or `axis` (a scan of several operands, a linear
    recurrence, has them all batched)."""
    p = dict(eqn.params)
    if len(vals) > 1:
        vals = [lead(v, f, size) for v, f in zip(vals, flags, strict=True)]
    if "axes" in p:
        return _emit(eqn, vals, axes=tuple(a + 1 for a in p["axes"]))
    return _emit(eqn, vals, axis=p["axis"] + 1)


def per_example(eqn: Eqn, vals: list[Value], flags: list[bool], size: int) -> list[Value]:
    """One copy of the equation per example, stacked along a new leading axis."""
    per_out: list[list[Value]] = [[] for _ in eqn.outputs]
    for i in range(size):
        ins = [ops.reshape(ops.emit("slice", v, starts=(i,) + (0,) * (v.type.ndim - 1),
                                    steps=(1,) * v.type.ndim, shape=(1,) + v.shape[1:]),
                           v.shape[1:]) if f else v for v, f in zip(vals, flags, strict=True)]
        for j, o in enumerate(_emit(eqn, ins)):
            per_out[j].append(ops.reshape(o, (1,) + o.shape))
    return [outs[0] if size == 1 else ops.emit("concatenate", *outs, axis=0)
            for outs in per_out]


def shape_prefixed(*names: str) -> Rule:
    """Shape ops whose params spell the full output shape (`shape`) or per-axis tuples
    (`starts`, `steps`): the batch axis is prepended to each."""
    def rule(eqn: Eqn, vals: list[Value], flags: list[bool], size: int) -> list[Value]:
        p = dict(eqn.params)
        new = {"shape": (size,) + tuple(p["shape"])} if "shape" in names else {}
        if "starts" in names:
            new.update(starts=(0,) + tuple(p["starts"]), steps=(1,) + tuple(p["steps"]))
        return _emit(eqn, vals, **new)

    return rule


def transpose(eqn: Eqn, vals: list[Value], flags: list[bool], size: int) -> list[Value]:
    return _emit(eqn, vals, perm=(0,) + tuple(a + 1 for a in dict(eqn.params)["perm"]))


def broadcast_to(eqn: Eqn, vals: list[Value], flags: list[bool], size: int) -> list[Value]:
    (x,) = vals
    shape = tuple(dict(eqn.params)["shape"])
    x = ops.reshape(x, (size,) + (1,) * (len(shape) - x.type.ndim + 1) + x.shape[1:])
    return _emit(eqn, [x], shape=(size,) + shape)


def concatenate(eqn: Eqn, vals: list[Value], flags: list[bool], size: int) -> list[Value]:
    return _emit(eqn, [lead(v, f, size) for v, f in zip(vals, flags, strict=True)],
                 axis=dict(eqn.params)["axis"] + 1)


def indexed(eqn: Eqn, vals: list[Value], flags: list[bool], size: int) -> list[Value]:
    """gather / scatter_add with a batched array and shared indices: the axis moves."""
    if flags[1]:
        return per_example(eqn, vals, flags, size)
    return _emit(eqn, vals, axis=dict(eqn.params)["axis"] + 1)


def matmul(eqn: Eqn, vals: list[Value], flags: list[bool], size: int) -> list[Value]:
    """A batched operand against an unbatched 2-d one folds the batch into the rows (or the
    columns) of one product: per-example products against shared weights are one GEMM."""
    a, b = vals
    ta, tb = (dict(eqn.params)[k] for k in ("transpose_a", "transpose_b"))
    if flags[0] and not flags[1] and b.type.ndim == 2 and a.type.ndim == 3:
        if ta:  # (B, k, m) used transposed: make it (B, m, k)
            a = ops.transpose(a, (0, 2, 1))
        m, k = a.shape[1:]
        out = ops.matmul(ops.reshape(a, (size * m, k)), b, False, tb)
        return [ops.reshape(out, (size, m, out.shape[-1]))]
    if flags[1] and not flags[0] and a.type.ndim == 2 and b.type.ndim == 3:
        if tb:  # (B, n, k) used transposed: (m, k) @ (B*n, k).T
            n, k = b.shape[1:]
            out = ops.matmul(a, ops.reshape(b, (size * n, k)), ta, True)
        else:  # (B, k, n): (m, k) @ (k, B*n)
            k, n = b.shape[1:]
            cols = ops.reshape(ops.transpose(b, (1, 0, 2)), (k, size * n))
            out = ops.matmul(a, cols, ta, False)
        return [ops.transpose(ops.reshape(out, (out.shape[0], size, n)), (1, 0, 2))]
    return _emit(eqn, [lead(v, f, size) for v, f in zip(vals, flags, strict=True)])


def default_for(kind: str) -> Rule:
    """The rule a primitive of this kind gets when it declares none."""
    from .primitive import ELEMENTWISE, REDUCE

    return {ELEMENTWISE: elementwise, REDUCE: axes_shifted}.get(kind, per_example)
