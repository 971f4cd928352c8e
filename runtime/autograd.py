"""Backward passes of recorded tensors: `Tensor.backward`, `adjit.autograd.grad`.

The nodes that reach the tensors being differentiated are joined into one graph (their
leaves and constants become its inputs), which goes through the same adjoint, prune,
simplify, fuse and codegen as a traced function. The values the eager forward already
computed (every node's outputs) are inputs too, so the compiled backward holds only what
the adjoint needs, not the forward again (passes/feed.py). The compiled function is cached
by the joined graph's structure: first by a cheap key (each node's graph by identity and
where its inputs come from, which leaves require grad), which spares building the joined
graph at every step; then by its text without locations. A training step whose graph does
not change compiles once; `compilations()` and `cache_info()` count.

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
from adjit.tracer.record import apply
from adjit.tracer.tensor import Node, Tensor, edge, inplace_message, no_grad
from adjit.tracer.trace import Traced
from adjit.tracer.values import Tracer

from .arguments import aliasing_outputs
from .compiler import Specialization, build

_CACHE: dict[Any, Specialization] = {}
_COUNT = [0]


def compilations() -> int:
    """How many backward graphs have been compiled in this process."""
    return _COUNT[0]


# ---- the recorded graph, joined -----------------------------------------------------------------

class Joined:
    """The nodes reaching `roots`, as one graph: inputs are the tensors from outside.

    Walking the nodes is cheap and done at every backward: it checks versions, lists the
    tensors from outside (`externals`) and gives `structure`, a key that determines the
    joined graph (each node's graph, by identity, and where each of its inputs comes from).
    The graph itself (`inputs`, `eqns`, `value`) is built only when asked for: a backward
    whose compiled function is cached under `structure` never builds it."""

    def __init__(self, roots: Sequence[Tensor]) -> None:
        self.nodes = _topological([r.grad_fn for r in roots if r.grad_fn is not None])
        self.externals: list[Tensor] = []
        self.edges: list[Any] = []  # one per external: where it was first used (`edge`)
        self.ext_index: dict[int, int] = {}
        self._types: list[ArrayType] = []  # each external's, as its first user declared it
        self.pos: dict[int, int] = {}  # node id -> its place in `nodes`
        ext_index, pos = self.ext_index, self.pos
        parts = []
        for k, node in enumerate(self.nodes):
            if node.freed:
                raise RuntimeError(
                    "Trying to backward through the graph a second time (or directly "
                    "access saved tensors after they have already been freed). Saved "
                    "intermediate values of the graph are freed when you call .backward() "
                    "or autograd.grad(). Specify retain_graph=True if you need to backward "
                    "through the graph a second time or if you need to access saved "
                    "tensors after calling backward.")
            pos[node.id] = k
            srcs: list[Any] = []
            for j, e in enumerate(node.edges):
                source, index, tensor, version = e
                if source is not None:
                    srcs.append((pos[source.id], index))
                    continue
                if tensor._version[0] != version:
                    _version_error(e, node)
                x = id(tensor)
                if x not in ext_index:
                    ext_index[x] = len(self.externals)
                    self.externals.append(tensor)
                    self.edges.append(e)
                    self._types.append(node.graph.inputs[j].type)
                srcs.append(ext_index[x])
            parts.append((id(node.graph), node.custom is not None, tuple(srcs)))
        for r in roots:  # a leaf differentiated itself (x.backward()): an input and output
            if r.grad_fn is None and id(r) not in ext_index:
                ext_index[id(r)] = len(self.externals)
                self.externals.append(r)
                self.edges.append(edge(r))
                self._types.append(ArrayType(dtype_name(r.dtype), r.shape))
        self.structure = tuple(parts)
        self._env: dict[tuple[int, int], Any] | None = None

    def place(self, t: Tensor) -> Any:
        """Where `t` is in the structure: (node position, output) or an external's index."""
        if t.grad_fn is None:
            return self.ext_index.get(id(t))
        k = self.pos.get(t.grad_fn.id)
        return None if k is None else (k, t._out)

    def _build(self) -> None:
        inputs = [Var(t) for t in self._types]
        # the nodes' outputs, computed by the eager forward: the backward reads them instead
        # of computing them again (passes/feed.py); `sources[i]` is (node, output index)
        given: list[Var] = []
        sources: list[tuple[Node, int]] = []
        seen: set[int] = set()
        env: dict[tuple[int, int], Any] = {}
        b = Builder()
        with building(b):
            for node in self.nodes:
                args = [env[(source.id, index)] if source is not None
                        else inputs[self.ext_index[id(tensor)]]
                        for source, index, tensor, _ in node.edges]
                if node.custom is not None:  # its backward is Python: interpreted only
                    for i, o in enumerate(node.graph.outputs):
                        env[(node.id, i)] = Var(o.type)
                    continue
                for i, v in enumerate(inline(node.graph, args)):
                    env[(node.id, i)] = v
                    if isinstance(v, Var) and id(v) not in seen:
                        seen.add(id(v))
                        given.append(v)
                        sources.append((node, i))
        self._given, self._sources = given, sources
        self._inputs = inputs
        self._eqns = b.eqns
        self._env = env

    @property
    def inputs(self) -> list[Var]:
        if self._env is None:
            self._build()
        return self._inputs

    @property
    def eqns(self) -> list[Any]:
        if self._env is None:
            self._build()
        return self._eqns

    @property
    def given(self) -> list[Var]:
        """The nodes' outputs in the joined graph (what the eager forward computed)."""
        if self._env is None:
            self._build()
        return self._given

    @property
    def sources(self) -> list[tuple[Node, int]]:
        """For each of `given`, (node, output index)."""
        if self._env is None:
            self._build()
        return self._sources

    @property
    def env(self) -> dict[tuple[int, int], Any]:
        if self._env is None:
            self._build()
        return self._env

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
        for source, _, _, _ in reversed(node.edges):
            if source is not None and source.id not in seen:
                stack.append((source, False))
    return order


def _saved(node: Node, index: int) -> np.ndarray:
    """A node's output as the eager forward computed it, for the backward to read (an error
    if it was changed in place since, through a tensor sharing its version counter)."""
    counter, version = node.versions[index]
    if counter[0] != version:
        raise RuntimeError(inplace_message(node.values[index].shape, node.name(), counter[0],
                                           version))
    return node.values[index]


def _contiguous(a: np.ndarray) -> np.ndarray:
    """C order for the compiled backward (recorded results are, see tracer/runner.py; numba
    compiles a slower variant for arrays of any other layout)."""
    return a if a.flags.c_contiguous else np.array(a, order="C")


def _version_error(e: Any, node: Node) -> None:
    _, _, tensor, version = e
    raise RuntimeError(inplace_message(tensor.shape, node.name(), tensor._version[0], version))


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
        elif t._retain and g is not None:  # summed, not replaced, as torch's retain_grad
            gt = g if isinstance(g, Tensor) else Tensor(g, _array=True)
            t.grad = gt if t.grad is None else t.grad + gt
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
    # the hooks of intermediate tensors change the gradients that flow through them, and
    # a leaf's hooks the gradient returned for it, as in backward() (and in torch)
    chosen = {id(t) for t in ins}
    hooked = [t for t in _hooked(joined) if t._hooks and id(t) not in chosen]
    grads = _run(joined, outs, seeds, ins + hooked, create_graph)[:len(ins)]
    grads = [_run_hooks(t, g) if t.grad_fn is None else g
             for t, g in zip(ins, grads, strict=True)]
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
    # As PyTorch's AccumulateGrad: the first backward gives `.grad` the gradient itself (an
    # array of its own, see `_fresh`), later ones add to it in place, so a `.grad` the user
    # holds sees the sum (and its version moves on).
    if isinstance(g, Tensor):
        arr = np.array(g._np, dtype=t.dtype, copy=True)  # from a hook: maybe the user's
    else:
        arr = np.asarray(g, dtype=t.dtype)
    grad = t.grad
    if grad is None:
        t.grad = Tensor(arr, _array=True)
        return
    old = grad._np
    if (type(old) is np.ndarray and old.shape == arr.shape and old.dtype == arr.dtype
            and old.flags.writeable and grad.grad_fn is None):
        np.add(old, arr, out=old)
    else:  # a .grad the user set to something that cannot take it in place
        grad._np = old + arr
    grad._version[0] += 1


# ---- running the joint graph --------------------------------------------------------------------

def _run(joined: Joined, roots: Sequence[Tensor], seeds: Sequence[np.ndarray],
         targets: Sequence[Tensor], create_graph: bool) -> list[Any]:
    """The cotangent of each target (None where it does not affect the roots)."""
    if any(n.custom is not None for n in joined.nodes) or any(
            t._hooks for t in targets if t.grad_fn is not None):
        # Python runs in the middle of this backward pass (a custom Function's backward, a
        # hook that may change an intermediate gradient): node by node, interpreted.
        from .custom import interpret_backward

        grads = interpret_backward(joined, roots, seeds, targets, create_graph)
        # arrays of their own (a custom backward may return its own arrays): see `_fresh`
        return [g.copy() if isinstance(g, np.ndarray) else g for g in grads]
    wrt = [joined.ext_index[id(t)] for t in targets if t.grad_fn is None
           and id(t) in joined.ext_index]
    inner = [t for t in targets if t.grad_fn is not None and joined.place(t) is not None]
    if create_graph:
        outputs = [joined.value(r) for r in roots]
        values = _recorded_backward(joined.graph(outputs), wrt, [joined.value(t) for t in inner],
                                    joined.externals, seeds)
    else:
        spec, fed = _compiled(joined, roots, wrt, inner)
        args = [*[t._np for t in joined.externals], *seeds,
                *[_contiguous(_saved(joined.nodes[k], i)) for k, i in fed]]
        values = _fresh(spec, spec.run(args))[len(roots):]
    it = iter(values)
    by_id = {}
    for t in targets:
        if t.grad_fn is None and id(t) in joined.ext_index:
            by_id[id(t)] = next(it)
    for t in inner:
        by_id[id(t)] = next(it)
    return [by_id.get(id(t)) for t in targets]


def _fresh(spec: Specialization, values: list[Any]) -> list[Any]:
    """The gradients, each in memory of its own: the compiled function may return one of its
    arguments or constants (the gradient of `w` in `(x * w).sum()` is `x`), or one array
    twice (the gradients of `a` and `b` in `(a + b).sum()`); those are copied, so that
    accumulating into a `.grad` in place changes nothing else."""
    shared = getattr(spec, "shared", None)
    if shared is None:
        shared = spec.shared = aliasing_outputs(spec.final)
    if not shared:
        return values
    return [v.copy() if i in shared and isinstance(v, np.ndarray) else v
            for i, v in enumerate(values)]


# (structure, roots, wrt, intermediates asked for) -> (specialization, the node outputs it
# reads as (node position, output index), the node graphs whose identity the key holds)
_BY_STRUCTURE: dict[Any, tuple[Specialization, list[tuple[int, int]], Any]] = {}
_MAX_STRUCTURES = 256
_HITS = {"structure": 0, "text": 0}


def cache_info() -> dict[str, int]:
    """Backward cache statistics: compilations, and hits by structure (no graph built) and
    by text (a graph built and printed, then found compiled)."""
    return {"compilations": _COUNT[0], **_HITS}


def _compiled(joined: Joined, roots: Sequence[Tensor], wrt: Sequence[int],
              inner: Sequence[Tensor]) -> tuple[Specialization, list[tuple[int, int]]]:
    """The compiled backward for this joined graph. Keyed first by its structure (cheap: no
    graph is built); a miss builds the graph and looks it up by its text (specialize)."""
    places = tuple(joined.place(r) if r.grad_fn is not None  # a leaf root: its type too
                   else (joined.place(r), r.shape, r.dtype.str) for r in roots)
    key = (joined.structure, places, tuple(wrt),
           tuple(joined.place(t) for t in inner))
    found = _BY_STRUCTURE.get(key)
    if found is not None:
        _HITS["structure"] += 1
        return found[0], found[1]
    before = _COUNT[0]
    outputs = [joined.value(r) for r in roots]
    spec = specialize(joined.graph(outputs), wrt, [joined.value(t) for t in inner],
                      joined.given)
    if _COUNT[0] == before:
        _HITS["text"] += 1
    fed = [(joined.pos[joined.sources[i][0].id], joined.sources[i][1])
           for i in spec.stages.fed]
    if len(_BY_STRUCTURE) >= _MAX_STRUCTURES:
        _BY_STRUCTURE.clear()
    # the key holds the node graphs' ids: the entry keeps the graphs alive, so that no other
    # graph can take one of their ids while the entry exists
    _BY_STRUCTURE[key] = (spec, fed, tuple(n.graph for n in joined.nodes))
    return spec, fed


def specialize(graph: Graph, wrt: Sequence[int], also: Sequence[Any],
               given: Sequence[Var] = ()) -> Specialization:
    """The compiled joint function of a joined graph, cached by its structure; the values of
    `given` (the nodes' outputs, in the graph's order) are read from inputs when the backward
    needs them (`spec.stages.fed` says which), not computed again."""
    positions = {id(o): (i, j) for i, e in enumerate(graph.eqns)
                 for j, o in enumerate(e.outputs)}
    positions.update((id(v), ("input", k)) for k, v in enumerate(graph.inputs))
    # `given` is in the key: one text can come from different node boundaries (log_softmax
    # then nll_loss recorded as two nodes, or cross_entropy as one), and `stages.fed` indexes
    # the given values of the graph it was built for
    key = (graph.format(locs=False), tuple(wrt),
           tuple(positions.get(id(a), ("other", id(a))) for a in also),
           tuple(positions.get(id(v), ("other", id(v))) for v in given))
    spec = _CACHE.get(key)
    if spec is None:
        traced = Traced(graph, None, tuple(False for _ in graph.inputs))
        n_ct = sum(1 for o in graph.outputs if o.type.is_float)
        spec = build(traced, wrt=wrt, static=(), n_args=len(graph.inputs) + n_ct,
                     seed="inputs", also=also, given=given)
        _CACHE[key] = spec
        _COUNT[0] += 1
    return spec


def _recorded_backward(graph: Graph, wrt: Sequence[int], also: Sequence[Any],
                       externals: Sequence[Tensor], seeds: Sequence[np.ndarray]) -> list[Any]:
    """The joint graph applied as a recorded operation: gradients with a graph of their own."""
    from adjit.passes.pipeline import differentiate

    joint = differentiate(graph, wrt, seed="inputs", also=also, keep_custom=True).simplified
    n_out = len(graph.outputs)

    def run(*xs: Any) -> Any:
        outs = inline(joint, [x.val if isinstance(x, Tracer) else x for x in xs])
        return tuple(Tracer(o) for o in outs[n_out:])

    args = (*externals, *[Tensor(s, _array=True) for s in seeds])
    result = apply(run, args, name="BackwardBackward0")
    grads = list(result) if isinstance(result, tuple) else [result]
    # A gradient that depends on no tensor requiring grad (that of a linear function) is a
    # constant: PyTorch returns it with requires_grad=False, so does this.
    live = _depends_on(joint, [isinstance(a, Tensor) and a.requires_grad for a in args])
    return [g.detach() if isinstance(g, Tensor) and not live[n_out + k] else g
            for k, g in enumerate(grads)]


def _depends_on(g: Graph, flagged: Sequence[bool]) -> list[bool]:
    """For each output of g, whether it depends on an input flagged in `flagged`."""
    hot = {id(v) for v, f in zip(g.inputs, flagged, strict=True) if f}
    for eqn in g.eqns:  # (a control-flow equation: each output from all its inputs)
        if any(id(v) in hot for v in eqn.inputs):
            hot.update(id(o) for o in eqn.outputs)
    return [id(o) in hot for o in g.outputs]


def inspect_tensor(t: Tensor) -> Any:
    """`adjit.inspect(loss)`: the stages of the compiled backward of `loss`."""
    from .inspect import Inspection

    if t.grad_fn is None:
        raise TraceError("adjit.inspect(tensor) needs a tensor with a recorded graph (one "
                         "computed from tensors that require grad)", loc=user_loc(3))
    joined = Joined([t])
    leaves = [x for x in joined.externals if x.requires_grad]
    graph = joined.graph([joined.value(t)])
    spec = specialize(graph, [joined.ext_index[id(x)] for x in leaves], [], joined.given)
    return Inspection(spec, "backward")


__all__ = ["backward", "cache_info", "compilations", "grad", "inspect_tensor", "no_grad"]
