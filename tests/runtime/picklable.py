"""Module-level transformed functions for the pickling test (pickle finds them by name)."""
import adjit


@adjit.grad
def f(x):
    return (x**2).sum()


def plain(x):
    return (x**3).sum()


g = adjit.grad(plain)
