from numpy.random import *  # noqa
import numpy.random as _m
globals().update({k: getattr(_m, k) for k in dir(_m) if not k.startswith('__')})
