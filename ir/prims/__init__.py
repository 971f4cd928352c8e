"""Importing this package registers every primitive in `ir.primitive.PRIMS`."""
from . import control, conv, custom, decomp, elementwise, index, linalg, reduce, shape  # noqa: F401
from . import complex, fft  # noqa: F401  (after elementwise: they use its rules)
from . import sort  # noqa: F401
