"""The numpy reference interpreter: the semantics every pass and backend is tested against."""
from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .core import Graph, Lit, Value
from .errors import IRError
from .primitive import PRIMS

# `INTERRUPT.check`, when a thread sets it, is called before each primitive (sub-graphs'
# included): runtime/background.py stops an interpretation whose compiled kernel is ready.
INTERRUPT = threading.local()


def evaluate(graph: Graph, *args: Any) -> tuple[np.ndarray, ...]:
    """Run `graph` on numpy arrays; returns a tuple with one array per output."""
    if len(args) != len(graph.inputs):
        raise IRError(f"graph {graph.name} takes {len(graph.inputs)} inputs, got {len(args)}")
    env: dict[int, np.ndarray] = {}
    for var, a in zip(graph.inputs, args, strict=True):
        arr = np.asarray(a)
        if arr.shape != var.shape:
            raise IRError(f"input {var.name} expects shape {var.shape}, got {arr.shape}")
        env[id(var)] = arr.astype(var.type.np_dtype, copy=False)

    def read(v: Value) -> np.ndarray:
        return v.value if isinstance(v, Lit) else env[id(v)]

    check = getattr(INTERRUPT, "check", None)
    with np.errstate(all="ignore"):
        for eqn in graph.eqns:
            if check is not None:
                check()
            result = PRIMS[eqn.prim].impl(*[read(v) for v in eqn.inputs], **dict(eqn.params))
            results = result if isinstance(result, tuple) else (result,)
            for var, r in zip(eqn.outputs, results, strict=True):
                env[id(var)] = np.asarray(r, dtype=var.type.np_dtype).reshape(var.shape)
    return tuple(np.array(read(v)) for v in graph.outputs)
