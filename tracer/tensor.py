"""The recorded front end: `adjit.Tensor`, PyTorch-style.

A Tensor holds a numpy array and runs eagerly. When an operation has an input that requires
a gradient (and recording is on: not inside `no_grad`), it is also *recorded*: the operation
runs on tracers through the same numpy surface as traced code (tracer/numpy_api.py), which
gives a small closed graph, kept per operation and call site with a Python function written
to evaluate it on the inputs' arrays (the eager result, as the interpreter would give it),
and a `Node` keeps the graph and where each input came from. `backward()`
(runtime/autograd.py) joins the nodes that reach a tensor into one graph, differentiates,
prunes, fuses and compiles it like any traced function, cached by the graph's structure, so
a training loop whose graph does not change compiles once.

What a node reads from outside the recorded graph (leaves, constants) is read again when the
backward runs, and so are the nodes' outputs as the forward computed them (`Node.values`),
so each input's version (bumped by every in-place operation) is saved when it is used, each
output's when it is made, and both are checked then: a tensor changed in place after it was
used is an error, never a silently wrong gradient.
"""
from __future__ import annotations

import itertools
import operator
import sys
import threading
import types
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from adjit.ir import ArrayType, Builder, Graph, Var, building, context
from adjit.ir.core import dtype_name
from adjit.ir.errors import TraceError

from . import pytree
from .loc import _internal, user_loc
from .runner import runner
from .values import Tracer

# ---- grad mode ----------------------------------------------------------------------------------

class _Mode(threading.local):
    enabled = True  # each thread starts with recording on


_MODE = _Mode()


def is_grad_enabled() -> bool:
    return _MODE.enabled


class set_grad_enabled:  # noqa: N801  (PyTorch's name: a function and a context manager)
    """`set_grad_enabled(False)` turns recording off now, and back on when used as a context
    manager (`with set_grad_enabled(False): ...`) and its block ends."""

    def __init__(self, mode: bool) -> None:
        self.prev = is_grad_enabled()
        _MODE.enabled = bool(mode)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        _MODE.enabled = self.prev

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        mode = is_grad_enabled()
        _MODE.enabled = self.prev

        def run(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return run


class no_grad:  # noqa: N801
    """Nothing computed inside is recorded (`with adjit.no_grad():`, or as a decorator)."""

    def __enter__(self) -> None:
        self.prev = is_grad_enabled()
        _MODE.enabled = False

    def __exit__(self, *exc: Any) -> None:
        _MODE.enabled = self.prev

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)

        return run


class enable_grad(no_grad):  # noqa: N801
    def __enter__(self) -> None:
        self.prev = is_grad_enabled()
        _MODE.enabled = True


# ---- dtypes -------------------------------------------------------------------------------------

_DEFAULT_DTYPE = [np.dtype(np.float32)]


def set_default_dtype(dtype: Any) -> None:
    dt = np.dtype(dtype)
    if dt.kind != "f" or dt.itemsize not in (4, 8):
        raise TypeError(f"the default dtype must be float32 or float64, not {dt}")
    _DEFAULT_DTYPE[0] = dt


def get_default_dtype() -> np.dtype:
    return _DEFAULT_DTYPE[0]


def _as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """PyTorch's rules: Python floats (and lists of them) take the default dtype, an array
    keeps its own, Python ints are int64 and bools bool."""
    if isinstance(data, Tensor):
        arr = data._np
    elif isinstance(data, np.ndarray) or isinstance(data, np.generic):
        arr = np.asarray(data)
    else:
        arr = np.asarray(data)
        if arr.dtype == np.float64:
            arr = arr.astype(get_default_dtype())
        elif arr.dtype == np.complex128:  # complex64 with a float32 default, as PyTorch
            arr = arr.astype(np.result_type(get_default_dtype(), np.complex64))
    if dtype is not None:
        arr = arr.astype(np.dtype(dtype))
    if (arr.dtype.kind not in "biufc" or arr.dtype.itemsize > (16 if arr.dtype.kind == "c" else 8)
            or arr.dtype == np.float16):
        raise TraceError(f"adjit.tensor cannot hold {arr.dtype} data", loc=user_loc(3),
                         hint="use float32, float64, complex64, complex128, integer or boolean "
                              "data")
    return arr


# ---- the recorded graph -------------------------------------------------------------------------

_NODE_IDS = itertools.count()


def edge(tensor: Tensor) -> tuple[Node | None, int, Tensor, int]:
    """One input of a node, as the tuple (node, index, tensor, version): the node (and
    output index) that made it, or None when it comes from outside the recorded graph (a
    leaf or a constant), the tensor itself, and the version it had when it was used. A
    plain tuple: one is made per input of every recorded operation (tensor.apply)."""
    return (tensor.grad_fn, tensor._out, tensor, tensor._version[0])


class Node:
    """A recorded operation: what PyTorch calls a tensor's `grad_fn`. `edges` are its
    inputs (see `edge`), `outputs` weak references to its results, `values` their arrays as
    made, and `versions` each result's version counter with the version its array has."""

    __slots__ = ("id", "_name", "graph", "edges", "freed", "custom", "outputs", "values",
                 "versions", "__weakref__")

    def __init__(self, name: str, graph: Graph, edges: Sequence[Any],
                 outputs: list[Tensor]) -> None:
        self.id = next(_NODE_IDS)
        self._name = name
        self.graph = graph
        self.edges = edges
        self.freed = False
        self.custom: Any = None  # a custom Function's backward, if any
        self.outputs = [weakref.ref(t) for t in outputs]
        self.values: Any = ()  # the outputs' arrays (for a backward run node by node)
        # each output's version counter and the version its array in `values` has: a
        # backward run node by node reads `values`, so it checks them (see `saved_value`)
        self.versions: list[Any] = [(t._version, t._version[0]) for t in outputs]

    def saved_value(self, index: int, user: Node) -> np.ndarray:
        """Output `index`'s array as it was made, for `user`'s backward; an error if it has
        been changed in place since (through a view that shares its version counter)."""
        counter, version = self.versions[index]
        if counter[0] != version:
            raise RuntimeError(inplace_message(self.values[index].shape, user.name(),
                                               counter[0], version))
        return self.values[index]

    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<{self._name} object at {id(self):#x}>"

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        out = []
        for node, index, tensor, _ in self.edges:
            if node is not None:
                out.append((node, index))
            elif tensor.requires_grad:
                out.append((tensor._accumulator(), 0))
            else:
                out.append((None, 0))
        return tuple(out)

    def register_hook(self, fn: Callable[..., Any]) -> Any:
        raise NotImplementedError("hooks on grad_fn are not supported; use "
                                  "Tensor.register_hook")


def inplace_message(shape: tuple[int, ...], user: str, now: int, expected: int) -> str:
    return (f"one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: a tensor of shape {list(shape)} used by {user} is at "
            f"version {now}; expected version {expected} instead. Clone it before changing "
            f"it in place (x = x.clone()), or change it under adjit.no_grad() before using it.")


class AccumulateGrad:
    """Where a leaf's gradient is summed into `.grad` (PyTorch's name)."""

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable
        self.next_functions = ()

    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


class RemovableHandle:
    def __init__(self, hooks: dict[int, Any], key: int) -> None:
        self.hooks, self.key = hooks, key

    def remove(self) -> None:
        self.hooks.pop(self.key, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


_HOOK_IDS = itertools.count()
_NO_HOOKS = types.MappingProxyType({})  # shared by every tensor without hooks: read-only


# ---- Tensor -------------------------------------------------------------------------------------

class Tensor:
    """A numpy array that records, PyTorch-style, the operations needing its gradient."""

    __array_priority__ = 2000
    __slots__ = ("_np", "requires_grad", "grad", "grad_fn", "_out", "_hooks", "_retain",
                 "_version", "_acc", "__weakref__")

    def __init__(self, data: Any, requires_grad: bool = False, *, _array: bool = False) -> None:
        if _array:
            arr = data
        elif isinstance(data, (Tensor, np.ndarray, np.generic)):
            arr = _as_array(data)
        else:  # torch.Tensor([0, 1, 2]): Python numbers take the default float dtype
            arr = _as_array(data, get_default_dtype())
        self._np: np.ndarray = arr
        self.grad: Tensor | None = None
        self.grad_fn: Node | None = None
        self._out = 0
        self._hooks: Any = _NO_HOOKS  # a dict of its own once a hook is registered
        self._retain = False
        self._version = [0]
        self._acc: AccumulateGrad | None = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ---- attributes --------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._np.shape

    def size(self, dim: int | None = None) -> Any:
        return self._np.shape if dim is None else self._np.shape[dim]

    def dim(self) -> int:
        return self._np.ndim

    @property
    def ndim(self) -> int:
        return self._np.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._np.dtype

    def numel(self) -> int:
        return self._np.size

    def __len__(self) -> int:
        return len(self._np)

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def data(self) -> Tensor:
        """The same values, with no graph; changes through it are not recorded (nor noticed)."""
        return Tensor(self._np, _array=True)

    @data.setter
    def data(self, value: Any) -> None:
        self._np = _as_array(value, self._np.dtype) if not isinstance(value, Tensor) \
            else value._np
        self._version[0] += 1

    def detach(self) -> Tensor:
        """The same values (shared memory and version counter), with no graph."""
        t = Tensor(self._np, _array=True)
        t._version = self._version
        return t

    def detach_(self) -> Tensor:
        self.grad_fn, self.requires_grad = None, False
        return self

    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on a Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self._np

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._np if dtype is None else self._np.astype(dtype)

    def item(self) -> Any:
        if self._np.size != 1:
            raise ValueError(f"a Tensor with {self._np.size} elements cannot be converted "
                             "to a Python scalar")
        return self._np.reshape(()).item()

    def tolist(self) -> Any:
        return self._np.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        return bool(self._np)

    def __index__(self) -> int:
        return operator.index(self._np.reshape(()).item())

    def __repr__(self) -> str:
        body = np.array2string(self._np, separator=", ", prefix="tensor(")
        extra = ""
        if self.grad_fn is not None:
            extra = f", grad_fn=<{self.grad_fn.name()}>"
        elif self.requires_grad:
            extra = ", requires_grad=True"
        if self._np.dtype != get_default_dtype() and self._np.dtype.kind == "f":
            extra = f", dtype={self._np.dtype}" + extra
        return f"tensor({body}{extra})"

    __hash__ = object.__hash__

    # ---- autograd ------------------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if not self.is_leaf:
            raise RuntimeError("you can only change requires_grad flags of leaf variables; "
                               "use .detach().requires_grad_() for a new leaf")
        if requires_grad and self._np.dtype.kind not in "fc":
            raise RuntimeError("only Tensors of floating point or complex dtype can require "
                               "gradients")
        self.requires_grad = bool(requires_grad)
        return self

    def _accumulator(self) -> AccumulateGrad:
        if self._acc is None:
            self._acc = AccumulateGrad(self)
        return self._acc

    def retain_grad(self) -> None:
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        self._retain = True

    @property
    def retains_grad(self) -> bool:
        return self._retain and not self.is_leaf

    def register_hook(self, hook: Callable[[Tensor], Any]) -> RemovableHandle:
        """`hook(grad)` runs when this tensor's gradient is computed; a Tensor it returns
        is used instead of the gradient."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require "
                               "gradient")
        key = next(_HOOK_IDS)
        if self._hooks is _NO_HOOKS:
            self._hooks = {}
        self._hooks[key] = hook
        return RemovableHandle(self._hooks, key)

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Any = None) -> None:
        from adjit.runtime.autograd import backward

        backward([self], None if gradient is None else [gradient], retain_graph,
                 create_graph, inputs)

    def zero_(self) -> Tensor:
        return self._inplace(lambda a: np.zeros_like(a), "zero_", ())

    def _inplace(self, fn: Callable[..., Any], name: str, args: tuple[Any, ...]) -> Tensor:
        """An in-place operation: the result replaces this tensor's values (and, when it is
        recorded, its place in the graph); its version counter moves on."""
        if self.requires_grad and self.is_leaf and is_grad_enabled():
            raise RuntimeError(f"a leaf Variable that requires grad is being used in an "
                               f"in-place operation ({name})")
        if name == "zero_":
            new = Tensor(np.zeros_like(self._np), _array=True)
        else:
            src = self
            if self.grad_fn is None and _needs_recording(
                    [a for a in _leaves(args) if isinstance(a, Tensor)]):
                # A tensor from outside the graph joins it (y = zeros(3); y[1] = x * 2): the
                # new node reads y's values as they were, so it gets a copy of them (a
                # backward reads an outside tensor's values again, and y's change now).
                src = Tensor(self._np.copy(), _array=True)
            new = fn(src, *args)
            if not isinstance(new, Tensor):
                new = Tensor(np.asarray(new), _array=True)
        result = np.asarray(new._np, dtype=self._np.dtype)
        if result.shape != self._np.shape:
            result = np.broadcast_to(result, self._np.shape)
        old = self.grad_fn
        if old is not None and old.values:
            # The node that made this tensor keeps its array for a backward run node by
            # node: it keeps the values it made, not the ones written now.
            values = list(old.values)
            values[self._out] = self._np.copy()
            old.values = tuple(values)
            old.versions[self._out] = ([0], 0)
        self._np[...] = result
        self._version[0] += 1
        if new.grad_fn is not None:
            self.grad_fn, self._out, self.requires_grad = new.grad_fn, new._out, True
            # the node's output is now this tensor
            new.grad_fn.outputs[new._out] = weakref.ref(self)
        return self


# ---- recording an operation ---------------------------------------------------------------------

def _needs_recording(tensors: Sequence[Tensor]) -> bool:
    return is_grad_enabled() and any(t.requires_grad for t in tensors)


def _leaves(args: Any) -> list[Any]:
    return pytree.flatten(args)[0]


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
# leaf keys, site), `_FLAT_OPS` (arguments only tensors and Python numbers) by the flat
# tuple (function, name, site's code id, site's instruction, then per argument its shape and
# dtype character, or its (type, value)): one tuple built and hashed per operation.
_OPS: dict[Any, _Op] = {}
_FLAT_OPS: dict[Any, _Op] = {}
_MAX_OPS = 4096
_FLAT_TREES: dict[int, Any] = {}  # n -> the tree of ((n leaves), {}), as pytree makes it

# How `apply` takes an argument, by its type: 1 a tensor, 2 a Python number (both the flat
# path, `_record_flat`), 0 an array or numpy scalar (flat, through `_record`), -1 anything
# else (flattened by pytree). Filled in as types are met (see `_kind`).
_KINDS: dict[type, int] = {Tensor: 1, float: 2, int: 2, bool: 2}
_OTHER_FLAT = (np.ndarray, np.float32, np.float64, np.int64)


def _kind(x: Any) -> int:
    t = type(x)
    k = _KINDS[t] = 1 if isinstance(x, Tensor) else 0 if t in _OTHER_FLAT else -1
    return k


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
                break
            elif k == 0:
                simple = False
        else:  # the common case: tensors and numbers, no pytree to flatten
            if not (needed and _MODE.enabled):
                out = (eager or fn)(*[x._np if kinds[type(x)] == 1 else x for x in args])
                return _wrap_plain(out)
            if simple and key is not False:
                return _record_flat(fn, args, name, key, False)
            return _record(fn, args, list(args), _flat_tree(len(args)), name, key)
    leaves, tree = pytree.flatten((args, kwargs or {}))
    if not _needs_recording([x for x in leaves if isinstance(x, Tensor)]):
        plain = [x._np if isinstance(x, Tensor) else x for x in leaves]
        a, k = pytree.unflatten(tree, plain)
        return _wrap_plain((eager or fn)(*a, **k))
    return _record(fn, args, leaves, tree, name, key)


_new = object.__new__


def _record_flat(fn: Callable[..., Any], args: tuple[Any, ...], name: str | None,
                 key: Any, tensors: bool, depth: int = 3) -> Any:
    """`apply` of an operation recorded on tensors and Python numbers only (`a * b`,
    `a.tanh()`, `a + 1.0`): `_record`'s work, with no more steps than it needs, as this
    runs once per recorded operation (a tuple key built and looked up, the graph's runner
    called, one result and its node made without their constructors' generality).
    `tensors`: the arguments are known to be one tensor or two. `depth`: the first frame
    that may be the user's, counted from this one: the caller's caller when called from
    `apply` (whose callers are adjit's own code), the caller when called from one of
    Tensor's methods (tensor_methods.py)."""
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
        return _record(fn, args, list(args), _flat_tree(len(args)), name, key)
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
            else:
                parts.append((type(x), x))
        cache_key = tuple(parts)
    try:
        found = _FLAT_OPS.get(cache_key)
    except TypeError:  # an unhashable function or key
        return _record(fn, args, list(args), _flat_tree(len(args)), name, key)
    if found is None:
        found = _Op(*_trace_op(fn, list(args), _flat_tree(len(args)), name), name)
        if len(_FLAT_OPS) >= _MAX_OPS:
            _FLAT_OPS.clear()
        _FLAT_OPS[cache_key] = found
    values = found.run(arrays)
    if not found.single:
        return _results(found, edges, values)
    # one float result: what Tensor(values[0], _array=True) and Node(...) would make
    r = _new(Tensor)
    r._np, r.grad, r._out, r._hooks, r._retain = values[0], None, 0, _NO_HOOKS, False
    r._version, r._acc, r.requires_grad = [0], None, True
    node = _new(Node)
    node.id, node._name, node.graph, node.edges = next(_NODE_IDS), found.bname, found.graph, edges
    node.freed, node.custom, node.values = False, None, values
    node.outputs, node.versions = [weakref.ref(r)], [(r._version, 0)]
    r.grad_fn = node
    return r


def _record(fn: Callable[..., Any], args: Any, leaves: list[Any], tree: Any,
            name: str | None, key: Any) -> Any:
    """`apply` of an operation that is recorded: leaves flattened from (args, kwargs)."""
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
        if isinstance(x, Tensor) or (isinstance(x, np.ndarray) and x.dtype.kind in "biufc"):
            t = x if isinstance(x, Tensor) else Tensor(x, _array=True)
            edges.append(edge(t))
            arrays.append(t._np)
        if keys is not None:
            try:
                keys.append(_leaf_key(x))
            except TypeError:  # an argument that cannot key the cache: trace every time
                keys = None
    cache_key = found = None
    if keys is not None:
        cache_key = (fn if key is None else key, name, tree, tuple(keys), _site())
        try:
            found = _OPS.get(cache_key)
        except TypeError:  # an unhashable key
            cache_key = None
    if found is None:
        found = _Op(*_trace_op(fn, leaves, tree, name), name)
        if cache_key is not None:
            if len(_OPS) >= _MAX_OPS:
                _OPS.clear()
            _OPS[cache_key] = found
    return _results(found, edges, found.run(arrays))


def _results(found: _Op, edges: list[Any], values: tuple[np.ndarray, ...]) -> Any:
    """The result tensors of a recorded operation and their node."""
    results = [Tensor(v, _array=True) for v in values]
    node = Node(found.bname, found.graph, edges, results)
    node.values = values
    for i, (r, is_float) in enumerate(zip(results, found.floats, strict=True)):
        if is_float:
            r.grad_fn, r._out, r.requires_grad = node, i, True
    if found.out_tree is None:  # one result (pytree's LEAF)
        return results[0]
    return pytree.unflatten(found.out_tree, results)


def _trace_op(fn: Callable[..., Any], leaves: list[Any], tree: Any,
              name: str | None) -> tuple[Graph, Any]:
    """The closed graph of one operation: tensors and arrays in, the results out."""
    inputs: list[Var] = []
    traced: list[Any] = []
    for x in leaves:
        if isinstance(x, Tensor) or (isinstance(x, np.ndarray) and x.dtype.kind in "biufc"):
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
        return (t, x)
    if t is slice:
        return (t, x.start, x.stop, x.step)
    if isinstance(x, np.generic):
        return (t, x.item())
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
    t._version, t._acc, t.requires_grad = [0], None, False
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


# ---- factories ----------------------------------------------------------------------------------

def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new leaf holding a copy of `data` (PyTorch's dtype rules: see `_as_array`)."""
    arr = _as_array(data, dtype)
    if arr is data or (isinstance(data, Tensor) and arr is data._np):
        arr = arr.copy()
    return Tensor(arr, requires_grad, _array=True)


def _shape(size: Sequence[Any]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def _factory(make: Callable[[tuple[int, ...], np.dtype], np.ndarray]) -> Callable[..., Tensor]:
    def factory(*size: Any, dtype: Any = None, requires_grad: bool = False,
                **kwargs: Any) -> Tensor:
        if "size" in kwargs:  # randn(size=(), requires_grad=True), as the tutorial writes
            if size:
                raise TypeError("the size is given twice, positionally and as size=")
            size = (kwargs.pop("size"),)
        if kwargs:
            raise TypeError(f"unexpected keyword argument {next(iter(kwargs))!r}")
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        return Tensor(np.asarray(make(_shape(size), dt), dtype=dt), requires_grad, _array=True)

    return factory


zeros = _factory(lambda s, dt: np.zeros(s, dt))
ones = _factory(lambda s, dt: np.ones(s, dt))
empty = _factory(lambda s, dt: np.empty(s, dt))
rand = _factory(lambda s, dt: _RNG.random(s))
randn = _factory(lambda s, dt: _RNG.standard_normal(s))
_RNG = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator behind rand and randn."""
    global _RNG
    _RNG = np.random.default_rng(seed)


def full(size: Sequence[int], fill_value: Any, dtype: Any = None,
         requires_grad: bool = False) -> Tensor:
    dt = np.dtype(dtype) if dtype is not None else (
        get_default_dtype() if isinstance(fill_value, float) else np.asarray(fill_value).dtype)
    return Tensor(np.full(_shape((size,)), fill_value, dt), requires_grad, _array=True)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    arr = np.arange(start, end, step) if end is not None else np.arange(start)
    if dtype is None and arr.dtype == np.float64:
        arr = arr.astype(get_default_dtype())
    return Tensor(arr.astype(dtype) if dtype is not None else arr, requires_grad, _array=True)


def _like(fill: Callable[[np.ndarray], np.ndarray]) -> Callable[..., Tensor]:
    def like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        a = fill(np.asarray(t))
        return Tensor(a.astype(dtype) if dtype is not None else a, requires_grad, _array=True)

    return like


zeros_like = _like(np.zeros_like)
ones_like = _like(np.ones_like)
rand_like = _like(lambda a: _RNG.random(a.shape).astype(a.dtype))
randn_like = _like(lambda a: _RNG.standard_normal(a.shape).astype(a.dtype))

