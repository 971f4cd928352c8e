"""Hold off Python's cyclic garbage collector while adjit does bounded start-up work.

`import adjit` and loading a kernel from the disk cache (numba imports its lazily registered
implementations, ~250 modules, then unpickles the kernel) allocate hundreds of thousands of
long-lived objects. Each allocation burst pushes the collector over its thresholds, and a
full (generation 2) collection then walks every object of the process: 30-50 ms each after
numpy and numba are loaded, two of them on a warm start's path to its first result (measured
with gc.callbacks: 130 ms of collections against a hand-written njit(cache=True) kernel's 77 ms).
The objects made there are not garbage, so collecting them finds nothing; the work is only
moved to the collector's next natural run, after the first result.

Only bounded work runs paused: imports and cache loads, never numba compiling (whose garbage
grows with the function) nor user code. Paused sections nest and may overlap across threads:
the collector is re-enabled when the last one ends, and only if it was enabled when the first
began, so a program that disabled it itself keeps it disabled.
"""
from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                # The young generations now hold everything made while paused: collected here
                # (what survives moves to the old generation), their counts start again from
                # zero. Enabled with those counts high, the collector would run at the next
                # allocation, and a full collection with it.
                gc.collect(1)
                gc.enable()
