"""`vjp` and `linearize` return functions of the state at their call (JAX's semantics): arrays
the function captures (globals, attributes of captured objects) are read then, so changing
them afterwards does not change what `vjp_fn` or `f_jvp` compute; a new call sees the change."""
import numpy as np

import adjit

W = np.array([1.0, 2.0, 3.0])


class _Holder:
    pass


HOLDER = _Holder()
HOLDER.b = np.array([0.5, 0.5, 0.5])


def _f(x):
    return np.sin(x * W) * HOLDER.b


def test_vjp_fn_and_f_jvp_read_the_captures_of_their_creation() -> None:
    global W
    x = np.array([0.1, 0.2, 0.3])
    old_w, old_b = W.copy(), HOLDER.b
    try:
        out, vjp_fn = adjit.vjp(_f, x)
        _, f_jvp = adjit.linearize(_f, x)
        ones = np.ones(3)
        want = np.cos(x * old_w) * old_w * old_b
        W[:] = 10.0  # in place
        HOLDER.b = np.array([9.0, 9.0, 9.0])  # rebound
        np.testing.assert_allclose(out, np.sin(x * old_w) * old_b)
        np.testing.assert_allclose(vjp_fn(ones)[0], want, rtol=1e-15)
        np.testing.assert_allclose(f_jvp(ones), want, rtol=1e-15)
        W = np.array([4.0, 4.0, 4.0])  # the global rebound
        np.testing.assert_allclose(vjp_fn(ones)[0], want, rtol=1e-15)
        _, fresh = adjit.vjp(_f, x)  # a new vjp: the new state
        np.testing.assert_allclose(fresh(ones)[0], np.cos(x * 4.0) * 4.0 * 9.0, rtol=1e-15)
    finally:
        W, HOLDER.b = old_w, old_b
