"""vmap: the batching transformation. Graph -> the same computation over a leading batch axis.

`batch(g, batched, size)` returns a graph whose inputs flagged in `batched` carry an extra
leading axis of length `size` and whose every output does: the graph run once per example,
as one graph. Each equation is rewritten by its primitive's batching rule, with the batch
axis kept in front (JAX's convention of moving it to 0):

- elementwise: batched operands are padded to the equation's rank after the batch axis, so
  numpy broadcasting lines every operand up; unbatched ones broadcast as they did;
- reductions, scans, shape ops, gather and scatter: their axes move by one;
- matmul: a batched operand against an unbatched one folds the batch into the rows (or the
  columns) of one BLAS product, so per-example products cost one large sgemm; two batched
  operands are a batched matmul;
- everything else (control flow, custom rules, library kernels, gathers with batched
  indices) falls back to one copy of the equation per example, stacked: always right, and
  only the equations without a rule pay for it.

An equation none of whose operands is batched is kept as it is (its value is the same for
every example). Rules live here, keyed by primitive, beside this pass's dispatch; a new
primitive without one is correct through the fallback.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from adjit.ir import Builder, Graph, Value, Var, building, ops
from adjit.ir.builder import context
from adjit.ir.builder import emit_multi
from adjit.ir.core import Eqn
from adjit.ir.primitive import ELEMENTWISE, REDUCE, get

Rule = Callable[[Eqn, list[Value], list[bool], int], list[Value]]


def batch(g: Graph, batched: Sequence[bool], size: int) -> Graph:
    """g over a leading batch axis of length `size` on the inputs flagged in `batched`."""
    inputs = [Var(v.type.with_shape((size,) + v.shape), v.name) if b else Var(v.type, v.name)
              for v, b in zip(g.inputs, batched, strict=True)]
    env: dict[int, tuple[Value, bool]] = {id(v): (n, b) for v, n, b in
                                          zip(g.inputs, inputs, batched, strict=True)}

    def read(v: Value) -> tuple[Value, bool]:
        return env.get(id(v), (v, False)) if isinstance(v, Var) else (v, False)

    b = Builder()
    with building(b):
        for eqn in g.eqns:
            pairs = [read(v) for v in eqn.inputs]
            vals, flags = [p[0] for p in pairs], [p[1] for p in pairs]
            if not any(flags):
                outs = emit_multi(eqn.prim, *vals, **dict(eqn.params))
                env.update((id(o), (n, False)) for o, n in zip(eqn.outputs, outs, strict=True))
                continue
            with context(loc=eqn.loc, role=f"vmap({eqn.prim})"):
                outs = _rule(eqn)(eqn, vals, flags, size)
            env.update((id(o), (n, True)) for o, n in zip(eqn.outputs, outs, strict=True))
        outputs = []
        for o in g.outputs:
            v, is_batched = read(o)
            outputs.append(v if is_batched else ops.broadcast_to(v, (size,) + o.shape,
                                                                 o.dtype))
    return b.graph(f"{g.name}_vmap", tuple(inputs), tuple(outputs),
                   notes=g.notes + (f"batched over {size} along axis 0",))


def _rule(eqn: Eqn) -> Rule:
    prim = get(eqn.prim)
    if eqn.prim in _RULES:
        return _RULES[eqn.prim]
    if prim.kind == ELEMENTWISE:
        return _elementwise
    if prim.kind == REDUCE:
        return _axes_shifted
    return _per_example


def _emit(eqn: Eqn, vals: Sequence[Value], **params: Any) -> list[Value]:
    p = dict(eqn.params)
    p.update(params)
    return list(emit_multi(eqn.prim, *vals, **p))


def _lead(v: Value, flag: bool, size: int) -> Value:
    """v with the batch axis in front (an unbatched value broadcast along it)."""
    return v if flag else ops.broadcast_to(v, (size,) + v.shape, v.dtype)


def _elementwise(eqn: Eqn, vals: list[Value], flags: list[bool], size: int) -> list[Value]:
    rank = max(v.type.ndim - f for v, f in zip(vals, flags, strict=True))
    lined = [ops.reshape(v, (size,) + (1,) * (rank - v.type.ndim + 1) + v.shape[1:])
             if f and v.type.ndim - 1 < rank else v for v, f in zip(vals, flags, strict=True)]
    return _emit(eqn, lined)


def _axes_shifted(eqn: Eqn, vals: list[Value], flags: list[bool], size: int) -> list[Value]:
    p = dict(eqn.params)
    if "axes" in p:
        return _emit(eqn, vals, axes=tuple(a + 1 for a in p["axes"]))
    return _emit(eqn, vals, axis=p["axis"] + 1)


def _shape_prefixed(*names: str) -> Rule:
    """Rules of shape ops whose params spell the full output shape or per-axis tuples."""
    def rule(eqn: Eqn, vals: list[Value], flags: list[bool], size: int) -> list[Value]:
        p = dict(eqn.params)
        new = {"shape": (size,) + tuple(p["shape"])} if "shape" in names else {}
        if "starts" in names:
            new.update(starts=(0,) + tuple(p["starts"]), steps=(1,) + tuple(p["steps"]))
        return _emit(eqn, vals, **new)

    return rule


def _transpose(eqn: Eqn, vals: list[Value], flags: list[bool], size: int) -> list[Value]:
    return _emit(eqn, vals, perm=(0,) + tuple(a + 1 for a in dict(eqn.params)["perm"]))


def _broadcast_to(eqn: Eqn, vals: list[Value], flags: list[bool], size: int) -> list[Value]:
    (x,) = vals
    shape = tuple(dict(eqn.params)["shape"])
    x = ops.reshape(x, (size,) + (1,) * (len(shape) - x.type.ndim + 1) + x.shape[1:])
    return _emit(eqn, [x], shape=(size,) + shape)


def _concatenate(eqn: Eqn, vals: list[Value], flags: list[bool], size: int) -> list[Value]:
    return _emit(eqn, [_lead(v, f, size) for v, f in zip(vals, flags, strict=True)],
                 axis=dict(eqn.params)["axis"] + 1)


def _indexed(eqn: Eqn, vals: list[Value], flags: list[bool], size: int) -> list[Value]:
    """gather / scatter_add with a batched array and shared indices: the axis moves."""
    if flags[1]:
        return _per_example(eqn, vals, flags, size)
    return _emit(eqn, vals, axis=dict(eqn.params)["axis"] + 1)


def _matmul(eqn: Eqn, vals: list[Value], flags: list[bool], size: int) -> list[Value]:
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
    return _emit(eqn, [_lead(v, f, size) for v, f in zip(vals, flags, strict=True)])


def _per_example(eqn: Eqn, vals: list[Value], flags: list[bool], size: int) -> list[Value]:
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


_RULES: dict[str, Rule] = {
    "reshape": _shape_prefixed("shape"),
    "slice": _shape_prefixed("shape", "starts"),
    "unslice": _shape_prefixed("shape", "starts"),
    "transpose": _transpose,
    "broadcast_to": _broadcast_to,
    "concatenate": _concatenate,
    "gather": _indexed,
    "scatter_add": _indexed,
    "matmul": _matmul,
}
