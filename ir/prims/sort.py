"""Sorting: `argsort`, the stable permutation that sorts the last axis (NaNs last, as
numpy's). It is a library call with an integer output and no derivative; the tracer sorts
values with `take_along_axis(x, argsort(x))`, so the gradient of a sort is the gather's
adjoint, a scatter through the permutation (tracer/np_sorting.py)."""
from __future__ import annotations

import numpy as np

from ..core import ArrayType
from ..primitive import LIBRARY, Primitive, register


def _argsort_shape(x: ArrayType) -> ArrayType:
    if x.ndim == 0:
        raise ValueError("argsort needs at least one axis")
    if x.dtype == "bool":
        raise TypeError("argsort of booleans: convert them to integers first")
    return ArrayType("i64", x.shape)


register(Primitive("argsort", LIBRARY, shape=_argsort_shape,
                   impl=lambda x: np.argsort(x, axis=-1, kind="stable").astype(np.int64),
                   jvp=None, vjp=None, nondiff=True))
