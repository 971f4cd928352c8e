"""The first calls of a function whose kernel is not in the disk cache, answered while numba
compiles it in a background thread (docs/compile-time.md says the design to users).

numba spends 0.3-3 s typing a generated kernel and running LLVM on it; a first call that
waits for that waits far longer than the arithmetic takes. So on a cache miss `build`
(runtime/compiler.py) hands the call a `Background`: the first call starts the compilation
(compile_source, then numba's compile for that call's argument types) in a thread, and every
call that arrives before it is ready is answered by the numpy reference interpreter
(ir/evaluate.py, the semantics every pass is tested against) on the same post-pass graph the
kernel was generated from. Once the kernel is ready, calls go to it (`Specialization.run`
then drops the wrapper, and the runtime installs its direct call path).

Policy (`eligible`):
- only a CPU kernel that is not in the disk cache (a hit loads in milliseconds: waiting is
  cheaper than interpreting) and is one numba function (a split function compiles piece by
  piece at its first call: it is not worth a thread);
- only a graph whose values fit in `MAX_BYTES`: the interpreter materializes every
  intermediate value that the kernel fuses away;
- a loop (`while`, whose trip count nobody knows) is interpreted too, but never past the
  kernel: the interpreter checks between primitives whether the kernel is ready, and if it
  is, drops its work and runs the kernel instead. No call waits longer than the compile plus
  the kernel's run plus one interpreted primitive.
If the interpreter cannot answer a call (it raises), the call waits for the kernel, so the
error a user sees is the kernel's. If the compilation fails, the next call warns once
(BackgroundCompileWarning, with numba's error) and the interpreter keeps answering; `wait()`
raises the error.

Threads and processes: the thread is not a daemon, so an interpreter that exits while it
runs waits for it (numba torn down under a running compile can crash; the finished kernel
lands in the disk cache, so the next process finds it). Two threads calling the same function
share one compilation (a lock starts it once) and both interpret meanwhile; numba serializes
compilations under its own compiler lock. A fork waits for a running compilation to leave
numba's compiler lock (so the child never inherits it held), and the child, which has no copy
of the thread, starts its own compilation at its next call.
"""
from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable
from typing import Any

from adjit.ir import Graph
from adjit.ir.evaluate import INTERRUPT, evaluate

MAX_BYTES = 1 << 30  # values the interpreter may hold at once (the graph's, counted whole)
# The compilation starts when the first interpreted call returns, or after GRACE_S if it is
# still running: numba's import and typing are Python, and the two threads would share one
# GIL, so the first answer would take up to twice as long as the interpreter alone.
GRACE_S = 0.25


class BackgroundCompileWarning(RuntimeWarning):
    """numba could not compile a kernel in the background; the interpreter keeps answering."""


def graph_bytes(g: Graph) -> int:
    """The bytes of every value `g` computes, its sub-graphs' counted once (one iteration)."""
    total = 0
    for eqn in g.eqns:
        total += sum(v.type.size * v.type.np_dtype.itemsize for v in eqn.outputs)
        for _, p in eqn.params:
            for q in p if isinstance(p, tuple) else (p,):
                if isinstance(q, Graph):
                    total += graph_bytes(q)
    return total


def eligible(g: Graph, src: Any, folder: Any) -> bool:
    """Whether the first calls of `src` (generated from `g`) are interpreted (the policy in
    the module docstring). A cache entry holding any compiled kernel counts as a hit: its
    file names depend on numba's CPU description, which is not known before numba loads."""
    if src.parts or graph_bytes(g) > MAX_BYTES:
        return False
    try:
        entry = folder.entry(src.text)
        return not any(p.suffix == ".nbk" for p in entry.iterdir())
    except OSError:  # no entry yet
        return True


class _Ready(Exception):
    """The kernel became ready while the interpreter ran: the interpreter's work is dropped."""


class Background:
    """A kernel compiled in a background thread, the interpreter answering until it is ready.
    `compile(args)` returns the compiled function for those arguments' types. Attributes
    other than calls (`__source__`, numba's `signatures`) are the compiled function's, and
    wait for it."""

    def __init__(self, graph: Graph, compile: Callable[[tuple[Any, ...]], Any]) -> None:
        self.graph = graph
        self._compile = compile
        self.compiled: Any = None
        self.error: BaseException | None = None
        self.interpreted = 0  # calls the interpreter answered
        self._warned = False
        self._lock = threading.Lock()
        self._first = threading.Event()  # the first interpreted call has returned
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._n_inputs = len(graph.inputs)

    def __call__(self, *args: Any) -> Any:
        fn = self.compiled
        if fn is not None:
            return fn(*args)
        self.start(args)
        if self.error is not None and not self._warned:
            self._warned = True
            warnings.warn(f"adjit: the background compilation of {self.graph.name} failed; "
                          f"its calls run in the (slower) numpy interpreter: {self.error}",
                          BackgroundCompileWarning, stacklevel=2)
        try:
            out = _interpret(self, args[:self._n_inputs])
        except _Ready:
            pass
        except Exception:
            if self.error is not None:
                raise  # no kernel to answer with: the interpreter's error is the call's
        else:
            self.interpreted += 1
            return out
        finally:
            self._first.set()
        return self.wait()(*args)

    def start(self, args: tuple[Any, ...]) -> None:
        """Start the compilation for `args`' types, once per process."""
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's thread is not here
                self._pid, self._thread = os.getpid(), None
            if self._thread is not None:
                return
            _watch_forks()
            self._thread = threading.Thread(target=self._run, args=(args,), daemon=False,
                                            name=f"adjit-compile-{self.graph.name}")
            self._thread.start()

    def _run(self, args: tuple[Any, ...]) -> None:
        self._first.wait(GRACE_S)
        try:
            self.compiled = self._compile(args)
        except BaseException as e:  # noqa: BLE001  (kept for the caller's thread)
            self.error = e

    def ready(self) -> bool:
        return self.compiled is not None

    def wait(self) -> Any:
        """The compiled function, once compiled (a call starts the compilation); raises the
        compilation's error."""
        if self._thread is None or self._pid != os.getpid():
            raise RuntimeError("adjit: no compilation started (call the function first)")
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.compiled

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.wait(), name)


def _interpret(bg: Background, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The graph's outputs from the reference interpreter, which stops (raising `_Ready`)
    between two primitives once the kernel is ready."""
    def check() -> None:
        if bg.compiled is not None:
            raise _Ready

    outer = getattr(INTERRUPT, "check", None)
    INTERRUPT.check = check
    try:
        return evaluate(bg.graph, *args)
    finally:
        INTERRUPT.check = outer


_FORK_HOOK: list[bool] = []


def _watch_forks() -> None:
    """A fork waits until no thread holds numba's compiler lock, so the child does not
    inherit it held (its next compilation would wait forever)."""
    if _FORK_HOOK or not hasattr(os, "register_at_fork"):
        return
    _FORK_HOOK.append(True)
    holder: list[Any] = []

    def before() -> None:
        import sys

        if "numba.core.compiler_lock" in sys.modules:
            lock = sys.modules["numba.core.compiler_lock"].global_compiler_lock
            lock.acquire()
            holder.append(lock)

    def after() -> None:
        while holder:
            holder.pop().release()

    os.register_at_fork(before=before, after_in_parent=after, after_in_child=after)
