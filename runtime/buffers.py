"""Output arrays reused from one call to the next, so that large results cost no page faults.

With glibc's default allocator, a block over its mmap threshold (32 MiB at most, whatever the
settings) is mapped fresh by every `np.empty` and unmapped when freed: each call of a kernel
returning two 80 MB gradients page-faults 40,000 pages back in, which costs more than its
arithmetic (f4 at n = 1e7: 89 ms a call against 28 ms into buffers it is given). So the
generated function takes its large output arrays as parameters (codegen/cpu.py `reused`) and
`Pooled` passes it buffers kept from earlier calls.

A buffer is reused only when nothing but its pool refers to it: the caller dropped the result
it was (`g = f(x)` in a loop drops the previous `g` once the call returns, so a pool settles
on two buffers per output), and no view, memoryview or tensor made from it is alive (each
holds a reference). The reference count decides, while the candidate is held in a local:
another thread checking the same buffer then sees that local too, so two calls never take one
buffer. A result the caller keeps is never written again.

Bounds: a pool keeps at most `KEEP` buffers per output, and all pools together at most
`config.reuse_max_bytes()` (a quarter of the machine's memory by default); past that, a call
allocates as before. A pool lives as long as its compiled function. ADJIT_REUSE_MIN_KB sets
the size from which an output is reused (default 1024; -1: never); ADJIT_CHECKS=1 fills
each buffer with NaN (integers: their minimum, booleans: True) before it is passed, so an
element a kernel failed to write shows in its result.
"""
from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

KEEP = 2  # buffers per output: the one the caller holds and the one the next call writes

_held = [0]  # bytes all pools keep
_lock = threading.Lock()


def _release(nbytes: list[int]) -> None:
    with _lock:
        _held[0] -= sum(nbytes)


def held_bytes() -> int:
    """The bytes every pool of the process keeps (for tests and benchmarks)."""
    return _held[0]


def _poison(buf: np.ndarray) -> None:
    if buf.dtype.kind in "fc":
        buf.fill(np.nan)
    elif buf.dtype.kind == "b":
        buf.fill(True)
    else:
        buf.fill(np.iinfo(buf.dtype).min)


def _refs_when_free() -> int:
    """What `sys.getrefcount` says of a buffer only its pool holds, seen as `take` sees it
    (the slot, the loop variable, the call's argument: 3 on CPython 3.11; measured, not
    assumed, as interpreters that borrow references on the stack count fewer)."""
    slot = [np.empty(0)]
    for buf in slot:
        return sys.getrefcount(buf)
    raise AssertionError("unreachable")


_FREE = _refs_when_free()


class BufferPool:
    """Buffers of the shapes and dtypes of `specs`, kept for reuse (see the module
    docstring); `take()` gives one of each."""

    def __init__(self, specs: Sequence[tuple[tuple[int, ...], Any]], max_bytes: int,
                 poison: bool = False) -> None:
        self.specs = [(tuple(shape), np.dtype(dt)) for shape, dt in specs]
        self.slots: list[list[np.ndarray]] = [[] for _ in self.specs]
        self.max_bytes = max_bytes
        self.poison = poison
        self._kept: list[int] = []  # bytes of each buffer kept, released with the pool
        weakref.finalize(self, _release, self._kept)

    def take(self) -> list[np.ndarray]:
        """One buffer per spec: a kept one nothing else refers to, else a new one (kept if
        the bounds allow)."""
        out = []
        for (shape, dtype), slot in zip(self.specs, self.slots, strict=True):
            for buf in slot:
                if sys.getrefcount(buf) == _FREE:  # (the slot, `buf`, the argument)
                    break
            else:
                buf = np.empty(shape, dtype)
                if len(slot) < KEEP:
                    with _lock:
                        if _held[0] + buf.nbytes <= self.max_bytes:
                            _held[0] += buf.nbytes
                            self._kept.append(buf.nbytes)
                            slot.append(buf)
            if self.poison:
                _poison(buf)
            out.append(buf)
        return out

    def specimens(self) -> list[np.ndarray]:
        """Empty arrays of the buffers' types, to compile a function for them."""
        return [np.empty((0,) * len(shape), dtype) for shape, dtype in self.specs]


class Pooled:
    """`fn(*args)` calls the generated function `fn` with one buffer of `pool` per output it
    takes (`Source.reused`) after `args`. Attributes other than calls are `fn`'s."""

    def __init__(self, fn: Callable[..., Any], pool: BufferPool) -> None:
        self.fn = fn
        self.pool = pool

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args, *self.pool.take())

    def __getattr__(self, name: str) -> Any:
        if name == "fn":  # not set yet (unpickling, or __init__ not run)
            raise AttributeError(name)
        return getattr(self.fn, name)


def copier(shape: tuple[int, ...], dtype: np.dtype, min_bytes: int,
           max_bytes: int) -> Callable[[Any], np.ndarray] | None:
    """A copy of a result that is an input's own array (a gradient equal to `x`) into a
    reused buffer, for results of at least `min_bytes` (-1: none): None where a fresh
    `np.array` copy is the way."""
    if min_bytes < 0 or int(np.prod(shape)) * dtype.itemsize < max(min_bytes, 1):
        return None
    pool = BufferPool([(shape, dtype)], max_bytes)

    def copy(r: Any) -> np.ndarray:
        (buf,) = pool.take()
        np.copyto(buf, r, casting="unsafe")
        return buf

    return copy
