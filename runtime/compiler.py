"""From a traced graph to a callable specialization: passes, fusion, codegen, compile.

A `Specialization` is one compiled version of a user function for one argument
signature. It keeps every stage for inspection and converts arguments and results
at the boundary (Python scalars in, numpy scalars and arrays out, dtypes kept).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from adjit.ir import Graph
from adjit.passes.pipeline import DIFFERENTIATE, OPTIMIZE, Request, Stage, Stages, run
from adjit.tracer import Traced

from . import background, buffers, config, log
from .gcpause import gc_paused


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
    target: str = "cpu"
    program: Any = None  # the loop IR (ir/loops.py) a non-CPU target was generated from

    def run(self, args: Sequence[Any]) -> list[Any]:
        """Call the compiled function; returns one numpy value per graph output (device
        arrays from a device target called with device arrays)."""
        if self.target != "cpu":
            return self._run_device(args)
        call_args = [a if type(a) is np.ndarray and a.dtype == dt else np.asarray(a, dtype=dt)
                     for a, dt in zip(args, self.in_dtypes, strict=True) if dt is not None]
        raw = self.fn(*call_args, *self.consts)
        if provisional(self.fn) and self.fn.compiled is not None:
            self.fn = self.fn.compiled
        return [r if type(r) is np.ndarray and r.dtype == dt else np.asarray(r, dtype=dt)
                for r, dt in zip(raw, self.out_dtypes, strict=True)]


    def _run_device(self, args: Sequence[Any]) -> list[Any]:
        from adjit.codegen.devices import is_device_array

        call_args = [a if is_device_array(a) else np.asarray(a, dtype=dt)
                     for a, dt in zip(args, self.in_dtypes, strict=True) if dt is not None]
        raw = self.fn(*call_args, *self.consts)
        return [r if is_device_array(r) else np.asarray(r, dtype=dt)
                for r, dt in zip(raw, self.out_dtypes, strict=True)]


class Tiered:
    """A small function's generated source run as plain Python for its first calls, then
    compiled by numba (ADJIT_COMPILE_AFTER). Both run the same text, loop for loop, so they
    compute the same numbers; numba's compile (a few hundred milliseconds even for `x * y`)
    is paid only by functions called again. Attributes (`__source__`, numba's `signatures`)
    are the compiled function's."""

    def __init__(self, python: Callable[..., Any], compile: Callable[[], Any],
                 calls_left: int) -> None:
        self.python = python
        self._compile = compile
        self.calls_left = calls_left
        self.compiled: Any = None

    def __call__(self, *args: Any) -> Any:
        if self.compiled is not None:
            return self.compiled(*args)
        if self.calls_left > 0:
            self.calls_left -= 1
            try:
                with np.errstate(all="ignore"):  # IEEE without warnings, as numba computes
                    return self.python(*args)
            except (ZeroDivisionError, OverflowError):
                # Python floats raise where numba's give inf or nan (0.0 / 0.0, the mean of
                # an empty axis; 10.0 ** 400): the compiled function answers
                pass
        return self.compile()(*args)

    def compile(self) -> Any:
        if self.compiled is None:
            self.compiled = self._compile()
        return self.compiled

    def __getattr__(self, name: str) -> Any:
        return getattr(self.compile(), name)


class Guarded:
    """A function whose vectorized loops use vector forms exact only on part of their domain
    (sin and cos below 2^20: `ScalarCode.guard`), returning a flag after its outputs; where
    the flag is set, the call is answered by the same graph emitted without them (libm's sin,
    scalar loops), compiled on first need. The generated function allocates its outputs and
    writes nothing else, so running it again is safe."""

    def __init__(self, fast: Callable[..., Any], exact: Callable[[], Any]) -> None:
        self.fast = fast
        self._exact = exact
        self.exact: Any = None

    def __call__(self, *args: Any) -> Any:
        *outs, out_of_range = self.fast(*args)
        if not out_of_range:
            return tuple(outs)
        if self.exact is None:
            self.exact = self._exact()
        return self.exact(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fast, name)


def provisional(fn: Any) -> bool:
    """Whether `fn` answers calls before its numba kernel is compiled (then `fn.compiled`)."""
    return type(fn) in (Tiered, background.Background)


# Element operations (summed output sizes) up to which a function's first call runs as plain
# Python: about a millisecond or two of interpreted loops, against numba's compile of hundreds.
_SMALL_WORK = 20_000


def _small(g: Graph) -> bool:
    """Little array work, no control flow (a loop's trip count is not known here) and no
    float32 (numba calls the C library's float32 functions, expf, which Python cannot)."""
    work = 0
    for eqn in g.eqns:
        if any(v.dtype == "f32" for v in (*eqn.inputs, *eqn.outputs)):
            return False
        if any(isinstance(p, Graph) or (isinstance(p, tuple) and any(isinstance(q, Graph)
                                                                      for q in p))
               for _, p in eqn.params):
            return False
        work += sum(v.type.size for v in eqn.outputs)
        if work > _SMALL_WORK:
            return False
    return True


def build(traced: Traced, *, wrt: Sequence[int] | None, static: Sequence[int], n_args: int,
          seed: str = "auto", also: Sequence[Any] = (), given: Sequence[Any] = (),
          reason: str = "", trace_s: float | None = None,
          pipeline: Sequence[Stage] | None = None, target: str = "cpu") -> Specialization:
    """Compile a traced function (its gradient wrt inputs `wrt`, and the cotangents of the
    values in `also`, when `wrt` is given; values of `given` already computed are read from
    inputs appended after the others: see passes/feed.py and `stages.fed`). `reason` (first
    call, new shapes or dtypes, a guard that failed, ...) and `trace_s` (how long tracing
    took) are only reported: with ADJIT_LOG=compile or the "adjit" logger at INFO
    (runtime/log.py). `pipeline` defaults to DIFFERENTIATE with `wrt`, OPTIMIZE without.
    `target="cuda"`: the plan is lowered to the loop IR (passes/lower.py) and printed as
    numba.cuda kernels (codegen/cuda.py)."""
    # Imported here so that `import adjit` stays cheap for IR-only use (numba loads on first
    # compile).
    with gc_paused():  # (the first compile imports the code generator: runtime/gcpause.py)
        from adjit.codegen import parallel, source_cache
        from adjit.codegen.compile import compile_source
        from adjit.passes.fuse import fuse

    log.configure()
    t0 = time.perf_counter()
    checks = config.checks()
    dump = config.dump_after()
    g = traced.graph
    if pipeline is None:
        pipeline = DIFFERENTIATE if wrt is not None else OPTIMIZE
    request = Request(wrt if wrt is not None else (), seed, also, given)
    with gc_paused():  # adjit's own passes: work and garbage in proportion to the graph
        stages = run(pipeline, g, request, checks=checks, dump=dump)
        plan = fuse(stages.final)
    final = stages.final
    n_args += len(stages.fed)
    if "fuse" in dump:
        print(f"--- kernel plan ---\n{plan}")
    t1 = time.perf_counter()
    in_types = iter(final.inputs)
    in_dtypes = tuple(None if i in static else next(in_types).type.np_dtype
                      for i in range(n_args))
    out_dtypes = tuple(v.type.np_dtype for v in final.outputs)
    out_shapes = tuple(v.shape for v in final.outputs)
    if target != "cpu":
        from adjit.codegen.cuda_runtime import compile_program
        from adjit.passes.lower import lower

        program = lower(final, plan, f"{final.name}_kernel")
        device_fn = compile_program(program, target)
        return Specialization(traced, stages, final, plan, device_fn.module, device_fn,
                              in_dtypes, out_dtypes, out_shapes, (), target=target,
                              program=program)  # the program holds its array constants
    reuse = config.reuse_min_bytes()
    nojit = config.nojit()
    folder = config.cache_folder()
    options = {"tape_limit": config.max_tape_bytes(), "split_lines": config.split_lines(),
               "reuse_bytes": reuse}

    def generate() -> Any:
        from adjit.codegen.cpu import emit_cpu

        with gc_paused():
            return emit_cpu(final, plan, f"{final.name}_kernel", guards=True, **options)

    # a warm start finds the text generated from this graph before (codegen/source_cache.py)
    source = source_cache.cached(folder, final, f"{final.name}_kernel",
                                 {**options, "guards": True}, generate)

    def exact() -> Any:  # the same graph without guarded vector forms (`Guarded`)
        from adjit.codegen.cpu import emit_cpu

        plain = emit_cpu(final, plan, f"{final.name}_kernel", **options)
        assert plain.reused == source.reused, "both forms take the same buffers"
        return compile_source(plain, folder, jit=not nojit,
                              worker=config.compile_worker() and not nojit)

    def kernel(jit: bool) -> Any:
        """The generated function, compiled by numba (`jit`) or run as Python: a guarded one
        answers out-of-range calls with `exact`; one with parallel loops takes the lock its
        threading layer may need (codegen/parallel.py); one whose large outputs are
        parameters is passed buffers reused across calls (runtime/buffers.py)."""
        fn = compile_source(source, folder, jit=jit, worker=jit and config.compile_worker())
        if source.guarded:
            fn = Guarded(fn, exact)
        if jit and source.parallel and parallel.serialize():
            fn = parallel.Serialized(fn)
        if source.reused:
            fn = buffers.Pooled(fn, buffers.BufferPool(source.reused, config.reuse_max_bytes(),
                                                       poison=checks))
        return fn

    def compile_now() -> Any:
        return kernel(not nojit)

    def compile_for_args(args: tuple[Any, ...]) -> Any:
        from adjit.codegen.compile import compile_for

        fn = compile_now()
        if type(fn) is buffers.Pooled:  # compiled for its buffers' types too
            compile_for(fn.fn, *args, *fn.pool.specimens())
            return fn
        return compile_for(fn, *args)

    after = config.compile_after()
    # a cache miss: the interpreter answers while numba compiles (runtime/background.py)
    in_background = (not nojit and config.background_compile()
                     and background.eligible(final, source, folder))
    if not nojit and after > 1 and _small(final):
        # a function called once never starts numba; called again, it compiles (in the
        # background on a cache miss, so a one-off call leaves no compilation to wait for at
        # exit)
        later = ((lambda: background.Background(final, compile_for_args)) if in_background
                 else compile_now)
        fn: Any = Tiered(kernel(False), later, after - 1)
    elif in_background:
        fn = background.Background(final, compile_for_args)
    else:
        fn = compile_now()
    t2 = time.perf_counter()
    if log.log.isEnabledFor(logging.INFO):
        traced_in = f"trace {trace_s * 1e3:.1f} ms, " if trace_s is not None else ""
        log.log.info("compile %s [%s]: %spasses %.1f ms, codegen %.1f ms%s", log.signature(g),
                     reason or "no reason given", traced_in, (t1 - t0) * 1e3, (t2 - t1) * 1e3,
                     " (plain Python: ADJIT_NOJIT)" if nojit else
                     "; numba compiles in the background, the interpreter answers meanwhile"
                     if type(fn) is background.Background else "; numba runs at the first call")
    return Specialization(traced, stages, final, plan, source, fn, in_dtypes, out_dtypes,
                          out_shapes, tuple(source.consts))
