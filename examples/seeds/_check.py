"""What every seed script prints: `check(label, got, want)` shows the value and whether it is
the expected one (EXAMPLES.md), and `finish()` is the exit status (the number of failures)."""
from __future__ import annotations

import numpy as np

_FAILURES = [0]


def _plain(v):
    if hasattr(v, "detach"):
        v = v.detach()
    if hasattr(v, "tolist"):
        return np.asarray(v).tolist()
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    return v


def check(label, got, want, *, rtol=0.0, atol=0.0):
    """Print `label: got` and ok, or FAIL with what was expected (exact unless a tolerance)."""
    g, w = _plain(got), _plain(want)
    try:
        ok = np.allclose(np.asarray(g, dtype=float), np.asarray(w, dtype=float), rtol=rtol,
                         atol=atol) if (rtol or atol) else np.array_equal(np.asarray(g),
                                                                          np.asarray(w))
    except (TypeError, ValueError):
        ok = g == w
    _FAILURES[0] += not ok
    shown = g
    if np.size(np.asarray(g, dtype=object)) > 8:  # a long array: its shape and the largest error
        arr = np.asarray(g, dtype=float)
        err = np.max(np.abs(arr - np.asarray(w, dtype=float))) if ok else None
        shown = f"<array of shape {arr.shape}" + (f", max |error| {err:.1e}>" if ok else ">")
    print(f"{label}: {shown}  {'ok' if ok else f'FAIL (expected {w})'}")


def finish():
    print("all ok" if not _FAILURES[0] else f"{_FAILURES[0]} FAILED")
    return 1 if _FAILURES[0] else 0
