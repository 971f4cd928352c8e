"""Random straight-line numpy programs, as Python source, for differential testing.

`programs(dtype)` is a hypothesis strategy of `Program`s: a function of one to three
float arrays of random, broadcast-compatible shapes (and sometimes a Python float) that
applies a random sequence of operations from adjit's numpy surface (docs/numpy.md) and
returns a scalar. The generator runs each operation on concrete inputs as it goes, so
it only keeps an operation whose result is finite and moderate, and whose inputs are
away from the points where it is not differentiable (a tie of `maximum` or of a max
reduction, `abs` at 0, a `clip` bound, the edge of a `where` or comparison mask, a
`floor` step): there finite differences and every framework disagree by convention, not
by bug. Each operation has a numpy spelling and, where torch cannot run the same text
through `torchref.TorchNumpy` (subscripts, methods), a torch spelling.

`Program.source()` is a self-contained script that reproduces a failure.
"""
from __future__ import annotations

import hashlib
import linecache
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

MARGIN = 1e-3  # distance from a kink an input must keep
BIG = 1e3  # largest magnitude an intermediate value may reach
MAX_SIZE = 48  # largest number of elements of an intermediate value

@dataclass
class Val:
    name: str
    value: Any
    pyfloat: bool = False

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.value)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass
class Program:
    dtype: str
    params: list[str]
    args: list[Any]
    consts: list[tuple[str, str]] = field(default_factory=list)
    steps: list[tuple[str, str, str]] = field(default_factory=list)  # name, numpy, torch
    result: tuple[str, str] = ("", "")

    @property
    def argnums(self) -> tuple[int, ...]:
        return tuple(range(len(self.args)))

    def body(self, torch: bool = False) -> str:
        lines = [f"def f({', '.join(self.params)}):"]
        for name, np_src, t_src in self.steps:
            lines.append(f"    {name} = {t_src if torch else np_src}")
        lines.append(f"    return {self.result[1] if torch else self.result[0]}")
        return "\n".join(lines) + "\n"

    def source(self) -> str:
        """A script that rebuilds the program and its arguments."""
        lines = ["import numpy as np", "import adjit", ""]
        lines += [f"{n} = {src}" for n, src in self.consts]
        lines += ["", ""]
        text = "\n".join(lines) + self.body()
        args = ", ".join(_literal(a) for a in self.args)
        text += (f"\n\nargs = ({args},)\n"
                 f"print(adjit.grad(f, argnums={self.argnums})(*args))\n")
        return text

    def function(self, namespace: dict[str, Any] | None = None, torch: bool = False,
                 ) -> Callable[..., Any]:
        """The program as a function. Its source is registered with linecache under a
        unique file name, so tracebacks and adjit's messages show the lines."""
        text = self.body(torch)
        digest = hashlib.sha1(text.encode()).hexdigest()[:10]
        filename = f"<randprog-{digest}{'-torch' if torch else ''}>"
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        ns: dict[str, Any] = {"np": np}
        for n, src in self.consts:
            ns[n] = eval(src, {"np": np})
        if namespace:
            ns.update(namespace)
        exec(compile(text, filename, "exec"), ns)  # noqa: S102
        return ns["f"]

    def __repr__(self) -> str:
        return "\n" + self.source()


def _literal(a: Any) -> str:
    if isinstance(a, float):
        return repr(a)
    with np.printoptions(precision=17, threshold=10_000):
        return f"np.array({np.asarray(a).tolist()!r}, dtype=np.{np.asarray(a).dtype})"


# ---- the generator ------------------------------------------------------------------------------

_WIDE = st.integers(0, 2**16 - 1)


class Reject(Exception):
    """This operation does not fit here (a kink, an overflow, a shape): try another."""


class Gen:
    def __init__(self, draw: Any, dtype: str, rng: np.random.Generator) -> None:
        self.draw = draw
        self.dtype = dtype
        self.rng = rng
        self.pool: list[Val] = []
        self.consts: list[tuple[str, str]] = []
        self.const_vals: dict[str, Any] = {}
        self.steps: list[tuple[str, str, str]] = []

    # ---- drawing helpers ---------------------------------------------------------------------
    def int(self, lo: int, hi: int) -> int:
        """A choice in [lo, hi]: hypothesis likes drawing the bounds of a range, so draw from a
        wide range and fold it, for near-uniform choices that still shrink towards `lo`."""
        return lo + self.draw(_WIDE) % (hi - lo + 1)

    def choice(self, options: list[Any]) -> Any:
        return options[self.int(0, len(options) - 1)]

    def bool(self) -> bool:
        return self.int(0, 1) == 1

    def perm(self, items: Any) -> list[Any]:
        items = list(items)
        out = []
        while items:
            out.append(items.pop(self.int(0, len(items) - 1)))
        return out

    def pick(self, pred: Callable[[Val], bool] = lambda v: True, arrays: bool = True) -> Val:
        """A value of the pool (the most recent first, so programs chain)."""
        cands = [v for v in reversed(self.pool) if pred(v) and not (arrays and not isinstance(
            v.value, (np.ndarray, np.generic)))]
        if not cands:
            raise Reject("no operand")
        if self.bool():
            return cands[0]
        return cands[self.int(0, len(cands) - 1)]

    def const(self, shape: tuple[int, ...], kind: str = "float") -> str:
        """A named constant array of `shape`, from a short expression the source shows."""
        n = int(np.prod(shape, dtype=np.int64))
        if kind == "float":
            lo = self.choice([-1.0, -0.5, 0.25])
            hi = self.choice([1.0, 1.5, 2.0])
            src = f"np.linspace({lo}, {hi}, {n})"
            if self.dtype == "float32" and self.int(0, 3):  # else float64: promotes
                src += ".astype(np.float32)"
        elif kind == "bool":
            src = f"(np.cos(np.arange({n}) * 1.7 + {self.choice([0.0, 0.5, 1.0])}) > -0.3)"
        else:
            src = f"np.arange({n})"
        src += f".reshape({shape})"
        name = f"C{len(self.consts)}"
        self.consts.append((name, src))
        self.const_vals[name] = eval(src, {"np": np})
        return name

    # ---- evaluating -----------------------------------------------------------------------------
    def env(self) -> dict[str, Any]:
        env: dict[str, Any] = {"np": np, **self.const_vals}
        env.update({v.name: v.value for v in self.pool})
        return env

    def eval(self, src: str) -> Any:
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            try:
                return eval(src, self.env())
            except (FloatingPointError, ValueError, IndexError) as e:
                # numpy refuses it (overflow, shapes that do not fit): not a program
                raise Reject(str(e)) from None

    def add(self, np_src: str, t_src: str | None = None, margin: float = math.inf) -> Val:
        if margin < MARGIN:
            raise Reject(f"kink: margin {margin}")
        value = self.eval(np_src)
        arr = np.asarray(value)
        if arr.dtype.kind != "f":
            raise Reject(f"result dtype {arr.dtype}")
        if arr.size == 0 or arr.size > MAX_SIZE or arr.ndim > 4:
            raise Reject(f"result shape {arr.shape}")
        if not np.all(np.isfinite(arr)) or np.max(np.abs(arr)) > BIG:
            raise Reject("too large")
        name = f"v{len(self.steps)}"
        self.steps.append((name, np_src, np_src if t_src is None else t_src))
        v = Val(name, value)
        self.pool.append(v)
        return v

    def undo(self) -> None:
        self.steps.pop()
        self.pool.pop()

    # ---- operands ----------------------------------------------------------------------------
    def positive(self, v: Val) -> tuple[str, float]:
        """An expression of `v` with positive values bounded away from 0, and its margin."""
        x = v.name
        vals = np.asarray(v.value, dtype=np.float64)
        if vals.min() > 0.1 and self.bool():
            return x, math.inf
        forms = [(f"np.exp({x})", math.inf), (f"({x} * {x} + 0.5)", math.inf),
                 (f"(np.abs({x}) + 1.0)", float(np.min(np.abs(vals)))),
                 (f"np.cosh({x})", math.inf), (f"np.logaddexp({x}, 0.0)", math.inf),
                 (f"(1.5 + np.sin({x}))", math.inf), (f"np.sqrt({x} ** 2 + 1.0)", math.inf)]
        return self.choice(forms)

    def broadcast_partner(self, v: Val) -> tuple[str, Any, str]:
        """Something to combine with `v` elementwise: (source, value, kind)."""
        kind = self.choice(["pool", "pool", "scalar", "const", "int"])
        if kind == "pool":
            cands = [w for w in self.pool if _bcast(v.shape, w.shape) is not None]
            if cands:
                w = self.choice(cands)
                return w.name, w.value, "pool"
            kind = "const"
        if kind == "scalar":
            c = self.choice([0.5, -1.25, 2.0, 3, 0.75, -2])
            return repr(c), c, "scalar"
        if kind == "int":
            shape = self.sub_shape(v.shape)
            name = self.const(shape, "int")
            return name, self.const_vals[name], "int"
        shape = self.sub_shape(v.shape)
        name = self.const(shape)
        return name, self.const_vals[name], "const"

    def sub_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """A shape that broadcasts with `shape`: some axes 1, some leading ones dropped, or a
        new leading axis."""
        sub = tuple(d if self.bool() else 1 for d in shape)
        drop = self.int(0, len(sub))
        sub = sub[drop:]
        if self.int(0, 5) == 0 and len(shape) < 3:
            sub = (self.int(1, 3),) + tuple(shape)
        return sub


def _bcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        return None


def _gap(x: np.ndarray, axes: Any, largest: bool = True) -> float:
    """The smallest distance between the extreme and the runner-up over `axes`."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        return math.inf
    ax = tuple(range(x.ndim)) if axes is None else (
        (axes,) if isinstance(axes, int) else tuple(axes))
    ax = tuple(sorted({a % x.ndim for a in ax}))
    if not ax:
        return math.inf
    rest = [i for i in range(x.ndim) if i not in ax]
    m = np.transpose(x, rest + list(ax)).reshape(-1, int(np.prod([x.shape[a] for a in ax])))
    if m.shape[1] < 2:
        return math.inf
    s = np.sort(m, axis=1)
    d = (s[:, -1] - s[:, -2]) if largest else (s[:, 1] - s[:, 0])
    return float(d.min())


def _frac_margin(x: Any) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(np.min(np.abs(x - np.round(x))))


def _axis_arg(g: Gen, nd: int, allow_tuple: bool = True) -> Any:
    """None, an int (maybe negative) or a tuple of axes."""
    if nd == 0:
        return None
    kind = g.int(0, 3 if allow_tuple else 2)
    if kind == 0:
        return None
    if kind in (1, 2):
        a = g.int(0, nd - 1)
        return a - nd if g.bool() else a
    k = g.int(1, nd)
    axes = sorted(g.perm(range(nd))[:k])
    return tuple(a - nd if g.bool() else a for a in axes)


def _reduced_count(shape: tuple[int, ...], axis: Any) -> int:
    if not shape:
        return 1
    ax = range(len(shape)) if axis is None else ((axis,) if isinstance(axis, int) else axis)
    return int(np.prod([shape[a] for a in {a % len(shape) for a in ax}]))


# ---- operations ----------------------------------------------------------------------------------
# Each takes the generator and adds one value to the pool (or raises Reject).

_UNARY_ANY = ["sin", "cos", "tanh", "arctan", "sinh", "cosh", "exp", "expm1", "square",
              "negative", "positive", "exp2"]
_UNARY_KINK = ["abs", "fabs", "absolute", "sign", "floor", "ceil"]


def op_unary(g: Gen) -> None:
    v = g.pick(arrays=False)
    x = v.name
    kind = g.int(0, 9)
    vals = np.asarray(v.value, dtype=np.float64)
    if kind <= 3:
        name = g.choice(_UNARY_ANY)
        if name in ("exp", "sinh", "cosh", "exp2") and vals.max() > 5:
            raise Reject("large")
        g.add(f"np.{name}({x})")
    elif kind == 4:
        name = g.choice(_UNARY_KINK)
        margin = _frac_margin(vals) if name in ("floor", "ceil") else float(np.abs(vals).min())
        if name in ("floor", "ceil", "sign"):  # derivative 0: keep the value in the program
            g.add(f"({x} + np.{name}({x}))", margin=margin)
        else:
            g.add(f"np.{name}({x})", margin=margin)
    elif kind == 5:
        g.choice([lambda: g.add(f"(-{x})"), lambda: g.add(f"abs({x})",
                                                          margin=float(np.abs(vals).min())),
                  lambda: g.add(f"(+{x})")])()
    elif kind == 6:
        p, m = g.positive(v)
        name = g.choice(["log", "log2", "log10", "sqrt", "reciprocal", "log1p"])
        g.add(f"np.{name}({p})", margin=m)
    elif kind == 7:
        name = g.choice(["arcsin", "arccos"])
        g.add(f"np.{name}(0.9 * np.tanh({x}))")
    elif kind == 8:
        g.add(f"np.tan(0.7 * np.tanh({x}))")
    else:
        g.add(f"np.log1p({x} * {x})")


def op_binary(g: Gen) -> None:
    v = g.pick(arrays=False)
    b_src, b_val, kind = g.broadcast_partner(v)
    x = v.name
    xv = np.asarray(v.value, dtype=np.float64)
    bv = np.asarray(b_val, dtype=np.float64)
    swap = g.bool()
    op = g.int(0, 11)
    if op <= 3:
        sym = "+-*/"[op]
        if sym == "/":
            denom_is_b = not swap
            d = bv if denom_is_b else xv
            if np.abs(d).min() < 0.2:
                raise Reject("small denominator")
        lhs, rhs = (b_src, x) if swap else (x, b_src)
        g.add(f"({lhs} {sym} {rhs})")
    elif op == 4:
        name = g.choice(["add", "subtract", "multiply"])
        lhs, rhs = (b_src, x) if swap else (x, b_src)
        g.add(f"np.{name}({lhs}, {rhs})")
    elif op == 5:
        name = g.choice(["maximum", "minimum", "fmax", "fmin"])
        lhs, rhs = (b_src, x) if swap else (x, b_src)
        g.add(f"np.{name}({lhs}, {rhs})", margin=float(np.abs(xv - bv).min()))
    elif op == 6:
        if kind == "scalar" and float(b_val) <= 0:
            raise Reject("pow base")
        if kind == "scalar":
            g.add(f"({b_src} ** {x})")
        else:
            w = Val(b_src, b_val)
            p, m = g.positive(w) if kind != "int" else (f"({b_src} + 1)", math.inf)
            g.add(f"({p} ** {x})" if g.bool() else f"np.power({p}, {x})", margin=m)
    elif op == 7:
        e = g.choice([2, 3, 2.0, 0.5, -1])
        if e in (0.5, -1):
            p, m = g.positive(v)
            g.add(f"({p} ** {e})", margin=m)
        else:
            g.add(f"({x} ** {e})")
    elif op == 8:
        lhs, rhs = (b_src, x) if swap else (x, b_src)
        g.add(f"np.logaddexp({lhs}, {rhs})")
    elif op == 9:
        p, m = g.positive(Val(b_src, b_val)) if kind != "int" else (f"({b_src} + 1)", math.inf)
        g.add(f"np.arctan2({x}, {p})", margin=m)
    elif op == 10:
        c = g.choice([0.7, 1.5, 2.0])
        if g.bool():
            g.add(f"({x} % {c})", margin=_frac_margin(xv / c))
        else:
            g.add(f"({x} + {x} // {c})", f"({x} + np.floor_divide({x}, {c}))",
                  margin=_frac_margin(xv / c))
    else:
        if kind == "int":
            raise Reject("int partner for divide")
        p, m = g.positive(Val(b_src, b_val)) if not swap else g.positive(v)
        g.add(f"({x} / {p})" if not swap else f"np.divide({b_src}, {p})", margin=m)


def op_scalar_arg(g: Gen) -> None:
    """The Python-float argument with an array."""
    s = g.pick(lambda w: w.pyfloat, arrays=False)
    v = g.pick()
    form = g.int(0, 4)
    x = v.name
    if form == 0:
        g.add(f"({x} * {s.name})")
    elif form == 1:
        g.add(f"({s.name} - {x})")
    elif form == 2:
        g.add(f"({x} / ({s.name} * {s.name} + 1.0))")
    elif form == 3:
        g.add(f"np.sin({s.name}) * {x} + {s.name} ** 2")
    else:
        g.add(f"np.maximum({x}, {s.name})",
              margin=float(np.abs(np.asarray(v.value) - s.value).min()))


def op_where_mask(g: Gen) -> None:
    v = g.pick()
    x = v.name
    xv = np.asarray(v.value, dtype=np.float64)
    c = g.choice([0.0, 0.3, -0.5])
    margin = float(np.abs(xv - c).min())
    form = g.int(0, 4)
    if form == 0:
        w = g.pick(lambda w: _bcast(w.shape, v.shape) is not None)
        g.add(f"np.where({x} > {c}, {w.name}, {x} ** 2)", margin=margin)
    elif form == 1:
        g.add(f"({x} * ({x} > {c}))", margin=margin)
    elif form == 2:
        g.add(f"np.where({x} < {c}, 0.5 * {x}, np.sin({x}))", margin=margin)
    elif form == 3:
        lo, hi = g.choice([(-0.5, 0.5), (0.0, 1.0), (-1.0, 0.2)])
        margin = float(min(np.abs(xv - lo).min(), np.abs(xv - hi).min()))
        if g.bool():
            g.add(f"np.clip({x}, {lo}, {hi})", margin=margin)
        else:
            g.add(f"{x}.clip({lo}, {hi})", f"np.clip({x}, {lo}, {hi})", margin=margin)
    else:
        g.add(f"np.where(({x} > {c}) & ({x} < {c + 1.0}), {x}, 0.0)",
              margin=float(min(margin, np.abs(xv - c - 1.0).min())))


_REDUCTIONS = ["sum", "mean", "max", "min", "amax", "amin", "prod", "var", "std"]


def op_reduce(g: Gen) -> None:
    v = g.pick()
    x = v.name
    name = g.choice(_REDUCTIONS)
    axis = _axis_arg(g, v.ndim)
    keep = g.bool()
    extra = {}
    margin = math.inf
    xv = np.asarray(v.value, dtype=np.float64)
    n = _reduced_count(v.shape, axis)
    if name in ("var", "std"):
        ddof = g.choice([0, 0, 1])
        if ddof >= n:
            raise Reject("ddof")
        if ddof:
            extra["ddof"] = ddof
        if name == "std":
            var = np.var(xv, axis=axis, ddof=ddof)
            margin = float(np.min(var)) * 10  # sqrt's kink at 0
    if name in ("max", "amax"):
        margin = _gap(xv, axis, True)
    if name in ("min", "amin"):
        margin = _gap(xv, axis, False)
    if name == "prod" and n > 6:
        raise Reject("long product")
    if name in ("sum", "mean", "var", "std", "prod") and v.ndim and g.int(0, 3) == 0:
        mask_name = g.const(v.shape[g.int(0, v.ndim - 1):], "bool")
        mask = g.const_vals[mask_name]
        extra["where"] = mask_name
        if name in ("var", "std"):
            with np.errstate(all="ignore"):
                var = np.var(xv, axis=axis, ddof=extra.get("ddof", 0), where=mask)
            margin = float(np.min(var)) * 10 if np.all(np.isfinite(var)) else 0.0
    kw = ", ".join(([f"axis={axis!r}"] if axis is not None else [])
                   + (["keepdims=True"] if keep else [])
                   + [f"{k}={val if k == 'where' else repr(val)}" for k, val in extra.items()])
    fn_src = f"np.{name}({x}{', ' if kw else ''}{kw})"
    form = g.int(0, 3)
    if form == 0 and name not in ("amax", "amin"):
        g.add(f"{x}.{name}({kw})", fn_src, margin=margin)
    elif form == 1 and name in ("sum", "max", "min", "prod") and isinstance(axis, int) \
            and not extra:
        ufunc = {"sum": "add", "max": "maximum", "min": "minimum", "prod": "multiply"}[name]
        g.add(f"np.{ufunc}.reduce({x}, axis={axis}{', keepdims=True' if keep else ''})", fn_src,
              margin=margin)
    else:
        g.add(fn_src, margin=margin)


def op_cumsum(g: Gen) -> None:
    v = g.pick(lambda w: w.ndim >= 1)
    axis = None if g.int(0, 2) == 0 else g.int(-v.ndim, v.ndim - 1)
    x = v.name
    kw = "" if axis is None else f", axis={axis}"
    t_src = f"np.cumsum({x}{kw})"
    form = g.int(0, 2)
    if form == 0:
        g.add(t_src)
    elif form == 1:
        g.add(f"{x}.cumsum({kw[2:]})", t_src)
    elif axis is not None:
        g.add(f"np.add.accumulate({x}{kw})", t_src)
    else:
        g.add(t_src)


def op_matmul(g: Gen) -> None:
    v = g.pick(lambda w: w.ndim >= 1)
    x = v.name
    k = v.shape[-1]
    form = g.int(0, 5)
    partners = [w for w in g.pool if not w.pyfloat and w.ndim >= 1 and (
        (w.ndim == 1 and w.shape[0] == k) or (w.ndim >= 2 and w.shape[-2] == k
                                              and _bcast(v.shape[:-2], w.shape[:-2]) is not None))]
    if partners and g.bool():
        w = g.choice(partners).name
    else:
        m = g.int(1, 4)
        shape = g.choice([(k, m), (k,), (g.int(1, 2), k, m)])
        w = g.const(shape)
    if form <= 2:
        g.add(f"({x} @ {w})")
    elif form == 3:
        g.add(f"np.matmul({x}, {w})")
    else:
        wv = g.const_vals.get(w, None)
        wv = wv if wv is not None else next(p.value for p in g.pool if p.name == w)
        if np.ndim(wv) <= 2 or v.ndim >= 1:
            g.add(f"np.dot({x}, {w})")
    # left products: C @ x
    if g.int(0, 3) == 0 and v.ndim >= 1:
        n = v.shape[-2] if v.ndim >= 2 else v.shape[0]
        c = g.const((g.int(1, 3), n))
        g.add(f"({c} @ {x})")


def op_einsum(g: Gen) -> None:
    v = g.pick(lambda w: 1 <= w.ndim <= 3)
    letters = "ijkl"
    a_spec = letters[:v.ndim]
    if g.bool():  # one operand: transpose / reduce
        keep = [c for c in a_spec if g.bool()]
        perm = g.perm(keep) if keep else []
        g.add(f"np.einsum('{a_spec}->{''.join(perm)}', {v.name})")
        return
    # two operands: share some letters with equal sizes, add free ones
    w_cands = [w for w in g.pool if not w.pyfloat and 1 <= w.ndim <= 3]
    w = g.choice(w_cands) if w_cands and g.bool() else None
    if w is None:
        shared = [c for c in a_spec if g.bool()] or [a_spec[-1]]
        free = ["m"] if g.bool() else []
        b_letters = shared + free
        b_letters = list(g.perm(b_letters))
        sizes = {c: v.shape[a_spec.index(c)] for c in shared}
        sizes["m"] = g.int(1, 3)
        shape = tuple(sizes[c] for c in b_letters)
        w_src = g.const(shape)
        b_spec = "".join(b_letters)
    else:
        b_spec = ""
        used = set()
        for d in w.shape:
            opts = [c for c in a_spec if v.shape[a_spec.index(c)] == d and c not in used]
            if opts and g.bool():
                c = g.choice(opts)
            else:
                c = next(c for c in "mnop" if c not in used)
            used.add(c)
            b_spec += c
        w_src = w.name
    all_letters = sorted(set(a_spec) | set(b_spec))
    out = [c for c in all_letters if g.bool()]
    out = list(g.perm(out)) if out else []
    g.add(f"np.einsum('{a_spec},{b_spec}->{''.join(out)}', {v.name}, {w_src})")


def op_products(g: Gen) -> None:
    v = g.pick(lambda w: w.ndim >= 1)
    x = v.name
    form = g.int(0, 4)
    if form == 0:
        c = g.const(v.shape)
        g.add(f"np.vdot({x}, {c})")
    elif form == 1:
        c = g.const((g.int(1, 3),))
        g.add(f"np.outer({x}, {c})")
    elif form == 2:
        c = g.const((g.int(1, 2), v.shape[-1]))
        g.add(f"np.inner({x}, {c})")
    elif form == 3:
        k = g.int(1, min(2, v.ndim))
        shape = v.shape[v.ndim - k:] + (g.int(1, 3),)
        c = g.const(shape)
        g.add(f"np.tensordot({x}, {c}, axes={k})")
    else:
        ords = [None, 1, 2, np.inf, 3]
        o = g.choice(ords)
        xv = np.asarray(v.value, dtype=np.float64)
        margin = float(np.abs(xv).min()) if o in (1, 3) else math.inf
        if o == np.inf:
            margin = min(float(np.abs(xv).min()), _gap(np.abs(xv.ravel()), None))
        if o is None and v.ndim == 2 and g.bool():
            ax = g.choice([0, 1, -1])
            g.add(f"np.linalg.norm({x}, axis={ax})")
            return
        ord_ = "" if o is None else ", ord=" + ("np.inf" if o == np.inf else str(o))
        src = f"np.linalg.norm({x}.ravel(){ord_})"
        t_src = src.replace(f"{x}.ravel()", f"np.ravel({x})")
        g.add(src, t_src, margin=margin)


def _factor_shape(g: Gen, n: int) -> tuple[int, ...]:
    dims = []
    rest = n
    for _ in range(g.int(0, 3)):
        divs = [d for d in range(1, rest + 1) if rest % d == 0]
        d = g.choice(divs)
        dims.append(d)
        rest //= d
    dims.append(rest)
    return tuple(g.perm(dims))


def op_shape(g: Gen) -> None:
    v = g.pick(lambda w: w.ndim >= 1) if g.int(0, 3) else g.pick()
    x = v.name
    nd = v.ndim
    valid = [0, 3, 4, 5, 8] + ([1, 1, 2] if nd >= 2 else []) + (
        [6, 7, 9, 10, 11, 13] if nd >= 1 else []) + ([12] if nd in (1, 2) else [])
    form = g.choice(valid)
    if form == 0:
        shape = _factor_shape(g, v.size)
        if len(shape) > 1 and g.bool():
            i = g.int(0, len(shape) - 1)
            shape = tuple(-1 if j == i else d for j, d in enumerate(shape))
        s = g.choice([f"{x}.reshape({shape})", f"np.reshape({x}, {shape})",
                      f"{x}.reshape{shape}" if len(shape) > 1 else f"{x}.reshape({shape[0]})"])
        g.add(s, f"np.reshape({x}, {shape})")
    elif form == 1 and nd >= 2:
        perm = tuple(g.perm(range(nd)))
        s = g.choice([f"{x}.T", f"np.transpose({x}, {perm})", f"{x}.transpose({perm})",
                       f"{x}.transpose(*{perm})", f"np.transpose({x})"])
        if s.endswith(".T"):
            g.add(s, f"np.transpose({x})")
        elif "np.transpose" in s:
            g.add(s)
        else:
            g.add(s, f"np.transpose({x}, {perm})")
    elif form == 2 and nd >= 2:
        i, j = g.int(-nd, nd - 1), g.int(-nd, nd - 1)
        g.add(g.choice([f"np.swapaxes({x}, {i}, {j})", f"np.moveaxis({x}, {i}, {j})"]))
    elif form == 3:
        ax = g.int(-nd - 1, nd)
        e = f"np.expand_dims({x}, {ax})"
        sq = [i for i, d in enumerate(v.shape) if d == 1]
        if sq and g.bool():
            g.add(f"np.squeeze({x}, axis={g.choice(sq)})" if g.bool() else f"np.squeeze({x})")
        else:
            g.add(e)
    elif form == 4:
        g.add(g.choice([f"{x}.ravel()", f"{x}.flatten()", f"np.ravel({x})"]), f"np.ravel({x})")
    elif form == 5:
        target = tuple(g.int(1, 3) if d == 1 else d for d in v.shape)
        if g.bool() or target == v.shape:
            target = (g.int(1, 3),) + target
        g.add(f"np.broadcast_to({x}, {target})")
    elif form == 6 and nd >= 1:
        ax = g.int(-nd, nd - 1)
        other_cands = [w for w in g.pool if not w.pyfloat and w.ndim == nd and all(
            a == b for i, (a, b) in enumerate(zip(w.shape, v.shape, strict=True)) if i != ax % nd)]
        w = g.choice(other_cands).name if other_cands else f"np.sin({x})"
        t = g.choice(["concatenate", "concatenate", "stack", "concat"])
        if t == "stack":
            same = [w.name for w in g.pool if not w.pyfloat and w.shape == v.shape] or [x]
            g.add(f"np.stack([{x}, {g.choice(same)}], axis={g.int(-nd - 1, nd)})")
        elif t == "concat" and hasattr(np, "concat"):
            g.add(f"np.concat([{w}, {x}], axis={ax})")
        else:
            g.add(f"np.concatenate([{x}, {w}, {x}], axis={ax})" if g.bool()
                  else f"np.concatenate(({w}, {x}), {ax})")
    elif form == 7 and nd >= 1:
        if nd == 1:
            fn = g.choice(["vstack", "hstack", "column_stack", "stack"])
            g.add(f"np.{fn}([{x}, 2.0 * {x}])")
        else:
            fn = g.choice(["vstack", "hstack"])
            g.add(f"np.{fn}([{x}, {x} ** 2])")
    elif form == 8:
        reps = tuple(g.int(1, 2) for _ in range(g.int(1, 3)))
        g.add(f"np.tile({x}, {reps if len(reps) > 1 else reps[0]})")
    elif form == 9 and nd >= 1:
        ax = g.int(-nd, nd - 1)
        if g.bool():
            g.add(f"np.repeat({x}, {g.int(1, 3)}, axis={ax})")
        else:
            reps = [g.int(0, 2) for _ in range(v.shape[ax])]
            if sum(reps) == 0:
                reps[0] = 1
            s = g.choice([f"np.repeat({x}, {reps}, axis={ax})", f"{x}.repeat({reps}, axis={ax})"])
            g.add(s, f"np.repeat({x}, {reps}, axis={ax})")
    elif form == 10 and nd >= 1:
        ax = g.choice([None, g.int(-nd, nd - 1)])
        fn = g.choice(["flip", "roll", "roll", "fliplr", "flipud"])
        if fn == "flip":
            g.add(f"np.flip({x})" if ax is None else f"np.flip({x}, axis={ax})")
        elif fn == "roll":
            sh = g.int(-5, 5)
            g.add(f"np.roll({x}, {sh})" if ax is None else f"np.roll({x}, {sh}, axis={ax})")
        elif fn == "fliplr" and nd >= 2:
            g.add(f"np.fliplr({x})")
        else:
            g.add(f"np.flipud({x})")
    elif form == 11 and nd >= 1:
        ax = g.int(-nd, nd - 1)
        n = g.int(1, 2)
        if v.shape[ax] <= n:
            raise Reject("diff")
        g.add(f"np.diff({x}, n={n}, axis={ax})" if n > 1 or g.bool()
              else f"np.diff({x}, axis={ax})",
              f"np.diff({x}, n={n}, axis={ax})")
    elif form == 12 and nd in (1, 2):
        if nd == 2 and g.bool():
            g.add(f"np.trace({x}) * {x}")
        else:
            g.add(f"np.diag({x})")
    elif form == 13 and nd >= 1:
        g.add(g.choice([f"np.atleast_2d({x})", f"np.atleast_1d({x})", f"np.copy({x})",
                        f"{x}.copy()", f"np.squeeze({x}[None])"]),
              None)
    else:
        raise Reject("shape op does not fit")
    name, np_src, t_src = g.steps[-1]
    if t_src.endswith(".copy()"):
        g.steps[-1] = (name, np_src, f"np.copy({x})")
    elif "[None]" in t_src:
        g.steps[-1] = (name, np_src, f"np.squeeze(np.expand_dims({x}, 0))")


def _slice_src(g: Gen, n: int) -> str:
    step = g.choice([1, 1, 2, -1, -2, 3, None])
    start = g.choice([None, g.int(-n, n - 1)])
    stop = g.choice([None, g.int(-n - 1, n + 1)])
    s = "" if start is None else str(start)
    s += ":" + ("" if stop is None else str(stop))
    if step is not None:
        s += f":{step}"
    return s


def op_index(g: Gen) -> None:
    v = g.pick(lambda w: w.ndim >= 1)
    x = v.name
    nd = v.ndim
    form = g.int(0, 9)
    if form <= 3:  # basic indexing
        parts = []
        for ax in range(g.int(1, nd)):
            n = v.shape[ax]
            k = g.int(0, 4)
            if k == 0:
                parts.append(str(g.int(-n, n - 1)))
            elif k == 1:
                parts.append(":")
            else:
                parts.append(_slice_src(g, n))
            if g.int(0, 6) == 0:
                parts.append("None")
        if g.int(0, 5) == 0:
            parts.insert(g.int(0, len(parts)), "...")
        key = ", ".join(parts)
    elif form <= 6:  # integer arrays
        ax = g.int(0, nd - 1)
        n = v.shape[ax]
        idx = [g.int(-n, n - 1) for _ in range(g.int(1, 4))]
        lead = ", ".join([":"] * ax)
        if form == 4:
            key = (lead + ", " if lead else "") + repr(idx)
        elif form == 5:
            arr = np.array(idx + idx[:1]).reshape(-1, 1)[: 2 * (len(idx) // 2) or 1]
            key = (lead + ", " if lead else "") + f"np.array({arr.reshape(-1, 1).tolist()})"
        else:
            if nd >= 2:
                ax2 = g.choice([a for a in range(nd) if a != ax])
                idx2 = [g.int(-v.shape[ax2], v.shape[ax2] - 1) for _ in idx]
                parts = [":"] * nd
                parts[ax], parts[ax2] = repr(idx), repr(idx2)
                if g.bool():
                    parts[max(ax, ax2) + 1:] = []
                key = ", ".join(parts)
            else:
                key = repr(idx)
    elif form == 7:  # constant boolean mask
        if g.bool():
            m = [bool(g.int(0, 1)) for _ in range(v.shape[0])]
            m[g.int(0, len(m) - 1)] = True
            key = f"np.array({m})"
        else:
            m = (np.arange(v.size) % g.int(2, 3) == 0).reshape(v.shape)
            key = f"np.array({m.tolist()})"
    elif form == 8:  # take, take_along_axis
        ax = g.int(-nd, nd - 1)
        n = v.shape[ax]
        if g.bool():
            idx = [g.int(-n, n - 1) for _ in range(g.int(1, 4))]
            src = g.choice([f"np.take({x}, {idx}, axis={ax})", f"{x}.take({idx}, axis={ax})",
                            f"np.take({x}, {[i % v.size for i in idx]})"])
            t = src.replace(f"{x}.take(", f"np.take({x}, ")
            g.add(src, t)
        else:
            shape = list(v.shape)
            shape[ax] = g.int(1, 3)
            idx = np.asarray(g.rng.integers(0, n, size=shape))
            g.add(f"np.take_along_axis({x}, np.array({idx.tolist()}), axis={ax})")
        return
    else:  # an index computed by argmax, or a traced boolean mask then reduced
        xv = np.asarray(v.value, dtype=np.float64)
        if g.bool():
            ax = g.int(0, nd - 1) if nd > 1 and g.bool() else None
            if ax is None:
                g.add(f"np.ravel({x})[np.argmax({x})] * {x}",
                      f"np.ravel({x})[np.argmax({x})] * {x}",
                      margin=_gap(xv, None))
            else:
                g.add(f"np.take_along_axis({x}, np.expand_dims(np.argmax({x}, axis={ax}), {ax}),"
                      f" axis={ax})", margin=_gap(xv, ax))
            return
        c = g.choice([0.0, 0.5, -0.3])
        if not (xv > c).any():
            raise Reject("empty mask")
        red = g.choice(["sum", "mean", "max", "min", "prod"])
        sel = xv[xv > c]
        margin = float(np.abs(xv - c).min())
        if red == "max":
            margin = min(margin, _gap(sel, None))
        if red == "min":
            margin = min(margin, _gap(sel, None, False))
        if red == "prod" and sel.size > 6:
            raise Reject("long product")
        g.add(f"np.{red}({x}[{x} > {c}] ** 2) * {x}", margin=margin)
        return
    src = f"{x}[{key}]"
    t_src = f"np.move(lambda _a: _a[{key}], {x})"
    g.add(src, t_src)


OPS: list[tuple[Callable[[Gen], None], int]] = [
    (op_unary, 6), (op_binary, 8), (op_scalar_arg, 1), (op_where_mask, 2), (op_reduce, 4),
    (op_cumsum, 1), (op_matmul, 3), (op_einsum, 3), (op_products, 2), (op_shape, 8),
    (op_index, 5),
]
_OP_TABLE = [fn for fn, w in OPS for _ in range(w)]


def _final(g: Gen) -> tuple[str, str]:
    """A scalar from the last value and maybe a few others, with non-uniform weights so that
    a transposed or reversed cotangent shows."""
    terms_np, terms_t = [], []
    chosen = [g.pool[-1]] + [g.choice(g.pool) for _ in range(g.int(0, 2))]
    for v in chosen:
        if v.pyfloat:
            terms_np.append(f"{v.name} ** 2")
            terms_t.append(f"{v.name} ** 2")
            continue
        form = g.int(0, 3)
        if form == 0 or v.ndim == 0 and form == 3:
            w = g.const(v.shape)
            s = f"np.sum({v.name} * {w})"
        elif form == 1:
            s = f"np.sum(np.sin({v.name}))"
        elif form == 2:
            s = f"np.mean({v.name} ** 2)"
        else:
            w = g.const(v.shape)
            terms_np.append(f"({v.name} * {w}).sum()")
            terms_t.append(f"np.sum({v.name} * {w})")
            continue
        terms_np.append(s)
        terms_t.append(s)
    return " + ".join(terms_np), " + ".join(terms_t)


@st.composite
def programs(draw: Any, dtype: str = "float64", max_steps: int = 8, min_steps: int = 1) -> Program:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    g = Gen(draw, dtype, rng)
    base = [g.choice([2, 3, 4, 1, 2, 3, 5]) for _ in range(g.choice([2, 3, 1, 2, 3, 0]))]
    n_in = g.int(1, 3)
    params, args = [], []
    for i in range(n_in):
        shape = tuple(d if g.int(0, 2) or d == 1 else 1 for d in base)
        shape = shape[g.choice([0, 0, 0, 1, len(shape)]):] if i else tuple(base)
        a = rng.normal(size=shape).astype(dtype)
        name = f"x{i}"
        params.append(name)
        args.append(a)
        g.pool.append(Val(name, a))
    if g.bool():
        s = float(np.round(rng.uniform(0.5, 1.5), 3))
        params.append("s")
        args.append(s)
        g.pool.append(Val("s", s, pyfloat=True))
    n_steps = g.int(min(min_steps, max_steps), max_steps)
    done = tries = 0
    while done < n_steps and tries < 4 * max_steps:
        tries += 1
        op = g.choice(_OP_TABLE)
        before = (len(g.steps), len(g.consts))
        try:
            op(g)
            done += 1
        except Reject:
            # drop what a half-done op added
            del g.steps[before[0]:]
            g.pool = [v for v in g.pool if not v.name.startswith("v")
                      or int(v.name[1:]) < before[0]]
            for name, _ in g.consts[before[1]:]:
                del g.const_vals[name]
            del g.consts[before[1]:]
    result = _final(g)
    return Program(dtype, params, args, g.consts, g.steps, result)
