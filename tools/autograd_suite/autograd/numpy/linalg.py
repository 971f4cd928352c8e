from numpy.linalg import *  # noqa
import numpy.linalg as _m
globals().update({k: getattr(_m, k) for k in dir(_m) if not k.startswith('__')})
