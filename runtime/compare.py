"""adjit.compare: the same computation built two or three ways, side by side.

The traced graph (run the Python function on tracers, JAX-style), the recorded one (run it
eagerly on `adjit.Tensor`s that require grad and join what they recorded, PyTorch-style)
and the declared one (build the expression from declared variables, Theano/TensorFlow-1
style) are each put in canonical form (`passes.canonical`) and printed next to each other,
with whether they are identical, a diff where they are not, and for each way the time to
build, to compile (value_and_grad where the output is a float scalar, else jit) and to
run, and the number of equations.

The recorded way needs no second function: numpy code runs on tensors through the numpy
protocols, so `fn` itself is called on tensors (`recorded=` takes another callable, or
False to leave the way out). The declared way needs its own builder (`declared=`), since
declared variables are values of a graph under construction, not arrays.
"""
from __future__ import annotations

import difflib
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from adjit.ir import ArrayType, Graph, Var
from adjit.ir.core import dtype_name
from adjit.ir.errors import AdjitError
from adjit.passes.canonical import canonicalize
from adjit.tracer import explicit as ex
from adjit.tracer import trace
from adjit.tracer.trace import Traced

from .background import Background
from .compiler import Specialization, build


@dataclass
class Way:
    name: str
    graph: Graph
    canonical: Graph
    gradient: Graph | None
    build_s: float
    compile_s: float = 0.0
    run_s: float = 0.0
    spec: Specialization | None = field(default=None, repr=False)

    @property
    def nodes(self) -> int:
        return len(self.canonical.eqns)


@dataclass
class Comparison:
    name: str
    ways: list[Way]

    @property
    def identical(self) -> bool:
        texts = {str(w.canonical) for w in self.ways}
        return len(texts) == 1

    @property
    def gradients_identical(self) -> bool:
        texts = {str(w.gradient) for w in self.ways}
        return len(texts) == 1

    notes: list[str] = field(default_factory=list)

    def diff(self) -> str:
        """A unified diff against the first way, for each way that differs from it."""
        a = self.ways[0]
        out = []
        for b in self.ways[1:]:
            if str(b.canonical) != str(a.canonical):
                out.extend(difflib.unified_diff(str(a.canonical).splitlines(),
                                                str(b.canonical).splitlines(), a.name,
                                                b.name, lineterm=""))
        return "\n".join(out)

    def __str__(self) -> str:
        width = max(40, *(len(ln) for w in self.ways for ln in str(w.canonical).splitlines()))
        head = "".join(w.name.ljust(width + 3) for w in self.ways)
        lines = [f"adjit.compare: {self.name}", "", "  " + " " * 10 + head.rstrip()]
        rows = [("build", lambda w: _time(w.build_s)), ("compile", lambda w: _time(w.compile_s)),
                ("run", lambda w: _time(w.run_s)), ("nodes", lambda w: str(w.nodes))]
        for label, fmt in rows:
            lines.append("  " + label.ljust(10) + "".join(fmt(w).ljust(width + 3)
                                                           for w in self.ways).rstrip())
        verdict = "identical" if self.identical else "not identical"
        lines += ["", f"canonical IR: {verdict}"]
        cols = [str(w.canonical).splitlines() for w in self.ways]
        for row in range(max(len(c) for c in cols)):
            cells = [c[row] if row < len(c) else "" for c in cols]
            lines.append("  " + " | ".join(cell.ljust(width) for cell in cells).rstrip())
        if not self.identical:
            lines += ["", self.diff()]
        if all(w.gradient is not None for w in self.ways):
            gv = "identical" if self.gradients_identical else "not identical"
            lines += ["", f"gradient IR (canonical, after adjoint/prune/simplify): {gv}"]
        if self.notes:
            lines += [""] + self.notes
        return "\n".join(lines)


def _time(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.1f} us"


def _finish(way: Way, traced: Traced, args: tuple[Any, ...]) -> Way:
    g = traced.graph
    scalar = len(g.outputs) == 1 and g.outputs[0].type.ndim == 0 and g.outputs[0].type.is_float
    wrt = [i for i, v in enumerate(g.inputs) if v.type.is_float] if scalar else None
    arrays = [np.asarray(a) for a in args]
    t0 = time.perf_counter()
    way.spec = build(traced, wrt=wrt, static=(), n_args=len(g.inputs))
    way.spec.run(arrays)  # numba compiles on the first call: count it
    if type(way.spec.fn) is Background:  # compiling in the background: wait for it
        way.spec.fn.wait()
    way.compile_s = time.perf_counter() - t0
    if wrt is not None:
        way.gradient = canonicalize(way.spec.final)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 0.05:
        way.spec.run(arrays)
        n += 1
    way.run_s = (time.perf_counter() - t0) / n
    return way


def _recorded(run: Callable[..., Any], args: tuple[np.ndarray, ...],
              name: str) -> tuple[Graph, tuple[np.ndarray, ...]]:
    """The graph `run` records on tensors made from `args` (float ones require grad), with
    its inputs in the arguments' order, and the arrays of its further inputs (what else it
    read: a captured array)."""
    from adjit.tracer.factories import tensor
    from adjit.tracer.tensor import Tensor

    from .autograd import Joined

    ts = [tensor(a, requires_grad=a.dtype.kind == "f") for a in args]
    out = run(*ts)
    if not isinstance(out, Tensor) or out.grad_fn is None:
        raise TypeError("it returned no recorded tensor (a tensor computed from its "
                        "arguments)")
    joined = Joined([out])
    inputs = [joined.inputs[joined.ext_index[id(t)]] if id(t) in joined.ext_index
              else Var(ArrayType(dtype_name(t.dtype), t.shape)) for t in ts]
    # anything else it read (a captured array) is an input after the arguments, as in traced
    extra = [(v, t) for v, t in zip(joined.inputs, joined.externals, strict=True)
             if all(v is not w for w in inputs)]
    graph = Graph(name, tuple(inputs) + tuple(v for v, _ in extra), tuple(joined.eqns),
                  (joined.value(out),))
    return graph, tuple(np.asarray(t) for _, t in extra)


def compare(fn: Callable[..., Any], *example_args: Any,
            declared: Callable[..., Any] | None = None,
            recorded: bool | Callable[..., Any] = True) -> Comparison:
    """Build `fn` traced, recorded (`fn` itself, or the `recorded` callable, run on tensors)
    and, with `declared` (which receives one declared variable per argument), declared;
    compare their canonical IR, build, compile and run times."""
    import adjit.codegen.compile  # noqa: F401  (load numba first: its import is no one's compile)

    from .api import Transformed

    if isinstance(fn, Transformed):  # compare the function itself, not its gradient
        fn = fn.fun
    args = tuple(np.asarray(a) if not isinstance(a, np.ndarray) else a for a in example_args)
    ways = []
    notes = []
    t0 = time.perf_counter()
    traced = trace(fn, args)
    ways.append(_finish(Way("traced", traced.graph, canonicalize(traced.graph), None,
                            time.perf_counter() - t0), traced, args))
    if declared is not None:
        from adjit.tracer.trace import param_names

        names = param_names(fn, len(args))
        t0 = time.perf_counter()
        with ex.declaring() as dg:
            vs = [ex.var(nm, a.shape, a.dtype) for nm, a in zip(names, args, strict=True)]
            out = declared(*vs)
            g = dg.slice_for([out.val], [v.val for v in vs], name=traced.graph.name)
        build_s = time.perf_counter() - t0
        d_traced = Traced(g, None, tuple(False for _ in args))
        ways.append(_finish(Way("declared", g, canonicalize(g), None, build_s), d_traced, args))
    if recorded is not False:
        run = fn if recorded is True else recorded
        t0 = time.perf_counter()
        try:
            g, extra = _recorded(run, args, traced.graph.name)
        except (AdjitError, TypeError, ValueError, RuntimeError) as e:
            # numpy code that does not run on tensors: said, not hidden
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            notes.append(f"recorded: not built, the function did not run on adjit.Tensor "
                         f"arguments: {first}")
        else:
            build_s = time.perf_counter() - t0
            r_traced = Traced(g, None, tuple(False for _ in g.inputs))
            ways.append(_finish(Way("recorded", g, canonicalize(g), None, build_s), r_traced,
                                args + extra))
    return Comparison(getattr(fn, "__name__", "f"), ways, notes)
