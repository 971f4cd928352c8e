"""Shared checks for the numpy coverage tests (test_np_sorting, test_np_building,
test_np_elementwise, test_np_lists): one traced function per group of numpy functions, so
that each group costs few compilations.

- `check_values(fn, *args)`: the traced graph, run by the reference interpreter (no
  compilation), against numpy on the same arguments, output by output.
- `check_group(fn, *args)`: the scalar loss sum_k <W_k, out_k> (fixed random weights);
  `value_and_grad` against numpy's value and float64 central differences, `jvp` against the
  directional derivative, the gradient at float32 arguments (float32 result, close to
  the float64 one), and the same loss recorded on `adjit.tensor`s (the PyTorch-style front
  end) with `backward()`: its `.grad` equals the traced gradient.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from adjit.ir import evaluate
from adjit.tracer import trace
from adjit.tracer.convert import converted
from check import check_grads, directional_derivative

import adjit


def flat_outputs(out: Any) -> list[Any]:
    if isinstance(out, (list, tuple)):
        return [o for item in out for o in flat_outputs(item)]
    return [out]


def check_values(fn: Callable[..., Any], *args: Any, rtol: float = 1e-12,
                 atol: float = 1e-12) -> None:
    want = flat_outputs(fn(*args))
    fn = converted(fn)  # as if it were the traced function itself (a module of its own)
    got = evaluate(trace(lambda *xs: tuple(flat_outputs(fn(*xs))), list(args),
                         concrete=False).graph, *args)
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        w = np.asarray(w)
        assert g.shape == w.shape, f"output {k}: shape {g.shape}, numpy {w.shape}"
        assert g.dtype == w.dtype, f"output {k}: dtype {g.dtype}, numpy {w.dtype}"
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=f"output {k}")


def weighted_loss(fn: Callable[..., Any], *args: Any) -> Callable[..., Any]:
    """sum_k <W_k, out_k> over fn's float outputs, with fixed random weights W_k."""
    rng = np.random.default_rng(7)
    outs = [np.asarray(o) for o in flat_outputs(fn(*args))]
    weights = [rng.normal(size=o.shape) if o.dtype.kind == "f" else None for o in outs]
    run = converted(fn)  # as if it were the traced function itself (a module of its own)

    def loss(*xs: Any) -> Any:
        total = 0.0
        for o, w in zip(flat_outputs(run(*xs)), weights, strict=True):
            if w is not None:
                total = total + np.sum(o * w)
        return total

    return loss


def check_group(fn: Callable[..., Any], *args: np.ndarray, argnums: Any = 0,
                f32: bool = True, rtol: float | None = None, atol: float | None = None,
                recorded: bool = True) -> None:
    loss = weighted_loss(fn, *args)
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    vg = adjit.value_and_grad(loss, argnums=argnums)
    value, _ = vg(*args)
    np.testing.assert_allclose(value, loss(*args), rtol=1e-10, atol=1e-10)
    check_grads(lambda *a: vg(*a)[1], loss, args, argnums=argnums, rtol=rtol, atol=atol)
    # jvp along a random direction of every differentiated argument
    rng = np.random.default_rng(3)
    tangents = {i: rng.normal(size=args[i].shape) for i in nums}

    def of_nums(*xs: Any) -> Any:
        full = list(args)
        for i, x in zip(nums, xs, strict=True):
            full[i] = x
        return loss(*full)

    _, t_out = adjit.jvp(of_nums, tuple(args[i] for i in nums), tuple(tangents[i] for i in nums))
    want = directional_derivative(loss, *args, tangents=tangents)
    np.testing.assert_allclose(t_out, want, rtol=1e-5, atol=1e-7)
    if recorded:
        _, g = vg(*args)
        check_recorded(loss, args, nums, (g,) if isinstance(argnums, int) else g)
    if f32:
        a32 = [a.astype(np.float32) if a.dtype == np.float64 else a for a in args]
        g32 = adjit.grad(loss, argnums=argnums)(*a32)
        g64 = vg(*[a.astype(np.float64) if a.dtype == np.float32 else a for a in a32])[1]
        g32 = (g32,) if isinstance(argnums, int) else g32
        g64 = (g64,) if isinstance(argnums, int) else g64
        for g, h in zip(g32, g64, strict=True):
            assert g.dtype == np.float32
            np.testing.assert_allclose(g, h, rtol=2e-3, atol=2e-3)


def check_recorded(loss: Callable[..., Any], args: Any, nums: tuple[int, ...],
                   grads: Any) -> None:
    """The loss on recorded tensors (requires_grad for the differentiated arguments):
    `backward()` gives the traced gradients."""
    tensors = [adjit.tensor(a, requires_grad=i in nums) if isinstance(a, np.ndarray)
               and a.dtype.kind == "f" else a for i, a in enumerate(args)]
    out = loss(*tensors)
    out.backward()
    for i, g in zip(nums, grads, strict=True):
        got = tensors[i].grad
        got = np.zeros_like(args[i]) if got is None else got.numpy()
        np.testing.assert_allclose(got, g, rtol=1e-9, atol=1e-12,
                                   err_msg=f"recorded gradient of argument {i}")
