"""`x[mask]` with a traced boolean mask: a selection whose size depends on the data.

A static graph cannot hold an array of unknown length, so the selection is kept in
place: a `Masked` tracer is the full array together with the mask. Elementwise
arithmetic applies to every element (the unselected ones are never read back);
reductions (`sum`, `mean`, `max`, `min`, `prod`, `var`, `std`) count only the
selected ones, by substituting the reduction's identity elsewhere. That covers the
common `np.sum(x[x > 0] ** 2)`; an operation that needs the selection's length or
order (reshape, indexing, matmul) raises an error that says so.
"""
from __future__ import annotations

from typing import Any

from adjit.ir import Value, current_loc, ops
from adjit.ir.builder import emit
from adjit.ir.errors import TraceError

from .values import Tracer


class Masked(Tracer):
    __slots__ = ("mask",)

    def __init__(self, val: Value, mask: Value, weak: bool = False) -> None:
        super().__init__(val, weak)
        self.mask = mask

    @property
    def shape(self) -> tuple[int, ...]:
        raise unsupported("its shape")

    @property
    def ndim(self) -> int:
        return 1

    @property
    def size(self) -> int:
        raise unsupported("its size")

    def __len__(self) -> int:
        raise unsupported("len()")

    def __repr__(self) -> str:
        return f"Masked({self.val.type})"


def unsupported(what: str) -> TraceError:
    return TraceError(f"{what} of a boolean-mask selection depends on the data, which adjit "
                      "cannot know while tracing", loc=current_loc(),
                      hint="reduce the selection (np.sum, np.mean, np.max, ...), or use "
                           "np.where(mask, x, 0) to keep the shape")


def select(x: Tracer, mask: Tracer) -> Masked:
    if mask.val.shape != x.val.shape:
        raise TraceError(f"a traced boolean mask must have the array's shape {x.val.shape}, "
                         f"not {mask.val.shape}", loc=current_loc())
    return Masked(x.val, mask.val)


def elementwise(name: str, xs: tuple[Any, ...], plain: Any) -> Masked:
    """Apply `plain` (the unmasked elementwise function) where some of xs are Masked."""
    masks = {id(x.mask): x.mask for x in xs if isinstance(x, Masked)}
    if len(masks) != 1:
        raise TraceError("combining selections made with different boolean masks is not "
                         "supported", loc=current_loc())
    (mask,) = masks.values()
    args = []
    for x in xs:
        if isinstance(x, Masked):
            args.append(Tracer(x.val, x.weak))
        elif isinstance(x, Tracer) and x.val.type.ndim > 0:
            raise unsupported(f"broadcasting an array of shape {x.val.shape} against it")
        else:
            args.append(x)
    out = plain(name, *args)
    return Masked(ops.broadcast_to(out.val, mask.shape), mask, out.weak)


def reduce(kind: str, x: Masked, axis: Any, keepdims: bool, ddof: int = 0) -> Tracer:
    if axis not in (None, 0, -1, (0,)) or keepdims:
        raise unsupported(f"a reduction over axis {axis!r} with keepdims={keepdims}")
    v = x.val if x.val.type.is_float or kind not in ("mean", "var", "std") else \
        ops.convert(x.val, "f64")
    axes = tuple(range(v.type.ndim))
    count = ops.reduce_sum(ops.convert(x.mask, v.dtype if v.type.is_float else "f64"), axes)
    if kind == "sum":
        return Tracer(ops.reduce_sum(ops.select(x.mask, v, 0), axes))
    if kind == "prod":
        return Tracer(emit("reduce_prod", ops.select(x.mask, v, 1), axes=axes))
    if kind in ("max", "min"):
        ident = float("-inf") if kind == "max" else float("inf")
        prim = "reduce_max" if kind == "max" else "reduce_min"
        return Tracer(emit(prim, ops.select(x.mask, v, ident), axes=axes))
    total = ops.reduce_sum(ops.select(x.mask, v, 0), axes)
    mean = ops.div(total, count)
    if kind == "mean":
        return Tracer(mean)
    d = ops.select(x.mask, ops.sub(v, mean), 0)
    var = ops.div(ops.reduce_sum(ops.mul(d, d), axes), ops.sub(count, float(ddof)))
    return Tracer(var if kind == "var" else ops.ew("sqrt", var))
