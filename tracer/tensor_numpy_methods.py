"""The rest of the array methods on `Tensor`: every method a traced array has (numpy's
`x.cumsum(axis)`, `x.diagonal()`, `x.round()`, ufunc-named methods such as `x.arcsinh()`)
and Tensor does not define itself (tensor_methods.py, with PyTorch's names) runs the traced
array's method through `apply`, so a method added to the numpy surface works on recorded
tensors too. PyTorch's keyword names are accepted beside numpy's (`dim` for `axis`,
`keepdim` for `keepdims`, `dim1`/`dim2` for `axis1`/`axis2`). Where PyTorch's meaning of a
name differs from numpy's, PyTorch's is kept: `sort` returns (values, indices), `repeat`
tiles; `nonzero` (a shape that depends on the data) is not recorded.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Callable

import numpy as np

from .record import apply
from .tensor import Tensor
from .values import Tracer

_TORCH_KEYWORDS = {"dim": "axis", "keepdim": "keepdims", "dim1": "axis1", "dim2": "axis2"}
_NOT_FORWARDED = {"val", "weak", "sort", "repeat", "nonzero"}


def _numpy_keywords(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {_TORCH_KEYWORDS.get(k, k): v for k, v in kwargs.items()}


def _forward(name: str) -> Callable[..., Any]:
    grad_name = f"{name.replace('_', ' ').title().replace(' ', '')}Backward0"
    ufunc = getattr(np, name, None)

    if isinstance(ufunc, np.ufunc):
        # numpy's ufunc of that name (`x.floor()`, `x.fmod(y)`): an ndarray (a tensor that
        # needs no gradient) has no such method, and a traced array's takes no operand
        def run(x: Any, *args: Any, **kwargs: Any) -> Any:
            return ufunc(x, *args, **kwargs)
    else:
        def run(x: Any, *args: Any, **kwargs: Any) -> Any:
            return getattr(x, name)(*args, **kwargs)

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        return apply(run, (self, *args), _numpy_keywords(kwargs), name=grad_name, key=run)

    method.__name__ = name
    return method


for _name in sorted(n for n in dir(Tracer) if not n.startswith("_")):
    if _name not in _NOT_FORWARDED and not hasattr(Tensor, _name):
        setattr(Tensor, _name, _forward(_name))

_Sorted = namedtuple("_Sorted", ["values", "indices"])  # torch.return_types.sort


def _sort_run(x: Any, dim: int = -1, descending: bool = False) -> Any:
    order = np.argsort(-x if descending else x, axis=dim, kind="stable")
    return np.take_along_axis(x, order, axis=dim), order


def _sort(self: Tensor, dim: int = -1, descending: bool = False) -> Any:
    """PyTorch's sort: (values, indices) along `dim`, ascending unless `descending`."""
    values, indices = apply(_sort_run, (self, dim, descending), name="SortBackward0")
    return _Sorted(values, indices)


def _repeat(self: Tensor, *sizes: Any) -> Any:
    """PyTorch's repeat: the tensor tiled `sizes` times along each dimension (numpy's
    np.tile; numpy's own `repeat` is `repeat_interleave`)."""
    reps = tuple(sizes[0]) if len(sizes) == 1 and not isinstance(sizes[0], int) else sizes
    return apply(np.tile, (self, reps), name="RepeatBackward0")


def _repeat_interleave(self: Tensor, repeats: Any, dim: Any = None) -> Any:
    return apply(np.repeat, (self, repeats, dim), name="RepeatInterleaveBackward0")


Tensor.sort = _sort
Tensor.repeat = _repeat
Tensor.repeat_interleave = _repeat_interleave
