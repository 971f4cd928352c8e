"""Making tensors: `adjit.tensor` and PyTorch's factories (zeros, ones, rand, randn, full,
arange and the `_like` forms), with PyTorch's dtype rules (see tensor._as_array)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .tensor import Tensor, _as_array, get_default_dtype


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new leaf holding a copy of `data` (PyTorch's dtype rules: see `_as_array`)."""
    arr = _as_array(data, dtype)
    if arr is data or (isinstance(data, Tensor) and arr is data._np):
        arr = arr.copy()
    return Tensor(arr, requires_grad, _array=True)


def _shape(size: Sequence[Any]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def _factory(make: Callable[[tuple[int, ...], np.dtype], np.ndarray]) -> Callable[..., Tensor]:
    def factory(*size: Any, dtype: Any = None, requires_grad: bool = False,
                **kwargs: Any) -> Tensor:
        if "size" in kwargs:  # randn(size=(), requires_grad=True), as the tutorial writes
            if size:
                raise TypeError("the size is given twice, positionally and as size=")
            size = (kwargs.pop("size"),)
        if kwargs:
            raise TypeError(f"unexpected keyword argument {next(iter(kwargs))!r}")
        dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
        return Tensor(np.asarray(make(_shape(size), dt), dtype=dt), requires_grad, _array=True)

    return factory


zeros = _factory(lambda s, dt: np.zeros(s, dt))
ones = _factory(lambda s, dt: np.ones(s, dt))
empty = _factory(lambda s, dt: np.empty(s, dt))
rand = _factory(lambda s, dt: _RNG.random(s))
randn = _factory(lambda s, dt: _RNG.standard_normal(s))
_RNG = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator behind rand and randn."""
    global _RNG
    _RNG = np.random.default_rng(seed)


def full(size: Sequence[int], fill_value: Any, dtype: Any = None,
         requires_grad: bool = False) -> Tensor:
    dt = np.dtype(dtype) if dtype is not None else (
        get_default_dtype() if isinstance(fill_value, float) else np.asarray(fill_value).dtype)
    return Tensor(np.full(_shape((size,)), fill_value, dt), requires_grad, _array=True)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    arr = np.arange(start, end, step) if end is not None else np.arange(start)
    if dtype is None and arr.dtype == np.float64:
        arr = arr.astype(get_default_dtype())
    return Tensor(arr.astype(dtype) if dtype is not None else arr, requires_grad, _array=True)


def _like(fill: Callable[[np.ndarray], np.ndarray]) -> Callable[..., Tensor]:
    def like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        a = fill(t._np if isinstance(t, Tensor) else np.asarray(t))
        return Tensor(a.astype(dtype) if dtype is not None else a, requires_grad, _array=True)

    return like


zeros_like = _like(np.zeros_like)
ones_like = _like(np.ones_like)
rand_like = _like(lambda a: _RNG.random(a.shape).astype(a.dtype))
randn_like = _like(lambda a: _RNG.standard_normal(a.shape).astype(a.dtype))

