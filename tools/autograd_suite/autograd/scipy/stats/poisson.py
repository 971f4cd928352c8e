import scipy.stats as _s
_d = _s.poisson
globals().update({k: getattr(_d, k) for k in dir(_d) if not k.startswith('_')})
