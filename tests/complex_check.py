"""A derivative oracle for complex values, shared by the complex and FFT tests.

A complex number is a pair of reals, and finite differences see it so. With the pairing of
cotangents and tangents that adjit uses (JAX's and autograd's: <c, t> = Re(sum c * t), no
conjugate; ir/prims/complex.py), a VJP rule is right when Re<vjp(c), t> equals Re<c, J t>
for random complex c and t, with J t a central difference; a JVP rule when it equals J t.
Real inputs get real tangents, and their cotangents must be real.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from adjit.ir import PRIMS, ArrayType, Builder, Var, building, emit, evaluate

EPS = 1e-6


def rand_like(rng: np.random.Generator, a: np.ndarray) -> np.ndarray:
    """A random direction of a's vector space (complex for complex a), in float64/complex128."""
    r = rng.standard_normal(a.shape)
    if np.iscomplexobj(a):
        r = r + 1j * rng.standard_normal(a.shape)
    return np.asarray(r)


def pair(c: Any, t: Any) -> float:
    return float(np.real(np.sum(np.asarray(c) * np.asarray(t))))


def numeric_jvp(fn: Callable[..., Any], args: Sequence[np.ndarray], tans: Sequence[Any],
                eps: float = EPS) -> np.ndarray:
    plus = [a + eps / 2 * t if t is not None else a for a, t in zip(args, tans, strict=True)]
    minus = [a - eps / 2 * t if t is not None else a for a, t in zip(args, tans, strict=True)]
    with np.errstate(all="ignore"):
        return (np.asarray(fn(*plus)) - np.asarray(fn(*minus))) / eps


def _wide(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a.astype(np.complex128) if a.dtype.kind == "c" else a.astype(np.float64)


def check_prim(prim_name: str, inputs: Sequence[np.ndarray], params: dict[str, Any] | None = None,
               *, seed: int = 0, rtol: float = 1e-6, atol: float = 1e-8) -> None:
    """`prim_name`'s JVP and VJP rules (run by the interpreter) against finite differences
    of its impl, in float64/complex128."""
    params = dict(params or {})
    prim = PRIMS[prim_name]
    rng = np.random.default_rng(seed)
    inputs = [_wide(a) for a in inputs]
    def build(rule: str) -> Any:
        b = Builder()
        with building(b):
            vals = [Var(ArrayType.of(a), name=f"x{i}") for i, a in enumerate(inputs)]
            out = emit(prim_name, *vals, **params)
            if rule == "f":
                return b.graph("f", tuple(vals), (out,))
            if rule == "vjp":
                ct = Var(out.type, name="ct")
                cts = prim.vjp(ct, *vals, out=out, **params)
                return b.graph("vjp", (*vals, ct), tuple(cts))
            tans = [Var(v.type, name=f"t{i}") for i, v in enumerate(vals)]
            t_out = prim.jvp(tans, *vals, out=out, **params)
            return b.graph("jvp", (*vals, *tans), (t_out,))

    g_vjp, g_jvp = build("vjp"), build("jvp")
    y = evaluate(build("f"), *inputs)[0]
    c = rand_like(rng, y)
    ts = [rand_like(rng, a) for a in inputs]
    fn = lambda *xs: prim.impl(*xs, **params)  # noqa: E731
    jt = numeric_jvp(fn, inputs, ts)
    got_vjp = evaluate(g_vjp, *inputs, c)
    for a, v in zip(inputs, got_vjp, strict=True):
        assert v.dtype == a.dtype and v.shape == a.shape, (prim_name, v.dtype, a.dtype)
    exact = sum(pair(v, t) for v, t in zip(got_vjp, ts, strict=True))
    assert np.isclose(exact, pair(c, jt), rtol=rtol, atol=atol), \
        f"{prim_name} VJP: {exact} vs numeric {pair(c, jt)}"
    (got_jvp,) = evaluate(g_jvp, *inputs, *ts)
    np.testing.assert_allclose(got_jvp, jt, rtol=max(rtol, 1e-5), atol=max(atol, 1e-6),
                               err_msg=f"{prim_name} JVP")


def check_function(grad_vjp: Callable[..., Any], fn: Callable[..., Any],
                   args: Sequence[np.ndarray], *, seed: int = 0, rtol: float = 1e-5,
                   atol: float = 1e-7) -> None:
    """adjit.vjp and adjit.jvp of a numpy function `fn` (all args differentiated) against
    finite differences. `grad_vjp` is the adjit module (passed in to keep this file import
    light)."""
    adjit = grad_vjp
    rng = np.random.default_rng(seed)
    args = [np.asarray(a) for a in args]
    y, pullback = adjit.vjp(fn, *args)
    c = rand_like(rng, np.asarray(y))
    ts = [rand_like(rng, a) for a in args]
    jt = numeric_jvp(fn, args, ts)
    cts = pullback(c.astype(np.asarray(y).dtype) if np.iscomplexobj(y) else c)
    for a, v in zip(args, cts, strict=True):
        assert np.asarray(v).dtype == a.dtype, (np.asarray(v).dtype, a.dtype)
    exact = sum(pair(v, t) for v, t in zip(cts, ts, strict=True))
    assert np.isclose(exact, pair(c, jt), rtol=rtol, atol=atol), (exact, pair(c, jt))
    _, t_out = adjit.jvp(fn, tuple(args), tuple(t.astype(a.dtype) for a, t in zip(args, ts,
                                                                              strict=True)))
    np.testing.assert_allclose(t_out, jt, rtol=max(rtol, 1e-5), atol=max(atol, 1e-6))
