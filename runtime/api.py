"""The public transformations: grad, value_and_grad, jit, vjp, stop_gradient.

Each returns a `Transformed` callable that traces the user's function on first use for each
signature, compiles it, and keeps the specialization, so a later call with the same
signature costs a key, one dictionary lookup and numba's dispatch. The key is made of the
arguments' shapes and dtypes, the values of static arguments (Python ints and bools, and
`static_argnums`), and the tokens of the state the function captured (tracer/captures.py):
captured float arrays are passed to the compiled code at every call, so it never computes
with stale values; anything else captured that changes makes it trace again.

Transformations compose like the mathematical functions they stand for: called on tracers
(inside another transformation's trace) a `Transformed` traces and differentiates its
function there and inlines the resulting graph, so the outer one differentiates that.

(Over 500 lines: `Transformed`'s keys, tracing, compiling and inlining share its
per-signature state; its call paths and the boxing of results are runtime/callers.py.)
"""
from __future__ import annotations

import functools
import sys
import time
import types
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from adjit.ir.builder import _BUILDER, BUILDING, tracing
from adjit.ir.errors import AdjitError, NotDifferentiable, OutputTypeError, TraceError
from adjit.tracer import Tracer, pytree, trace
from adjit.tracer.captures import Probe, discover
from adjit.tracer.loc import user_loc

from .arguments import (
    host_copy,
    as_index,
    check_argument,
    describe_outputs,
    dtype_words,
    sig,
)
from .callers import _NO_PROBE, Callers, _holds, _truth
from .compiler import Specialization, build
from .recompile import RecompileWatch
from .transforms import GRAD, JIT, VALUE_AND_GRAD, Transformation, named

Argnums = int | Sequence[int]


class Transformed(Callers):
    """A compiled transformation of `fun` (what `@adjit.grad` returns): `transform` (a
    `Transformation`, or its name) says what is built and returned."""

    def __init__(self, fun: Callable[..., Any], transform: Transformation | str,
                 argnums: Argnums = 0, static_argnums: Argnums = ()) -> None:
        self.transform = named(transform)
        if not callable(fun):
            raise TypeError(f"adjit.{self.mode} expects a function, got {type(fun).__name__}")
        self.fun = fun
        what = f"adjit.{self.mode}"
        self.single = not isinstance(argnums, (tuple, list))
        self.argnums = ((as_index(argnums, what),) if self.single
                        else tuple(as_index(n, what) for n in argnums))
        self.static = ((as_index(static_argnums, what),)
                       if not isinstance(static_argnums, (tuple, list))
                       else tuple(as_index(n, what) for n in static_argnums))
        self.specializations: OrderedDict[Any, Specialization] = OrderedDict()
        self._callers: OrderedDict[Any, Callable[..., Any]] = OrderedDict()
        self._probe: Probe | None = None  # what `fun` captures; found at the first call
        self._frozen: tuple[Probe, list[Any], Any] | None = None  # see `freeze_captures`
        self._bound: weakref.WeakKeyDictionary[Any, Transformed] | None = None
        self._watch = RecompileWatch(self)
        # The hot path of the commonest calls, native ndarray arguments and nothing captured:
        # the last such signature's caller, found without building a key (`_remember_fast`).
        # Its key is in the tuple, replaced whole, so a thread never pairs one signature's
        # shapes with another's caller.
        self._fast: tuple[Any, Any, Callable[..., Any], int, Any] | None = None
        self.compilations = 0
        # Name, docstring and module of `fun`, but never its __dict__: a Transformed of a
        # Transformed must keep its own `fun` and `transform`.
        functools.update_wrapper(self, fun, updated=())

    @property
    def mode(self) -> str:
        """The transformation's name ("grad", "jit", ...), as error messages spell it."""
        return self.transform.name

    # ---- binding, pickling -----------------------------------------------------------------------
    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """`@adjit.grad` on a method binds like a function: `model.loss(x)` differentiates
        `loss(model, x)` with respect to x, reading `model`'s attributes at every call."""
        if obj is None:
            return self
        if self._bound is None:
            self._bound = weakref.WeakKeyDictionary()
        try:
            return self._bound[obj]
        except (KeyError, TypeError):
            pass
        bound = self._rebind(types.MethodType(self.fun, obj))
        try:
            self._bound[obj] = bound
        except TypeError:  # not weak-referenceable or unhashable: bind afresh each time
            pass
        return bound

    def _rebind(self, fun: Callable[..., Any]) -> Transformed:
        new = object.__new__(type(self))
        Transformed.__init__(new, fun, self.transform, self.argnums[0] if self.single else
                             self.argnums, self.static)
        if getattr(self, "holomorphic", False):
            new.holomorphic = True
        if getattr(self, "has_aux", False):
            new.has_aux = True
        new.target = self.target
        return new

    def __reduce__(self) -> Any:
        """Pickles as its function and options (compiled code is rebuilt where unpickled);
        a decorated module-level function pickles by reference, as functions do."""
        module, qual = getattr(self, "__module__", None), getattr(self, "__qualname__", "")
        obj: Any = sys.modules.get(module) if module else None
        for part in qual.split("."):
            obj = getattr(obj, part, None)
        if obj is self:
            return (_lookup, (module, qual))
        return (_restore, (type(self), self.fun, self.mode,
                           self.argnums[0] if self.single else self.argnums, self.static))

    # ---- calling -------------------------------------------------------------------------------
    def _key(self, args: tuple[Any, ...]) -> Any:
        if self.static:
            return tuple((("static", a) if i in self.static else sig(a))
                         for i, a in enumerate(args))
        return tuple(map(sig, args))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        fast = self._fast
        if fast is not None and not kwargs and len(args) == fast[3]:
            if fast[3] == 1:  # (no loop for the commonest call: ~100 ns of its ~700)
                a = args[0]
                if type(a) is np.ndarray and a.dtype is fast[1] and a.shape == fast[0] \
                        and (not BUILDING[0] or _BUILDER.get() is None):
                    return fast[2](args, ())
            else:  # several arrays: each its traced shape and dtype (fast[0], fast[1])
                for a, shape, dt in zip(args, fast[0], fast[1]):  # noqa: B905 (same length)
                    if type(a) is not np.ndarray or a.dtype is not dt or a.shape != shape:
                        break
                else:
                    if not BUILDING[0] or _BUILDER.get() is None:
                        return fast[2](args, ())
        if kwargs:
            args = self._positional(args, kwargs)
        probe = self._probe
        if probe is None or _BUILDER.get() is not None:  # (tracing(), inlined: the hot path)
            return self._first_call(args)
        if probe.nodes:
            state = probe.resolve() if self._frozen is None else self._frozen[1:]
            if state is None:
                return self._first_call(args)
            vals, tokens = state
            key: Any = (self._key(args), tokens)
        else:
            vals, key = (), self._key(args)
        try:
            caller = self._callers.get(key)
        except TypeError:
            return self._first_call(args)  # an unhashable static argument: say so there
        if caller is not None:
            return caller(args, vals)
        return self._first_call(args)

    def _positional(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """Keyword arguments in their positions (`grad(loss)(w, X=X, y=y)`); parameters
        between them that were left out take their defaults. argnums count positions."""
        import inspect

        name = getattr(self.fun, "__name__", "function")
        try:
            sig_ = inspect.signature(self.fun)
        except (TypeError, ValueError):
            raise TypeError(f"{name}(): keyword arguments need a function whose signature "
                            f"Python can read") from None
        params = sig_.parameters
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            unknown = [k for k in kwargs if k not in params or
                       params[k].kind == params[k].POSITIONAL_ONLY]
            if unknown:
                raise TypeError(f"{name}{sig_} got an unexpected keyword argument "
                                f"{unknown[0]!r}")
        try:
            bound = sig_.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{name}{sig_}: {e}") from None
        bound.apply_defaults()
        if bound.kwargs:
            raise TraceError(f"adjit.{self.mode}: keyword-only arguments "
                             f"({', '.join(bound.kwargs)}) are not supported",
                             loc=user_loc(3), hint="make them positional, or bind them with "
                                                   "functools.partial before transforming")
        return tuple(bound.args)

    def _state(self) -> tuple[Probe, list[Any], Any]:
        """What the function captures now: the probe (found again, since the objects it
        reaches may have changed), the current values and their tokens (those of
        `freeze_captures`, once called)."""
        if self._frozen is not None:
            return self._frozen
        probe = discover(self.fun)
        state = probe.resolve() if probe.nodes else ([], ())
        if state is None:  # the state changed while it was walked; walk it once more
            probe = discover(self.fun)
            state = probe.resolve() or ([], ())
        self._probe = probe if probe.nodes else _NO_PROBE
        return probe, state[0], state[1]

    def freeze_captures(self) -> None:
        """From now on the function sees the values it captures now, copies of the arrays
        among them, whatever happens to the originals: JAX's `vjp` and `linearize` return
        functions of the state at their call, not at the returned function's."""
        probe, vals, tokens = self._state()
        if probe.nodes:
            self._frozen = (probe, [np.array(v, copy=True) if type(v) is np.ndarray else v
                                    for v in vals], tokens)

    def _full_key(self, args: tuple[Any, ...], tokens: Any) -> Any:
        key = self._key(args)
        return (key, tokens) if self._probe else key

    def _first_call(self, args: tuple[Any, ...]) -> Any:
        # Called while another transformation traces (even on plain arrays: the function
        # may close over that trace's values), this one becomes part of its graph.
        if tracing() or any(isinstance(a, Tracer) for a in pytree.flatten(args)[0]):
            return self._inline(args)
        try:
            probe, vals, tokens = self._state()
            key = self._full_key(args, tokens)
            try:
                hash(key)
            except TypeError:
                raise self._unhashable(args) from None
            spec = self._specialize(key, args, probe, vals)
            caller = self._make_caller(spec, key)
        except AdjitError as e:
            raise e.with_traceback(None) from None
        self._callers[key] = caller
        self._watch.evict(self._callers)
        self._remember_fast(args, key)
        return caller(args, vals)

    def _set_caller(self, key: Any, caller: Callable[..., Any]) -> None:
        """Replace the caller of `key` (and the fast path's, if it is that key's)."""
        self._callers[key] = caller
        fast = self._fast  # (read once: another thread may remember another signature)
        if fast is not None and fast[4] == key:
            self._fast = (fast[0], fast[1], caller, fast[3], key)

    @property
    def _fast_key(self) -> Any:
        """The key of the signature the fast path serves (None: no fast path)."""
        fast = self._fast
        return None if fast is None else fast[4]

    def _remember_fast(self, args: tuple[Any, ...], key: Any) -> None:
        """Keep `key` for __call__'s fast path when this call is of its kind: native ndarray
        arguments, nothing static, nothing captured (else forget the last one). The path is
        (shape, dtype, caller, 1, key) for one argument, (shapes, dtypes, caller, n, key)
        for n."""
        if args and all(type(a) is np.ndarray and a.dtype.isnative for a in args) \
                and not self.static and self._probe is not None and not self._probe.nodes:
            caller = self._callers[key]
            if len(args) == 1:
                self._fast = (args[0].shape, args[0].dtype, caller, 1, key)
            else:
                self._fast = (tuple(a.shape for a in args), tuple(a.dtype for a in args),
                              caller, len(args), key)
        else:
            self._fast = None

    def specialize(self, args: tuple[Any, ...]) -> Specialization:
        """The specialization for these arguments (compiled now if it does not exist)."""
        probe, vals, tokens = self._state()
        return self._specialize(self._full_key(args, tokens), args, probe, vals)

    def _specialize(self, key: Any, args: tuple[Any, ...], probe: Probe,
                    vals: list[Any]) -> Specialization:
        spec = self.specializations.get(key)
        if spec is not None and spec.traced.guards and \
                not _holds(spec, self._call_args(spec, args, vals)):
            spec = None  # traced under guards that do not hold for these arguments
        if spec is None:
            spec = self._compile(args, probe, vals, self._watch.reason(key))
            self.specializations[key] = spec
            self._watch.evict(self.specializations)
        return spec

    def _unhashable(self, args: tuple[Any, ...]) -> TraceError:
        for i, a in enumerate(args):
            if i in self.static:
                try:
                    hash(a)
                except TypeError:
                    return TraceError(f"adjit.{self.mode}: static argument {i} is a "
                                      f"{type(a).__name__}, which cannot be hashed",
                                      loc=user_loc(4),
                                      hint="static arguments key the compiled code by value: "
                                           "pass a tuple instead of a list, or a frozen object")
        return TraceError(f"adjit.{self.mode}: an argument cannot be hashed", loc=user_loc(4))

    def _inline(self, args: tuple[Any, ...]) -> Any:
        """Called on tracers (inside another transformation, e.g. grad of grad): trace and
        differentiate here, then inline the resulting graph into the outer trace, so the
        outer transformation differentiates the derivative. Values of the outer trace that
        the function closes over become inputs of the inner graph (not differentiated by
        this transformation; the outer one differentiates through them)."""
        from adjit.ir.builder import inline
        from adjit.passes.pipeline import Request, run
        from adjit.tracer.numpy_api import _t

        leaves, _, trees = pytree.flatten_arguments(args, ())
        leaves = [_t(a) if type(a) not in (int, bool) else a for a in leaves]
        tracers = pytree.regroup(trees, leaves)
        examples = tuple(pytree.regroup(trees, [
            a if not isinstance(a, Tracer) else np.zeros(a.shape, a.dtype) for a in leaves]))
        primals, _ = self._split_cotangents(examples)
        static = self._static_positions(primals)
        wrt, grad_trees = (self._layout(primals, static) if self.transform.differentiates
                           else (None, []))
        traced = trace(self.fun, primals, static, concrete=False, free=True)
        request = Request(keep_custom=True)  # (differentiated again by the outer trace)
        if wrt is not None:
            request = Request(wrt, seed=self._check_output(traced), keep_custom=True)
        g = run(self.transform.pipeline, traced.graph, request).final
        flat, flat_static, _ = pytree.flatten_arguments(tracers[:len(primals)], static)
        values = [t.val for t, st in zip(flat, flat_static, strict=True) if not st]
        values += list(traced.free) + [t.val for t in tracers[len(primals):]]
        outs = [Tracer(v) for v in inline(g, values)]
        inlined = _Inlined(traced)
        inlined.grad_trees = grad_trees if any(t is not None for t in grad_trees) else None
        return self._assemble(inlined, outs)

    # ---- compiling -------------------------------------------------------------------------------
    _n_ct = 0  # trailing arguments that are output cotangents (vjp), not the function's
    target = "cpu"  # where the compiled code runs: "cpu", or "cuda" (codegen/cuda.py)

    def _split_cotangents(self, args: tuple[Any, ...]) -> tuple[tuple[Any, ...], int]:
        n = self._n_ct
        return (args[:len(args) - n] if n else args), n

    def _call_args(self, spec: Specialization, args: tuple[Any, ...], vals: Any) -> Any:
        """The compiled function's arguments: the call's, with the captured arrays it reads
        placed after the function's own (and before any cotangents)."""
        captured = spec.traced.captured
        if spec.arg_trees is not None:
            cut = len(args) - self._n_ct
            flat = pytree.flatten_arguments(args[:cut], spec.arg_trees[0])[0]
            args = (*flat, *args[cut:])
        if not captured:
            return args
        cut = len(args) - self._n_ct
        return (*args[:cut], *[vals[i] for i in captured], *args[cut:])

    def _wrt(self, args: tuple[Any, ...], static: tuple[int, ...]) -> list[int]:
        """Graph input positions of the differentiated leaves (statics are not inputs), in
        argnums order; an argument that is a structure (pytree) contributes each leaf."""
        return self._layout(args, static)[0]

    def _layout(self, args: tuple[Any, ...], static: tuple[int, ...]
                ) -> tuple[list[int], list[Any]]:
        """`_wrt`, and for each differentiated argument its tree (None for a plain array)."""
        for i in self.argnums:
            if not -len(args) <= i < len(args):
                raise TraceError(f"adjit.{self.mode}: argnums {i} is out of range for "
                                 f"{len(args)} argument{'s' if len(args) != 1 else ''}",
                                 loc=user_loc(5))
        argnums = [i % len(args) for i in self.argnums]
        flat, flat_static, trees = pytree.flatten_arguments(args, static)
        owner = [i for i, tree in enumerate(trees) for _ in
                 range(1 if tree is None else pytree.count(tree))]
        input_of = {}  # flat position -> graph input position
        for j, st in enumerate(flat_static):
            if not st:
                input_of[j] = len(input_of)
        wrt: list[int] = []
        for i in argnums:
            if i in self.static:
                raise TraceError(f"argument {i} is both differentiated and static",
                                 loc=user_loc(5))
            names = (["" if trees[i] is None else ""] if trees[i] is None
                     else pytree.paths(trees[i], ""))
            leaves = [j for j, o in enumerate(owner) if o == i]
            for j, where in zip(leaves, names, strict=True):
                a = flat[j]
                dt = (np.dtype(bool) if isinstance(a, bool) else np.dtype(int)
                      if isinstance(a, int) else np.dtype(float) if isinstance(a, float)
                      else np.dtype(complex) if isinstance(a, complex)
                      else np.asarray(a).dtype)
                if dt.kind not in "fc":
                    raise NotDifferentiable(
                        f"adjit.{self.mode} cannot differentiate with respect to argument "
                        f"{i}{where}, which is {dtype_words(dt)} ({type(a).__name__})",
                        loc=user_loc(5),
                        hint="pass it as a float array (e.g. np.asarray(x, dtype=float)), or "
                             "leave it out of argnums")
                wrt.append(input_of[j])
        return wrt, [trees[i] for i in argnums]

    def _static_positions(self, args: tuple[Any, ...]) -> tuple[int, ...]:
        """Declared static arguments, and every Python int or bool (sizes, counts, indices)."""
        auto = [i for i, a in enumerate(args) if type(a) in (int, bool) and i not in self.argnums]
        return tuple(sorted(set(self.static) | set(auto)))

    def _compile(self, args: tuple[Any, ...], probe: Probe, vals: list[Any],
                 reason: str) -> Specialization:
        primals, n_ct = self._split_cotangents(args)
        for i, a in enumerate(primals):
            if i not in self.static:
                check_argument(i, a, f"adjit.{self.mode}")
        static = self._static_positions(primals)
        wrt, grad_trees = (self._layout(primals, static) if self.transform.differentiates
                           else (None, []))
        t0 = time.perf_counter()
        if self.target != "cpu":  # traced on host copies of device arrays
            leaves, tree = pytree.flatten(primals)
            primals = pytree.unflatten(tree, [host_copy(a) for a in leaves])
        traced = trace(self.fun, primals, static, probe=probe, probe_vals=vals)
        trace_s = time.perf_counter() - t0
        seed = "auto"
        if wrt is not None:
            seed = self._check_output(traced)
            _check_no_cut(traced, wrt)
        flat, flat_static, trees = pytree.flatten_arguments(primals, static)
        captured = [vals[i] for i in traced.captured]
        spec = build(traced, wrt=wrt, static=[j for j, st in enumerate(flat_static) if st],
                     n_args=len(flat) + len(captured) + n_ct, seed=seed, reason=reason,
                     trace_s=trace_s, pipeline=self.transform.pipeline, target=self.target)
        # How this call's arguments become the compiled function's, and its gradients the
        # arguments' structures (None where nothing is a structure).
        spec.arg_trees = (static, trees) if any(t is not None for t in trees) else None
        spec.grad_trees = grad_trees if any(t is not None for t in grad_trees) else None
        self.compilations += 1
        if traced.guards:
            call_args = self._call_args(spec, args, vals)
            if not _truth(spec.run(call_args)[traced.n_outputs]):
                # Guards compare exactly, and the compiled code computes a guarded value
                # with other rounding than the interpreter that computed it while tracing
                # (another summation order). Python's decisions were traced for these very
                # arguments, so the specialization holds for them: keep a copy to know them
                # again (else every call with them would retrace).
                spec.traced_on = tuple(np.array(host_copy(x), copy=True) for x in call_args)
        return spec

    def _check_output(self, traced: Any) -> str:
        """The adjoint's seed for this function's outputs: with `seed="ones"`, one float
        scalar (or any one-element array), whose cotangent is 1; with "inputs", one cotangent
        argument per float output."""
        if self.transform.seed == "inputs":
            return "inputs"
        outs = traced.graph.outputs[:traced.n_outputs]
        if getattr(self, "has_aux", False):
            tree = traced.out_tree
            if not (isinstance(tree, tuple) and tree[0] in ("tuple", "list")
                    and len(tree[2]) == 2 and tree[2][0] is pytree.LEAF):
                name = getattr(self.fun, "__name__", "the function")
                raise TraceError(f"adjit.{self.mode}(..., has_aux=True) needs {name} to return "
                                 "a pair (value, aux), with value one float scalar",
                                 loc=user_loc(5))
            outs = outs[:1]
        if (len(outs) == 1 and outs[0].type.size == 1 and outs[0].type.is_complex
                and not getattr(self, "holomorphic", False)):
            raise OutputTypeError(
                f"adjit.{self.mode} of a complex-valued function: its gradient is defined "
                "only for a real output, or for a holomorphic function",
                loc=user_loc(5), hint="differentiate a real quantity (np.real(f), np.abs(f)**2), "
                                      "or pass holomorphic=True when f is holomorphic (the "
                                      "result is then df/dz, as JAX's)")
        if len(outs) != 1 or outs[0].type.size != 1 or not outs[0].type.is_float:
            name = getattr(self.fun, "__name__", "the function")
            raise OutputTypeError(
                f"adjit.{self.mode} needs a function returning one float scalar, but "
                f"{name} returns {describe_outputs(outs)}",
                loc=user_loc(5), hint="reduce the output (e.g. .sum()), or use adjit.vjp "
                                      "for non-scalar outputs")
        return "first" if getattr(self, "has_aux", False) else "ones"



def _lookup(module: str, qualname: str) -> Any:
    obj: Any = sys.modules.get(module) or __import__(module, fromlist=["_"])
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _restore(cls: type, fun: Any, transform: str, argnums: Any, static: Any) -> Any:
    new = object.__new__(cls)
    Transformed.__init__(new, fun, transform, argnums, static)
    return new


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


def _transform(transform: Transformation, fun: Callable[..., Any] | None, argnums: Argnums,
               static_argnums: Argnums) -> Any:
    if fun is None:
        return lambda f: Transformed(f, transform, argnums, static_argnums)
    return Transformed(fun, transform, argnums, static_argnums)


def grad(fun: Callable[..., Any] | None = None, argnums: Argnums = 0, *,
         static_argnums: Argnums = (), holomorphic: bool = False, has_aux: bool = False,
         target: str = "cpu") -> Any:
    """The gradient of a scalar function, compiled: `@adjit.grad`, or
    `adjit.grad(f, argnums=(0, 1))` for a tuple of gradients.

    Complex arguments follow JAX's convention: for a real f(z), z = x + iy, the gradient is
    df/dx - i df/dy (2 conj(z) for |z|**2; step along its conjugate to ascend). A complex
    output needs `holomorphic=True`, and the gradient is then df/dz. With `has_aux=True`
    the function returns `(value, aux)` and the result is `(gradient, aux)`, aux any pytree
    the derivative does not look at (JAX's convention).

    `target="cuda"` compiles for an NVIDIA GPU with numba.cuda (or numba's simulator under
    NUMBA_ENABLE_CUDASIM=1): numpy arguments are copied to the device and the results back;
    device arrays are used in place and the results are device arrays (docs/cuda.md)."""
    return _options(_transform(GRAD, fun, argnums, static_argnums), holomorphic=holomorphic,
                    has_aux=has_aux, target=target)


def value_and_grad(fun: Callable[..., Any] | None = None, argnums: Argnums = 0, *,
                   static_argnums: Argnums = (), holomorphic: bool = False,
                   has_aux: bool = False, target: str = "cpu") -> Any:
    """Like `grad`, returning `(value, gradient)` from one fused forward+backward pass."""
    return _options(_transform(VALUE_AND_GRAD, fun, argnums, static_argnums),
                    holomorphic=holomorphic, has_aux=has_aux, target=target)


def _options(t: Any, **flags: Any) -> Any:
    """Set the options that differ from their defaults (`holomorphic`, `has_aux`, `target`)
    on a Transformed, or on the one a decorator factory returns."""
    if "target" in flags:
        check_target(flags["target"])
    on = {k: v for k, v in flags.items() if v and v != "cpu"}
    if not on:
        return t
    if isinstance(t, Transformed):
        for k, v in on.items():
            setattr(t, k, v)
        return t
    return lambda f: _options(t(f), **on)


def jit(fun: Callable[..., Any] | None = None, *, static_argnums: Argnums = (),
        target: str = "cpu") -> Any:
    """The function itself, compiled (no derivative); `target` as for `grad`."""
    return _options(_transform(JIT, fun, (), static_argnums), target=target)


TARGETS = ("cpu", "cuda")


def check_target(target: Any) -> None:
    if target not in TARGETS:
        raise ValueError(f"target={target!r}: adjit compiles for {' or '.join(map(repr, TARGETS))}")


def stop_gradient(x: Any) -> Any:
    """x, as a constant for differentiation: no gradient flows through it."""
    if isinstance(x, Tracer):
        from adjit.tracer.numpy_api import stop_gradient as traced_stop

        return traced_stop(x)
    from adjit.tracer.tensor import Tensor

    if isinstance(x, Tensor):  # recorded: the same values, out of the graph
        return x.detach()
    return x

