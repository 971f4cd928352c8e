"""Importing this package registers every primitive in `ir.primitive.PRIMS`."""
from . import control, conv, custom, elementwise, index, linalg, reduce, shape  # noqa: F401
from . import sort  # noqa: F401
