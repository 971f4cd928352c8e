"""np.fft on tracers."""
FUNCTIONS: dict = {}
