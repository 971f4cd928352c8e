"""Compiling kernels in a helper process, so that a dropped function leaves no compiler memory.

numba compiles through LLVM's MCJIT, which never frees what a compilation allocated: about
1 MB per kernel stays in the process for good, even once the function is dropped (numba
issues #5976, #6707). Loading the same kernel from its disk cache entry keeps about 0.04 MB.
So, with `compile_source(..., worker=True)`, a kernel that is not on disk yet is compiled by a
long-lived child process, which writes the (HMAC-signed) cache entry; this process then loads
it like any other cache hit.

Starting the child costs a second numba start-up (2-3 s of CPU, once), which only pays when a
process compiles many kernels: the first `START_AFTER` kernels are compiled here (they keep
their 1 MB each), the child is started after them, in the background, and it is used once it
has warmed up (until then, kernels are still compiled here). A script that compiles a few
functions never starts it; one that compiles 40 kernels from a cold cache took 0-17% longer
on a busy 2-core machine.

The child (`python -c ...` with this process's `sys.path`) reads jobs from its stdin and
answers on a private copy of its stdout; it exits when the pipe closes (this process exited)
and is replaced after `RECYCLE` jobs, as its own memory grows by the same 1 MB per kernel. The
key is sent with each job, so the child never reads the key file. Whatever goes wrong (the
child cannot start, dies, or numba fails in it) makes `fill` return False: the kernel is then
compiled in this process, which raises numba's errors as before.
"""
from __future__ import annotations

import atexit
import json
import logging
import math
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
from typing import Any, BinaryIO

import numpy as np

from . import fastmath as fm

log = logging.getLogger("adjit")

START_AFTER = 16  # kernels compiled in this process before the child is started
RECYCLE = 200  # jobs before the child is replaced
MAX_FAILURES = 3  # crashes in a row before this process stops using a child


class _Child:
    def __init__(self) -> None:
        boot = ("import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
                "from adjit.codegen.worker import serve; serve()")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", boot, json.dumps(sys.path)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, close_fds=True)
        self.pid = os.getpid()  # a forked copy of this process must not use the pipes
        self.jobs = 0
        self.warm = False

    def ready(self) -> bool:
        """Has the child said it is warm? (never waits)"""
        if not self.warm:
            assert self.proc.stdout is not None
            if not select.select([self.proc.stdout], [], [], 0)[0]:
                return False
            if _receive(self.proc.stdout) != b"ready":
                raise EOFError("the compile worker did not start")
            self.warm = True
        return True

    def ask(self, job: bytes) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        _send(self.proc.stdin, job)
        reply = _receive(self.proc.stdout)
        if reply is None:
            raise EOFError("the compile worker exited")
        self.jobs += 1
        return json.loads(reply)

    def close(self) -> None:
        if self.pid != os.getpid():
            return
        try:
            if not self.warm:  # still starting: nothing of its own to finish
                self.proc.kill()
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


_LOCK = threading.Lock()
_child: _Child | None = None
_failures = 0
_compiled_here = 0


def fill(folder: Any, src: Any, sig: Any) -> bool:
    """Have the child compile `src` for numba signature `sig` into `folder`'s cache entry;
    True when it says it did. False: compile it in this process."""
    global _child, _failures, _compiled_here
    with _LOCK:
        if _failures >= MAX_FAILURES or os.name != "posix":  # (select() needs posix pipes)
            return False
        try:
            if _child is not None and (_child.pid != os.getpid() or _child.jobs >= RECYCLE):
                _child.close()
                _child = None
            if _child is None:
                _compiled_here += 1
                if _compiled_here >= START_AFTER:
                    _child = _Child()  # warms up while this process compiles
                return False
            if not _child.ready():
                return False
            reply = _child.ask(pickle.dumps((str(folder.path), folder.max_bytes, folder.key,
                                             src.text, src.name, tuple(src.callees), sig)))
            _failures = 0
        except (OSError, EOFError, ValueError) as e:
            _failures += 1
            log.info("compile worker failed (%s): compiling in this process", e)
            if _child is not None:
                _child.proc.kill()
                _child = None
            return False
    if not reply.get("ok"):
        log.debug("compile worker could not compile %s: %s", src.name, reply.get("error"))
    return bool(reply.get("ok"))


def _shutdown() -> None:
    if _child is not None:
        _child.close()


def _forget_child() -> None:
    global _child
    _child = None


atexit.register(_shutdown)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_child)


# ---- the child ----------------------------------------------------------------------------------
def serve() -> None:
    """The child's loop: one job in, one JSON reply out, until stdin closes."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints (numba's warnings, debugging) go to stderr, not the pipe
    stdin = sys.stdin.buffer
    # The imports and the first compile are the slow part of a numba start-up: done before any
    # job, and said, so that the parent sends none until then.
    import numba

    from . import compile as _  # noqa: F401

    fm.register()
    try:
        numba.njit(_warm_up)(np.ones(3), np.ones((2, 3)))
    except Exception:  # noqa: BLE001  (only a warm-up: the jobs report their own errors)
        pass
    _send(out, b"ready")
    while True:
        job = _receive(stdin)
        if job is None:
            return
        try:
            reply: dict[str, Any] = {"ok": _compile(*pickle.loads(job))}
        except Exception as e:  # noqa: BLE001  (reported to the parent, which compiles itself)
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        _send(out, json.dumps(reply).encode())


def _warm_up(x: Any, m: Any) -> Any:
    """Code like the generated kernels' (loops, math and fastmath calls, temporaries, matrix
    products, tuples), compiled once before any job: the first compile of a process, and of
    each fastmath function, is the slow one."""
    a0 = np.empty(x.shape, x.dtype)
    s = 0.0
    for i0 in range(x.shape[0]):
        v0 = math.tanh(x[i0]) * fm.exp(-x[i0]) + math.log1p(x[i0] * x[i0])
        a0[i0] = v0
        s = fm.reassoc_add(s, v0)
    return (s, a0, np.dot(m, x))


def _compile(path: str, max_bytes: int, key: bytes, text: str, name: str,
             callees: tuple[str, ...], sig: Any) -> bool:
    from . import cache
    from .compile import _guarded, compile_source
    from .cpu import Source

    folder = cache.open_folder(path, max_bytes, key=key)
    disp = compile_source(Source(text, name, (), callees), folder)
    _guarded(disp, lambda: disp.compile(sig))  # loaded, or compiled and saved
    return True


def _send(f: BinaryIO, data: bytes) -> None:
    f.write(struct.pack("<Q", len(data)) + data)
    f.flush()


def _receive(f: BinaryIO) -> bytes | None:
    head = f.read(8)
    if len(head) < 8:
        return None
    (n,) = struct.unpack("<Q", head)
    data = f.read(n)
    return data if len(data) == n else None
