"""Forward mode and the derivatives built from it: jvp, hvp, jacfwd, jacrev, jacobian, hessian.

Each is a transformation applied *inside a trace*: `traced_jvp` traces the function on the
tracers it is given, runs the forward-mode pass (passes/jvp.py) on that graph and inlines the
result, so it composes with every other transformation (`jvp(grad(f))` is a Hessian-vector
product) and the whole derivative compiles into one kernel. Called on arrays, each wraps
itself in `adjit.jit`, cached per function, so a second call with the same shapes is a cache
hit. Jacobians loop over basis vectors while tracing (one JVP or VJP per input or output
element, all in the one compiled function), which suits the small dimensions Jacobians and
Hessians are formed for; use `hvp` for large ones.
"""
from __future__ import annotations

import functools
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from adjit.ir.builder import emit, inline
from adjit.ir.errors import TraceError
from adjit.tracer import Tracer, pytree, trace
from adjit.tracer.loc import user_loc
from adjit.tracer.numpy_api import _t

from .api import Transformed, jit


def traced_jvp(fun: Callable[..., Any], primals: Sequence[Any],
               tangents: Sequence[Any]) -> tuple[Any, Any]:
    """(fun(*primals), its directional derivative along `tangents`), on traced values."""
    from adjit.passes.pipeline import FORWARD, Request, run

    p_leaves, p_tree = pytree.flatten(tuple(primals))
    t_leaves, t_tree = pytree.flatten(tuple(tangents))
    if p_tree != t_tree:
        raise TypeError("jvp: primals and tangents must have the same structure")
    p_vals = [_t(x) for x in p_leaves]
    t_vals = [_t(x) for x in t_leaves]
    for p, t in zip(p_vals, t_vals, strict=True):
        if p.shape != t.shape:
            raise TypeError(f"jvp: a tangent of shape {t.shape} for a primal of shape "
                            f"{p.shape}")
    examples = pytree.unflatten(p_tree, [np.zeros(p.shape, p.dtype) for p in p_vals])
    traced = trace(fun, tuple(examples), (), concrete=False, free=True)
    g = traced.graph
    n_in = len(p_vals)
    wrt = [i for i in range(n_in) if g.inputs[i].type.is_float]
    jg = run(FORWARD, g, Request(wrt, keep_custom=True)).final  # (inlined: see Request)
    tangent_in = [t.val if t.val.dtype == g.inputs[i].dtype else _t(t.astype(
        g.inputs[i].type.np_dtype)).val for i, t in zip(range(n_in), t_vals, strict=True)
        if i in wrt]
    outs = inline(jg, [p.val for p in p_vals] + list(traced.free) + tangent_in)
    n_out = len(g.outputs)
    values = [Tracer(v) for v in outs[:n_out]]
    tans = [Tracer(v) for v in outs[n_out:]]
    return (pytree.unflatten(traced.out_tree, values),
            pytree.unflatten(traced.out_tree, tans))


class _Compiled:
    """A derivative of `fun` as a compiled function of arrays (cached per function)."""

    _cache: weakref.WeakKeyDictionary[Any, dict[Any, Transformed]] = \
        weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, fun: Callable[..., Any], kind: str, body: Callable[..., Any],
           target: str = "cpu") -> Transformed:
        try:
            table = cls._cache.setdefault(fun, {})
        except TypeError:  # not weak-referenceable: compile a fresh one
            table = {}
        key = kind if target == "cpu" else (kind, target)
        if key not in table:
            wrapper = functools.update_wrapper(lambda *a: body(fun, *a), fun, updated=())
            table[key] = jit(wrapper, target=target)
        return table[key]


def _any_traced(*trees: Any) -> bool:
    return any(isinstance(x, Tracer) for t in trees for x in pytree.flatten(t)[0])


def _split_aux(fun: Callable[..., Any], what: str) -> tuple[Callable[..., Any],
                                                             Callable[..., Any]]:
    """`has_aux=True`: `fun` returns `(out, aux)`; the function giving `out` (which is
    differentiated) and the one giving `aux` (which is not), as JAX's."""
    def pair(*args: Any) -> Any:
        res = fun(*args)
        if not (isinstance(res, (tuple, list)) and len(res) == 2):
            raise TraceError(f"adjit.{what}(..., has_aux=True) needs "
                             f"{getattr(fun, '__name__', 'the function')} to return a pair "
                             "(output, aux)", loc=user_loc(4))
        return res

    main = functools.update_wrapper(lambda *a: pair(*a)[0], fun, updated=())
    aux = functools.update_wrapper(lambda *a: pair(*a)[1], fun, updated=())
    return main, aux


def _aux_of(fun: Callable[..., Any], aux: Callable[..., Any],
            target: str) -> Callable[..., Any]:
    """`aux(*primals)`, traced in place or compiled once per function."""
    return _traced_or_compiled(fun, "aux", lambda f, *a: aux(*a), target)


def jvp(fun: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], *,
        has_aux: bool = False, target: str = "cpu") -> Any:
    """`(fun(*primals), J @ tangents)` in one forward pass (JAX's `jvp`); with `has_aux=True`
    `fun` returns `(out, aux)` and the result is `(out, J @ tangents, aux)`; `target` as for
    `adjit.grad`."""
    primals, tangents = tuple(primals), tuple(tangents)
    if has_aux:
        main, aux = _split_aux(fun, "jvp")
        out, tan = jvp(main, primals, tangents, target=target)
        return out, tan, _aux_of(fun, aux, target)(*primals)
    if _any_traced(primals, tangents):
        return traced_jvp(fun, primals, tangents)
    return _Compiled.of(fun, "jvp", lambda f, p, t: traced_jvp(f, p, t), target)(primals,
                                                                                 tangents)


def hvp(fun: Callable[..., Any], x: Any, v: Any, *, target: str = "cpu") -> Any:
    """The Hessian of scalar `fun` at x times v, without forming the Hessian (forward over
    reverse: the JVP of the gradient)."""
    from .api import grad

    if _any_traced((x, v)):
        return traced_jvp(grad(fun), (x,), (v,))[1]
    # Cached per function: a fresh grad(fun) per call would trace and load again each time.
    return _Compiled.of(fun, "hvp", lambda f, x, v: traced_jvp(grad(f), (x,), (v,))[1],
                        target)(x, v)


def _basis(x: Tracer) -> list[Any]:
    n = int(np.prod(x.shape))
    eye = np.eye(n, dtype=x.dtype)
    return [eye[i].reshape(x.shape) for i in range(n)]


def _jacfwd_body(fun: Callable[..., Any], x: Any) -> Any:
    """One JVP per input element, batched over the basis vectors (JAX's vmap of jvp): one
    graph whose tangents carry a leading axis of size x.size, not x.size copies."""
    from .batching import traced_vmap

    x = _t(x)
    n = int(np.prod(x.shape))
    basis = np.eye(n, dtype=x.dtype).reshape((n,) + x.shape)
    cols = _t(traced_vmap(lambda e: traced_jvp(fun, (x,), (e,))[1], 0, 0, (basis,)))
    return np.moveaxis(cols, 0, -1).reshape(cols.shape[1:] + x.shape)


def _jacrev_body(fun: Callable[..., Any], x: Any) -> Any:
    """One VJP per output element, batched over the cotangent basis (vmap of vjp)."""
    from .batching import traced_vmap
    from .vjp import vjp

    x = _t(x)
    out, back = vjp(fun, x)
    out = _t(out)
    n = int(np.prod(out.shape))
    basis = np.eye(n, dtype=out.dtype).reshape((n,) + out.shape)
    rows = _t(traced_vmap(lambda ct: back(ct)[0], 0, 0, (basis,)))
    return rows.reshape(out.shape + x.shape)


def jacfwd(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, *,
           has_aux: bool = False, target: str = "cpu") -> Callable[..., Any]:
    """The Jacobian by forward mode: one JVP per input element, in one compiled function.
    With `has_aux=True`, `fun` returns `(out, aux)` and the result is `(jacobian, aux)`."""
    return _jacobian(fun, argnums, _jacfwd_body, "jacfwd", target, has_aux)


def jacrev(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, *,
           has_aux: bool = False, target: str = "cpu") -> Callable[..., Any]:
    """The Jacobian by reverse mode: one VJP per output element, in one compiled function.
    With `has_aux=True`, `fun` returns `(out, aux)` and the result is `(jacobian, aux)`."""
    return _jacobian(fun, argnums, _jacrev_body, "jacrev", target, has_aux)


def jacobian(fun: Callable[..., Any], argnums: int | Sequence[int] = 0,
             mode: str = "rev", *, has_aux: bool = False,
             target: str = "cpu") -> Callable[..., Any]:
    if mode not in ("rev", "fwd"):
        raise ValueError(f"jacobian: mode must be 'rev' or 'fwd', not {mode!r}")
    return (jacrev if mode == "rev" else jacfwd)(fun, argnums, has_aux=has_aux, target=target)


def hessian(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, *,
            has_aux: bool = False, target: str = "cpu") -> Callable[..., Any]:
    """The Hessian: forward over reverse (jacfwd of jacrev), as JAX defines it, so a function
    with an array (or pytree) output has one Hessian block per output element (shape
    out.shape + x.shape + x.shape); for a scalar output jacrev is grad. With `has_aux=True`,
    `fun` returns `(out, aux)` and the result is `(hessian, aux)`."""
    return jacfwd(jacrev(fun, argnums, has_aux=has_aux, target=target), argnums,
                  has_aux=has_aux, target=target)


def _jacobian(fun: Callable[..., Any], argnums: int | Sequence[int], body: Callable[..., Any],
              kind: str, target: str = "cpu", has_aux: bool = False) -> Callable[..., Any]:
    """Jacobians with JAX's structure: differentiated arguments (an int or a tuple of
    argnums, each an array or a pytree of arrays) and outputs (likewise) are raveled into
    one vector each, `body` forms the one matrix between them, and its blocks come back as
    the output's structure holding, at each leaf, the input's structure (block shapes
    `out_leaf.shape + in_leaf.shape`). With `has_aux`, `(that, aux)`: aux is `fun`'s second
    result, not differentiated."""
    if has_aux:
        main, aux = _split_aux(fun, kind)
        of_main = _jacobian(main, argnums, body, kind, target)

        def run_aux(f: Callable[..., Any], *args: Any) -> Any:
            return of_main(*args), aux(*args)

        return _traced_or_compiled(fun, f"{kind}{argnums}aux", run_aux, target)
    many = isinstance(argnums, (tuple, list))
    nums = tuple(argnums) if many else (argnums,)
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in nums):
        raise TypeError(f"{kind}: argnums must be an int or a tuple of ints, got {argnums!r}")

    def run(fun: Callable[..., Any], *args: Any) -> Any:
        target = tuple(args[n] for n in nums) if many else args[nums[0]]
        # (also for one array: the output may be a pytree, whose leaves are raveled below)
        in_leaves, in_tree = pytree.flatten(target)
        ins = [_t(x) for x in in_leaves]
        out_info: list[Any] = []

        def of_flat(v: Any) -> Any:
            parts, at = [], 0
            for x in ins:
                parts.append(v[at:at + x.size].reshape(x.shape).astype(x.dtype))
                at += x.size
            given = pytree.unflatten(in_tree, parts)
            full = list(args)
            for k, n in enumerate(nums):
                full[n] = given[k] if many else given
            out_leaves, out_tree = pytree.flatten(fun(*full))
            outs = [_t(o) for o in out_leaves]
            out_info[:] = [out_tree, [o.shape for o in outs]]
            return np.concatenate([o.reshape(-1) for o in outs])

        flat = np.concatenate([x.reshape(-1) for x in ins])
        jac = _t(body(of_flat, flat))
        out_tree, out_shapes = out_info
        blocks, row = [], 0
        for shape in out_shapes:
            m, col, row_blocks = int(np.prod(shape)), 0, []
            for x in ins:
                row_blocks.append(jac[row:row + m, col:col + x.size].reshape(shape + x.shape))
                col += x.size
            blocks.append(pytree.unflatten(in_tree, row_blocks))
            row += m
        return pytree.unflatten(out_tree, blocks)

    return _traced_or_compiled(fun, f"{kind}{nums}{many}", run, target)


def _traced_or_compiled(fun: Callable[..., Any], kind: str, run: Callable[..., Any],
                        target: str) -> Callable[..., Any]:
    """`run(fun, *args)`: traced in place inside another trace, else compiled once per
    function and `kind` (`_Compiled`)."""
    @functools.wraps(fun)
    def call(*args: Any) -> Any:
        if _any_traced(args):
            return run(fun, *args)
        return _Compiled.of(fun, kind, run, target)(*args)

    return call


def checkpoint(fun: Callable[..., Any]) -> Callable[..., Any]:
    """`fun`, whose derivatives recompute its intermediate values from its inputs instead of
    keeping them (JAX's `checkpoint`/`remat`): a `custom_jvp` whose rule is fun's own JVP on
    its inputs read through `remat`, the identity no pass sees through. The reverse pass is
    that rule's transpose, so it recomputes fun's intermediates from the inputs in the
    backward kernels; the forward pass's own intermediates are dead once its output is
    computed, and only the inputs are kept. Values and derivatives are identical; the kernel
    plan of the gradient shows the recomputation (a second copy of fun's work)."""
    from adjit.tracer.custom_jvp import custom_jvp

    wrapped = custom_jvp(fun)

    def recompute(primals: Any, tangents: Any) -> Any:
        leaves, tree = pytree.flatten(primals)
        again = [Tracer(emit("remat", x.val)) if isinstance(x, Tracer) and x.val.type.is_float
                 else x for x in leaves]
        return jvp(fun, pytree.unflatten(tree, again), tangents)

    wrapped.defjvp(recompute)
    return wrapped


def linearize(fun: Callable[..., Any], *primals: Any, has_aux: bool = False) -> Any:
    """`(fun(*primals), f_jvp)` with `f_jvp(*tangents)` the JVP at those primals (JAX's
    `linearize`; with `has_aux=True`, `fun` returns `(out, aux)` and the result is
    `(out, f_jvp, aux)`). The primals are copied now, and so are the arrays `fun` captures;
    each `f_jvp` call runs the compiled JVP (calls after the first cost one kernel)."""
    if has_aux:
        main, aux = _split_aux(fun, "linearize")
        out, f_jvp = linearize(main, *primals)
        return out, f_jvp, _aux_of(fun, aux, "cpu")(*primals)
    primals = tuple(np.array(p, copy=True) if isinstance(p, np.ndarray) else p for p in primals)
    if _any_traced(primals):
        out = fun(*primals)

        def f_jvp(*tangents: Any) -> Any:
            return jvp(fun, primals, tangents)[1]

        return out, f_jvp
    out = jit(fun)(*primals)
    # its own compiled JVP, reading the arrays `fun` captures as they are now (JAX's)
    body = functools.update_wrapper(lambda p, t: traced_jvp(fun, p, t)[1], fun, updated=())
    at = jit(body)
    at.freeze_captures()

    def f_jvp(*tangents: Any) -> Any:
        return at(primals, tuple(tangents))

    return out, f_jvp
