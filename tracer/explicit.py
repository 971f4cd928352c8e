"""Declared (explicit) graph construction, Theano/TensorFlow-1 style.

    x = ex.var("x", shape=(4,), dtype="float64")
    y = 2 * ex.dot(x, x)                 # a symbolic value: nothing is computed
    (gx,) = ex.gradients(y, [x])         # a symbolic gradient, itself a graph
    print(gx.graph)

Declared values live in a `DeclaredGraph` (a default one, or one opened with
`with ex.declaring():`), which records every operation as IR equations, exactly as
the tracer does for traced code: declared and traced code share the numpy
implementations, so the same formula gives the same graph. Shapes and dtypes are
checked as each expression is built, and an error names the line that built it.
`gradients` runs the adjoint pass on the sub-graph that reaches `y` and inlines the
result, so a gradient can be differentiated again. `ex.<name>` mirrors numpy's
functions (`ex.exp`, `ex.sum`, `ex.dot`, ...). Compiling is the runtime's job:
`adjit.explicit.function`.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

import numpy as np

from adjit.ir import ArrayType, Builder, Graph, Var, building, context
from adjit.ir.builder import inline
from adjit.ir.core import dtype_name
from adjit.ir.errors import NotDifferentiable, TraceError

from .loc import user_loc
from .values import Tracer


class DeclaredGraph:
    """Every declared variable and operation, in order (TensorFlow 1's default graph)."""

    def __init__(self) -> None:
        self.builder = Builder()
        self.vars: list[Var] = []

    def slice_for(self, outputs: Sequence[Var], inputs: Sequence[Var] | None = None,
                  name: str = "declared") -> Graph:
        """The graph computing `outputs` from `inputs` (default: the variables they use)."""
        needed = {id(v) for v in outputs if isinstance(v, Var)}
        kept = []
        for eqn in reversed(self.builder.eqns):
            if any(id(o) in needed for o in eqn.outputs):
                kept.append(eqn)
                needed.update(id(v) for v in eqn.inputs if isinstance(v, Var))
        kept.reverse()
        if inputs is None:
            inputs = [v for v in self.vars if id(v) in needed]
        else:
            declared = {id(v) for v in self.vars}
            for v in inputs:
                if id(v) not in declared:
                    raise TraceError(f"{v.name or v} is not a declared variable of this graph",
                                     loc=user_loc(3))
            given = {id(v) for v in inputs}
            missing = [v.name for v in self.vars if id(v) in needed and id(v) not in given]
            if missing:
                raise TraceError(f"the outputs depend on {', '.join(missing)}, which are not "
                                 "among the inputs", loc=user_loc(3),
                                 hint="list every variable the outputs use as an input")
        return Graph(name, tuple(inputs), tuple(kept), tuple(outputs))


_DEFAULT = DeclaredGraph()
_CURRENT: list[DeclaredGraph] = [_DEFAULT]


def current() -> DeclaredGraph:
    return _CURRENT[-1]


@contextlib.contextmanager
def declaring(graph: DeclaredGraph | None = None) -> Iterator[DeclaredGraph]:
    """Declare into a fresh graph (or `graph`) inside the block."""
    g = graph or DeclaredGraph()
    _CURRENT.append(g)
    try:
        yield g
    finally:
        _CURRENT.pop()


class Sym(Tracer):
    """A declared value: a Tracer whose operations are recorded in its DeclaredGraph."""

    __slots__ = ("owner",)

    def __init__(self, val: Any, owner: DeclaredGraph, weak: bool = False) -> None:
        super().__init__(val, weak)
        self.owner = owner

    @property
    def graph(self) -> Graph:
        """The IR computing this value from the variables it uses."""
        return self.owner.slice_for([self.val], name="expr")

    @property
    def name(self) -> str | None:
        return self.val.name

    def __repr__(self) -> str:
        return f"Sym({self.val.name + ': ' if self.val.name else ''}{self.val.type})"


def _owner(args: Sequence[Any]) -> DeclaredGraph:
    owners = {id(a.owner): a.owner for a in _flat(args) if isinstance(a, Sym)}
    if len(owners) > 1:
        raise TraceError("values declared in different graphs cannot be combined",
                         loc=user_loc(4))
    return next(iter(owners.values())) if owners else current()


def _flat(args: Any) -> Iterator[Any]:
    for a in args:
        if isinstance(a, (list, tuple)):
            yield from _flat(a)
        else:
            yield a


def _rewrap(out: Any, owner: DeclaredGraph) -> Any:
    if isinstance(out, Tracer) and not isinstance(out, Sym):
        return Sym(out.val, owner, out.weak)
    if isinstance(out, (list, tuple)):
        items = [_rewrap(o, owner) for o in out]
        if hasattr(type(out), "_fields"):  # a namedtuple (np.linalg.eigh's EighResult)
            return type(out)(*items)
        return type(out)(items)
    return out


def _recorded(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    owner = _owner(list(args) + list(kwargs.values()))
    with building(owner.builder), context(loc=user_loc(3)):
        return _rewrap(fn(*args, **kwargs), owner)


def _wrap_method(name: str) -> None:
    base = getattr(Tracer, name)

    def method(self: Sym, *args: Any, **kwargs: Any) -> Any:
        return _recorded(base, (self, *args), kwargs)

    method.__name__ = name
    setattr(Sym, name, method)


# Every array method and operator the numpy surface gives Tracer is a recorded method of Sym:
# a method added to the surface (numpy_api.py) is declared-API too, with nothing listed here.
# numpy's protocols are recorded too: np.exp(x), np.sum(x) and scipy.special's ufuncs on a
# declared value build the same equations as ex.exp(x).
_NOT_RECORDED = {"__init__", "__repr__", "__getattr__", "__array__", "__bool__", "__len__",
                 "__iter__", "__hash__",
                 "__index__", "__float__", "__int__", "__complex__", "__setitem__", "item",
                 "tolist"}
_OPS = [n for n, v in vars(Tracer).items()
        if callable(v) and n not in _NOT_RECORDED and hasattr(np.ndarray, n)]
for _name in _OPS:
    _wrap_method(_name)
Sym.__hash__ = object.__hash__


def _wrap_property(name: str) -> None:
    getter = getattr(Tracer, name).fget
    setattr(Sym, name, property(lambda self: _recorded(getter, (self,), {})))


# Array properties that compute (x.T, x.mT, x.real, x.imag) are recorded too; those that only
# describe the value (shape, dtype, ...) are read as they are.
_DESCRIBING = {"shape", "dtype", "ndim", "size", "itemsize", "nbytes", "val", "weak"}
for _name, _v in list(vars(Tracer).items()):
    if isinstance(_v, property) and hasattr(np.ndarray, _name) and _name not in _DESCRIBING:
        _wrap_property(_name)


def var(name: str, shape: Sequence[int] = (), dtype: Any = "float64") -> Sym:
    """Declare an input variable (a placeholder) of a fixed shape and dtype."""
    if not isinstance(name, str) or not name.isidentifier():
        raise TraceError(f"variable names must be identifiers, got {name!r}", loc=user_loc(2))
    g = current()
    if any(v.name == name for v in g.vars):
        raise TraceError(f"a variable named {name!r} is already declared in this graph",
                         loc=user_loc(2), hint="use another name, or `with ex.declaring():`")
    v = Var(ArrayType(dtype_name(dtype), tuple(int(d) for d in shape)), name)
    g.vars.append(v)
    return Sym(v, g)


def constant(value: Any) -> Sym:
    """A declared constant."""
    from adjit.ir import Lit

    arr = np.asarray(value)
    return Sym(Lit.make(arr, dtype_name(arr.dtype)), current())


def gradients(y: Sym, xs: Sequence[Sym]) -> list[Sym]:
    """Symbolic gradients of the scalar `y` with respect to each of `xs` (all declared
    variables or values of y's graph); differentiable again."""
    from adjit.passes.pipeline import differentiate

    if not isinstance(y, Sym):
        raise TraceError("gradients needs a declared value as y", loc=user_loc(2))
    if y.val.type.ndim != 0 or not y.val.type.is_real_float:
        raise NotDifferentiable(f"gradients needs a real float scalar y, got {y.val.type}",
                                loc=user_loc(2), hint="reduce it first, e.g. ex.sum(y)")
    owner = y.owner
    xs = list(xs)
    for x in xs:
        if not isinstance(x, Sym) or x.owner is not owner:
            raise TraceError("gradients: every x must be a value declared in y's graph",
                             loc=user_loc(2))
    g = owner.slice_for([y.val], name="y")
    # Variables y does not use still get a (zero) gradient: make them inputs too.
    extra = [x.val for x in xs if x.val in owner.vars and all(x.val is not v for v in g.inputs)]
    g = g.replace(inputs=g.inputs + tuple(extra))
    wrt = [i for i, v in enumerate(g.inputs) if any(v is x.val for x in xs)]
    # Intermediate values keep their place in the graph: their cotangent is what reaches them.
    also = [x.val for x in xs if all(x.val is not v for v in g.inputs)]
    joint = differentiate(g, wrt, also=also).simplified
    with building(owner.builder), context(loc=user_loc(2)):
        outs = inline(joint, list(g.inputs))
    grads = outs[len(g.outputs):]
    by_value = {id(g.inputs[i]): gr for i, gr in zip(wrt, grads, strict=False)}
    by_value.update((id(v), gr) for v, gr in zip(also, grads[len(wrt):], strict=True))
    return [Sym(by_value[id(x.val)], owner) for x in xs]


def __getattr__(name: str) -> Any:
    """`ex.exp`, `ex.sum`, `ex.dot`, ...: numpy's function of that name, recorded."""
    target = getattr(np, name, None)
    if name == "norm":
        target = np.linalg.norm
    if not callable(target):
        raise AttributeError(f"adjit.explicit has no function {name!r}")

    def recorded(*args: Any, **kwargs: Any) -> Any:
        if not any(isinstance(a, Sym) for a in _flat(list(args) + list(kwargs.values()))):
            args = tuple(constant(a) if isinstance(a, np.ndarray) else a for a in args)
            if not any(isinstance(a, Sym) for a in args):
                raise TraceError(f"ex.{name} needs at least one declared value",
                                 loc=user_loc(2))
        return _recorded(target, args, kwargs)

    recorded.__name__ = name
    return recorded
