"""float32 code run as Python (ADJIT_NOJIT, the CUDA simulator) rounds each math call to
float32 as numba does: a max/min's gradient compares a recomputed value with the stored max,
and a float64 value never equals its float32 copy (the gradient was 0/0 = NaN)."""
import numpy as np
import pytest

import adjit

FUNCS = {
    "min_tanh": lambda x: np.min(np.tanh(x * 1.3)) + np.sum(x),
    "max_exp": lambda x: np.max(np.exp(x) * 0.5),
    "max_sin_rows": lambda x: np.sum(np.max(np.sin(x.reshape(2, 3)), axis=1)),
}


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_float32_extrema_gradients_as_python_match_compiled(name, monkeypatch):
    x = np.array([-0.9, 0.7, 0.3, 0.1, -0.2, 0.5], np.float32)
    compiled = adjit.grad(FUNCS[name])(x)
    monkeypatch.setenv("ADJIT_NOJIT", "1")
    python = adjit.grad(FUNCS[name])(x)
    assert python.dtype == compiled.dtype == np.float32
    assert np.isfinite(python).all()
    np.testing.assert_allclose(python, compiled, rtol=1e-6)
