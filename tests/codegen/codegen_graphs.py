"""Hand-built graphs for the fusion and codegen tests.

- The joint (forward + backward) graphs the targets are measured on, written the way the
  adjoint pass emits them: `sum_x2_exp`, `tanh_expr`, `softmax_ce`, `mlp`, `rosenbrock`.
- `PRIM_CASES`: for every registered primitive, small graphs that use it (fused with
  elementwise work around it, and in its unfused forms: leading-axis reductions, negative
  steps, batched matmul, integer dtypes). `build_group` puts many cases into one graph so
  that one numba compile covers them; `tags` says which output belongs to which primitive.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from adjit.ir import ArrayType, Builder, Graph, Lit, Var, building, emit, emit_multi, ops
from complex_graphs import COMPLEX_CASES
from conv_graphs import CONV_CASES
from linalg_graphs import LINALG_CASES


def _var(name: str, shape: tuple[int, ...], dtype: str = "f64") -> Var:
    return Var(ArrayType(dtype, shape), name)


# ---- target graphs ----------------------------------------------------------------------------

def sum_x2_exp(n: int = 1000, dtype: str = "f64") -> Graph:
    """value and gradient of sum(x**2 * exp(x))."""
    x = _var("x", (n,), dtype)
    with building(Builder()) as b:
        t = ops.mul(x, x)
        e = ops.exp(x)
        p = ops.mul(t, e)
        s = ops.reduce_sum(p, (0,))
        ct = ops.broadcast_to(1.0, (n,), dtype)
        g1 = ops.mul(ops.mul(ct, e), ops.mul(2.0, x))
        g2 = ops.mul(ops.mul(ct, t), e)
        g = ops.add(g1, g2)
        return b.graph("sum_x2_exp", (x,), (s, g))


def tanh_expr(n: int = 1000) -> Graph:
    """value and gradients of sum(tanh(sin(x)*cos(y) + x*y) / (1 + exp(-x)))."""
    x, y = _var("x", (n,)), _var("y", (n,))
    with building(Builder()) as b:
        sx, cy = ops.sin(x), ops.cos(y)
        u = ops.add(ops.mul(sx, cy), ops.mul(x, y))
        t = ops.tanh(u)
        en = ops.exp(ops.neg(x))
        d = ops.add(1.0, en)
        q = ops.div(t, d)
        s = ops.reduce_sum(q, (0,))
        ct = ops.broadcast_to(1.0, (n,), "f64")
        ct_t = ops.div(ct, d)
        ct_d = ops.neg(ops.mul(ct, ops.div(q, d)))
        ct_u = ops.mul(ct_t, ops.sub(1.0, ops.mul(t, t)))
        gx = ops.add(ops.mul(ct_u, ops.add(ops.mul(ops.cos(x), cy), y)),
                     ops.neg(ops.mul(ct_d, en)))
        gy = ops.mul(ct_u, ops.add(ops.mul(sx, ops.neg(ops.sin(y))), x))
        return b.graph("tanh_expr", (x, y), (s, gx, gy))


def softmax_ce(batch: int = 8, classes: int = 10, dtype: str = "f64") -> Graph:
    """-sum(y * log_softmax(z)) / batch and its gradient wrt z, as the adjoint emits it
    (max subtracted without stop_gradient, so the max's VJP is there too)."""
    z, y = _var("z", (batch, classes), dtype), _var("y", (batch, classes), dtype)
    bc = (batch, 1)
    with building(Builder()) as b:
        m = ops.reshape(emit("reduce_max", z, axes=(1,)), bc)
        zs = ops.sub(z, m)
        e = ops.exp(zs)
        s = ops.reshape(ops.reduce_sum(e, (1,)), bc)
        logp = ops.sub(zs, ops.log(s))
        loss = ops.div(ops.neg(ops.reduce_sum(ops.mul(y, logp), (0, 1))), float(batch))
        ct_logp = ops.mul(-1.0 / batch, y)
        ct_lse = ops.reshape(ops.reduce_sum(ops.neg(ct_logp), (1,)), bc)
        ct_e = ops.mul(ops.mul(ct_lse, ops.div(1.0, s)), e)
        ct_zs = ops.add(ct_logp, ct_e)
        ct_m = ops.reduce_sum(ops.neg(ct_zs), (1,))
        mask = ops.ew("eq", z, m)
        count = ops.reduce_sum(ops.convert(mask, dtype), (1,))
        share = ops.reshape(ops.div(ct_m, count), bc)
        gz = ops.add(ct_zs, ops.select(mask, share, 0.0))
        return b.graph("softmax_ce", (z, y), (loss, gz))


def mlp(batch: int = 16, n_in: int = 20, hidden: int = 12, n_out: int = 3,
        dtype: str = "f64") -> Graph:
    """sum((tanh(x@w1 + b1) @ w2 + b2 - y)**2) / batch and its gradients wrt w1, b1, w2, b2."""
    x, y = _var("x", (batch, n_in), dtype), _var("y", (batch, n_out), dtype)
    w1, b1 = _var("w1", (n_in, hidden), dtype), _var("b1", (hidden,), dtype)
    w2, b2 = _var("w2", (hidden, n_out), dtype), _var("b2", (n_out,), dtype)
    with building(Builder()) as b:
        h = ops.tanh(ops.add(ops.matmul(x, w1), b1))
        d = ops.sub(ops.add(ops.matmul(h, w2), b2), y)
        loss = ops.div(ops.reduce_sum(ops.mul(d, d), (0, 1)), float(batch))
        ct_o = ops.mul(2.0 / batch, d)
        g_b2 = ops.reduce_sum(ct_o, (0,))
        g_w2 = ops.matmul(h, ct_o, transpose_a=True)
        ct_h = ops.matmul(ct_o, w2, transpose_b=True)
        ct_a = ops.mul(ct_h, ops.sub(1.0, ops.mul(h, h)))
        g_b1 = ops.reduce_sum(ct_a, (0,))
        g_w1 = ops.matmul(x, ct_a, transpose_a=True)
        return b.graph("mlp", (x, w1, b1, w2, b2, y), (loss, g_w1, g_b1, g_w2, g_b2))


def _slice(x: Any, start: int, n: int) -> Any:
    return emit("slice", x, starts=(start,), steps=(1,), shape=(n,))


def _unslice(ct: Any, start: int, n: int) -> Any:
    return emit("unslice", ct, starts=(start,), steps=(1,), shape=(n,))


def rosenbrock(n: int = 50) -> Graph:
    """sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2) and its gradient."""
    x = _var("x", (n,))
    with building(Builder()) as b:
        a, c = _slice(x, 1, n - 1), _slice(x, 0, n - 1)
        d = ops.sub(a, ops.mul(c, c))
        o = ops.sub(1.0, c)
        s = ops.reduce_sum(ops.add(ops.mul(100.0, ops.mul(d, d)), ops.mul(o, o)), (0,))
        ct_d = ops.mul(200.0, d)
        ct_c = ops.add(ops.mul(ops.neg(ct_d), ops.mul(2.0, c)), ops.neg(ops.mul(2.0, o)))
        g = ops.add(_unslice(ct_d, 1, n), _unslice(ct_c, 0, n))
        return b.graph("rosenbrock", (x,), (s, g))


def random_args(g: Graph, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=v.shape).astype(v.type.np_dtype) for v in g.inputs]


# ---- one case per primitive -------------------------------------------------------------------

Mk = Callable[..., Var]  # mk(shape, dtype, kind) -> a new graph input
UNARY_DOMAIN = {"log": "pos", "log2": "pos", "log10": "pos", "sqrt": "pos", "log1p": "unit",
                "arcsin": "unit", "arccos": "unit", "tan": "unit", "arctanh": "unit",
                "arccosh": "above1"}


def _unary(name: str) -> Callable[[Mk, str], list]:
    def case(mk: Mk, dt: str) -> list:
        x = mk((3, 5), dt, UNARY_DOMAIN.get(name, "normal"))
        y = ops.ew(name, x)
        # fused between other elementwise work, and on a broadcast row
        row = ops.ew(name, ops.broadcast_to(mk((5,), dt, UNARY_DOMAIN.get(name, "normal")),
                                            (3, 5)))
        return [y, ops.mul(2.0, ops.ew(name, ops.mul(x, 1.0))), row]
    return case


def _binary(name: str) -> Callable[[Mk, str], list]:
    def case(mk: Mk, dt: str) -> list:
        kind = "pos" if name in ("pow", "div", "floor_divide", "mod", "fmod") else "normal"
        x, y = mk((3, 4), dt, kind), mk((4,), dt, kind)
        col = mk((3, 1), dt, kind)
        return [ops.ew(name, x, y), ops.ew(name, col, x), ops.ew(name, y, 1.5)]
    return case


def _compare(name: str) -> Callable[[Mk, str], list]:
    def case(mk: Mk, dt: str) -> list:
        x, y = mk((3, 4), dt, "small_int"), mk((4,), dt, "small_int")
        return [ops.ew(name, x, y), ops.convert(ops.ew(name, x, 0.0), dt)]
    return case


def _logical(name: str) -> Callable[[Mk, str], list]:
    def case(mk: Mk, dt: str) -> list:
        p, q = mk((3, 4), "bool", "bool"), mk((4,), "bool", "bool")
        if name == "logical_not":
            return [ops.ew(name, p), ops.ew(name, ops.ew("lt", mk((4,), dt), 0.0))]
        return [ops.ew(name, p, q), ops.ew(name, ops.ew("gt", mk((3, 4), dt), 0.0), q)]
    return case


def _select(mk: Mk, dt: str) -> list:
    x, y, c = mk((3, 4), dt), mk((4,), dt), mk((3, 1), "bool", "bool")
    return [ops.select(c, x, y), ops.select(ops.ew("gt", x, 0.0), ops.exp(x), 0.5)]


def _convert(mk: Mk, dt: str) -> list:
    x = mk((3, 4), dt)
    other = "f32" if dt == "f64" else "f64"
    return [ops.convert(x, other), ops.convert(ops.mul(x, 3.0), "i64"),
            ops.convert(x, "bool"), ops.convert(ops.convert(x, "i32"), dt)]


def _remat(mk: Mk, dt: str) -> list:
    """remat: a view of its input for arrays (fusion's "view" kernel), a scalar identity."""
    x = mk((4, 3), dt)
    return [ops.mul(emit("remat", ops.mul(x, 2.0)), 3.0), emit("remat", ops.reduce_sum(x, (0, 1)))]


def _stop_gradient(mk: Mk, dt: str) -> list:
    x = mk((3, 4), dt)
    return [emit("stop_gradient", ops.mul(x, 2.0))]


def _reduce(name: str) -> Callable[[Mk, str], list]:
    def case(mk: Mk, dt: str) -> list:
        x = mk((4, 5), dt, "pos" if name == "reduce_prod" else "normal")
        x3 = mk((3, 4, 5), dt, "pos" if name == "reduce_prod" else "normal")
        ex = ops.mul(x, 1.5)
        outs = [emit(name, ex, axes=(1,)),              # trailing: a register per row
                emit(name, ex, axes=(0,)),              # leading: an accumulator array
                emit(name, x3, axes=(0, 2)),            # mixed
                emit(name, x3, axes=(1, 2)),
                emit(name, x, axes=(0, 1)),             # full
                emit(name, mk((4, 1), dt), axes=(1,))]  # over a size-1 axis only
        # the result used again in the same kernel (softmax-like)
        r = ops.reshape(emit(name, ex, axes=(1,)), (4, 1))
        outs.append(ops.sub(ex, r))
        return outs
    return case


def _arg(name: str) -> Callable[[Mk, str], list]:
    def case(mk: Mk, dt: str) -> list:
        x, x3 = mk((4, 5), dt), mk((3, 4, 5), dt)
        col = mk((4, 1), dt)
        r = emit(name, x, axis=1)
        return [r, emit(name, x, axis=0), emit(name, x3, axis=1), emit(name, col, axis=1),
                emit("gather", ops.mul(x, 2.0), r, axis=1)]
    return case


def _cumsum(mk: Mk, dt: str) -> list:
    x = mk((4, 5), dt)
    return [emit("cumsum", x, axis=0), emit("cumsum", ops.exp(x), axis=1),
            emit("cumsum", mk((4, 1), dt), axis=1)]


def _cumprod(mk: Mk, dt: str) -> list:
    x = mk((4, 5), dt)
    return [emit("cumprod", x, axis=0), emit("cumprod", ops.exp(x), axis=1),
            emit("cumprod", mk((4, 1), dt), axis=1)]


def _linrec(mk: Mk, dt: str) -> list:
    a, b = mk((4, 5), dt), mk((4, 5), dt)
    return [emit("linrec", a, b, axis=0), emit("linrec", ops.exp(a), b, axis=1)]


def _argsort(mk: Mk, dt: str) -> list:
    x, ties = mk((4, 5), dt), mk((3, 6), dt, "small_int")
    p = emit("argsort", x)
    flat = ops.add(p, Lit.make(np.arange(4).reshape(4, 1) * 5, "i64"))
    return [p, emit("argsort", ties), emit("argsort", mk((7,), dt)),
            emit("gather", ops.reshape(ops.exp(x), (20,)), flat, axis=0)]


def _reshape(mk: Mk, dt: str) -> list:
    x = mk((3, 4), dt)
    return [ops.reshape(x, (3, 1, 4)), ops.mul(ops.reshape(ops.exp(x), (12,)), 2.0),
            ops.reshape(ops.reshape(mk((6,), dt), (2, 3)), (3, 2)),
            ops.add(ops.reshape(mk((1, 4), dt), (4,)), 1.0)]


def _transpose(mk: Mk, dt: str) -> list:
    x, x3 = mk((3, 4), dt), mk((2, 3, 4), dt)
    return [ops.transpose(ops.exp(x), (1, 0)), ops.transpose(x3, (2, 0, 1)),
            ops.add(ops.transpose(x, (1, 0)), mk((4, 3), dt))]


def _broadcast_to(mk: Mk, dt: str) -> list:
    return [ops.broadcast_to(mk((4,), dt), (3, 4)), ops.broadcast_to(mk((3, 1), dt), (2, 3, 4)),
            ops.mul(ops.broadcast_to(mk((), dt), (5,)), 2.0)]


def _slice_case(mk: Mk, dt: str) -> list:
    x, m = mk((9,), dt), mk((4, 6), dt)
    return [emit("slice", x, starts=(8,), steps=(-2,), shape=(4,)),
            ops.sub(emit("slice", x, starts=(1,), steps=(1,), shape=(8,)),
                    emit("slice", ops.mul(x, x), starts=(0,), steps=(1,), shape=(8,))),
            emit("slice", ops.exp(m), starts=(3, 1), steps=(-1, 2), shape=(3, 3))]


def _unslice_case(mk: Mk, dt: str) -> list:
    x, m = mk((4,), dt), mk((3, 3), dt)
    return [emit("unslice", ops.mul(x, 2.0), starts=(8,), steps=(-2,), shape=(9,)),
            emit("unslice", m, starts=(3, 1), steps=(-1, 2), shape=(4, 6)),
            ops.add(emit("unslice", x, starts=(0,), steps=(1,), shape=(5,)),
                    emit("unslice", ops.exp(x), starts=(1,), steps=(1,), shape=(5,)))]


def _concatenate(mk: Mk, dt: str) -> list:
    a, b = mk((2, 3), dt), mk((2, 2), dt)
    const = Lit.make(np.arange(6.0).reshape(3, 2), dt)
    first = ops.exp(a) if dt in ("f32", "f64") else ops.neg(a)
    return [emit("concatenate", first, b, axis=1),
            emit("concatenate", b, const, b, axis=0)]


def _gather(mk: Mk, dt: str) -> list:
    x = mk((5, 4), dt)
    idx = mk((3,), "i64", "index5")
    idx2 = mk((2, 2), "i64", "index4")
    return [emit("gather", x, idx, axis=0), emit("gather", ops.exp(x), idx2, axis=1),
            emit("gather", x, Lit.make(np.int64(2)), axis=0)]


def _scatter_add(mk: Mk, dt: str) -> list:
    x = mk((6, 3), dt)
    idx = mk((6,), "i64", "index4")  # repeats: accumulation
    idx2 = mk((3,), "i64", "index4")
    return [emit("scatter_add", ops.mul(x, 2.0), idx, axis=0, size=4),
            emit("scatter_add", x, idx2, axis=1, size=4)]


def _matmul(mk: Mk, dt: str) -> list:
    a, b = mk((3, 4), dt), mk((4, 5), dt)
    at, bt = mk((4, 3), dt), mk((5, 4), dt)
    ba, bb = mk((2, 3, 4), dt), mk((2, 5, 4), dt)
    outs = [ops.matmul(a, b), ops.matmul(at, b, transpose_a=True),
            ops.matmul(a, bt, transpose_b=True), ops.matmul(at, bt, True, True),
            ops.matmul(ba, bb, transpose_b=True)]
    if dt in ("f32", "f64"):  # fed by a fused kernel, feeding one
        outs.append(ops.mul(ops.matmul(ops.exp(a), b), 2.0))
    return outs


def _subgraph(name: str, types: list[ArrayType], body: Callable[..., list]) -> Graph:
    ins = tuple(Var(t, f"{name}{i}") for i, t in enumerate(types))
    with building(Builder()) as b:
        outs = body(*ins)
    return b.graph(name, ins, tuple(outs))


def _cond_case(mk: Mk, dt: str) -> list:
    p, x = mk((), dt), mk((3, 4), dt)
    types = [ArrayType(dt, ()), ArrayType(dt, (3, 4))]
    then = _subgraph("then", types, lambda p, x: [ops.mul(ops.exp(x), p),
                                                  ops.reduce_sum(x, (0, 1))])
    other = _subgraph("other", types, lambda p, x: [ops.sub(x, p), ops.mul(p, 2.0)])
    outs = []
    for pred in (ops.ew("gt", p, 0.0), ops.ew("le", p, 0.0)):  # both branches run
        outs += emit_multi("cond", pred, p, x, branches=(other, then))
    return outs


def _loop(dt: str) -> tuple[Graph, Graph]:
    """k, x = 0, x0; while k < 3: k, x = k + 1, x * w + 1 (consts w)."""
    types = [ArrayType(dt, (4,)), ArrayType("i64", ()), ArrayType(dt, (4,))]
    cond = _subgraph("cond", types, lambda w, k, x: [ops.ew("lt", k, Lit.make(np.int64(3)))])
    body = _subgraph("body", types, lambda w, k, x: [ops.add(k, Lit.make(np.int64(1))),
                                                     ops.add(ops.mul(x, w), 1.0)])
    return cond, body


def _while_case(mk: Mk, dt: str) -> list:
    cond, body = _loop(dt)
    return list(emit_multi("while", mk((4,), dt), Lit.make(np.int64(0)), mk((4,), dt),
                           cond=cond, body=body, n_consts=1))


def _while_grad_case(mk: Mk, dt: str) -> list:
    from adjit.ir.primitive import PRIMS
    from adjit.passes.subgraphs import subgraph_passes

    cond, body = _loop(dt)
    w, x = mk((4,), dt), mk((4,), dt)
    k0 = Lit.make(np.int64(0))
    out = emit_multi("while", w, k0, x, cond=cond, body=body, n_consts=1)
    ct = ops.mul(out[1], 2.0)
    # the gradients of sum(x_final**2): the while_grad shares the forward loop ...
    g_w, _, g_x = PRIMS["while"].vjp((None, ct), w, k0, x, out=out, cond=cond, body=body,
                                        n_consts=1, passes=subgraph_passes())
    # ... and one on other operands runs its own
    x2 = ops.mul(x, 0.5)
    g_w2, _, g_x2 = PRIMS["while"].vjp((None, mk((4,), dt)), w, k0, x2, out=out, cond=cond,
                                          body=body, n_consts=1,
                                          passes=subgraph_passes())
    return [out[1], g_w, g_x, g_w2, g_x2]


ELEMENTWISE_UNARY = ("neg", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt",
                     "sin", "cos", "tan", "sinh", "cosh", "tanh", "arcsin", "arccos", "arctan",
                     "arcsinh", "arccosh", "arctanh",
                     "logistic", "abs", "sign", "floor", "relu")
ELEMENTWISE_BINARY = ("add", "sub", "mul", "div", "pow", "arctan2", "maximum", "minimum",
                      "logaddexp", "floor_divide", "mod", "fmod")

PRIM_CASES: dict[str, Callable[[Mk, str], list]] = {
    **{n: _unary(n) for n in ELEMENTWISE_UNARY},
    **{n: _binary(n) for n in ELEMENTWISE_BINARY},
    **{n: _compare(n) for n in ("lt", "le", "gt", "ge", "eq", "ne")},
    **{n: _logical(n) for n in ("logical_and", "logical_or", "logical_not")},
    "select": _select, "convert": _convert, "stop_gradient": _stop_gradient, "remat": _remat,
    **{n: _reduce(n) for n in ("reduce_sum", "reduce_max", "reduce_min", "reduce_prod")},
    "argmax": _arg("argmax"), "argmin": _arg("argmin"), "cumsum": _cumsum,
    "cumprod": _cumprod, "linrec": _linrec,
    "argsort": _argsort,
    "reshape": _reshape, "transpose": _transpose, "broadcast_to": _broadcast_to,
    "slice": _slice_case, "unslice": _unslice_case, "concatenate": _concatenate,
    "gather": _gather, "scatter_add": _scatter_add, "matmul": _matmul,
    "cond": _cond_case, "while": _while_case, "while_grad": _while_grad_case,
    **CONV_CASES, **LINALG_CASES, **COMPLEX_CASES,
}
# Cases that also make sense with integer inputs.
INT_CASES = ("neg", "add", "sub", "mul", "abs", "maximum", "minimum", "select", "lt", "eq",
             "reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "argmax", "cumsum",
             "cumprod", "argsort",
             "transpose", "slice", "gather", "scatter_add", "matmul", "concatenate")


def _draw(rng: np.random.Generator, shape: tuple[int, ...], dtype: str, kind: str) -> np.ndarray:
    np_dt = ArrayType(dtype, ()).np_dtype
    if kind == "bool" or dtype == "bool":
        return rng.random(shape) < 0.5
    if kind.startswith("index"):
        return rng.integers(0, int(kind[5:]), size=shape).astype(np_dt)
    if dtype in ("i32", "i64"):
        return rng.integers(-3, 4, size=shape).astype(np_dt)
    if kind == "pos":
        return rng.uniform(0.5, 1.5, size=shape).astype(np_dt)
    if kind == "unit":
        return rng.uniform(-0.9, 0.9, size=shape).astype(np_dt)
    if kind == "above1":
        return rng.uniform(1.2, 3.0, size=shape).astype(np_dt)
    if kind == "small_int":  # ties for comparisons
        return rng.integers(-2, 3, size=shape).astype(np_dt)
    return rng.normal(size=shape).astype(np_dt)


def build_group(names: tuple[str, ...] | list[str], dtype: str,
                seed: int = 0) -> tuple[Graph, list[np.ndarray], list[str]]:
    """One graph holding the cases `names` for `dtype`: (graph, arguments, output tags)."""
    rng = np.random.default_rng(seed)
    inputs: list[Var] = []
    arrays: list[np.ndarray] = []
    outputs: list[Any] = []
    tags: list[str] = []
    with building(Builder()) as b:
        for name in names:
            def mk(shape: tuple[int, ...], dt: str = dtype, kind: str = "normal",
                   _name: str = name) -> Var:
                v = Var(ArrayType(dt, shape), f"{_name}_{len(inputs)}")
                inputs.append(v)
                arrays.append(_draw(rng, shape, dt, kind))
                return v
            outs = PRIM_CASES[name](mk, dtype)
            outputs.extend(outs)
            tags.extend([name] * len(outs))
        g = b.graph(f"prims_{dtype}", tuple(inputs), tuple(outputs))
    return g, arrays, tags


# ---- awkward graphs ---------------------------------------------------------------------------

def _tricky_conflict() -> Graph:
    """x - rowmax(x) + sum(x): the row register and the full sum need different loops."""
    x = _var("x", (4, 6))
    with building(Builder()) as b:
        r = ops.reshape(emit("reduce_max", x, axes=(1,)), (4, 1))
        t = ops.reduce_sum(x, (0, 1))
        y = ops.add(ops.sub(x, r), t)
        return b.graph("conflict", (x,), (y, ops.mul(t, 2.0)))


def _tricky_shifted_register() -> Graph:
    """A row sum read through a slice (another index than its own): it must be stored."""
    x = _var("x", (5, 3))
    with building(Builder()) as b:
        s = ops.reduce_sum(ops.exp(x), (1,))
        d = ops.sub(emit("slice", s, starts=(1,), steps=(1,), shape=(4,)),
                    emit("slice", s, starts=(0,), steps=(1,), shape=(4,)))
        return b.graph("shifted", (x,), (d, ops.mul(s, s)))


def _tricky_scalars() -> Graph:
    """0-d inputs and outputs, literal outputs, an input returned as is, a (1,1) output."""
    a, x = _var("a", ()), _var("x", (3,))
    with building(Builder()) as b:
        s = ops.mul(a, 2.0)
        y = ops.mul(x, s)
        one = ops.reshape(ops.add(s, 1.0), (1, 1))
        return b.graph("scalars", (a, x), (s, y, Lit.make(3.0), Lit.make(np.arange(2.0)), x,
                                           one, ops.reduce_sum(y, (0,))))


def _tricky_empty() -> Graph:
    x = _var("x", (2, 2))
    with building(Builder()) as b:
        return b.graph("empty", (x,), (x,))


def _tricky_extend() -> Graph:
    """A kernel opened by a row-shaped value grows to the full matrix domain."""
    r, m = _var("r", (4,)), _var("m", (4, 5))
    with building(Builder()) as b:
        e = ops.exp(r)
        s = ops.reduce_sum(e, (0,))
        y = ops.mul(ops.reshape(e, (4, 1)), m)
        return b.graph("extend", (r, m), (s, y, ops.reduce_sum(y, (1,))))


def _tricky_two_indices() -> Graph:
    """An expensive inline value read at two indices, and a transposed computed value."""
    x, w = _var("x", (10,)), _var("w", (3, 4))
    with building(Builder()) as b:
        e = ops.exp(x)
        d = ops.sub(emit("slice", e, starts=(1,), steps=(1,), shape=(9,)),
                    emit("slice", e, starts=(0,), steps=(1,), shape=(9,)))
        t = ops.transpose(ops.tanh(w), (1, 0))
        return b.graph("two_indices", (x, w), (d, ops.add(t, 1.0), ops.reduce_sum(t, (1,))))


def _tricky_chain_kernels() -> Graph:
    """Values crossing several kernels: cheap ones recomputed, expensive ones stored."""
    x, w = _var("x", (6, 4)), _var("w", (4, 4))
    with building(Builder()) as b:
        c = ops.mul(x, 3.0)        # cheap
        e = ops.sin(x)             # expensive
        h = ops.matmul(ops.add(c, e), w)
        y = ops.add(ops.mul(h, c), e)
        z = ops.matmul(y, w, transpose_b=True)
        return b.graph("chain", (x, w), (ops.add(z, ops.mul(c, e)), ops.reduce_sum(z, (0,))))


def _tricky_scratch_3d() -> Graph:
    """Normalise over the last two axes of a 3-D array (scratch buffers of a 2-D block)."""
    x = _var("x", (3, 4, 5))
    with building(Builder()) as b:
        e = ops.exp(x)
        s = ops.reshape(ops.reduce_sum(e, (1, 2)), (3, 1, 1))
        p = ops.div(e, s)
        q = ops.reshape(emit("reduce_max", p, axes=(2,)), (3, 4, 1))
        return b.graph("scratch3d", (x,), (ops.mul(p, q), ops.log(s)))


TRICKY: dict[str, Callable[[], Graph]] = {
    "conflict": _tricky_conflict, "shifted": _tricky_shifted_register,
    "scalars": _tricky_scalars, "empty": _tricky_empty, "extend": _tricky_extend,
    "two_indices": _tricky_two_indices, "chain": _tricky_chain_kernels,
    "scratch3d": _tricky_scratch_3d,
}
