"""vmap: the batching transformation. Graph -> the same computation over a leading batch axis.

`batch(g, batched, size)` returns a graph whose inputs flagged in `batched` carry an extra
leading axis of length `size` and whose every output does: the graph run once per example,
as one graph. Each equation is rewritten by its primitive's batching rule
(`Primitive.batch`, declared beside its other rules; ir/batching.py has the rules and each
kind's default), with the batch axis kept in front (JAX's convention of moving it to 0).

An equation none of whose operands is batched is kept as it is (its value is the same for
every example). A new primitive without a rule is correct through its kind's default (one
copy of the equation per example, for kinds without a better one).
"""
from __future__ import annotations

from collections.abc import Sequence

from adjit.ir import Builder, Graph, Value, Var, building, ops
from adjit.ir.builder import context
from adjit.ir.builder import emit_multi
from adjit.ir.primitive import PRIMS


def batch(g: Graph, batched: Sequence[bool], size: int,
          outputs_batched: list[bool] | None = None) -> Graph:
    """g over a leading batch axis of length `size` on the inputs flagged in `batched`. Every
    output gets the batch axis (broadcast where it does not depend on a batched input);
    `outputs_batched`, when given, is filled with whether each one depends on one."""
    inputs = [Var(v.type.with_shape((size,) + v.shape), v.name) if b else Var(v.type, v.name)
              for v, b in zip(g.inputs, batched, strict=True)]
    env: dict[int, tuple[Value, bool]] = {id(v): (n, b) for v, n, b in
                                          zip(g.inputs, inputs, batched, strict=True)}

    def read(v: Value) -> tuple[Value, bool]:
        return env.get(id(v), (v, False)) if isinstance(v, Var) else (v, False)

    b = Builder()
    with building(b):
        for eqn in g.eqns:
            pairs = [read(v) for v in eqn.inputs]
            vals, flags = [p[0] for p in pairs], [p[1] for p in pairs]
            if not any(flags):
                outs = emit_multi(eqn.prim, *vals, **dict(eqn.params))
                env.update((id(o), (n, False)) for o, n in zip(eqn.outputs, outs, strict=True))
                continue
            with context(loc=eqn.loc, role=f"vmap({eqn.prim})"):
                outs = PRIMS[eqn.prim].batching_rule()(eqn, vals, flags, size)
            env.update((id(o), (n, True)) for o, n in zip(eqn.outputs, outs, strict=True))
        outputs = []
        for o in g.outputs:
            v, is_batched = read(o)
            if outputs_batched is not None:
                outputs_batched.append(is_batched)
            outputs.append(v if is_batched else ops.broadcast_to(v, (size,) + o.shape,
                                                                 o.dtype))
    return b.graph(f"{g.name}_vmap", tuple(inputs), tuple(outputs),
                   notes=g.notes + (f"batched over {size} along axis 0",))
