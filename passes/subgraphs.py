"""The `SubgraphPasses` handed to rules of primitives with sub-graphs (`cond`, `while`): the
adjoint, jvp and simplify passes, which `ir` cannot import (ir/primitive.py)."""
from __future__ import annotations

import functools

from adjit.ir.primitive import SubgraphPasses


@functools.cache
def subgraph_passes() -> SubgraphPasses:
    # Imported here: adjoint and jvp call this while their own modules are loading.
    from .adjoint import adjoint
    from .jvp import jvp
    from .simplify import simplify

    return SubgraphPasses(adjoint=adjoint, jvp=jvp, simplify=simplify)
