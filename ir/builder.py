"""Emitting equations: the one mechanism every graph is built with.

The tracer, the adjoint and jvp passes, and the VJP/JVP rules all call `emit`,
which appends an equation to the innermost active `Builder`. The location and
role attached to emitted equations come from the active `context`, so a VJP
rule needs to know nothing about where it is called from.
"""
from __future__ import annotations

import contextlib
import contextvars
import threading
from typing import Any, Iterator

from .core import Eqn, Graph, Loc, Value, Var, make_params
from .errors import ShapeError
from .primitive import get


class Builder:
    """Collects equations in order."""

    def __init__(self) -> None:
        self.eqns: list[Eqn] = []

    def append(self, eqn: Eqn) -> None:
        self.eqns.append(eqn)

    def graph(self, name: str, inputs: tuple[Var, ...], outputs: tuple[Value, ...],
              notes: tuple[str, ...] = ()) -> Graph:
        return Graph(name, tuple(inputs), tuple(self.eqns), tuple(outputs), tuple(notes))


_BUILDER: contextvars.ContextVar[Builder | None] = contextvars.ContextVar("builder", default=None)
# How many `building` blocks are open in the process, all threads together: while it is 0, no
# thread traces, and a call's hot path need not ask the context variable (runtime/api.py).
BUILDING = [0]
_BUILDING_LOCK = threading.Lock()
_LOC: contextvars.ContextVar[Loc | None] = contextvars.ContextVar("loc", default=None)
_ROLE: contextvars.ContextVar[str] = contextvars.ContextVar("role", default="")


@contextlib.contextmanager
def building(builder: Builder) -> Iterator[Builder]:
    token = _BUILDER.set(builder)
    with _BUILDING_LOCK:  # (`+=` on it is not atomic: a lost update could read 0 mid-trace)
        BUILDING[0] += 1
    try:
        yield builder
    finally:
        with _BUILDING_LOCK:
            BUILDING[0] -= 1
        _BUILDER.reset(token)


@contextlib.contextmanager
def context(loc: Loc | None = None, role: str | None = None) -> Iterator[None]:
    """Equations emitted inside get this location and role."""
    t1 = _LOC.set(loc)
    t2 = _ROLE.set(role) if role is not None else None
    try:
        yield
    finally:
        _LOC.reset(t1)
        if t2 is not None:
            _ROLE.reset(t2)


def current_loc() -> Loc | None:
    return _LOC.get()


def tracing() -> bool:
    """Whether a graph is being built (a transformation called now is part of it)."""
    return _BUILDER.get() is not None


def current_builder() -> Builder:
    b = _BUILDER.get()
    if b is None:
        raise RuntimeError("no active Builder: wrap graph construction in `with building(b):`")
    return b


def emit_multi(prim: str, *inputs: Value, **params: Any) -> tuple[Var, ...]:
    p = get(prim)
    pp = make_params(params)
    try:
        out_types = p.out_types(tuple(v.type for v in inputs), dict(pp))
    except (ValueError, TypeError, IndexError) as e:
        raise _shape_error(prim, inputs, e) from None
    outs = tuple(Var(t) for t in out_types)
    current_builder().append(Eqn(prim, tuple(inputs), outs, pp, _LOC.get(), _ROLE.get()))
    return outs


def emit(prim: str, *inputs: Value, **params: Any) -> Var:
    (out,) = emit_multi(prim, *inputs, **params)
    return out


def _shape_error(prim: str, inputs: tuple[Value, ...], err: Exception) -> ShapeError:
    shapes = [v.shape for v in inputs]
    if get(prim).kind == "elementwise" and "broadcast" in str(err) and len(inputs) >= 2:
        a, b = inputs[-2], inputs[-1]
        need = ", ".join(str(s) for s in (a.shape[-len(b.shape):] if b.shape else (),
                                           (1,) * min(1, len(b.shape)), ()))
        return ShapeError(f"cannot broadcast {a.type} with {b.type} in `{prim}`", loc=_LOC.get(),
                          hint=f"operand shapes {shapes[-2]} and {shapes[-1]}: a shape broadcasts "
                               f"with {a.shape} when each trailing axis equals it or is 1, "
                               f"e.g. {need}")
    desc = ", ".join(str(v.type) for v in inputs)
    return ShapeError(f"{err} in `{prim}` (operands {desc})", loc=_LOC.get())


def inline(g: Graph, args: list[Value] | tuple[Value, ...]) -> list[Value]:
    """Emit g's equations into the active builder with its inputs bound to `args`, giving
    every output a fresh Var (so one graph can be inlined many times); returns g's outputs."""
    env: dict[int, Value] = {id(v): a for v, a in zip(g.inputs, args, strict=True)}
    builder = current_builder()
    for eqn in g.eqns:
        inputs = tuple(env.get(id(v), v) if isinstance(v, Var) else v for v in eqn.inputs)
        outs = tuple(Var(o.type) for o in eqn.outputs)
        env.update((id(o), n) for o, n in zip(eqn.outputs, outs, strict=True))
        builder.append(eqn.replace(inputs=inputs, outputs=outs))
    return [env.get(id(v), v) if isinstance(v, Var) else v for v in g.outputs]
