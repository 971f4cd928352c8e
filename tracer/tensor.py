"""The recorded front end: `adjit.Tensor`, PyTorch-style.

A Tensor holds a numpy array and runs eagerly. When an operation has an input that requires
a gradient (and recording is on: not inside `no_grad`), it is also *recorded*: the operation
runs on tracers through the same numpy surface as traced code (tracer/numpy_api.py), which
gives a small closed graph, kept per operation and call site with a Python function written
to evaluate it on the inputs' arrays (the eager result, as the interpreter would give it),
and a `Node` keeps the graph and where each input came from (recording is tracer/record.py's
`apply`; this module is the Tensor, its nodes and the grad mode). `backward()`
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
import threading
import types
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from adjit.ir import Graph
from adjit.ir.errors import TraceError

from . import pytree
from .loc import user_loc

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
    plain tuple: one is made per input of every recorded operation (record.apply)."""
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
    __slots__ = ("_np", "_rg", "grad", "grad_fn", "_out", "_hooks", "_retain",
                 "_version", "_acc", "_base", "__weakref__")

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
        # a view's tensor and how to write the view's values back into it (set by the view
        # methods, tracer/tensor_methods.py `_view`): a recorded view is a copy, so an
        # in-place operation on it is written back, recorded, as PyTorch's view would see it
        self._base: tuple[Any, Callable[[Tensor, Tensor], Any]] | None = None
        self._rg = False
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
        self.grad_fn, self._rg = None, False
        return self

    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on a Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self._np

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        # As PyTorch's: numpy converting a tensor that requires grad would silently cut the
        # graph (np.array([x[0], x[1]]) of such tensors is a constant), so it is refused.
        if self.requires_grad:
            raise RuntimeError("Can't convert a Tensor that requires grad to a numpy array "
                               "(numpy is converting it: np.array, np.asarray, or a numpy "
                               "function given a list of tensors). Use tensor.detach() for "
                               "its values, or combine tensors with np.stack / "
                               "np.concatenate, which are recorded.")
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
        if not self.is_leaf:  # a non-leaf requires grad already: True is a no-op, as in torch
            if requires_grad:
                return self
            raise RuntimeError("you can only change requires_grad flags of leaf variables; "
                               "use .detach().requires_grad_() for a new leaf")
        if requires_grad and self._np.dtype.kind not in "fc":
            raise RuntimeError("only Tensors of floating point or complex dtype can require "
                               "gradients")
        self._rg = bool(requires_grad)
        return self

    # A property, so that `x.requires_grad = True` is checked as requires_grad_() is (an integer
    # tensor cannot require gradients; a non-leaf cannot stop requiring them), as in PyTorch.
    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(bool(value))

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
            self.grad_fn, self._out, self._rg = new.grad_fn, new._out, True
            # the node's output is now this tensor
            new.grad_fn.outputs[new._out] = weakref.ref(self)
        if self._base is not None:  # a view: its tensor changes too (and its own base)
            base = self._base[0]()
            if base is not None:
                self._base[1](base, self)
        return self


# ---- recording an operation ---------------------------------------------------------------------

def _needs_recording(tensors: Sequence[Tensor]) -> bool:
    return is_grad_enabled() and any(t.requires_grad for t in tensors)


def _leaves(args: Any) -> list[Any]:
    return pytree.flatten(args)[0]
