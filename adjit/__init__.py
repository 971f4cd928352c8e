"""adjit: a JIT-compiled, static-graph differentiation compiler for numpy-style Python."""
