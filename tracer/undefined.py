"""`Undefined`: the value of a variable that has no value on some path, until it is used.

Converted functions (tracer/autograph.py) start by binding every variable that a
captured `if`/`while`/`for` may assign to an `Undefined`, so control-flow helpers can
pass it around like any value. A traced `cond` or `while` also produces one for a
variable that only some paths define ("c is assigned in the if branch but not the
else branch"). Nothing goes wrong until the value is *used*: any operation on it
raises its `TraceError`, located at the use, so a variable that is never read after
the statement costs nothing, exactly as in Python.
"""
from __future__ import annotations

from typing import Any, NoReturn

from adjit.ir import Loc
from adjit.ir.errors import TraceError

from .loc import user_loc


class Undefined:
    """A variable without a value. `message` says why; `where` is the statement that made it."""

    __slots__ = ("hint", "message", "name", "where")

    def __init__(self, name: str, message: str | None = None, where: Loc | None = None,
                 hint: str | None = None) -> None:
        self.name = name
        self.message = message or f"local variable '{name}' is used before it is assigned"
        self.where = where
        self.hint = hint

    def error(self, loc: Loc | None = None) -> TraceError:
        """The error to raise at a use (located at the innermost user frame, or `loc`)."""
        msg = self.message
        if self.where is not None:
            msg += f" ({self.where.short()})"
        return TraceError(msg, loc=loc or user_loc(1), hint=self.hint)

    def _raise(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self.error()

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        raise self.error()

    def __repr__(self) -> str:
        return f"Undefined({self.name!r})"

    __hash__ = object.__hash__


# Every way of using a value raises; `is`, `repr` and `isinstance` do not.
for _dunder in ("bool", "iter", "len", "getitem", "call", "array", "array_ufunc",
                "array_function", "float", "int", "index", "neg", "pos", "abs", "invert",
                "eq", "ne", "lt", "le", "gt", "ge", "contains", "setitem"):
    setattr(Undefined, f"__{_dunder}__", Undefined._raise)
for _op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
            "xor", "lshift", "rshift"):
    setattr(Undefined, f"__{_op}__", Undefined._raise)
    setattr(Undefined, f"__r{_op}__", Undefined._raise)
Undefined.__hash__ = object.__hash__  # defining __eq__ above would otherwise drop it


class UndefinedReturn(Undefined):
    """The return value of a converted function before any `return` ran. A traced branch
    that returns meets one that has not returned yet; the latter gets a placeholder of the
    same type (its value is never used: the flag `do_return` says which one is real)."""

    def __init__(self) -> None:
        super().__init__("<return value>", "the function did not return a value")


def undefined(name: str) -> Undefined:
    return Undefined(name)
