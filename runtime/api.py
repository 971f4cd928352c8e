"""The public transformations: grad, value_and_grad, jit, vjp, stop_gradient.

Each returns a `Transformed` callable that traces the user's function on first use
for each argument signature (shapes, dtypes, Python-scalar kinds and the values of
static arguments), compiles it, and keeps the specialization in a dictionary, so a
later call with the same signature costs one dictionary lookup plus numba's dispatch.
"""
from __future__ import annotations

import functools
import time
from typing import Any, Callable, Sequence

import numpy as np
from adjit.ir.errors import AdjitError, NotDifferentiable, TraceError
from adjit.tracer import Tracer, trace, unflatten
from adjit.tracer.loc import user_loc

from .compiler import Specialization, build

Argnums = int | Sequence[int]
MAX_GUARDED = 8  # specializations kept per signature when guards tell them apart


def _boxer(shape: tuple[int, ...], dtype: np.dtype) -> Callable[[Any, bool], Any]:
    """Results as numpy gives them: a 0-d value is a numpy scalar (a 0-d array for a
    gradient, which has its argument's shape); numba returns 0-d results as Python numbers."""
    if shape:
        return lambda r, is_grad: r
    scalar = dtype.type
    return lambda r, is_grad: np.asarray(r, dtype) if is_grad else scalar(r)


def _sig(a: Any) -> Any:
    t = type(a)
    if t is np.ndarray:
        return (a.shape, a.dtype.char)
    if t is float:
        return t
    if t is int or t is bool:
        return (t, a)  # Python ints and bools are static: their value is part of the key
    if isinstance(a, np.generic):
        return ((), a.dtype.char)
    if isinstance(a, Tracer):
        return ("tracer", id(a))
    if isinstance(a, np.ndarray):
        return (a.shape, a.dtype.char)
    try:
        arr = np.asarray(a)
    except Exception:
        return ("?", type(a))
    return (arr.shape, arr.dtype.char)


class Transformed:
    """A compiled transformation of `fun` (what `@adjit.grad` returns)."""

    def __init__(self, fun: Callable[..., Any], mode: str, argnums: Argnums = 0,
                 static_argnums: Argnums = ()) -> None:
        if not callable(fun):
            raise TypeError(f"adjit.{mode} expects a function, got {type(fun).__name__}")
        self.fun = fun
        self.mode = mode
        self.single = isinstance(argnums, int)
        self.argnums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        self.static = ((static_argnums,) if isinstance(static_argnums, int)
                       else tuple(static_argnums))
        self.specializations: dict[Any, Specialization] = {}
        self._callers: dict[Any, Callable[..., Any]] = {}
        self.compilations = 0
        functools.update_wrapper(self, fun)

    # ---- calling -------------------------------------------------------------------------------
    def _key(self, args: tuple[Any, ...]) -> Any:
        if self.static:
            return tuple((("static", a) if i in self.static else _sig(a))
                         for i, a in enumerate(args))
        return tuple([_sig(a) for a in args])

    def specialize(self, args: tuple[Any, ...]) -> Specialization:
        key = self._key(args)
        spec = self.specializations.get(key)
        why = "first call" if not self.specializations else "new shapes, dtypes or static values"
        if spec is not None and spec.traced.guards and not spec.run(args)[spec.traced.n_outputs]:
            spec, why = None, "a guard failed"  # traced under guards these arguments break
        if spec is None:
            spec = self._compile(args, why)
            self.specializations[key] = spec
        return spec

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            args = self._positional(args, kwargs)
        caller = self._callers.get(self._key(args))
        if caller is not None:
            return caller(args)
        return self._first_call(args)

    def _positional(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """Keyword arguments in their positions (`grad(loss)(w, X=X, y=y)`); parameters
        between them that were left out take their defaults. argnums count positions."""
        import inspect

        try:
            bound = inspect.signature(self.fun).bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{getattr(self.fun, '__name__', 'function')}(): {e}") from None
        bound.apply_defaults()
        if bound.kwargs:
            raise TraceError(f"adjit.{self.mode}: keyword-only arguments "
                             f"({', '.join(bound.kwargs)}) are not supported",
                             loc=user_loc(3), hint="make them positional, or bind them with "
                                                   "functools.partial before transforming")
        return tuple(bound.args)

    def _first_call(self, args: tuple[Any, ...]) -> Any:
        if any(isinstance(a, Tracer) for a in args):
            return self._inline(args)
        try:
            spec = self.specialize(args)
        except AdjitError as e:
            raise e.with_traceback(None) from None
        caller = self._make_caller(spec, args)
        self._callers[self._key(args)] = caller
        return caller(args)

    def _make_caller(self, spec: Specialization, args: tuple[Any, ...]) -> Callable[..., Any]:
        """The per-signature call path: everything decidable at compile time is decided here,
        so a call costs the key, numba's dispatch and the boxing of results."""
        if spec.traced.guards:
            return self._guarded_caller(self._key(args))
        fn, consts = spec.fn, spec.consts
        direct = not consts and all(type(a) is np.ndarray and a.dtype == dt
                                    for a, dt in zip(args, spec.in_dtypes, strict=True))
        if not direct:
            return lambda a: self._assemble(spec, spec.run(a))
        boxes = [_boxer(shape, dt) for shape, dt in zip(spec.out_shapes, spec.out_dtypes,
                                                          strict=True)]
        n_out = len(spec.traced.graph.outputs)
        if self.mode == "grad" and self.single:
            box = boxes[n_out]
            return lambda a: box(fn(*a)[n_out], True)
        if self.mode == "value_and_grad" and self.single and n_out == 1:
            box_v, box_g = boxes[0], boxes[1]

            def value_and_grad_call(a: tuple[Any, ...]) -> Any:
                v, g = fn(*a)
                return box_v(v, False), box_g(g, True)

            return value_and_grad_call
        if self.mode in ("grad", "value_and_grad") and n_out == 1:
            box_v, grad_boxes = boxes[0], boxes[1:]
            with_value = self.mode == "value_and_grad"

            def tuple_call(a: tuple[Any, ...]) -> Any:
                r = fn(*a)
                grads = tuple([bx(g, True) for bx, g in zip(grad_boxes, r[1:], strict=True)])
                return (box_v(r[0], False), grads) if with_value else grads

            return tuple_call
        return lambda a: self._assemble(spec, spec.run(a))

    def _guarded_caller(self, key: Any) -> Callable[..., Any]:
        """Specializations that hold only while their guards do: run the newest one whose
        guards hold for these arguments; when none does, trace again (tracer/guards.py)."""
        tried: list[Specialization] = [self.specializations[key]]

        def call(a: tuple[Any, ...]) -> Any:
            for spec in reversed(tried):
                outs = spec.run(a)
                if outs[spec.traced.n_outputs]:
                    return self._assemble(spec, outs)
            try:
                spec = self._compile(a, "a guard failed")
            except AdjitError as e:
                raise e.with_traceback(None) from None
            self.specializations[key] = spec
            tried.append(spec)
            del tried[:-MAX_GUARDED]
            # Traced on these very arguments, so its guards hold for them, even where the
            # compiled code rounds a guarded value differently from the interpreter that
            # computed it while tracing (checking again would retrace forever).
            return self._assemble(spec, spec.run(a))

        return call

    def _inline(self, args: tuple[Any, ...]) -> Any:
        """Called on tracers (inside another transformation, e.g. grad of grad): trace and
        differentiate here, then inline the resulting graph into the outer trace, so the
        outer transformation differentiates the derivative."""
        from adjit.ir.builder import inline
        from adjit.passes.pipeline import differentiate, optimize
        from adjit.tracer.numpy_api import _t

        tracers = [_t(a) if type(a) not in (int, bool) else a for a in args]
        examples = tuple(a if not isinstance(a, Tracer) else
                         np.zeros(a.shape, a.dtype) for a in tracers)
        primals = examples[:-1] if self.mode == "vjp" else examples
        static = self._static_positions(primals)
        wrt = self._wrt(primals, static) if self.mode != "jit" else None
        traced = trace(self.fun, primals, static, concrete=False)
        if wrt is not None:
            self._check_scalar(traced)
            g = differentiate(traced.graph, wrt, seed="inputs" if self.mode == "vjp"
                              else "auto").simplified
        else:
            g = optimize(traced.graph).simplified
        values = [t.val for i, t in enumerate(tracers) if i not in static]
        outs = [Tracer(v) for v in inline(g, values)]
        return self._assemble(_Inlined(traced), outs)

    # ---- compiling -------------------------------------------------------------------------------
    def _wrt(self, args: tuple[Any, ...], static: tuple[int, ...]) -> list[int]:
        """Graph input positions of the differentiated arguments (statics are not inputs)."""
        for i in self.argnums:
            if not -len(args) <= i < len(args):
                raise TraceError(f"argnums {i} is out of range for {len(args)} arguments",
                                 loc=user_loc(4))
        argnums = [i % len(args) for i in self.argnums]
        for i in argnums:
            if i in self.static:
                raise TraceError(f"argument {i} is both differentiated and static",
                                 loc=user_loc(4))
            a = args[i]
            kind = np.asarray(a).dtype.kind if not isinstance(a, (bool, int, float)) else (
                "b" if isinstance(a, bool) else "i" if isinstance(a, int) else "f")
            if kind != "f":
                what = {"b": "boolean", "i": "integer", "u": "integer"}.get(kind, kind)
                raise NotDifferentiable(
                    f"adjit.{self.mode} cannot differentiate with respect to argument {i}, "
                    f"which is {what} ({type(a).__name__})", loc=user_loc(4),
                    hint="pass it as a float array (e.g. np.asarray(x, dtype=float)), or leave "
                         "it out of argnums")
        positions = [i for i in range(len(args)) if i not in static]
        return [positions.index(i) for i in argnums]

    def _static_positions(self, args: tuple[Any, ...]) -> tuple[int, ...]:
        """Declared static arguments, and every Python int or bool (sizes, counts, indices)."""
        auto = [i for i, a in enumerate(args) if type(a) in (int, bool) and i not in self.argnums]
        return tuple(sorted(set(self.static) | set(auto)))

    def _compile(self, args: tuple[Any, ...], why: str = "") -> Specialization:
        # A vjp's last argument is the output cotangent, an input of the joint graph only.
        primals = args[:-1] if self.mode == "vjp" else args
        static = self._static_positions(primals)
        wrt = self._wrt(primals, static) if self.mode != "jit" else None
        start = time.perf_counter()
        traced = trace(self.fun, primals, static)
        trace_s = time.perf_counter() - start
        if wrt is not None:
            self._check_scalar(traced)
            _check_no_cut(traced, wrt)
        seed = "inputs" if self.mode == "vjp" else "auto"
        spec = build(traced, wrt=wrt, static=static, n_args=len(args), seed=seed, reason=why,
                     trace_s=trace_s)
        self.compilations += 1
        return spec

    def _check_scalar(self, traced: Any) -> None:
        if self.mode == "vjp":
            return
        outs = traced.graph.outputs[:traced.n_outputs]
        if len(outs) != 1 or outs[0].type.ndim != 0 or not outs[0].type.is_float:
            desc = ", ".join(str(o.type) for o in outs)
            raise TraceError(
                f"adjit.{self.mode} needs a function returning one float scalar, but "
                f"{getattr(self.fun, '__name__', 'the function')} returns {desc}",
                loc=user_loc(5), hint="reduce the output (e.g. .sum()), or use adjit.vjp "
                                      "for non-scalar outputs")

    def _assemble(self, spec: Any, outs: list[Any]) -> Any:
        if self.mode == "jit":
            return unflatten(spec.traced.out_tree, [_scalar(o) for o in outs])
        n_out = len(spec.traced.graph.outputs)  # the function's outputs, then any guard check
        n_user = spec.traced.n_outputs
        value = _scalar(outs[0]) if n_user == 1 else tuple(_scalar(o) for o in outs[:n_user])
        grads = outs[n_out:]
        g = grads[0] if self.single else tuple(grads)
        if self.mode == "grad":
            return g
        return value, g


def _check_no_cut(traced: Any, wrt: Sequence[int]) -> None:
    from adjit.tracer.guards import derivative_cut

    cut = derivative_cut(traced.graph, traced.guards, wrt)
    if cut is not None:
        raise TraceError(
            f"{cut.what} turns a traced value that depends on a differentiated argument into "
            f"a Python number ({cut.seen!r}), so its derivative would be lost", loc=cut.loc,
            hint="keep it an array. numpy calls float() itself in np.mean of a Python list of "
                 "traced values (use np.mean(np.stack(values))) and in np.asarray(x, "
                 "dtype=float) (use x.astype(float)). Wrap the value in adjit.stop_gradient "
                 "if a constant is meant")


class _Inlined:
    """What `_assemble` needs of a specialization when the result is inlined, not compiled."""

    def __init__(self, traced: Any) -> None:
        self.traced = traced


def _scalar(a: Any) -> Any:
    if isinstance(a, Tracer):
        return a
    return a[()] if a.ndim == 0 else a


def _transform(mode: str, fun: Callable[..., Any] | None, argnums: Argnums,
               static_argnums: Argnums) -> Any:
    if fun is None:
        return lambda f: Transformed(f, mode, argnums, static_argnums)
    return Transformed(fun, mode, argnums, static_argnums)


def grad(fun: Callable[..., Any] | None = None, argnums: Argnums = 0, *,
         static_argnums: Argnums = ()) -> Any:
    """The gradient of a scalar function, compiled: `@adjit.grad`, or
    `adjit.grad(f, argnums=(0, 1))` for a tuple of gradients."""
    return _transform("grad", fun, argnums, static_argnums)


def value_and_grad(fun: Callable[..., Any] | None = None, argnums: Argnums = 0, *,
                   static_argnums: Argnums = ()) -> Any:
    """Like `grad`, returning `(value, gradient)` from one fused forward+backward pass."""
    return _transform("value_and_grad", fun, argnums, static_argnums)


def jit(fun: Callable[..., Any] | None = None, *, static_argnums: Argnums = ()) -> Any:
    """The function itself, compiled (no derivative)."""
    return _transform("jit", fun, (), static_argnums)


class _VJP(Transformed):
    def _assemble(self, spec: Any, outs: list[Any]) -> Any:
        n_out = len(spec.traced.graph.outputs)
        grads = outs[n_out:]
        return grads[0] if self.single else tuple(grads)


def vjp(fun: Callable[..., Any], *primals: Any, argnums: Argnums | None = None) -> Any:
    """`(out, vjp_fn)`: `vjp_fn(ct)` is the vector-Jacobian product of `fun` at `primals`."""
    nums = tuple(range(len(primals))) if argnums is None else argnums
    fwd = Transformed(fun, "jit")
    out = fwd(*primals)
    back = _VJP(fun, "vjp", nums)

    def vjp_fn(ct: Any) -> Any:
        res = back(*primals, np.asarray(ct, dtype=np.asarray(out).dtype))
        return res if isinstance(res, tuple) else (res,)

    return out, vjp_fn


def stop_gradient(x: Any) -> Any:
    """x, as a constant for differentiation: no gradient flows through it."""
    if isinstance(x, Tracer):
        from adjit.tracer.numpy_api import stop_gradient as traced_stop

        return traced_stop(x)
    return x
