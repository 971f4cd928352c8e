"""adjit's exception hierarchy. Messages start with what went wrong in the user's terms,
then show where (file:line, the source line with a caret) and a hint saying what to do."""
from __future__ import annotations

from .core import Loc


class AdjitError(Exception):
    """Base of every error adjit raises on purpose."""

    def __init__(self, message: str, *, loc: Loc | None = None, hint: str | None = None,
                 eqn: str | None = None) -> None:
        self.message = message
        self.loc = loc
        self.hint = hint
        self.eqn = eqn
        super().__init__(self._render())

    def _render(self) -> str:
        lines = [self.message]
        if self.loc is not None:
            lines.append(f"  {self.loc.file}:{self.loc.line} in {self.loc.func or '<module>'}")
            if self.loc.source:
                src = self.loc.source
                stripped = src.lstrip()
                indent = len(src) - len(stripped)
                lines.append("      " + stripped)
                if self.loc.col is not None and self.loc.end_col is not None \
                        and self.loc.end_col > self.loc.col >= indent:
                    lines.append("      " + " " * (self.loc.col - indent)
                                 + "^" * (self.loc.end_col - self.loc.col))
        if self.eqn:
            lines.append(f"  in IR: {self.eqn}")
        if self.hint:
            lines.append(f"  {self.hint}")
        return "\n".join(lines)


class TraceError(AdjitError):
    """The function could not be captured (an unsupported numpy function, a Python construct)."""


class ImmutableError(TraceError, TypeError):
    """An in-place write into a traced array (`x[i] = v`, `out=`). Also a TypeError, as
    JAX raises for writes into its immutable arrays, so code written for either catches it."""


class OutputTypeError(TraceError, TypeError):
    """A gradient asked of a function whose output is not one real scalar (a vector, a
    complex number). Also a TypeError, as JAX's grad raises for such outputs."""


class ShapeError(AdjitError):
    """Shapes or dtypes do not fit together."""


class NotDifferentiable(AdjitError):
    """A derivative was asked of something that has none (an integer argument, say)."""


class CodegenError(AdjitError):
    """Generated code failed to compile or run."""


class IRError(AdjitError):
    """A malformed graph (verifier) or unparsable IR text."""
