"""An independent reference for gradients: numpy programs run on PyTorch tensors.

`TorchNumpy()` is a stand-in for the `np` module whose functions take torch tensors and
follow numpy's semantics, so the source of a numpy program can be executed with `np`
bound to it and differentiated by `torch.autograd`. Arithmetic (ufuncs, reductions,
products) is torch's own; functions that only move data (reshape, transpose,
concatenate, indexing helpers, ...) are computed by running the numpy function itself on
arrays of flat positions and gathering those positions from the tensors (`move`), so
their semantics are numpy's by construction while the derivative is torch's gather.

Only imported when torch is installed (CI does not have it); `available()` says so.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

try:  # pragma: no cover - depends on the environment
    import torch
except ImportError:  # pragma: no cover
    torch = None


def available() -> bool:
    return torch is not None


def _is_t(x: Any) -> bool:
    return torch is not None and isinstance(x, torch.Tensor)


def _float_t(x: Any) -> bool:
    return _is_t(x) and x.is_floating_point()


def move(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` for a numpy function that only moves data, on tensors.

    Every float tensor (and Python float) among the arguments, also inside lists and
    tuples, is replaced by an integer array of positions into one flat vector; numpy
    runs `fn` on those; the result's positions are gathered from the flat vector. Slot 0
    holds a zero, for functions that fill with zeros (np.diag of a vector). Integer and
    boolean tensors (indices, masks) are passed to numpy as arrays.
    """
    flats: list[Any] = []
    dtype = [None]
    offset = [1]

    def swap(x: Any) -> Any:
        if isinstance(x, (list, tuple)):
            return type(x)(swap(e) for e in x)
        if _float_t(x):
            dtype[0] = dtype[0] or x.dtype
            n = x.numel()
            flats.append(x.reshape(-1))
            idx = np.arange(offset[0], offset[0] + n).reshape(tuple(x.shape))
            offset[0] += n
            return idx
        if _is_t(x):
            return x.detach().cpu().numpy()
        if isinstance(x, float):
            flats.append(torch.tensor([x], dtype=torch.float64))
            idx = np.int64(offset[0])
            offset[0] += 1
            return idx
        return x

    new_args = swap(list(args))
    new_kwargs = {k: swap(v) for k, v in kwargs.items()}
    idx = np.asarray(fn(*new_args, **new_kwargs))
    if not flats:  # only indices or masks: an index computation, not data
        return idx
    dt = dtype[0] or torch.float64
    flat = torch.cat([torch.zeros(1, dtype=dt)] + [f.to(dt) for f in flats])
    return flat[torch.as_tensor(np.array(idx.reshape(-1)), dtype=torch.long)].reshape(idx.shape)


_MOVERS = [
    "reshape", "ravel", "transpose", "swapaxes", "moveaxis", "expand_dims", "squeeze",
    "broadcast_to", "atleast_1d", "atleast_2d", "concatenate", "concat", "stack", "vstack",
    "hstack", "column_stack", "tile", "repeat", "flip", "fliplr", "flipud", "roll", "take",
    "take_along_axis", "diag", "where", "copy",
]

_UNARY = {
    "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin", "arccos": "acos",
    "arctan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "exp": "exp",
    "expm1": "expm1", "exp2": "exp2", "log": "log", "log2": "log2", "log10": "log10",
    "log1p": "log1p", "sqrt": "sqrt", "square": "square", "reciprocal": "reciprocal",
    "negative": "neg", "abs": "abs", "absolute": "abs", "fabs": "abs", "sign": "sign",
    "floor": "floor", "ceil": "ceil", "logical_not": "logical_not",
}
_BINARY = {
    "add": "add", "subtract": "sub", "multiply": "mul", "divide": "div", "true_divide": "div",
    "power": "pow", "float_power": "pow", "maximum": "maximum", "minimum": "minimum",
    "fmax": "fmax", "fmin": "fmin", "arctan2": "atan2", "logaddexp": "logaddexp",
    "floor_divide": "floor_divide", "remainder": "remainder", "mod": "remainder",
    "greater": "gt", "greater_equal": "ge", "less": "lt", "less_equal": "le", "equal": "eq",
    "not_equal": "ne", "logical_and": "logical_and", "logical_or": "logical_or",
    "hypot": "hypot",
}


def _dims(x: Any, axis: Any) -> tuple[int, ...]:
    nd = x.ndim
    if axis is None:
        return tuple(range(nd))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return tuple(sorted(int(a) % max(nd, 1) for a in axes))


def _as_tensors(args: Sequence[Any]) -> list[Any]:
    like = next((a for a in args if _float_t(a)), None)
    if like is None:
        like = next(a for a in args if _is_t(a))
    out = []
    for a in args:
        if _is_t(a):
            out.append(a)
        elif isinstance(a, np.ndarray):
            out.append(torch.as_tensor(a))
        elif isinstance(a, (bool, np.bool_)):
            out.append(torch.as_tensor(bool(a)))
        elif isinstance(a, (int, np.integer)) and not like.is_floating_point():
            out.append(torch.as_tensor(int(a)))
        else:
            out.append(torch.as_tensor(float(a), dtype=like.dtype if like.is_floating_point()
                                       else torch.float64))
    return out


class _Linalg:
    @staticmethod
    def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
        if not _is_t(x):
            return np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)
        dims = _dims(x, axis)
        if ord in (None, "fro") or (ord == 2 and len(dims) == 1):
            r = torch.sqrt(torch.sum(x * x, dim=dims, keepdim=keepdims)) if dims else x.abs()
            return r
        if len(dims) == 1:
            return torch.linalg.vector_norm(x, ord=float(ord), dim=dims, keepdim=keepdims)
        raise NotImplementedError(f"torch shim: norm ord={ord} axes={dims}")


class _Reducer:
    """np.add.reduce / np.maximum.reduce / np.add.accumulate."""

    def __init__(self, ns: TorchNumpy, name: str) -> None:
        self.ns, self.name = ns, name

    def __call__(self, *args: Any, **kw: Any) -> Any:
        return getattr(self.ns, "_" + self.name)(*args, **kw)

    def reduce(self, x: Any, axis: Any = 0, keepdims: bool = False) -> Any:
        fn = {"add": self.ns.sum, "multiply": self.ns.prod, "maximum": self.ns.max,
              "minimum": self.ns.min}[self.name]
        return fn(x, axis=axis, keepdims=keepdims)

    def accumulate(self, x: Any, axis: int = 0) -> Any:
        assert self.name == "add"
        return self.ns.cumsum(x, axis=axis)


class TorchNumpy:
    """`np` for tensors: see the module docstring. Names it does not define fall back to
    numpy when no tensor is among the arguments (constants, index arithmetic)."""

    linalg = _Linalg()
    pi = np.pi
    inf = np.inf
    newaxis = None
    float32 = np.float32
    float64 = np.float64

    def __init__(self) -> None:
        for name in ("add", "multiply", "maximum", "minimum"):
            setattr(self, name, _Reducer(self, name))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") and name[1:] in _BINARY:
            return self._binary(name[1:])
        if name in _UNARY:
            tname = _UNARY[name]

            def unary(x: Any, **kw: Any) -> Any:
                if not _is_t(x):
                    return getattr(np, name)(x, **kw)
                return getattr(torch, tname)(x)

            return unary
        if name in _BINARY:
            return self._binary(name)
        if name in _MOVERS:
            np_fn = getattr(np, name)
            return lambda *a, **k: move(np_fn, *a, **k) if _has_t(a, k) else np_fn(*a, **k)
        fn = getattr(np, name)
        if not callable(fn):
            return fn

        def fallback(*a: Any, **k: Any) -> Any:
            if _has_t(a, k):
                raise NotImplementedError(f"torch shim has no np.{name} for tensors")
            return fn(*a, **k)

        return fallback

    def _binary(self, name: str) -> Callable[..., Any]:
        tname = _BINARY[name]

        def binary(x: Any, y: Any, **kw: Any) -> Any:
            if not (_is_t(x) or _is_t(y)):
                return getattr(np, name)(x, y, **kw)
            a, b = _as_tensors([x, y])
            return getattr(torch, tname)(a, b)

        return binary

    # ---- reductions ------------------------------------------------------------------------
    @staticmethod
    def _red(x: Any, axis: Any, keepdims: bool, fn: Callable[..., Any]) -> Any:
        if not _is_t(x):
            x = torch.as_tensor(np.asarray(x))
        if x.ndim == 0:
            return fn(x.reshape(1), (0,), False).reshape(())
        dims = _dims(x, axis)
        if not dims:
            return x
        return fn(x, dims, keepdims)

    @staticmethod
    def _mask(x: Any, where: Any) -> Any:
        return torch.broadcast_to(torch.as_tensor(np.asarray(where)), tuple(x.shape))

    def sum(self, x: Any, axis: Any = None, keepdims: bool = False, where: Any = None,
            **_: Any) -> Any:
        if where is not None:
            x = torch.where(self._mask(x, where), x, torch.zeros_like(x))
        return self._red(x, axis, keepdims, lambda t, d, k: torch.sum(t, dim=d, keepdim=k))

    def mean(self, x: Any, axis: Any = None, keepdims: bool = False, where: Any = None,
             **_: Any) -> Any:
        if where is not None:
            m = self._mask(x, where)
            return self.sum(x, axis, keepdims, where) / self.sum(m.to(x.dtype), axis, keepdims)
        return self._red(x, axis, keepdims, lambda t, d, k: torch.mean(t, dim=d, keepdim=k))

    def max(self, x: Any, axis: Any = None, keepdims: bool = False, **_: Any) -> Any:
        return self._red(x, axis, keepdims, lambda t, d, k: torch.amax(t, dim=d, keepdim=k))

    def min(self, x: Any, axis: Any = None, keepdims: bool = False, **_: Any) -> Any:
        return self._red(x, axis, keepdims, lambda t, d, k: torch.amin(t, dim=d, keepdim=k))

    amax, amin = max, min

    def prod(self, x: Any, axis: Any = None, keepdims: bool = False, where: Any = None,
             **_: Any) -> Any:
        if where is not None:
            x = torch.where(self._mask(x, where), x, torch.ones_like(x))

        def fn(t: Any, d: tuple[int, ...], k: bool) -> Any:
            for ax in sorted(d, reverse=True):
                t = torch.prod(t, dim=ax, keepdim=k)
            return t

        return self._red(x, axis, keepdims, fn)

    def var(self, x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False,
            where: Any = None, **_: Any) -> Any:
        if where is not None:
            m = self._mask(x, where)
            mu = self.mean(x, axis, True, where)
            d = torch.where(m, x - mu, torch.zeros_like(x))
            n = self.sum(m.to(x.dtype), axis, keepdims)
            return self.sum(d * d, axis, keepdims) / (n - ddof)
        return self._red(x, axis, keepdims,
                         lambda t, d, k: torch.var(t, dim=d, correction=ddof, keepdim=k))

    def std(self, x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False,
            where: Any = None, **_: Any) -> Any:
        if where is not None:
            return torch.sqrt(self.var(x, axis, ddof, keepdims, where))
        return self._red(x, axis, keepdims,
                         lambda t, d, k: torch.std(t, dim=d, correction=ddof, keepdim=k))

    def cumsum(self, x: Any, axis: Any = None, **_: Any) -> Any:
        if axis is None:
            return torch.cumsum(x.reshape(-1), 0)
        return torch.cumsum(x, dim=int(axis) % x.ndim)

    def argmax(self, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return torch.argmax(x, dim=axis, keepdim=keepdims)

    def argmin(self, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return torch.argmin(x, dim=axis, keepdim=keepdims)

    def average(self, x: Any, axis: Any = None, weights: Any = None) -> Any:
        if weights is None:
            return self.mean(x, axis=axis)
        return self.sum(x * weights, axis=axis) / self.sum(weights + 0 * x, axis=axis)

    # ---- products ---------------------------------------------------------------------------
    def matmul(self, a: Any, b: Any) -> Any:
        return torch.matmul(*_as_tensors([a, b]))

    def dot(self, a: Any, b: Any) -> Any:
        a, b = _as_tensors([a, b])
        if a.ndim == 0 or b.ndim == 0:
            return a * b
        if b.ndim <= 2:
            return torch.matmul(a, b)
        return torch.tensordot(a, b, dims=([a.ndim - 1], [b.ndim - 2]))

    def vdot(self, a: Any, b: Any) -> Any:
        a, b = _as_tensors([a, b])
        return torch.sum(a.reshape(-1) * b.reshape(-1))

    def inner(self, a: Any, b: Any) -> Any:
        a, b = _as_tensors([a, b])
        if a.ndim == 0 or b.ndim == 0:
            return a * b
        return torch.tensordot(a, b, dims=([a.ndim - 1], [b.ndim - 1]))

    def outer(self, a: Any, b: Any) -> Any:
        a, b = _as_tensors([a, b])
        return torch.outer(a.reshape(-1), b.reshape(-1))

    def tensordot(self, a: Any, b: Any, axes: Any = 2) -> Any:
        a, b = _as_tensors([a, b])
        if not isinstance(axes, (int, np.integer)):
            axes = ([axes[0]] if isinstance(axes[0], int) else list(axes[0]),
                    [axes[1]] if isinstance(axes[1], int) else list(axes[1]))
        return torch.tensordot(a, b, dims=axes)

    def einsum(self, spec: str, *ops: Any) -> Any:
        return torch.einsum(spec, *_as_tensors(list(ops)))

    def clip(self, x: Any, a_min: Any = None, a_max: Any = None) -> Any:
        if a_min is not None:
            x = self.maximum(x, a_min)
        if a_max is not None:
            x = self.minimum(x, a_max)
        return x

    def trace(self, x: Any) -> Any:
        return torch.sum(torch.diagonal(x))

    def diff(self, x: Any, n: int = 1, axis: int = -1) -> Any:
        for _ in range(n):
            m = x.shape[axis]
            x = x.narrow(axis, 1, m - 1) - x.narrow(axis, 0, m - 1)
        return x

    move = staticmethod(move)

    def floor_divide(self, x: Any, y: Any) -> Any:
        a, b = _as_tensors([x, y])
        return torch.floor(a / b).detach()

    @staticmethod
    def positive(x: Any) -> Any:
        return +x

    def asarray(self, x: Any, dtype: Any = None) -> Any:
        return x if _is_t(x) else np.asarray(x, dtype=dtype)

    array = asarray

    def zeros_like(self, x: Any) -> Any:
        return torch.zeros_like(x).detach()

    def ones_like(self, x: Any) -> Any:
        return torch.ones_like(x).detach()

    def shape(self, x: Any) -> tuple[int, ...]:
        return tuple(x.shape)

    def size(self, x: Any) -> int:
        return x.numel()

    def ndim(self, x: Any) -> int:
        return x.ndim


def _has_t(a: Any, k: dict[str, Any]) -> bool:
    def any_t(x: Any) -> bool:
        if isinstance(x, (list, tuple)):
            return any(any_t(e) for e in x)
        return _is_t(x)

    return any_t(list(a)) or any_t(list(k.values()))


def torch_grad(source_fn: Callable[..., Any], args: Sequence[Any],
               argnums: Sequence[int]) -> tuple[float, list[np.ndarray]]:
    """The value and gradients of `source_fn(*tensors)` by torch.autograd, where
    `source_fn` is the program with `np` bound to a `TorchNumpy`. Float arrays and Python
    floats become tensors of their dtype (Python floats: float64 0-d)."""
    ts = []
    for i, a in enumerate(args):
        if isinstance(a, float):
            t = torch.tensor(a, dtype=torch.float64)
        elif isinstance(a, np.ndarray):
            t = torch.tensor(a)
        else:
            ts.append(a)
            continue
        if i in argnums:
            t.requires_grad_(True)
        ts.append(t)
    out = source_fn(*ts)
    grads = torch.autograd.grad(out, [ts[i] for i in argnums], allow_unused=True)
    res = []
    for i, g in zip(argnums, grads, strict=True):
        res.append(np.zeros(np.shape(args[i])) if g is None else g.detach().numpy())
    return float(out.detach()), res
