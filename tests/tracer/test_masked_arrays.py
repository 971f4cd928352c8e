"""numpy masked arrays (np.ma) are refused with a clear error, never computed on with their
mask silently dropped: as an argument (runtime/arguments.py), as a constant met by traced
values, and through np.ma functions applied to tracers. The error
says to pass the data and the mask explicitly, and that way the mask is honoured."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit

X = np.array([1.0, 2.0, 3.0])
MASK = np.array([False, True, False])
M = np.ma.masked_array(X, mask=MASK)


def test_a_masked_argument_is_refused_even_after_a_plain_call() -> None:
    f = adjit.grad(lambda x: np.sum(x ** 2))
    f(X)  # compiled for float64[3]: a masked array of that shape must not reuse it
    with pytest.raises(adjit.TraceError, match="argument 0 .*masked array") as info:
        f(M)
    assert "getmaskarray" in str(info.value) and __file__ in str(info.value)
    with pytest.raises(adjit.TraceError, match="masked array"):
        adjit.jit(lambda x: x * 2.0)(M)


@pytest.mark.parametrize("fn", [
    lambda x: np.ma.sum(np.ma.masked_less(x, 1.5)),
    lambda x: np.sum(np.ma.masked_where(x > 2.5, x)),
    lambda x: np.sum(np.ma.array(x, mask=MASK)),
    lambda x: np.ma.mean(x),
    lambda x: np.sum(x * M),  # a captured masked array met by a traced value
    lambda x: np.sum(M * x),
    lambda x: np.sum(np.add(M, x)),
    lambda x: np.sum(np.where(x > 0, M, x)),
], ids=["masked_less", "masked_where", "ma.array", "ma.mean", "x*M", "M*x", "add", "where"])
def test_numpy_ma_on_traced_values_is_refused(fn: Any) -> None:
    with pytest.raises(adjit.TraceError, match="masked array") as info:
        adjit.grad(fn)(X)
    assert "np.where(mask" in str(info.value)
    assert __file__ in str(info.value)


def test_the_suggested_form_honours_the_mask() -> None:
    def loss(x: np.ndarray, mask: np.ndarray) -> Any:
        return np.sum(x ** 2, where=~mask) + np.mean(np.where(mask, 0.0, x))

    data, mask = M.filled(0.0), np.ma.getmaskarray(M)
    g = adjit.grad(loss)(data, mask)
    np.testing.assert_allclose(g, np.where(mask, 0.0, 2 * X + 1 / 3))
    np.testing.assert_allclose(adjit.jit(loss)(data, mask), np.ma.sum(M ** 2) + 4 / 3)
