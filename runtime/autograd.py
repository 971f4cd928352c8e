"""Backward passes of recorded tensors: `Tensor.backward`, `adjit.autograd.grad`.

The nodes that reach the tensors being differentiated are joined into one graph (their
leaves and constants become its inputs), which goes through the same adjoint, prune,
simplify, fuse and codegen as a traced function. The compiled function is cached by the
joined graph's structure (its text without locations, which inputs are differentiated),
so a training step whose graph does not change compiles once; `compilations()` counts.

- `create_graph=True`: the joint graph is applied as a recorded operation instead of being
  compiled, so the gradients are tensors with a graph of their own (higher derivatives).
- Custom `Function`s and hooks that change an intermediate gradient need Python in the
  middle of the backward pass: those passes run node by node with the interpreter.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from adjit.ir import ArrayType, Builder, Graph, Var, building
from adjit.ir.core import dtype_name
from adjit.ir.builder import inline
from adjit.ir.errors import TraceError
from adjit.tracer.loc import user_loc
from adjit.tracer.tensor import Edge, Node, Tensor, apply, inplace_message, no_grad
from adjit.tracer.trace import Traced
from adjit.tracer.values import Tracer

from .compiler import Specialization, build

_CACHE: dict[Any, Specialization] = {}
_COUNT = [0]


def compilations() -> int:
    """How many backward graphs have been compiled in this process."""
    return _COUNT[0]


# ---- the recorded graph, joined -----------------------------------------------------------------

class Joined:
    """The nodes reaching `roots`, as one graph: inputs are the tensors from outside."""

    def __init__(self, roots: Sequence[Tensor]) -> None:
        self.nodes = _topological([r.grad_fn for r in roots if r.grad_fn is not None])
        self.externals: list[Tensor] = []
        self.edges: list[Edge] = []  # one per external: where it was first used
        inputs: list[Var] = []
        ext_index: dict[int, int] = {}
        env: dict[tuple[int, int], Any] = {}
        b = Builder()
        with building(b):
            for node in self.nodes:
                if node.freed:
                    raise RuntimeError(
                        "Trying to backward through the graph a second time (or directly "
                        "access saved tensors after they have already been freed). Saved "
                        "intermediate values of the graph are freed when you call .backward() "
                        "or autograd.grad(). Specify retain_graph=True if you need to backward "
                        "through the graph a second time or if you need to access saved "
                        "tensors after calling backward.")
                args = []
                for e in node.edges:
                    if e.node is not None:
                        args.append(env[(e.node.id, e.index)])
                        continue
                    _check_version(e, node)
                    k = id(e.tensor)
                    if k not in ext_index:
                        ext_index[k] = len(inputs)
                        inputs.append(Var(node.graph.inputs[len(args)].type))
                        self.externals.append(e.tensor)
                        self.edges.append(e)
                    args.append(inputs[ext_index[k]])
                if node.custom is not None:  # its backward is Python: interpreted only
                    for i, o in enumerate(node.graph.outputs):
                        env[(node.id, i)] = Var(o.type)
                    continue
                for i, v in enumerate(inline(node.graph, args)):
                    env[(node.id, i)] = v
        for r in roots:  # a leaf differentiated itself (x.backward()): an input and output
            if r.grad_fn is None and id(r) not in ext_index:
                ext_index[id(r)] = len(inputs)
                inputs.append(Var(ArrayType(dtype_name(r.dtype), r.shape)))
                self.externals.append(r)
                self.edges.append(Edge(r))
        self.inputs = inputs
        self.eqns = b.eqns
        self.env = env
        self.ext_index = ext_index

    def value(self, t: Tensor) -> Any:
        """The joined graph's value for tensor `t` (an input, or a node's output)."""
        if t.grad_fn is None:
            return self.inputs[self.ext_index[id(t)]] if id(t) in self.ext_index else None
        return self.env.get((t.grad_fn.id, t._out))

    def graph(self, outputs: Sequence[Any]) -> Graph:
        return Graph("backward", tuple(self.inputs), tuple(self.eqns), tuple(outputs))


def _topological(starts: Sequence[Node]) -> list[Node]:
    order: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(n, False) for n in reversed(starts)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node.id in seen:
            continue
        seen.add(node.id)
        stack.append((node, True))
        for e in reversed(node.edges):
            if e.node is not None and e.node.id not in seen:
                stack.append((e.node, False))
    return order


def _check_version(e: Edge, node: Node) -> None:
    if e.tensor._version[0] != e.version:
        raise RuntimeError(inplace_message(e.tensor.shape, node.name(), e.tensor._version[0],
                                           e.version))


# ---- backward -----------------------------------------------------------------------------------

def backward(tensors: Sequence[Tensor], grad_tensors: Sequence[Any] | None = None,
             retain_graph: bool | None = None, create_graph: bool = False,
             inputs: Sequence[Tensor] | None = None) -> None:
    """Accumulate the gradients of `tensors` (weighted by `grad_tensors`) into the `.grad`
    of the leaves that require it (or of `inputs`)."""
    roots = list(tensors)
    seeds = _seeds(roots, grad_tensors)
    joined = Joined(roots)
    if inputs is not None:
        leaves = list(inputs)
    else:
        leaves = [t for t in joined.externals if t.requires_grad]
    chosen = {id(t) for t in leaves}
    targets = leaves + [t for t in _hooked(joined) if id(t) not in chosen]
    grads = _run(joined, roots, seeds, targets, create_graph)
    for t, g in zip(targets, grads, strict=True):
        if id(t) in chosen:
            g = _run_hooks(t, g)
            if g is not None:
                _accumulate(t, g, create_graph)
        elif t._retain and g is not None:
            t.grad = g if isinstance(g, Tensor) else Tensor(g, _array=True)
    if not (create_graph if retain_graph is None else retain_graph):
        _free(joined)


def _free(joined: Joined) -> None:
    """The graph's nodes can no longer be backpropagated through (retain_graph=False)."""
    for node in joined.nodes:
        node.freed = True
        node.values = ()


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple[Any, ...]:
    """The gradients of `outputs` with respect to `inputs` (leaves or intermediate tensors),
    returned instead of accumulated."""
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    gos = None if grad_outputs is None else (
        [grad_outputs] if isinstance(grad_outputs, Tensor) or not isinstance(
            grad_outputs, (list, tuple)) else list(grad_outputs))
    for t in ins:
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    seeds = _seeds(outs, gos)
    joined = Joined(outs)
    grads = _run(joined, outs, seeds, ins, create_graph)
    result = []
    for g in grads:
        if g is None and not allow_unused:
            raise RuntimeError("One of the differentiated Tensors appears to not have been "
                               "used in the graph. Set allow_unused=True if this is the "
                               "desired behavior.")
        result.append(g if g is None or isinstance(g, Tensor) else Tensor(g, _array=True))
    if not (create_graph if retain_graph is None else retain_graph):
        _free(joined)
    return tuple(result)


def _seeds(roots: Sequence[Tensor], grads: Sequence[Any] | None) -> list[np.ndarray]:
    seeds = []
    for i, r in enumerate(roots):
        if not isinstance(r, Tensor):
            raise TypeError(f"backward expects tensors, got {type(r).__name__}")
        if not r.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have "
                               "a grad_fn")
        g = None if grads is None else grads[i]
        if g is None:
            if r.numel() != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs "
                                   f"(this one has shape {list(r.shape)}): pass "
                                   f"gradient=, e.g. y.backward(gradient=adjit.ones_like(y))")
            if r.dtype.kind == "c":
                raise RuntimeError("grad can be implicitly created only for real scalar "
                                   "outputs: backward() a real loss (np.abs(y)**2, y.real), "
                                   "or pass gradient= (1 gives dy/dz of a holomorphic y)")
            seeds.append(np.ones(r.shape, r.dtype))
        else:
            arr = np.asarray(g._np if isinstance(g, Tensor) else g, dtype=r.dtype)
            if arr.shape != r.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                                   f"{list(arr.shape)} and output[{i}] has a shape of "
                                   f"{list(r.shape)}.")
            seeds.append(arr)
    return seeds


def _hooked(joined: Joined) -> list[Tensor]:
    """Intermediate tensors whose gradient someone asked for (retain_grad, hooks)."""
    out = []
    for node in joined.nodes:
        for ref in node.outputs:
            t = ref()
            if t is not None and (t._retain or t._hooks) and t.grad_fn is node:
                out.append(t)
    return out


def run_hooks(t: Tensor, g: Any) -> Any:
    """`t`'s hooks on its gradient `g`, in order; each may return a replacement."""
    if g is None or not t._hooks:
        return g
    g = g if isinstance(g, Tensor) else Tensor(g, _array=True)
    for hook in list(t._hooks.values()):
        new = hook(g)
        if new is not None:
            g = new if isinstance(new, Tensor) else Tensor(np.asarray(new), _array=True)
    return g


_run_hooks = run_hooks


def _accumulate(t: Tensor, g: Any, create_graph: bool) -> None:
    if create_graph:
        gt = g if isinstance(g, Tensor) else Tensor(g, _array=True)
        t.grad = gt if t.grad is None else t.grad + gt
        return
    arr = g._np if isinstance(g, Tensor) else g
    if t.grad is None:
        t.grad = Tensor(np.array(arr, dtype=t.dtype, copy=True), _array=True)
    else:
        t.grad._np = t.grad._np + arr
        t.grad._version[0] += 1


# ---- running the joint graph --------------------------------------------------------------------

def _run(joined: Joined, roots: Sequence[Tensor], seeds: Sequence[np.ndarray],
         targets: Sequence[Tensor], create_graph: bool) -> list[Any]:
    """The cotangent of each target (None where it does not affect the roots)."""
    if any(n.custom is not None for n in joined.nodes) or any(
            t._hooks for t in targets if t.grad_fn is not None):
        # Python runs in the middle of this backward pass (a custom Function's backward, a
        # hook that may change an intermediate gradient): node by node, interpreted.
        from .custom import interpret_backward

        return interpret_backward(joined, roots, seeds, targets, create_graph)
    outputs = [joined.value(r) for r in roots]
    graph = joined.graph(outputs)
    wrt = [joined.ext_index[id(t)] for t in targets if t.grad_fn is None
           and id(t) in joined.ext_index]
    also = [joined.value(t) for t in targets if t.grad_fn is not None
            and joined.value(t) is not None]
    if create_graph:
        values = _recorded_backward(graph, wrt, also, joined.externals, seeds)
    else:
        spec = specialize(graph, wrt, also)
        values = spec.run([*[t._np for t in joined.externals], *seeds])[len(outputs):]
    it = iter(values)
    by_id = {}
    for t in targets:
        if t.grad_fn is None and id(t) in joined.ext_index:
            by_id[id(t)] = next(it)
    for t in targets:
        if t.grad_fn is not None and joined.value(t) is not None:
            by_id[id(t)] = next(it)
    return [by_id.get(id(t)) for t in targets]


def specialize(graph: Graph, wrt: Sequence[int], also: Sequence[Any]) -> Specialization:
    """The compiled joint function of a joined graph, cached by its structure."""
    positions = {id(o): (i, j) for i, e in enumerate(graph.eqns)
                 for j, o in enumerate(e.outputs)}
    key = (graph.format(locs=False), tuple(wrt),
           tuple(positions.get(id(a), ("input", id(a))) for a in also))
    spec = _CACHE.get(key)
    if spec is None:
        traced = Traced(graph, None, tuple(False for _ in graph.inputs))
        n_ct = sum(1 for o in graph.outputs if o.type.is_float)
        spec = build(traced, wrt=wrt, static=(), n_args=len(graph.inputs) + n_ct,
                     seed="inputs", also=also)
        _CACHE[key] = spec
        _COUNT[0] += 1
    return spec


def _recorded_backward(graph: Graph, wrt: Sequence[int], also: Sequence[Any],
                       externals: Sequence[Tensor], seeds: Sequence[np.ndarray]) -> list[Any]:
    """The joint graph applied as a recorded operation: gradients with a graph of their own."""
    from adjit.passes.pipeline import differentiate

    joint = differentiate(graph, wrt, seed="inputs", also=also).simplified
    n_out = len(graph.outputs)

    def run(*xs: Any) -> Any:
        outs = inline(joint, [x.val if isinstance(x, Tracer) else x for x in xs])
        return tuple(Tracer(o) for o in outs[n_out:])

    args = (*externals, *[Tensor(s, _array=True) for s in seeds])
    result = apply(run, args, name="BackwardBackward0")
    return list(result) if isinstance(result, tuple) else [result]


def inspect_tensor(t: Tensor) -> Any:
    """`adjit.inspect(loss)`: the stages of the compiled backward of `loss`."""
    from .inspect import Inspection

    if t.grad_fn is None:
        raise TraceError("adjit.inspect(tensor) needs a tensor with a recorded graph (one "
                         "computed from tensors that require grad)", loc=user_loc(3))
    joined = Joined([t])
    leaves = [x for x in joined.externals if x.requires_grad]
    graph = joined.graph([joined.value(t)])
    spec = specialize(graph, [joined.ext_index[id(x)] for x in leaves], [])
    return Inspection(spec, "backward")


__all__ = ["backward", "compilations", "grad", "inspect_tensor", "no_grad"]
