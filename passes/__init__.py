"""Graph -> Graph transformations: adjoint, jvp, prune, simplify, canonicalize, fuse."""
from adjit.ir.primitive import GRAPH_TRANSFORMS

from .adjoint import adjoint
from .jvp import jvp
from .simplify import simplify

GRAPH_TRANSFORMS.update(adjoint=adjoint, jvp=jvp, simplify=simplify)
