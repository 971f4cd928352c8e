"""PyTorch's top-level functions over tensors (`adjit.exp(x)`, `adjit.dot(x, x)`,
`adjit.cat([a, b], dim=1)`, ...), as the tutorials write them with `torch.`; and the few
factories and dtype names `factories.py` does not have (linspace, eye, randint, from_numpy,
`adjit.float`). Each is the tensor method of the same name, or numpy's function through the
tensor's numpy protocols, so it records exactly what the method would; an argument that is
not a tensor (a number, a numpy array) becomes one first, as torch's functions take only
tensors and Python numbers."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from . import factories
from .tensor import Tensor, _as_array, get_default_dtype


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(_as_array(x), _array=True)


def _method(name: str) -> Callable[..., Any]:
    def function(input: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(_tensor(input), name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"torch.{name}(input, ...): `input.{name}(...)`."
    return function


# The functions that are the tensor method of the same name.
_METHODS = ("exp", "log", "log2", "log10", "log1p", "expm1", "sin", "cos", "tan", "tanh", "sinh",
            "cosh", "asin", "acos", "atan", "sigmoid", "relu", "sqrt", "rsqrt", "abs", "neg",
            "square", "sign", "floor", "ceil", "round", "reciprocal", "add", "sub", "mul",
            "div", "pow", "dot", "matmul", "mm", "sum", "mean", "prod", "max", "min", "argmax",
            "argmin", "std", "var", "norm", "clamp", "clip", "softmax", "log_softmax",
            "logsumexp", "reshape", "flatten", "transpose", "permute", "squeeze", "unsqueeze",
            "t", "cumsum", "numel", "detach", "clone", "masked_fill")
for _name in _METHODS:
    globals()[_name] = _method(_name)
del _name


def maximum(input: Any, other: Any) -> Tensor:
    return np.maximum(_tensor(input), other)


def minimum(input: Any, other: Any) -> Tensor:
    return np.minimum(_tensor(input), other)


def where(condition: Any, input: Any, other: Any) -> Tensor:
    """torch.where(condition, input, other): numpy's where, recorded through the tensors."""
    return np.where(np.asarray(condition._np if isinstance(condition, Tensor) else condition),
                    _tensor(input), _tensor(other))


def cat(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    return np.concatenate([_tensor(t) for t in tensors], axis=dim)


def stack(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    return np.stack([_tensor(t) for t in tensors], axis=dim)


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing `array`'s memory (and dtype), as torch.from_numpy."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return Tensor(array, _array=True)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """`data` itself when it is a tensor of that dtype, else a new tensor (sharing a numpy
    array's memory when no conversion is needed, as torch.as_tensor)."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == np.dtype(dtype)):
        return Tensor(data, _array=True)
    return factories.tensor(data, dtype=dtype)


def linspace(start: float, end: float, steps: int, dtype: Any = None,
             requires_grad: bool = False) -> Tensor:
    dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
    return Tensor(np.linspace(start, end, steps).astype(dt), requires_grad, _array=True)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    dt = np.dtype(dtype) if dtype is not None else get_default_dtype()
    return Tensor(np.eye(n, m, dtype=dt), requires_grad, _array=True)


def randint(low: int, high: int | None = None, size: Sequence[int] = (),
            dtype: Any = None) -> Tensor:
    """torch.randint(high, size) or randint(low, high, size): int64 by default."""
    if high is None:
        low, high = 0, low
    out = factories._RNG.integers(low, high, size=tuple(size))
    return Tensor(np.asarray(out, dtype=np.dtype(dtype) if dtype is not None else np.int64),
                  _array=True)


# torch's dtype names beyond adjit.float32 and friends
float = np.dtype("float32")  # noqa: A001 (torch.float, as torch spells it)
double = np.dtype("float64")
half = np.dtype("float16")
long = np.dtype("int64")
int = np.dtype("int32")  # noqa: A001
bool = np.dtype("bool")  # noqa: A001

__all__ = [*_METHODS, "maximum", "minimum", "where", "cat", "stack", "is_tensor", "from_numpy",
           "as_tensor", "linspace", "eye", "randint", "float", "double", "half", "long", "int",
           "bool"]
