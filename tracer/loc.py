"""Finding the user's line: the innermost stack frame outside adjit and numpy.

This is the only place where Python frames become `ir.Loc`s.
"""
from __future__ import annotations

import linecache
import os
import sys
from types import CodeType, FrameType

from adjit.ir import Loc

_ADJIT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NUMPY_ROOT = os.path.dirname(os.path.abspath(__import__("numpy").__file__))
if os.path.exists(os.path.join(_ADJIT_ROOT, "__init__.py")):
    # Installed (pip install .): every stage is a subpackage of the one `adjit` folder,
    # beside adjit's own modules (nn, optim, models): all of it is adjit's.
    _SKIP: tuple[str, ...] = (_ADJIT_ROOT + os.sep, _NUMPY_ROOT + os.sep)
else:  # a checkout (pip install -e .): the stage folders and `adjit/` at the top level
    _SKIP = tuple(os.path.join(_ADJIT_ROOT, d) + os.sep
                  for d in ("tracer", "ir", "passes", "codegen", "runtime", "adjit")) \
        + (_NUMPY_ROOT + os.sep,)


def _internal(filename: str) -> bool:
    return filename.startswith(_SKIP) or filename.startswith("<frozen")


def _user_frame(depth: int) -> FrameType | None:
    """The innermost frame outside adjit, from `depth` frames above this one."""
    try:
        frame = sys._getframe(depth)
    except ValueError:  # called from near the top of the stack: start from the outermost
        frame = sys._getframe(1)
        while frame.f_back is not None:
            frame = frame.f_back
    while frame is not None and _internal(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def user_code(depth: int = 1) -> CodeType | None:
    """The code object running in the innermost user frame."""
    frame = _user_frame(depth + 1)
    return frame.f_code if frame is not None else None


def user_loc(depth: int = 1) -> Loc | None:
    frame = _user_frame(depth + 1)
    if frame is None:
        return None
    code = frame.f_code
    line = frame.f_lineno
    col = end_col = None
    try:
        positions = list(code.co_positions())[frame.f_lasti // 2]
        if positions[0] == positions[1] == line:
            col, end_col = positions[2], positions[3]
    except (IndexError, AttributeError):
        pass
    source = linecache.getline(code.co_filename, line).rstrip("\n")
    return Loc(code.co_filename, line, code.co_name, source, col, end_col)
