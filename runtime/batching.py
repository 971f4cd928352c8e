"""adjit.vmap: a function mapped over a batch axis of its arguments, as one compiled graph.

`vmap(f, in_axes=0, out_axes=0)(*args)` equals stacking `f` applied to each slice of the
mapped arguments along `in_axes` (None: the argument is shared by every example; an int per
argument applies to every array inside it, and a structure like the argument's, a dict of
axes for a dict, gives each part its own), with the results' batch axis at `out_axes`.
It traces `f` once on one example's shapes and runs the batching pass (passes/vmap.py), so
it composes like the other transformations: `vmap(grad(loss), in_axes=(None, 0, 0))` gives
per-example gradients in one kernel, and `grad` of a vmapped function differentiates it.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from adjit.ir.builder import inline, tracing
from adjit.ir.errors import TraceError
from adjit.tracer import Tracer, pytree, trace
from adjit.tracer.loc import user_loc
from adjit.tracer.numpy_api import _t, moveaxis

from .forward import _any_traced, _Compiled


def _axes_per_argument(in_axes: Any, n: int) -> tuple[Any, ...]:
    if isinstance(in_axes, (list, tuple)):
        if len(in_axes) != n:
            raise TraceError(f"vmap: in_axes has {len(in_axes)} entries for {n} arguments",
                             loc=user_loc(4), hint="give one axis (or None) per argument")
        return tuple(in_axes)
    return (in_axes,) * n


def _prefix_axes(spec: Any, x: Any, where: str, what: str = "in_axes") -> list[Any]:
    """The axis of each leaf of x (an argument, or the result; in pytree.flatten's order)
    from its in_axes (out_axes) entry: None or an int for all of them, or a structure
    matching x's (a prefix of it, as JAX has it: a dict of axes for a dict)."""
    if spec is None or (isinstance(spec, int) and not isinstance(spec, bool)):
        return [spec] * len(pytree.flatten(x)[0])
    if isinstance(spec, dict) and isinstance(x, dict):
        if set(spec) != set(x):
            raise TraceError(f"vmap: {what}{where} has keys {sorted(spec)} for a dict with "
                             f"keys {sorted(x)}", loc=user_loc(5))
        keys = sorted(x, key=pytree._sort_key)
        return [a for k in keys for a in _prefix_axes(spec[k], x[k], f"{where}[{k!r}]", what)]
    if isinstance(spec, (tuple, list)) and isinstance(x, (tuple, list)) and len(spec) == len(x):
        return [a for k, (s, c) in enumerate(zip(spec, x, strict=True))
                for a in _prefix_axes(s, c, f"{where}[{k}]", what)]
    whose = "argument's" if what == "in_axes" else "result's"
    raise TraceError(f"vmap: {what}{where} is {spec!r}, which does not match the {whose} "
                     f"structure ({type(x).__name__})", loc=user_loc(5),
                     hint=f"give None, an int, or a structure like the {whose}")


def _place_outputs(outs: list[Tracer], batched: list[bool], out_axes: Any, tree: Any) -> Any:
    """The results with their batch axis at out_axes (an int, None, or a prefix of the
    result's structure, as JAX's): None takes a result that does not depend on the mapped
    arguments as it is, and refuses one that does."""
    axes = _prefix_axes(out_axes, pytree.unflatten(tree, list(range(len(outs)))), "",
                        "out_axes")
    placed = []
    for k, (o, b, ax) in enumerate(zip(outs, batched, axes, strict=True)):
        if ax is None:
            if b:
                raise TraceError(f"vmap: out_axes is None for result {k}, which depends on "
                                 "the mapped arguments", loc=user_loc(4),
                                 hint="give that result an axis in out_axes (0 stacks it)")
            placed.append(o[0])
        elif not -o.ndim <= ax < o.ndim:
            raise TraceError(f"vmap: out_axes {ax} is out of range for result {k}, which has "
                             f"{o.ndim - 1} dimensions before batching", loc=user_loc(4))
        else:
            placed.append(o if ax % o.ndim == 0 else moveaxis(o, 0, ax))
    return pytree.unflatten(tree, placed)


def traced_vmap(fun: Callable[..., Any], in_axes: Any, out_axes: Any,
                args: tuple[Any, ...]) -> Any:
    """vmap on traced values: the batched graph inlined into the active trace."""
    from adjit.passes.vmap import batch

    axes = _axes_per_argument(in_axes, len(args))
    static = tuple(i for i, a in enumerate(args) if type(a) in (int, bool) and axes[i] is None)
    for i, a in enumerate(args):
        if type(a) in (int, bool, float) and axes[i] is not None:
            raise TraceError(f"vmap: argument {i} is a Python number, which has no axis "
                             f"{axes[i]} to map over", loc=user_loc(3),
                             hint="pass in_axes=None for it")
    flat, flat_static, trees = pytree.flatten_arguments(args, static)
    owner = [i for i, tree in enumerate(trees) for _ in range(1 if tree is None
                                                              else pytree.count(tree))]
    leaf_axes = [a for i, x in enumerate(args)
                 for a in ([axes[i]] if trees[i] is None else _prefix_axes(axes[i], x, f"[{i}]"))]
    size = None
    leaves: list[Any] = []
    mapped: list[bool] = []
    for leaf, st, i, axis in zip(flat, flat_static, owner, leaf_axes, strict=True):
        if st or axis is None:
            leaves.append(leaf)
            mapped.append(False)
            continue
        x = _t(leaf)
        ax = axis % x.ndim if x.ndim else None
        if ax is None:
            raise TraceError(f"vmap: argument {i} is 0-dimensional, with no axis {axis}",
                             loc=user_loc(3), hint="pass in_axes=None for it")
        if size is not None and x.shape[ax] != size:
            raise TraceError(f"vmap: mapped axes have different sizes ({size} and "
                             f"{x.shape[ax]})", loc=user_loc(3))
        size = x.shape[ax]
        leaves.append(moveaxis(x, ax, 0))
        mapped.append(True)
    if size is None:
        raise TraceError("vmap needs at least one mapped array argument", loc=user_loc(3),
                         hint="set in_axes to the batch axis of one argument")
    examples = [np.zeros(x.shape[1:], x.dtype) if m else
                (np.zeros(x.shape, x.dtype) if isinstance(x, Tracer) else x)
                for x, m in zip(leaves, mapped, strict=True)]
    traced = trace(fun, tuple(pytree.regroup(trees, examples)), static, concrete=False,
                   free=True)
    values = [_t(x).val for x, st in zip(leaves, flat_static, strict=True) if not st]
    flags = [m for m, st in zip(mapped, flat_static, strict=True) if not st]
    flags += [False] * len(traced.free)
    outputs_batched: list[bool] = []
    g = batch(traced.graph, flags, size, outputs_batched)
    outs = [Tracer(v) for v in inline(g, values + list(traced.free))][:traced.n_outputs]
    return _place_outputs(outs, outputs_batched[:traced.n_outputs], out_axes, traced.out_tree)


def vmap(fun: Callable[..., Any], in_axes: Any = 0, out_axes: Any = 0, *,
         target: str = "cpu") -> Callable[..., Any]:
    """`fun` mapped over axis `in_axes` of its arguments (see the module docstring);
    `target` as for `adjit.grad`."""
    key = f"vmap{in_axes!r}{out_axes!r}"

    @functools.wraps(fun)
    def batched(*args: Any) -> Any:
        if tracing() or _any_traced(args):
            return traced_vmap(fun, in_axes, out_axes, args)
        return _Compiled.of(fun, key, lambda f, *a: traced_vmap(f, in_axes, out_axes, a),
                            target)(*args)

    return batched
