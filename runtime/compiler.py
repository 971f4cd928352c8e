"""From a traced graph to a callable specialization: passes, fusion, codegen, compile.

A `Specialization` is one compiled version of a user function for one argument
signature. It keeps every stage for inspection and converts arguments and results
at the boundary (Python scalars in, numpy scalars and arrays out, dtypes kept).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from adjit.ir import Graph
from adjit.passes.pipeline import Stages, differentiate, optimize
from adjit.tracer import Traced

from . import config


@dataclass
class Specialization:
    traced: Traced
    stages: Stages
    final: Graph
    plan: Any
    source: Any
    fn: Callable[..., Any]
    in_dtypes: tuple[np.dtype | None, ...]  # None: static argument, not passed
    out_dtypes: tuple[np.dtype, ...]
    out_shapes: tuple[tuple[int, ...], ...]
    consts: tuple[np.ndarray, ...] = field(default=())
    # set by the runtime: how structured (pytree) arguments flatten into the compiled
    # function's, and how gradients regroup into those structures (None: no structure)
    arg_trees: Any = None
    grad_trees: Any = None
    # set by the runtime for a guarded specialization whose guard check fails on the very
    # arguments it was traced on (compiled rounding): a copy of them (api.py `_traced_on`)
    traced_on: tuple[np.ndarray, ...] | None = None

    def run(self, args: Sequence[Any]) -> list[Any]:
        """Call the compiled function; returns one numpy value per graph output."""
        call_args = [a if type(a) is np.ndarray and a.dtype == dt else np.asarray(a, dtype=dt)
                     for a, dt in zip(args, self.in_dtypes, strict=True) if dt is not None]
        raw = self.fn(*call_args, *self.consts)
        return [r if type(r) is np.ndarray and r.dtype == dt else np.asarray(r, dtype=dt)
                for r, dt in zip(raw, self.out_dtypes, strict=True)]


def build(traced: Traced, *, wrt: Sequence[int] | None, static: Sequence[int], n_args: int,
          seed: str = "auto", also: Sequence[Any] = ()) -> Specialization:
    """Compile `traced` (its gradient wrt inputs `wrt`, and the cotangents of the values in
    `also`, when `wrt` is given)."""
    # Imported here so that `import adjit` stays cheap for IR-only use (numba loads on first
    # compile).
    from adjit.codegen.compile import compile_source
    from adjit.codegen.cpu import emit_cpu
    from adjit.passes.fuse import fuse

    checks = config.checks()
    dump = config.dump_after()
    g = traced.graph
    stages = (differentiate(g, wrt, seed=seed, checks=checks, dump=dump, also=also)
              if wrt is not None
              else optimize(g, checks=checks, dump=dump))
    final = stages.simplified
    plan = fuse(final)
    if "fuse" in dump:
        print(f"--- kernel plan ---\n{plan}")
    source = emit_cpu(final, plan, f"{final.name}_kernel", tape_limit=config.max_tape_bytes())
    fn = compile_source(source, config.cache_dir(), jit=not config.nojit())
    in_types = iter(final.inputs)
    in_dtypes = tuple(None if i in static else next(in_types).type.np_dtype
                      for i in range(n_args))
    return Specialization(traced, stages, final, plan, source, fn, in_dtypes,
                          tuple(v.type.np_dtype for v in final.outputs),
                          tuple(v.shape for v in final.outputs), tuple(source.consts))
