"""Numerical oracles for derivative rules and gradients, shared by the test suites.

Central finite differences in float64 are the independent oracle (STYLE.md, lesson (c)).
They are compared in full (the whole Jacobian) for small inputs, and along random
projections, <ct, J v> against <J^T ct, v>, for every input.

- `numeric_jacobian(fn, *arrays, argnum, eps)`: the Jacobian of a numpy function.
- `check_vjp(prim, inputs, params)` and `check_jvp(...)`: build the IR that a primitive's
  VJP or JVP rule emits, run it with the reference interpreter, and compare it with finite
  differences of the primitive's `impl`. Each equation the rule emits is checked too: its
  primitive is registered, its `impl` returns the shape and dtype its shape rule promised, and
  a float result comes from a differentiable primitive, so the rule's output can be
  differentiated again.
- `check_jvp_vjp_agree(prim, inputs, params)`: the two rules are each other's transpose,
  to rounding error.
- `check_grads(grad_fn, f, args, argnums)`: a gradient function (`adjit.grad(f)`, say)
  against finite differences of the plain numpy function `f`.

Float32 arrays are compared with the same float64 finite differences, taken at the float32
points, with looser default tolerances (`default_tols`).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from adjit.ir import PRIMS, ArrayType, Builder, Graph, Lit, Var, building, emit, evaluate
from adjit.ir.core import Value

# Inputs and outputs up to this many elements get a full Jacobian check; larger ones are
# checked along random projections only.
FULL_SIZE = 64
EPS = 1e-6


def default_tols(*arrays: Any) -> tuple[float, float]:
    """(rtol, atol) against float64 finite differences: tight when everything is float64,
    loose when an operand is float32 (its rounding, not the rule, limits the agreement)."""
    if any(np.asarray(a).dtype == np.float32 for a in arrays):
        return 2e-3, 2e-4
    return 1e-5, 1e-7


def _as_f64(a: Any) -> np.ndarray:
    a = np.asarray(a)
    return a.astype(np.float64) if a.dtype.kind == "f" else a.copy()


def _call(fn: Callable[..., Any], args: Sequence[np.ndarray]) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(fn(*args), dtype=np.float64)


def numeric_jacobian(fn: Callable[..., Any], *arrays: Any, argnum: int = 0,
                     eps: float = EPS) -> np.ndarray:
    """d fn(*arrays) / d arrays[argnum] by central differences in float64.

    The result has shape `out.shape + arrays[argnum].shape`. Float inputs are cast to
    float64 before `fn` sees them; other inputs (indices, masks) are passed unchanged.
    """
    args = [_as_f64(a) for a in arrays]
    x = args[argnum]
    if x.dtype.kind != "f":
        raise TypeError(f"argument {argnum} has dtype {x.dtype}: only floats have derivatives")
    out_shape = _call(fn, args).shape
    jac = np.empty((int(np.prod(out_shape, dtype=np.int64)), x.size))
    for i in range(x.size):
        sides = []
        for sign in (1.0, -1.0):
            moved = x.copy()
            moved.flat[i] += sign * eps
            sides.append(_call(fn, args[:argnum] + [moved] + args[argnum + 1:]).ravel())
        jac[:, i] = (sides[0] - sides[1]) / (2 * eps)
    return jac.reshape(out_shape + x.shape)


def directional_derivative(fn: Callable[..., Any], *arrays: Any,
                           tangents: dict[int, np.ndarray], eps: float = EPS) -> np.ndarray:
    """J t by central differences: all arguments in `tangents` move together."""
    args = [_as_f64(a) for a in arrays]

    def at(sign: float) -> np.ndarray:
        moved = list(args)
        for i, t in tangents.items():
            moved[i] = args[i] + sign * eps * np.asarray(t, dtype=np.float64)
        return _call(fn, moved)

    return (at(1.0) - at(-1.0)) / (2 * eps)


def assert_close(actual: Any, expected: Any, rtol: float, atol: float, what: str) -> None:
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def _assert_projection(lhs: float, rhs: float, terms: np.ndarray, rtol: float, atol: float,
                       what: str) -> None:
    """lhs == rhs for two dot products, one of whose elementwise `terms` are given.

    Independent relative errors of size rtol in the terms add up to about rtol * ||terms||_2,
    so that is allowed besides rtol * |lhs|: cancellation in the sum cannot fail the test,
    and a wrong derivative still shows (it moves the sum by about as much as ||terms||_2).
    """
    scale = max(abs(lhs), abs(rhs)) + float(np.sqrt(np.sum(np.square(terms))))
    assert abs(lhs - rhs) <= rtol * scale + atol, f"{what}: {lhs!r} != {rhs!r} (scale {scale})"


# ---- running rule graphs ---------------------------------------------------------------------

def check_rule_graph(g: Graph, derivative: bool = True) -> None:
    """Every equation uses a registered primitive and reads only values defined before it.
    In a `derivative` graph, float results must come from differentiable primitives, so the
    derivative can be differentiated again."""
    defined = {id(v) for v in g.inputs}
    for eqn in g.eqns:
        assert eqn.prim in PRIMS, f"{g.name}: unregistered primitive {eqn.prim!r}"
        prim = PRIMS[eqn.prim]
        if derivative and any(o.type.is_float for o in eqn.outputs):
            assert not prim.nondiff and prim.jvp is not None and prim.vjp is not None, \
                f"{g.name}: float result of non-differentiable `{eqn.prim}`"
        for v in eqn.inputs:
            assert isinstance(v, Lit) or id(v) in defined, \
                f"{g.name}: `{eqn.prim}` reads {v!r} before it is defined"
        defined.update(id(o) for o in eqn.outputs)
    for v in g.outputs:
        assert isinstance(v, Lit) or id(v) in defined, f"{g.name}: output {v!r} is not defined"


def run_checked(g: Graph, *args: Any, derivative: bool = True) -> tuple[np.ndarray, ...]:
    """Evaluate `g`, asserting each `impl` returns exactly the type its shape rule gave.

    `ir.evaluate` casts and reshapes results to the declared type, which would hide a shape
    rule that disagrees with `impl` (a transposed result of the right size, say); this
    interpreter does not. Its results must also equal `evaluate`'s. `derivative` is passed
    to `check_rule_graph`.
    """
    check_rule_graph(g, derivative)
    env: dict[int, np.ndarray] = {}
    for var, a in zip(g.inputs, args, strict=True):
        a = np.asarray(a)
        assert ArrayType.of(a) == var.type, \
            f"{g.name}: input {var.name} is {var.type}, got {a.dtype}{a.shape}"
        env[id(var)] = a

    def read(v: Value) -> np.ndarray:
        return v.value if isinstance(v, Lit) else env[id(v)]

    with np.errstate(all="ignore"):
        for eqn in g.eqns:
            result = PRIMS[eqn.prim].impl(*[read(v) for v in eqn.inputs], **dict(eqn.params))
            results = result if isinstance(result, tuple) else (result,)
            for var, r in zip(eqn.outputs, results, strict=True):
                r = np.asarray(r)
                got = f"{r.dtype}{list(r.shape)}"
                assert r.shape == var.shape and r.dtype == var.type.np_dtype, \
                    f"{g.name}: `{eqn.prim}` {eqn.p}: shape rule gives {var.type}, " \
                    f"impl returned {got}"
                env[id(var)] = r
    outs = tuple(np.array(read(v)) for v in g.outputs)
    for mine, ref in zip(outs, evaluate(g, *args), strict=True):
        np.testing.assert_array_equal(mine, ref, err_msg=f"{g.name}: differs from ir.evaluate")
    return outs


def _primal(prim_name: str, inputs: Sequence[np.ndarray], params: dict[str, Any],
            const: Sequence[int]) -> tuple[list[Value], Var]:
    """Inside an active Builder: a Var per input (a Lit at `const` positions) and the output."""
    vals: list[Value] = [Lit.make(a) if i in const else Var(ArrayType.of(a), name=f"x{i}")
                         for i, a in enumerate(inputs)]
    return vals, emit(prim_name, *vals, **params)


def primal_graph(prim_name: str, inputs: Sequence[np.ndarray],
                 params: dict[str, Any] | None = None) -> Graph:
    """The one-equation graph (inputs...) -> prim(inputs...)."""
    b = Builder()
    with building(b):
        vals, out = _primal(prim_name, inputs, dict(params or {}), ())
    return b.graph(prim_name, tuple(vals), (out,))


def differentiable(inputs: Sequence[np.ndarray], const: Sequence[int] = ()) -> list[int]:
    """Positions that get a cotangent or tangent: float inputs that are not constants."""
    return [i for i, a in enumerate(inputs) if i not in const and np.asarray(a).dtype.kind == "f"]


def vjp_graph(prim_name: str, inputs: Sequence[np.ndarray], params: dict[str, Any] | None = None,
              const: Sequence[int] = ()) -> tuple[Graph, list[int]]:
    """The graph (primal Vars..., ct) -> (out, cotangents...) of `prim_name`'s VJP rule, and
    the input positions whose cotangent is not a symbolic zero (None)."""
    prim = PRIMS[prim_name]
    params = dict(params or {})
    b = Builder()
    with building(b):
        vals, out = _primal(prim_name, inputs, params, const)
        ct = Var(out.type, name="ct")
        cts = prim.vjp(ct, *vals, out=out, **params)
    assert isinstance(cts, tuple) and len(cts) == len(vals), \
        f"{prim_name} vjp must return a tuple with one entry per input, got {cts!r}"
    has = [i for i, c in enumerate(cts) if c is not None]
    primals = tuple(v for v in vals if isinstance(v, Var))
    return b.graph(f"vjp_{prim_name}", primals + (ct,), (out,) + tuple(cts[i] for i in has)), has


def jvp_graph(prim_name: str, inputs: Sequence[np.ndarray], params: dict[str, Any] | None = None,
              const: Sequence[int] = (), which: Sequence[int] | None = None
              ) -> tuple[Graph, list[int], bool]:
    """The graph (primal Vars..., tangents...) -> (out[, tangent of out]) of the JVP rule.

    Inputs in `which` (default: every differentiable one) get tangent Vars, the rest None.
    Returns the graph, the positions with tangents, and whether the rule returned a tangent.
    """
    prim = PRIMS[prim_name]
    params = dict(params or {})
    which = differentiable(inputs, const) if which is None else list(which)
    b = Builder()
    with building(b):
        vals, out = _primal(prim_name, inputs, params, const)
        tans = [Var(v.type, name=f"t{i}") if i in which else None for i, v in enumerate(vals)]
        t_out = prim.jvp(tans, *vals, out=out, **params)
    primals = tuple(v for v in vals if isinstance(v, Var))
    outputs = (out,) if t_out is None else (out, t_out)
    g = b.graph(f"jvp_{prim_name}", primals + tuple(t for t in tans if t is not None), outputs)
    return g, which, t_out is not None


def _random(rng: np.random.Generator, t: ArrayType) -> np.ndarray:
    return rng.standard_normal(t.shape).astype(t.np_dtype)


def _tols(inputs: Sequence[np.ndarray], rtol: float | None,
          atol: float | None) -> tuple[float, float]:
    r, a = default_tols(*inputs)
    return (r if rtol is None else rtol), (a if atol is None else atol)


# ---- the checks ------------------------------------------------------------------------------

def check_vjp(prim_name: str, inputs: Sequence[Any], params: dict[str, Any] | None = None, *,
              rtol: float | None = None, atol: float | None = None, eps: float = EPS,
              const: Sequence[int] = (), seed: int = 0) -> None:
    """`prim_name`'s VJP rule against finite differences of its `impl`.

    Inputs at `const` positions become literals. The rule must return a cotangent of the
    input's exact type for every float Var input and None for the others.
    """
    prim = PRIMS[prim_name]
    params = dict(params or {})
    inputs = [np.asarray(a) for a in inputs]
    rtol, atol = _tols(inputs, rtol, atol)
    rng = np.random.default_rng(seed)
    g, has = vjp_graph(prim_name, inputs, params, const)
    want = differentiable(inputs, const)
    assert has == want, f"{prim_name} vjp gave cotangents for inputs {has}, expected {want}"
    out_t = g.outputs[0].type
    for i, c in zip(has, g.outputs[1:], strict=True):
        assert c.type == ArrayType.of(inputs[i]), \
            f"{prim_name} vjp: cotangent of input {i} is {c.type}, " \
            f"input is {ArrayType.of(inputs[i])}"
    primals = [a for i, a in enumerate(inputs) if i not in const]

    def run(ct: np.ndarray) -> list[np.ndarray]:
        return list(run_checked(g, *primals, ct)[1:])

    def fn(*xs: np.ndarray) -> Any:
        return prim.impl(*xs, **params)

    ct = _random(rng, out_t)
    cts = run(ct)
    tag = f"{prim_name}{params} vjp"
    for i, c in zip(has, cts, strict=True):
        v = rng.standard_normal(inputs[i].shape)
        jv = directional_derivative(fn, *inputs, tangents={i: v}, eps=eps)
        terms = np.asarray(ct, np.float64) * jv
        _assert_projection(float(terms.sum()), float(np.vdot(np.asarray(c, np.float64), v)),
                           terms, rtol, atol, f"{tag}: <ct, J v> input {i}")
    if out_t.size <= FULL_SIZE and all(inputs[i].size <= FULL_SIZE for i in has):
        # Row by row: the rule's Jacobian from unit cotangents against the numeric one.
        rows = []
        for k in range(out_t.size):
            unit = np.zeros(out_t.size, out_t.np_dtype)
            unit[k] = 1
            rows.append(run(unit.reshape(out_t.shape)))
        for n, i in enumerate(has):
            rule_jac = np.array([r[n] for r in rows], dtype=np.float64).reshape(
                out_t.shape + inputs[i].shape)
            num_jac = numeric_jacobian(fn, *inputs, argnum=i, eps=eps)
            assert_close(rule_jac, num_jac, rtol, atol, f"{tag}: Jacobian wrt input {i}")


def check_jvp(prim_name: str, inputs: Sequence[Any], params: dict[str, Any] | None = None, *,
              rtol: float | None = None, atol: float | None = None, eps: float = EPS,
              const: Sequence[int] = (), seed: int = 0) -> None:
    """`prim_name`'s JVP rule against finite differences of its `impl`.

    Checked with tangents on all differentiable inputs at once, then on each alone (the
    others symbolic zeros); for small sizes, column by column against the full Jacobian.
    """
    prim = PRIMS[prim_name]
    params = dict(params or {})
    inputs = [np.asarray(a) for a in inputs]
    rtol, atol = _tols(inputs, rtol, atol)
    rng = np.random.default_rng(seed)
    diff = differentiable(inputs, const)
    primals = [a for i, a in enumerate(inputs) if i not in const]

    def fn(*xs: np.ndarray) -> Any:
        return prim.impl(*xs, **params)

    subsets = [diff] + ([[i] for i in diff] if len(diff) > 1 else [])
    for which in subsets:
        g, _, has_tangent = jvp_graph(prim_name, inputs, params, const, which)
        tag = f"{prim_name}{params} jvp wrt inputs {which}"
        assert has_tangent == bool(which), \
            f"{tag}: returned {'a tangent' if has_tangent else 'None'}"
        if not has_tangent:
            continue
        out_t = g.outputs[0].type
        assert g.outputs[1].type == out_t, f"{tag}: tangent is {g.outputs[1].type}, output {out_t}"
        tangents = {i: _random(rng, ArrayType.of(inputs[i])) for i in which}
        (_, t_out) = run_checked(g, *primals, *tangents.values())
        expected = directional_derivative(fn, *inputs, tangents=tangents, eps=eps)
        assert_close(t_out, expected, rtol, atol, f"{tag}: J t")
        if len(which) == 1 and inputs[which[0]].size <= FULL_SIZE and out_t.size <= FULL_SIZE:
            (i,) = which
            x_t = ArrayType.of(inputs[i])
            cols = []
            for k in range(x_t.size):
                unit = np.zeros(x_t.size, x_t.np_dtype)
                unit[k] = 1
                cols.append(run_checked(g, *primals, unit.reshape(x_t.shape))[1])
            rule_jac = np.moveaxis(np.array(cols, dtype=np.float64), 0, -1).reshape(
                out_t.shape + x_t.shape)
            num_jac = numeric_jacobian(fn, *inputs, argnum=i, eps=eps)
            assert_close(rule_jac, num_jac, rtol, atol, f"{tag}: Jacobian")


def check_jvp_vjp_agree(prim_name: str, inputs: Sequence[Any],
                        params: dict[str, Any] | None = None, *, rtol: float | None = None,
                        const: Sequence[int] = (), seed: int = 0) -> None:
    """The VJP rule is the transpose of the JVP rule: <ct, J t> == <J^T ct, t>.

    No finite differences, so this holds to rounding (rtol 1e-12 in float64, 1e-5 in
    float32), also at the points where a derivative is a convention (ties, zeros).
    """
    params = dict(params or {})
    inputs = [np.asarray(a) for a in inputs]
    rng = np.random.default_rng(seed)
    primals = [a for i, a in enumerate(inputs) if i not in const]
    g_jvp, which, has_tangent = jvp_graph(prim_name, inputs, params, const)
    g_vjp, has = vjp_graph(prim_name, inputs, params, const)
    if rtol is None:
        f32 = any(v.dtype == "f32" for v in g_vjp.inputs)  # the primals and the cotangent
        rtol = 1e-5 if f32 else 1e-12
    assert has == which and has_tangent == bool(which)
    if not which:
        return
    tangents = [_random(rng, ArrayType.of(inputs[i])) for i in which]
    ct = _random(rng, g_vjp.outputs[0].type)
    (_, t_out) = run_checked(g_jvp, *primals, *tangents)
    cts = run_checked(g_vjp, *primals, ct)[1:]
    lhs_terms = np.asarray(ct, np.float64) * np.asarray(t_out, np.float64)
    rhs_terms = np.concatenate([(np.asarray(c, np.float64) * np.asarray(t, np.float64)).ravel()
                                for c, t in zip(cts, tangents, strict=True)])
    _assert_projection(float(lhs_terms.sum()), float(rhs_terms.sum()),
                       np.concatenate([lhs_terms.ravel(), rhs_terms]), rtol, 0.0,
                       f"{prim_name}{params}: <ct, jvp(t)> != <vjp(ct), t>")


def check_grads(grad_fn: Callable[..., Any], f: Callable[..., Any], args: Sequence[Any],
                argnums: int | Sequence[int] = 0, rtol: float | None = None,
                atol: float | None = None, eps: float = EPS, seed: int = 0) -> None:
    """`grad_fn(*args)` against central differences of the scalar function `f`.

    `grad_fn` returns the gradient wrt `args[argnums]` (one array for an int `argnums`,
    a tuple otherwise), as `adjit.grad(f, argnums)` does. Each gradient must have its
    argument's shape and dtype. Small arguments are compared in full, large ones along
    three random directions.
    """
    args = [np.asarray(a) for a in args]
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    rtol, atol = _tols([args[i] for i in nums], rtol, atol)
    grads = grad_fn(*args)
    grads = (grads,) if single else tuple(grads)
    assert len(grads) == len(nums), f"grad_fn returned {len(grads)} gradients for argnums {nums}"
    assert _call(f, [_as_f64(a) for a in args]).shape == (), "f must return a scalar"
    rng = np.random.default_rng(seed)
    for i, gr in zip(nums, grads, strict=True):
        gr = np.asarray(gr)
        x = args[i]
        assert gr.shape == x.shape, f"gradient wrt argument {i}: shape {gr.shape}, arg {x.shape}"
        assert gr.dtype == x.dtype, f"gradient wrt argument {i}: dtype {gr.dtype}, arg {x.dtype}"
        if x.size <= FULL_SIZE * 4:
            num = numeric_jacobian(f, *args, argnum=i, eps=eps)
            assert_close(gr, num, rtol, atol, f"gradient wrt argument {i}")
            continue
        for _ in range(3):
            v = rng.standard_normal(x.shape)
            lhs = float(directional_derivative(f, *args, tangents={i: v}, eps=eps))
            terms = np.asarray(gr, np.float64) * v
            _assert_projection(lhs, float(terms.sum()), terms, rtol, atol,
                               f"gradient wrt argument {i} along a random direction")


def simplified(text: str, *shapes: tuple[int, ...], exact: bool = False) -> str:
    """The IR `text` after simplify, checked against it with the reference interpreter on
    random inputs of `shapes` (`exact`: the same bits, signed zeros and dtypes included),
    printed without locations."""
    from adjit.ir import parse
    from adjit.ir.evaluate import evaluate
    from adjit.passes.simplify import SimplifyStats, simplify

    g = parse(text)
    s = simplify(g, stats=SimplifyStats())
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(sh) for sh in shapes]
    for a, b in zip(evaluate(g, *args), evaluate(s, *args), strict=True):
        if exact:
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(np.signbit(a), np.signbit(b))
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12)
    return s.format(locs=False)
