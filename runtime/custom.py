"""Custom functions (`adjit.autograd.Function`) and the backward pass run node by node.

A custom function's forward runs eagerly on tensors (not recorded); its node carries the
user's `backward(ctx, *grad_outputs)`. Python must run in the middle of such a backward
pass, so `interpret_backward` walks the nodes in reverse order, computing each ordinary
node's vector-Jacobian product with its graph's adjoint (interpreted with numpy) and
calling each custom node's backward. Hooks on intermediate tensors run there too, and may
replace the gradient that flows on.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from adjit.ir.errors import TraceError
from adjit.ir.evaluate import evaluate
from adjit.tracer import pytree
from adjit.tracer.loc import user_loc
from adjit.tracer.tensor import (Node, Tensor, _needs_recording, edge, inplace_message,
                                 is_grad_enabled, no_grad)
from adjit.tracer.values import Tracer


class FunctionCtx:
    """What `forward` leaves for `backward`: saved tensors and any attributes."""

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self._saved: tuple[Any, ...] = ()
        self._versions: tuple[int | None, ...] = ()  # of the saved tensors, when saved
        self.non_differentiable: set[int] = set()

    def save_for_backward(self, *tensors: Any) -> None:
        self._saved = tuple(t.detach() if isinstance(t, Tensor) else t for t in tensors)
        self._versions = tuple(t._version[0] if isinstance(t, Tensor) else None
                               for t in tensors)

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        """The saved tensors; an error if one was changed in place since it was saved."""
        for t, v in zip(self._saved, self._versions, strict=True):
            if isinstance(t, Tensor) and t._version[0] != v:
                raise RuntimeError(inplace_message(t.shape, "a custom Function's backward",
                                                   t._version[0], v))
        return self._saved

    def mark_non_differentiable(self, *tensors: Any) -> None:
        self.non_differentiable.update(id(t) for t in tensors)


class Function:
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, *grad_outputs)` (one
    gradient, or None, per argument of forward); call it as `MyFn.apply(*args)`."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any) -> Any:
        raise NotImplementedError("a Function subclass defines forward(ctx, ...)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        raise NotImplementedError("a Function subclass defines backward(ctx, ...)")

    @classmethod
    def apply(cls, *args: Any) -> Any:
        if any(isinstance(a, Tracer) for a in pytree.flatten(args)[0]):
            return _traced_apply(cls, args)
        tensors = [a for a in args if isinstance(a, Tensor)]
        ctx = FunctionCtx(tuple(isinstance(a, Tensor) and a.requires_grad for a in args))
        with no_grad():
            out = cls.forward(ctx, *args)
        if not _needs_recording(tensors) or not is_grad_enabled():
            return out
        outs, tree = pytree.flatten(out)
        results = [Tensor(np.array(o._np if isinstance(o, Tensor) else o), _array=True)
                   for o in outs]
        edges = [edge(t) for t in tensors]
        from adjit.ir import ArrayType, Graph, Var
        from adjit.ir.core import dtype_name

        graph = Graph(cls.__name__, tuple(Var(ArrayType(dtype_name(t.dtype), t.shape))
                                          for t in tensors), (),
                      tuple(Var(ArrayType(dtype_name(r.dtype), r.shape)) for r in results))
        node = Node(f"{cls.__name__}Backward", graph, edges, results)
        node.values = tuple(r._np for r in results)
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]

        def run_backward(cts: Sequence[np.ndarray]) -> list[Any]:
            grads = cls.backward(ctx, *[Tensor(c, _array=True) for c in cts])
            grads = grads if isinstance(grads, tuple) else (grads,)
            if len(grads) != len(args):
                raise TraceError(f"{cls.__name__}.backward returned {len(grads)} gradients "
                                 f"for {len(args)} inputs of forward", loc=None,
                                 hint="return one gradient (or None) per forward argument")
            return [None if grads[i] is None else np.asarray(grads[i]) for i in positions]

        node.custom = run_backward
        for i, r in enumerate(results):
            if r.dtype.kind in "fc" and id(outs[i]) not in ctx.non_differentiable:
                r.grad_fn, r._out, r._rg = node, i, True
        return pytree.unflatten(tree, results)


def _traced_apply(cls: type[Function], args: tuple[Any, ...]) -> Any:
    """In traced code the same rule is a `custom_vjp` equation: forward's value, with the
    tensors it saved as residuals, and backward as the vector-Jacobian product."""
    import copy

    from adjit.tracer.convert import user_converted
    from adjit.tracer.custom_rules import emit

    ctx = FunctionCtx(tuple(isinstance(a, Tracer) for a in args))
    forward, backward = user_converted(cls.forward), user_converted(cls.backward)

    def fwd(*a: Any) -> Any:
        return forward(ctx, *a), tuple(ctx.saved_tensors)

    def bwd(saved: Any, g: Any) -> Any:
        again = copy.copy(ctx)
        again._saved = tuple(saved)
        grads = backward(again, *(g if isinstance(g, tuple) else (g,)))
        return grads if isinstance(grads, tuple) else (grads,)

    return emit(fwd, bwd, args)


def interpret_backward(joined: Any, roots: Sequence[Tensor], seeds: Sequence[np.ndarray],
                       targets: Sequence[Tensor], create_graph: bool) -> list[Any]:
    from adjit.passes.adjoint import adjoint

    from .autograd import run_hooks

    if create_graph:
        raise TraceError("create_graph=True through a custom Function or a hook that may "
                         "change a gradient is not supported", loc=user_loc(4))
    cts: dict[tuple[int, int], np.ndarray] = {}
    ext: dict[int, np.ndarray] = {}

    def add(table: dict[Any, np.ndarray], key: Any, c: np.ndarray) -> None:
        table[key] = c if key not in table else table[key] + c

    for r, s in zip(roots, seeds, strict=True):
        if r.grad_fn is None:
            add(ext, id(r), s)
        else:
            add(cts, (r.grad_fn.id, r._out), s)
    retained: dict[int, Any] = {}
    for node in reversed(joined.nodes):
        outs = node.graph.outputs
        out_cts = [cts.get((node.id, i)) for i in range(len(outs))]
        if all(c is None for c in out_cts):
            continue
        for i, ref in enumerate(node.outputs):
            t = ref()
            if t is not None and t.grad_fn is node and out_cts[i] is not None:
                if t._hooks:
                    out_cts[i] = np.asarray(run_hooks(t, out_cts[i])._np)
                retained[id(t)] = out_cts[i]
        out_cts = [np.zeros(o.shape, o.type.np_dtype) if c is None else c
                   for c, o in zip(out_cts, outs, strict=True)]
        if node.custom is not None:
            in_cts = node.custom(out_cts)
        else:
            in_cts = _node_vjp(node, out_cts, adjoint)
        for j, (e, c) in enumerate(zip(node.edges, in_cts, strict=True)):
            if c is None:
                continue
            source, index, tensor, _ = e
            c = np.asarray(c, dtype=tensor.dtype if source is None else
                           node.graph.inputs[j].type.np_dtype)
            if source is not None:
                add(cts, (source.id, index), c)
            elif tensor.requires_grad:
                add(ext, id(tensor), c)
    out = []
    for t in targets:
        if t.grad_fn is None:
            out.append(ext.get(id(t)))
        else:
            out.append(retained.get(id(t)))
    return out


def _node_vjp(node: Node, out_cts: Sequence[np.ndarray], adjoint: Any) -> list[Any]:
    g = node.graph
    wrt = [i for i, v in enumerate(g.inputs) if v.type.is_float]
    joint = adjoint(g, wrt, seed="inputs")
    values = [source.saved_value(index, node) if source is not None else tensor._np
              for source, index, tensor, _ in node.edges]
    float_cts = [c for c, o in zip(out_cts, g.outputs, strict=True) if o.type.is_float]
    res = evaluate(joint, *values, *float_cts)[len(g.outputs):]
    grads: list[Any] = [None] * len(g.inputs)
    for i, r in zip(wrt, res, strict=True):
        grads[i] = r
    return grads
