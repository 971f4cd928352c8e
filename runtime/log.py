"""What adjit reports about compilation, through the standard `logging` module.

Everything goes to the logger "adjit" at INFO (warnings at WARNING): configure it as any
logger (`logging.basicConfig(level=logging.INFO)`, or
`logging.getLogger("adjit").setLevel(logging.INFO)` with a handler), or set `ADJIT_LOG=compile`
to have adjit print it on stderr. For each compilation:

    adjit: compile loss_grad(x: f64[8,4], w: f64[4,3]) [first call]: trace 2.1 ms, passes
           4.0 ms, codegen 0.9 ms
    adjit: numba: loss_grad_kernel(array(float64, 2d, C), ...) compiled by numba (not in the
           disk cache) in 131.0 ms

The second line comes when numba runs (at the first call with those argument types): it says
whether the kernel was compiled here, by the compile worker, or loaded from the disk cache.
"""
from __future__ import annotations

import logging
import sys
from typing import Any

from . import config

log = logging.getLogger("adjit")
_handler: logging.Handler | None = None


def configure() -> None:
    """Follow ADJIT_LOG: with `compile` in it, print the "adjit" logger's INFO records on
    stderr (once; the handler goes away when the variable does)."""
    global _handler
    wanted = "compile" in config.log_topics()
    if wanted and _handler is None:
        _handler = logging.StreamHandler(sys.stderr)
        _handler.setFormatter(logging.Formatter("adjit: %(message)s"))
        log.addHandler(_handler)
        if log.level == logging.NOTSET or log.level > logging.INFO:
            log.setLevel(logging.INFO)
    elif not wanted and _handler is not None:
        log.removeHandler(_handler)
        _handler = None
        log.setLevel(logging.NOTSET)


def signature(graph: Any) -> str:
    """`name(x: f64[3], w: f32[3,4])` for a graph."""
    args = ", ".join(f"{v.name}: {v.type}" for v in graph.inputs)
    return f"{graph.name}({args})"
