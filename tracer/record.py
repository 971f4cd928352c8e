"""Recording an operation on tensors: `apply`, the one entry of Tensor's methods
(tracer/tensor_methods.py), adjit.nn.functional and the numpy protocols.

`apply` runs a function written with numpy calls on the tensors' arrays when nothing needs a
gradient; otherwise it traces the function once on tracers (a small closed graph, kept per
function, argument shapes and dtypes, and the user's line, `_Op`) and, on every call, runs
the graph's runner (tracer/runner.py) on the arrays and makes the result tensors and their
`Node` (tracer/tensor.py). This runs once per operation of a training step, so its common
case (tensors and Python numbers, `_record_flat`) is written for speed: one tuple key, no
constructors, no frames of adjit's built to find the user's.
"""
from __future__ import annotations

import sys
import types
import weakref
from typing import Any, Callable

import numpy as np

from adjit.ir import ArrayType, Builder, Graph, Var, building, context
from adjit.ir.core import dtype_name
from adjit.ir.errors import TraceError

from . import pytree
from .loc import _internal, user_loc
from .runner import runner
from .tensor import _MODE, _NO_HOOKS, _NODE_IDS, Node, Tensor, _needs_recording, edge
from .values import Tracer


class _Op:
    """A recorded operation already traced: its graph, how its results regroup, the name
    of its backward node, and a runner evaluating its graph on arrays."""

    __slots__ = ("graph", "out_tree", "bname", "run", "floats", "single")

    def __init__(self, graph: Graph, out_tree: Any, name: str | None) -> None:
        self.graph, self.out_tree = graph, out_tree
        self.floats = tuple(o.type.is_float for o in graph.outputs)
        self.single = out_tree is None and self.floats == (True,)
        self.bname = _backward_name(name, graph)
        self.run = runner(graph)


# Recorded operations already traced (see apply): `_OPS` by (function, name, argument tree,
# leaf keys, site), `_FLAT_OPS` (arguments only tensors, Python numbers and None, keywords
# only numbers and None) by the flat tuple (function, name, site's code id, site's
# instruction, then per argument its shape and dtype character, or its (type, value), then
# per keyword its (name, type, value)): one tuple built and hashed per operation.
_OPS: dict[Any, _Op] = {}
_FLAT_OPS: dict[Any, _Op] = {}
_MAX_OPS = 4096
_FLAT_TREES: dict[int, Any] = {}  # n -> the tree of ((n leaves), {}), as pytree makes it

# How `apply` takes an argument, by its type: 1 a tensor, 2 a Python number or None (the flat
# path, `_record_flat`), 0 an array or numpy scalar (flat, through `_record`), -1 anything
# else (flattened by pytree). Filled in as types are met (see `_kind`).
_KINDS: dict[type, int] = {Tensor: 1, float: 2, int: 2, bool: 2, type(None): 2}
_OTHER_FLAT = (np.ndarray, np.float32, np.float64, np.int64)


def _kind(x: Any) -> int:
    t = type(x)
    k = _KINDS[t] = 1 if isinstance(x, Tensor) else 0 if t in _OTHER_FLAT else -1
    return k


def _tree_of(args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> tuple[list[Any], Any]:
    """The leaves and tree of (args, kwargs) whose arguments are leaves (`_KINDS` 0 to 2)."""
    if kwargs:
        return pytree.flatten((args, kwargs))
    return list(args), _flat_tree(len(args))


def _flat_tree(n: int) -> Any:
    tree = _FLAT_TREES.get(n)
    if tree is None:
        tree = _FLAT_TREES[n] = pytree.flatten((tuple(range(n)), {}))[1]
    return tree


def apply(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any] | None = None,
          name: str | None = None, eager: Callable[..., Any] | None = None,
          key: Any = None) -> Any:
    """Run `fn` on tensors: on their arrays (`eager`, default `fn`) when nothing needs a
    gradient; otherwise on tracers, recording a node whose graph is evaluated on the arrays.
    Non-tensor arrays among the arguments are inputs of the node too (so their values do
    not become part of the recorded graph's structure).

    Tracing an operation costs far more than running it, so it is kept (`_Op`), keyed by
    `key` (default `fn`, which must then be the same object on every call), the arguments'
    structure, shapes, dtypes and other values, and the user's line; `key=False` never
    keeps it (a function made anew for each call)."""
    if not kwargs:
        # one tensor, or two (`a.tanh()`, `a * b`): the most common calls, taken first
        n = len(args)
        if n == 1:
            x = args[0]
            if _KINDS.get(type(x)) == 1:
                if not (x.requires_grad and _MODE.enabled):
                    return _wrap_plain((eager or fn)(x._np))
                if key is not False:
                    return _record_flat(fn, args, name, key, True)
        elif n == 2:
            x, y = args
            if _KINDS.get(type(x)) == 1 and _KINDS.get(type(y)) == 1:
                if not ((x.requires_grad or y.requires_grad) and _MODE.enabled):
                    return _wrap_plain((eager or fn)(x._np, y._np))
                if key is not False:
                    return _record_flat(fn, args, name, key, True)
    elif not all((_KINDS.get(type(v)) or _kind(v)) == 2 for v in kwargs.values()):
        return _apply_tree(fn, args, kwargs, name, eager, key)
    # tensors, arrays and numbers, and keywords of numbers (`x.sum(dim=1)`): no pytree
    needed = False
    simple = True  # tensors and Python numbers only
    kinds = _KINDS
    for x in args:
        k = kinds.get(type(x))
        if k is None:
            k = _kind(x)
        if k == 1:
            if x.requires_grad:
                needed = True
        elif k < 0:
            return _apply_tree(fn, args, kwargs, name, eager, key)
        elif k == 0:
            simple = False
    if not (needed and _MODE.enabled):
        out = (eager or fn)(*[x._np if kinds[type(x)] == 1 else x for x in args],
                            **(kwargs or {}))
        return _wrap_plain(out)
    if simple and key is not False:
        return _record_flat(fn, args, name, key, False, 3, kwargs)
    return _record(fn, args, *_tree_of(args, kwargs), name, key)


def _apply_tree(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any] | None,
                name: str | None, eager: Callable[..., Any] | None, key: Any) -> Any:
    """`apply` of arguments with structure (lists, tuples, dicts, tensors in keywords)."""
    leaves, tree = pytree.flatten((args, kwargs or {}))
    if not _needs_recording([x for x in leaves if isinstance(x, Tensor)]):
        plain = [x._np if isinstance(x, Tensor) else x for x in leaves]
        a, k = pytree.unflatten(tree, plain)
        return _wrap_plain((eager or fn)(*a, **k))
    return _record(fn, args, leaves, tree, name, key)

_new = object.__new__


def _record_flat(fn: Callable[..., Any], args: tuple[Any, ...], name: str | None,
                 key: Any, tensors: bool, depth: int = 3,
                 kwargs: dict[str, Any] | None = None) -> Any:
    """`apply` of an operation recorded on tensors, Python numbers and None only (`a * b`,
    `a.tanh()`, `a + 1.0`, `a.sum(dim=1)`): `_record`'s work, with no more steps than it
    needs, as this runs once per recorded operation (a tuple key built and looked up, the
    graph's runner called, one result and its node made without their constructors'
    generality). `tensors`: the arguments are known to be one tensor or two, with no
    `kwargs` (numbers or None when given). `depth`: the first frame that may be the user's,
    counted from this one: the caller's caller when called from `apply` (whose callers are
    adjit's own code), the caller when called from one of Tensor's methods
    (tensor_methods.py)."""
    # The user's line (part of the key, so each recorded equation keeps the location of its
    # own line): the innermost frame outside adjit and numpy, as (code id, instruction).
    # Asking for the frames known to be adjit's would make Python build frame objects for
    # them, which costs as much as the check.
    f = sys._getframe(depth)
    codes = _CODES
    while f is not None:
        code = f.f_code
        known = codes.get(id(code))
        if known is None or known[0] is not code:
            known = _known_code(code)
        if not known[1]:
            break
        f = f.f_back
    else:  # no frame of the user's: the general path knows what to do
        return _record(fn, args, *_tree_of(args, kwargs), name, key)
    fk = fn if key is None else key
    # The key and edges of the common shapes of call written out (one tensor; two tensors),
    # the others built in a loop: the same tuples either way.
    if tensors and len(args) == 1:
        x = args[0]
        xa = x._np
        arrays: Any = (xa,)
        edges: Any = ((x.grad_fn, x._out, x, x._version[0]),)  # see `edge`
        cache_key = (fk, name, id(code), f.f_lasti, xa.shape, xa.dtype.char)
    elif tensors:
        x, y = args
        xa, ya = x._np, y._np
        arrays = (xa, ya)
        edges = ((x.grad_fn, x._out, x, x._version[0]), (y.grad_fn, y._out, y, y._version[0]))
        cache_key = (fk, name, id(code), f.f_lasti, xa.shape, xa.dtype.char, ya.shape,
                     ya.dtype.char)
    else:
        parts = [fk, name, id(code), f.f_lasti]
        edges = []
        arrays = []
        for x in args:
            if isinstance(x, Tensor):
                arr = x._np
                arrays.append(arr)
                edges.append((x.grad_fn, x._out, x, x._version[0]))
                parts.append(arr.shape)
                parts.append(arr.dtype.char)
            else:  # 0.0 == -0.0 and NaN != NaN: those by their repr (see `_leaf_key`)
                parts.append((type(x), x if x == x and x else repr(x)))
        if kwargs:  # (name, type, value): never equal to an argument's part
            for k, v in kwargs.items():
                parts.append((k, type(v), v if v == v and v else repr(v)))
        cache_key = tuple(parts)
    try:
        found = _FLAT_OPS.get(cache_key)
    except TypeError:  # an unhashable function or key
        return _record(fn, args, *_tree_of(args, kwargs), name, key)
    if found is None:
        found = _Op(*_trace_op(fn, *_tree_of(args, kwargs), name), name)
        if len(_FLAT_OPS) >= _MAX_OPS:
            _FLAT_OPS.clear()
        _FLAT_OPS[cache_key] = found
    values = found.run(arrays)
    if not found.single:
        return _results(found, edges, values)
    # one float result: what Tensor(values[0], _array=True) and Node(...) would make
    r = _new(Tensor)
    r._np, r.grad, r._out, r._hooks, r._retain = values[0], None, 0, _NO_HOOKS, False
    r._version, r._acc, r._base, r._rg = [0], None, None, True
    node = _new(Node)
    node.id, node._name, node.graph, node.edges = next(_NODE_IDS), found.bname, found.graph, edges
    node.freed, node.custom, node.values = False, None, values
    node.outputs, node.versions = [weakref.ref(r)], [(r._version, 0)]
    r.grad_fn = node
    return r


def _record(fn: Callable[..., Any], args: Any, leaves: list[Any], tree: Any,
            name: str | None, key: Any) -> Any:
    """`apply` of an operation that is recorded: leaves flattened from (args, kwargs).

    numpy arrays among the arguments are inputs of the node, so that new values in them
    (a batch of labels) keep the recorded graph's structure. An operation that needs their
    values while tracing (np.quantile's q, say) refuses traced ones: it is traced again with
    them as constants, keyed by their values, and this call site is remembered as one that
    needs them so."""
    site = _site()
    base = (fn if key is None else key, name, tree, site)
    try:
        constants = base in _NEEDS_CONSTANTS
    except TypeError:  # an unhashable function or tree
        constants = False
    edges: list[Any] = []
    arrays: list[np.ndarray] = []
    keys: list[Any] | None = [] if key is not False else None
    for x in leaves:
        if type(x) is Tensor:
            arr = x._np
            edges.append(edge(x))
            arrays.append(arr)
            if keys is not None:
                keys.append((arr.shape, arr.dtype.char))
            continue
        if _is_input(x, constants):
            t = x if isinstance(x, Tensor) else Tensor(x, _array=True)
            edges.append(edge(t))
            arrays.append(t._np)
        if keys is not None:
            try:
                keys.append(_leaf_key(x) if not constants or type(x) is not np.ndarray
                            else (x.shape, x.dtype.char, x.tobytes()))
            except TypeError:  # an argument that cannot key the cache: trace every time
                keys = None
    cache_key = found = None
    if keys is not None:
        cache_key = (*base, tuple(keys))
        try:
            found = _OPS.get(cache_key)
        except TypeError:  # an unhashable key
            cache_key = None
    if found is None:
        try:
            found = _Op(*_trace_op(fn, leaves, tree, name, constants), name)
        except TraceError:
            if constants or not any(type(x) is np.ndarray for x in leaves):
                raise
            try:
                _NEEDS_CONSTANTS.add(base)
            except TypeError:  # an unhashable function or tree: retried at every call
                pass
            return _record_constants(fn, args, leaves, tree, name, key)
        if cache_key is not None:
            if len(_OPS) >= _MAX_OPS:
                _OPS.clear()
            _OPS[cache_key] = found
    return _results(found, edges, found.run(arrays))


def _record_constants(fn: Callable[..., Any], args: Any, leaves: list[Any], tree: Any,
                      name: str | None, key: Any) -> Any:
    """`_record` with the numpy arrays among `leaves` as constants of the traced graph."""
    edges = [edge(x) for x in leaves if isinstance(x, Tensor)]
    found = _Op(*_trace_op(fn, leaves, tree, name, True), name)
    return _results(found, edges, found.run([x._np for x in leaves if isinstance(x, Tensor)]))


# Call sites (function, name, tree, user's site) whose numpy arrays must be constants.
_NEEDS_CONSTANTS: set[Any] = set()


def _is_input(x: Any, constants: bool) -> bool:
    """Whether a leaf is an input of the recorded node (a tensor; a numpy array unless
    the arrays are constants here)."""
    if isinstance(x, Tensor):
        return True
    return not constants and isinstance(x, np.ndarray) and x.dtype.kind in "biufc"


def _results(found: _Op, edges: list[Any], values: tuple[np.ndarray, ...]) -> Any:
    """The result tensors of a recorded operation and their node."""
    results = [Tensor(v, _array=True) for v in values]
    node = Node(found.bname, found.graph, edges, results)
    node.values = values
    for i, (r, is_float) in enumerate(zip(results, found.floats, strict=True)):
        if is_float:
            r.grad_fn, r._out, r._rg = node, i, True
    if found.out_tree is None:  # one result (pytree's LEAF)
        return results[0]
    return pytree.unflatten(found.out_tree, results)


def _trace_op(fn: Callable[..., Any], leaves: list[Any], tree: Any,
              name: str | None, constants: bool = False) -> tuple[Graph, Any]:
    """The closed graph of one operation: tensors and arrays in (arrays as constants with
    `constants`), the results out."""
    inputs: list[Var] = []
    traced: list[Any] = []
    for x in leaves:
        if _is_input(x, constants):
            arr = x._np if isinstance(x, Tensor) else x
            v = Var(ArrayType(dtype_name(arr.dtype), arr.shape))
            inputs.append(v)
            traced.append(Tracer(v))
        else:
            traced.append(x)
    a, k = pytree.unflatten(tree, traced)
    builder = Builder()
    with building(builder), context(loc=user_loc(4)):
        out = fn(*a, **k)
    outs, out_tree = pytree.flatten(out)
    if not all(isinstance(o, Tracer) for o in outs):
        raise TraceError("a recorded operation returned something that is not an array",
                         loc=user_loc(4))
    return Graph(name or "op", tuple(inputs), tuple(builder.eqns),
                 tuple(o.val for o in outs)), out_tree


def _leaf_key(x: Any) -> Any:
    """What of one argument the traced graph depends on (TypeError: not known)."""
    if isinstance(x, Tensor):
        return (x._np.shape, x._np.dtype.char)
    t = type(x)
    if t is np.ndarray:
        return (x.shape, x.dtype.char) if x.dtype.kind in "biufc" else (t, id(x))
    if t in (int, float, bool, str, type(None), type(Ellipsis)):
        # The value is part of the traced graph: 0.0 and -0.0 are equal keys but not equal
        # graphs (x * -0.0 reused x * 0.0's), and a NaN never equals its own key (traced
        # again at every call), so those are keyed by their repr.
        return (t, x if x == x and x else repr(x))
    if t is slice:
        return (t, x.start, x.stop, x.step)
    if isinstance(x, np.generic):
        v = x.item()
        return (t, v if v == v and v else repr(v))
    if isinstance(x, (np.dtype, type, np.ufunc, types.FunctionType,
                      types.BuiltinFunctionType)):
        return x
    raise TypeError(f"no cache key for {t.__name__}")


def _site() -> Any:
    """The user's line calling this operation, cheaply: (id of its code, instruction
    offset), which determines the line. Part of the cache key, so each recorded equation
    keeps the location of its own line."""
    try:
        f = sys._getframe(2)
    except ValueError:
        return None
    while f is not None:
        code = f.f_code
        known = _CODES.get(id(code))
        if known is None or known[0] is not code:
            known = _known_code(code)
        if not known[1]:
            return (id(code), f.f_lasti)
        f = f.f_back
    return None


# id(code object) -> (the code, whether it is adjit's or numpy's). Hashing a code object
# hashes its constants, so the key of a site is the code's id, kept valid by holding the
# code here (while a recorded operation's key holds its id, its code is in this table).
_CODES: dict[int, tuple[Any, bool]] = {}
_MAX_CODES = 65536


def _known_code(code: types.CodeType) -> tuple[Any, bool]:
    if len(_CODES) >= _MAX_CODES:
        _CODES.clear()
        _OPS.clear()  # their keys hold ids of the codes forgotten now
        _FLAT_OPS.clear()
    known = _CODES[id(code)] = (code, _internal(code.co_filename))
    return known


def _fresh(arr: np.ndarray) -> Tensor:
    """Tensor(arr, _array=True), without its constructor's choices (a result per operation
    run eagerly is made here)."""
    t = _new(Tensor)
    t._np, t.grad, t.grad_fn, t._out, t._hooks, t._retain = arr, None, None, 0, _NO_HOOKS, False
    t._version, t._acc, t._base, t._rg = [0], None, None, False
    return t


def _wrap_plain(out: Any) -> Any:
    if type(out) is np.ndarray:  # the common case
        return _fresh(out)
    leaves, tree = pytree.flatten(out)
    return pytree.unflatten(tree, [Tensor(np.asarray(x), _array=True)
                                   if isinstance(x, (np.ndarray, np.generic)) else x
                                   for x in leaves])


_NAMES = {"add": "AddBackward0", "sub": "SubBackward0", "mul": "MulBackward0",
          "div": "DivBackward0", "neg": "NegBackward0", "pow": "PowBackward0",
          "matmul": "MmBackward0", "reduce_sum": "SumBackward0", "exp": "ExpBackward0",
          "log": "LogBackward0", "sin": "SinBackward0", "cos": "CosBackward0",
          "tanh": "TanhBackward0", "logistic": "SigmoidBackward0", "sqrt": "SqrtBackward0",
          "abs": "AbsBackward0", "reshape": "ViewBackward0", "transpose": "TransposeBackward0",
          "gather": "IndexBackward0", "slice": "SliceBackward0", "maximum": "MaximumBackward0",
          "minimum": "MinimumBackward0", "reduce_max": "MaxBackward1",
          "reduce_min": "MinBackward1", "broadcast_to": "ExpandBackward0",
          "convert": "ToCopyBackward0", "concatenate": "CatBackward0"}


# numpy functions whose graph ends in a primitive that names something else (np.dot of two
# vectors is a mul and a reduce_sum; np.linalg.norm a sqrt)
_BY_NAME = {"sum": "SumBackward0", "mean": "MeanBackward0", "dot": "DotBackward0",
            "vdot": "DotBackward0", "inner": "DotBackward0", "norm": "NormBackward1"}


def _backward_name(name: str | None, graph: Graph) -> str:
    if name and name[0].isupper():
        return name
    prims = [e.prim for e in graph.eqns if e.prim not in ("convert", "broadcast_to",
                                                          "reshape")]
    last = prims[-1] if prims else (graph.eqns[-1].prim if graph.eqns else "")
    if name in _BY_NAME:
        return _BY_NAME[name]
    return _NAMES.get(last, "".join(p.capitalize() for p in (name or last or "op").split("_"))
                      + "Backward0")
