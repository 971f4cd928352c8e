"""Graph -> Graph transformations: adjoint, jvp, prune, simplify, canonicalize, fuse."""
from .adjoint import adjoint
from .jvp import jvp
from .simplify import simplify

__all__ = ["adjoint", "jvp", "simplify"]
