"""Importing this package registers every primitive in `ir.primitive.PRIMS`."""
from . import elementwise, index, linalg, reduce, shape  # noqa: F401
