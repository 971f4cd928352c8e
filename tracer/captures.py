"""Captured state: what a traced function reads besides its arguments, read again at every call.

A function reaches arrays and numbers through its closure cells, the module globals its code
names, its default arguments and, for a bound method or a callable object, `self`; from
there through attributes of user objects, lists, tuples and dicts. Baking what it read at
trace time into the compiled code as constants would go stale as soon as the caller wrote
`w[:] = 10`, `w = new_array` or `model.scale = 3`. Instead (as torch.compile lifts globals):

- `discover(fn)` walks that reachable state once per trace and returns a `Probe`: a flat
  list of nodes, each a parent and one step (cell, global, default, attribute, item);
- `Probe.resolve()` reads every node again, cheaply, at each call; a `token` per node
  (an array's shape and dtype, a scalar's value, a container's length, an object's type)
  joins the specialization key, so anything that changed what the trace saw retraces;
- while tracing, `Probe.substituted(...)` puts a tracer in place of every captured float
  array (in the very cell, global, default or attribute that holds it; containers on the
  way are copied), so even numpy work done on it before it meets an argument (`w.T`,
  `np.exp(self.log_scale)`) is traced. The graph reads those arrays as extra inputs, and
  the runtime passes the current arrays on every call. Everything is put back afterwards.

Integer and boolean arrays (indices, masks) stay constants of the graph, guarded by their
contents; Python scalars, strings and None are guarded by value; functions by identity.
Attributes are followed when the traced code, or a method of the object's class, names
them, so counters a function never reads do not cause retracing.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import operator
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from adjit.codegen.devices import is_device_array

from .randomness import RandomStandIn, is_generator
from .tensor import Tensor

MAX_DEPTH = 8
MAX_NODES = 4096
MAX_ITEMS = 256  # a container with more items is guarded by identity and length only
_SCALARS = (bool, int, float, complex, str, bytes, type(None))
_SKIP_MODULES = ("numpy", "builtins", "scipy", "numba", "math")


@dataclass
class Node:
    parent: int  # -1 for a root
    get: Callable[[Any], Any]  # parent value -> this value
    step: tuple[str, Any]  # ("cell", cell) | ("global", (dict, name)) | ("default", (fn, i))
    #                        | ("kwdefault", (fn, name)) | ("root", obj) | ("attr", name)
    #                        | ("item", key)
    name: str  # how the user writes it: `self.w`, `params['b']`, `scale`


def _token(v: Any) -> Any:
    """What a call must see again to reuse a compilation traced with `v` in this place."""
    t = type(v)
    if t is np.ndarray:
        if v.dtype.kind in "fc":
            return (v.shape, v.dtype)
        return (v.shape, v.dtype, _content(v))
    if t is float:
        return (t, "nan" if np.isnan(v) else v)
    if t in _SCALARS:
        return (t, v)
    if isinstance(v, (list, tuple)):
        return (t, len(v))
    if isinstance(v, dict):
        return (t, tuple(v) if len(v) <= MAX_ITEMS else len(v))
    if isinstance(v, np.generic):
        return (t, v.tobytes())
    if isinstance(v, (types.FunctionType, types.BuiltinFunctionType, np.ufunc, type)):
        return v
    if isinstance(v, types.MethodType):
        return (v.__func__, id(v.__self__))
    if is_device_array(v):  # read in place at every call, as a float ndarray is
        dt = np.dtype(v.dtype)
        if dt.kind in "fc":
            return ("device", tuple(v.shape), dt)
        return ("device", tuple(v.shape), dt, _content(v.copy_to_host()))
    return t


def _content(a: np.ndarray) -> bytes:
    data = np.ascontiguousarray(a)
    if data.nbytes <= 1 << 16:
        return data.tobytes()
    return hashlib.blake2b(data, digest_size=16).digest()


def traced_leaf(v: Any) -> bool:
    """A captured value the graph reads as an input (rather than guarding it)."""
    if type(v) is np.ndarray:
        return v.dtype.kind in "fc" and v.dtype.isnative
    return is_device_array(v) and np.dtype(v.dtype).kind in "fc"


class Probe:
    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        self.getters = [(n.parent, n.get) for n in nodes]

    def __bool__(self) -> bool:
        return bool(self.nodes)

    def resolve(self) -> tuple[list[Any], tuple[Any, ...]] | None:
        """Every node's current value and the tokens to key on; None if the structure the
        trace walked is gone (an attribute deleted, a list shortened)."""
        vals: list[Any] = []
        try:
            for parent, get in self.getters:
                vals.append(get(vals[parent] if parent >= 0 else None))
        except (AttributeError, LookupError, TypeError, ValueError):
            return None
        return vals, tuple([_token(v) for v in vals])

    @contextlib.contextmanager
    def substituted(self, vals: list[Any],
                    make_input: Callable[[int, np.ndarray], Any]) -> Iterator[None]:
        """Tracers (from `make_input(node index, array)`) in place of the captured float
        arrays while the block runs; containers on the way are copied, objects changed in
        place, and everything is restored afterwards."""
        undo: list[Callable[[], None]] = []
        try:
            self._substitute(vals, make_input, undo)
            yield
        finally:
            for restore in reversed(undo):
                restore()

    def _substitute(self, vals: list[Any], make_input: Callable[[int, np.ndarray], Any],
                    undo: list[Callable[[], None]]) -> None:
        by_array: dict[int, Any] = {}
        new: dict[int, Any] = {}
        for i, v in enumerate(vals):
            if is_generator(v):  # its draws would be frozen: calling it is an error
                new[i] = RandomStandIn(self.nodes[i].name)
            elif traced_leaf(v):
                if id(v) not in by_array:
                    by_array[id(v)] = make_input(i, v)
                new[i] = by_array[id(v)]
        # Children come after their parents: walk backwards, so a container's copy holds
        # every substituted child before it is put into its own parent.
        pending: dict[int, Any] = {}
        for i in range(len(vals) - 1, -1, -1):
            if i in pending:
                new[i] = _rebuilt(vals[i], pending.pop(i))
            if i not in new:
                continue
            node = self.nodes[i]
            key = node.step[1]
            if node.parent >= 0:
                pv = vals[node.parent]
                if isinstance(pv, (list, tuple, dict)):
                    if node.parent not in pending:
                        pending[node.parent] = dict(pv) if isinstance(pv, dict) else list(pv)
                    pending[node.parent][key] = new[i]
                elif isinstance(pv, functools.partial):
                    _set_partial(pv, node.step, new[i], undo)
                else:
                    _set_attr(pv, key, new[i], undo)
            else:
                _set_root(node.step, new[i], undo)


def _rebuilt(old: Any, items: Any) -> Any:
    """A copy of container `old` (its own type where it can be) holding `items`."""
    if isinstance(old, tuple):
        if hasattr(type(old), "_fields"):
            return type(old)._make(items)
        return tuple(items)
    new = copy.copy(old)
    if isinstance(old, dict):
        new.update(items)
    else:
        new[:] = items
    return new


def _set_attr(obj: Any, name: str, value: Any, undo: list[Callable[[], None]]) -> None:
    if isinstance(obj, type):  # a class attribute (its __dict__ is read-only)
        old_attr = vars(obj)[name]
        setattr(obj, name, value)
        undo.append(lambda: setattr(obj, name, old_attr))
        return
    d = getattr(obj, "__dict__", None)
    if d is not None and name in d:
        old = d[name]
        d[name] = value
        undo.append(lambda: d.__setitem__(name, old))
        return
    old = getattr(obj, name)
    object.__setattr__(obj, name, value)  # a slot
    undo.append(lambda: object.__setattr__(obj, name, old))


def _set_partial(p: functools.partial, step: tuple[str, Any], value: Any,
                 undo: list[Callable[[], None]]) -> None:
    """One argument of partial `p` replaced in place (a partial's own attributes are
    read-only; its pickling state is not)."""
    state = p.__reduce__()[2]
    func, args, kwds, extra = state
    kind, key = step
    if kind == "partial_arg":
        args = args[:key] + (value,) + args[key + 1:]
    else:
        kwds = {**(kwds or {}), key: value}
    p.__setstate__((func, args, kwds, extra))
    undo.append(lambda: p.__setstate__(state))


def _set_root(step: tuple[str, Any], value: Any, undo: list[Callable[[], None]]) -> None:
    kind, key = step
    if kind == "cell":
        old = key.cell_contents
        key.cell_contents = value
        undo.append(lambda: setattr(key, "cell_contents", old))
    elif kind == "global":
        g, name = key
        old = g[name]
        g[name] = value
        undo.append(lambda: g.__setitem__(name, old))
    elif kind == "default":
        fn, i = key
        old = fn.__defaults__
        fn.__defaults__ = old[:i] + (value,) + old[i + 1:]
        undo.append(lambda: setattr(fn, "__defaults__", old))
    elif kind == "kwdefault":
        fn, name = key
        old = fn.__kwdefaults__
        fn.__kwdefaults__ = {**old, name: value}
        undo.append(lambda: setattr(fn, "__kwdefaults__", old))
    # a "root" object (self) is never replaced itself: only its attributes are


# ---- discovery ----------------------------------------------------------------------------------

def discover(fn: Any) -> Probe:
    """The state `fn` can reach (see the module docstring)."""
    w = _Walker()
    w.function(fn, "")
    return Probe(w.nodes)


class _Walker:
    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.seen_objects: set[int] = set()
        self.seen_code: set[int] = set()
        self.seen_classes: set[int] = set()
        self.names: set[str] = set()  # attribute and global names some reached code reads
        self.pending_objects: list[tuple[int, Any, int]] = []

    # roots
    def function(self, fn: Any, prefix: str) -> None:

        inner = getattr(fn, "fun", None)  # an adjit transformation: its function's state
        if inner is not None and callable(inner) and hasattr(fn, "specializations"):
            return self.function(inner, prefix)
        wrapped = getattr(fn, "__wrapped__", None)  # a wrapper (functools.wraps): what it runs
        if wrapped is not None and callable(wrapped) and wrapped is not fn:
            self.function(wrapped, prefix)
        for rule in _rule_functions(fn):  # a custom_vjp / custom_jvp: its rules' state too
            self.function(rule, prefix)
        if isinstance(fn, types.MethodType):
            self.function(fn.__func__, prefix)
            self._root(fn.__self__, "self")
            return
        if isinstance(fn, functools.partial):  # its arguments, and what its function reads
            self.function(fn.func, prefix)
            self._add(-1, (lambda _, p=fn: p), ("root", fn), "partial", fn, 0, "")
            self._flush()
            return
        if not isinstance(fn, types.FunctionType):
            if callable(fn) and _user_object(fn):
                call = vars(type(fn)).get("__call__")
                if isinstance(call, types.FunctionType):
                    self.function(call, prefix)
                self._root(fn, type(fn).__name__.lower())
            return
        if id(fn.__code__) in self.seen_code:
            return
        self.seen_code.add(id(fn.__code__))
        self._names_of(fn.__code__)
        module = fn.__globals__.get("__name__", "")
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True):
            if name == "__class__":
                continue
            try:
                v = cell.cell_contents
            except ValueError:  # not assigned yet
                continue
            self._add(-1, (lambda _, c=cell: c.cell_contents), ("cell", cell), name, v, 0,
                      module)
        g = fn.__globals__
        for name in _global_names(fn.__code__):
            if name in g:
                self._add(-1, (lambda _, g=g, k=name: g[k]), ("global", (g, name)), name,
                          g[name], 0, module)
        for i, v in enumerate(fn.__defaults__ or ()):
            self._add(-1, (lambda _, f=fn, i=i: f.__defaults__[i]), ("default", (fn, i)),
                      f"default {i}", v, 0, module)
        for k, v in (fn.__kwdefaults__ or {}).items():
            self._add(-1, (lambda _, f=fn, k=k: f.__kwdefaults__[k]), ("kwdefault", (fn, k)),
                      f"default {k}", v, 0, module)
        self._flush()

    def _root(self, obj: Any, name: str) -> None:
        self._add(-1, (lambda _, o=obj: o), ("root", obj), name, obj, 0, "")
        self._flush()

    def _names_of(self, code: types.CodeType) -> None:
        self.names.update(code.co_names)
        for c in code.co_consts:
            if isinstance(c, types.CodeType):
                self._names_of(c)

    def _class_names(self, cls: type, module: str) -> None:
        methods = []
        for klass in cls.__mro__:
            if id(klass) in self.seen_classes or klass.__module__.split(".")[0] in _SKIP_MODULES:
                continue
            self.seen_classes.add(id(klass))
            for attr in vars(klass).values():
                f = getattr(attr, "fget", attr)
                f = getattr(f, "__func__", f)
                code = getattr(f, "__code__", None)
                if isinstance(code, types.CodeType):
                    self._names_of(code)
                    if isinstance(f, types.FunctionType) and _followed(f, module):
                        methods.append(f)
        # what the user's methods read besides self: their module's globals, their cells
        for f in methods:
            self.function(f, cls.__name__)

    # the walk
    def _add(self, parent: int, get: Callable[[Any], Any], step: tuple[str, Any], name: str,
             v: Any, depth: int, module: str) -> None:
        if len(self.nodes) >= MAX_NODES:
            return
        if isinstance(v, types.ModuleType):
            if _user_module(v) and id(v) not in self.seen_objects:  # `config.W`
                self.seen_objects.add(id(v))
                self.nodes.append(Node(parent, get, step, name))
                self.pending_objects.append((len(self.nodes) - 1, v, depth))
            return
        if isinstance(v, types.FunctionType):
            self.nodes.append(Node(parent, get, step, name))
            if _followed(v, module):
                self.function(v, name)
            return
        if hasattr(v, "specializations") and callable(getattr(v, "fun", None)):
            self.nodes.append(Node(parent, get, step, name))
            self.function(v.fun, name)
            return
        if isinstance(v, functools.partial):
            # its arguments are read (and substituted, __setstate__) like a container's items
            index = len(self.nodes)
            self.nodes.append(Node(parent, get, step, name))
            if not isinstance(v.func, types.FunctionType) or _followed(v.func, module):
                self.function(v.func, name)
            for i, a in enumerate(v.args):
                self._add(index, (lambda p, i=i: p.args[i]), ("partial_arg", i),
                          f"{name}.args[{i}]", a, depth + 1, module)
            for k, a in v.keywords.items():
                self._add(index, (lambda p, k=k: p.keywords[k]), ("partial_kw", k),
                          f"{name}.keywords[{k!r}]", a, depth + 1, module)
            return
        rules = _rule_functions(v)
        if rules:  # adjit.custom_vjp / custom_jvp: what its function and rules read
            self.nodes.append(Node(parent, get, step, name))
            for f in rules:
                if not isinstance(f, types.FunctionType) or _followed(f, module):
                    self.function(f, name)
            return
        t = type(v)
        if isinstance(v, Tensor):  # a recorded tensor (an nn.Parameter): read its array
            self.nodes.append(Node(parent, lambda p, g=get: _array_of(g(p)), step, name))
            return
        if t is np.ndarray or t in _SCALARS or isinstance(v, np.generic) or is_generator(v) \
                or is_device_array(v):
            self.nodes.append(Node(parent, get, step, name))
            return
        if depth >= MAX_DEPTH:
            return
        if isinstance(v, (list, tuple, dict)):  # subclasses too (OrderedDict, namedtuple)
            index = len(self.nodes)
            self.nodes.append(Node(parent, get, step, name))
            if len(v) > MAX_ITEMS:
                return
            mapping = isinstance(v, dict)
            items = list(v.items()) if mapping else enumerate(v)
            for k, item in items:
                if mapping and not isinstance(k, (str, int)):
                    continue
                self._add(index, operator.itemgetter(k), ("item", k), f"{name}[{k!r}]", item,
                          depth + 1, module)
            return
        if _user_object(v) and id(v) not in self.seen_objects:
            self.seen_objects.add(id(v))
            index = len(self.nodes)
            self.nodes.append(Node(parent, get, step, name))
            self._class_names(t, module)
            self.pending_objects.append((index, v, depth))
            if _user_class(t, module):  # `W = np.ones(3)` in its class body, read as self.W
                self._add(index, type, ("attr", "__class__"), f"type({name})", t, depth + 1,
                          module)
            return
        if isinstance(v, type) and _user_class(v, module) and id(v) not in self.seen_objects:
            # a class of the user's: its attributes (C.W, cls.W) and its methods' state
            self.seen_objects.add(id(v))
            index = len(self.nodes)
            self.nodes.append(Node(parent, get, step, name))
            self._class_names(v, module)
            self.pending_objects.append((index, v, depth))

    def _flush(self) -> None:
        """Follow objects' attributes once every name the reached code reads is known."""
        while self.pending_objects:
            index, obj, depth = self.pending_objects.pop(0)
            name = self.nodes[index].name
            attrs = dict(getattr(obj, "__dict__", {}))
            for slot in getattr(type(obj), "__slots__", ()):
                if hasattr(obj, slot):
                    attrs[slot] = getattr(obj, slot)
            for k, v in attrs.items():
                if k in self.names:
                    self._add(index, operator.attrgetter(k), ("attr", k), f"{name}.{k}", v,
                              depth + 1, obj.__name__ if isinstance(obj, types.ModuleType)
                              else obj.__module__ if isinstance(obj, type)
                              else type(obj).__module__)


def _global_names(code: types.CodeType) -> list[str]:
    out = list(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out.extend(_global_names(c))
    return list(dict.fromkeys(out))


def _rule_functions(v: Any) -> list[Any]:
    """The functions of an `adjit.custom_vjp` (fun, fwd, bwd), a `custom_jvp` (fun, rule) or
    an `adjit.autograd.Function` subclass (its forward, backward and other methods): traced
    where they are called, so the arrays they capture are read at every call like the traced
    function's own."""
    from adjit.runtime.custom import Function

    from .custom_jvp import custom_jvp
    from .custom_rules import custom_vjp

    if isinstance(v, custom_vjp):
        fns = [v.fun, v.fwd, v.bwd]
    elif isinstance(v, custom_jvp):
        fns = [v.fun, v.rule]
    elif isinstance(v, type) and issubclass(v, Function) and v is not Function:
        fns = [getattr(a, "__func__", a) for k in v.__mro__[:v.__mro__.index(Function)]
               for a in vars(k).values()]
        return [f for f in fns if isinstance(f, types.FunctionType)]
    else:
        return []
    return [f for f in fns if callable(f)]


def _array_of(v: Any) -> Any:
    return v._np if isinstance(v, Tensor) else v


def _followed(fn: types.FunctionType, module: str) -> bool:
    """Whether the walk follows what function `fn` reads: one of the walked code's module, or
    of another module of the user's program (`from helpers import loss`), not a library's."""
    name = fn.__globals__.get("__name__")
    if fn.__module__ == module or name == module:
        return True
    m = sys.modules.get(name or "")
    return m is not None and _user_module(m)


def _user_class(cls: type, module: str) -> bool:
    """A class of the user's program: of the walked code's module or another user module."""
    name = cls.__module__ or ""
    if name.split(".")[0] in _SKIP_MODULES or name.split(".")[0] == "adjit":
        return False
    m = sys.modules.get(name)
    return name == module or (m is not None and _user_module(m))


def _user_module(m: types.ModuleType) -> bool:
    """A module of the user's program (not the standard library or an installed package)."""
    top = m.__name__.split(".")[0]
    path = getattr(m, "__file__", None) or ""
    return (bool(path) and top not in sys.stdlib_module_names and top not in _SKIP_MODULES
            and "site-packages" not in path and "dist-packages" not in path
            and not top.startswith("adjit"))


def _user_object(v: Any) -> bool:
    """An instance of a class written by the user (not numpy's, a module, a type...)."""
    if isinstance(v, (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
                      types.MethodType, np.ufunc)):
        return False
    mod = type(v).__module__ or ""
    if mod.startswith("adjit.tracer"):
        return False  # tracers of an enclosing trace reach the graph as its free values
    return mod.split(".")[0] not in _SKIP_MODULES and (hasattr(v, "__dict__")
                                                       or hasattr(type(v), "__slots__"))
