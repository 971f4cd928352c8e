"""adjit.explicit: the declared (Theano/TensorFlow-1) API, with compilation.

Everything of `tracer.explicit` (var, constant, gradients, declaring, numpy-named
functions) and `tracer.sympy_bridge` (from_sympy, to_sympy), plus `function`, which
compiles declared outputs through the same passes and code generator as `adjit.jit`.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from adjit.ir.errors import AdjitError, ShapeError, TraceError
from adjit.tracer import explicit as _ex
from adjit.tracer import pytree
from adjit.tracer.explicit import DeclaredGraph, Sym, constant, current, declaring, gradients, var
from adjit.tracer.loc import user_loc
from adjit.tracer.sympy_bridge import from_sympy, to_sympy
from adjit.tracer.trace import Traced

from .compiler import Specialization, build

__all__ = ["DeclaredGraph", "Sym", "constant", "current", "declaring", "from_sympy",
           "function", "gradients", "to_sympy", "var"]


class Function:
    """Declared outputs compiled once; call it with arrays for the declared inputs."""

    def __init__(self, inputs: Sequence[Sym], outputs: Sym | Sequence[Sym]) -> None:
        single = isinstance(outputs, Sym)
        outs = [outputs] if single else list(outputs)
        ins = list(inputs)
        for s in ins + outs:
            if not isinstance(s, Sym):
                raise TraceError(f"function: {s!r} is not a declared value", loc=user_loc(3))
        owner = _ex._owner(ins + outs)
        self.graph = owner.slice_for([o.val for o in outs], [i.val for i in ins], "function")
        self.inputs = ins
        tree = None if single else pytree.flatten(tuple(range(len(outs))))[1]
        traced = Traced(self.graph, tree, tuple(False for _ in ins))
        self.spec: Specialization = build(traced, wrt=None, static=(), n_args=len(ins))

    def __call__(self, *args: Any) -> Any:
        if len(args) != len(self.inputs):
            raise TraceError(f"this function takes {len(self.inputs)} arguments "
                             f"({', '.join(i.name or '?' for i in self.inputs)}), got {len(args)}",
                             loc=user_loc(2))
        arrays = []
        for s, a in zip(self.inputs, args, strict=True):
            arr = np.asarray(a, dtype=s.val.type.np_dtype)
            if arr.shape != s.val.shape:
                raise ShapeError(f"{s.name} was declared {s.val.type}, got shape {arr.shape}",
                                 loc=user_loc(2))
            arrays.append(arr)
        try:
            outs = self.spec.run(arrays)
        except AdjitError as e:
            raise e.with_traceback(None) from None
        vals = [o[()] if o.ndim == 0 else o for o in outs]
        tree = self.spec.traced.out_tree
        return vals[0] if tree is None else tuple(vals)


def function(inputs: Sequence[Sym], outputs: Sym | Sequence[Sym]) -> Function:
    """Compile declared `outputs` as a function of the declared `inputs`."""
    return Function(inputs, outputs)


def __getattr__(name: str) -> Any:
    return getattr(_ex, name)
