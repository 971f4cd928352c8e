"""FFT primitives (see below)."""
