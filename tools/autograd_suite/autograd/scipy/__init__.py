from . import special, stats, linalg, signal, integrate, misc  # noqa
