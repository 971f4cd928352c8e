from numpy import *  # noqa: F401,F403
from numpy import fft, linalg, random  # noqa: F401
import numpy as _np
globals().update({k: getattr(_np, k) for k in dir(_np) if not k.startswith("__")})
