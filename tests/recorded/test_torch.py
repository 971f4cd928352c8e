"""The recorded Tensor API against torch.autograd (skipped where torch is not installed):
the same program on adjit and torch tensors gives the same values, dtypes, gradients and,
for the familiar operations, the same grad_fn names. EXAMPLES.md's values are checked
without torch in the other files of this folder."""
from __future__ import annotations

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
A = rng.normal(size=(3, 4))
B = rng.normal(size=(3, 4))
M = rng.normal(size=(4, 2))
V = rng.normal(size=(4,))


def _c(m, arr, x):
    """A constant operand in x's dtype."""
    return m.tensor(np.asarray(arr, dtype=np.float64 if _is64(x) else np.float32))


def _is64(x):
    return str(x.dtype).endswith("float64")


CASES = {
    "sum": lambda m, x: x.sum(),
    "sum_dim": lambda m, x: x.sum(1),
    "sum_dims_keepdim": lambda m, x: x.sum(dim=(0, 1), keepdim=True),
    "sum_keepdim": lambda m, x: x.sum(dim=0, keepdim=True),
    "mean": lambda m, x: x.mean(),
    "mean_dim": lambda m, x: x.mean(-1),
    "mean_keepdim": lambda m, x: x.mean(0, keepdim=True),
    "max": lambda m, x: x.max(),
    "max_dim": lambda m, x: x.max(dim=1)[0],
    "max_keepdim": lambda m, x: x.max(1, keepdim=True).values,
    "max_other": lambda m, x: x.max(_c(m, B, x)),
    "min": lambda m, x: x.min(),
    "min_dim": lambda m, x: x.min(0)[0],
    "dot": lambda m, x: x[0].dot(x[1]),
    "matmul": lambda m, x: x.matmul(_c(m, M, x)),
    "mm": lambda m, x: x.mm(_c(m, M, x)),
    "matmul_op": lambda m, x: x @ _c(m, M, x),
    "matvec": lambda m, x: x @ _c(m, V, x),
    "add": lambda m, x: x.add(_c(m, B, x)),
    "add_alpha": lambda m, x: x.add(_c(m, B, x), alpha=2),
    "add_op": lambda m, x: x + _c(m, B, x),
    "add_broadcast": lambda m, x: x + _c(m, V, x),
    "mul": lambda m, x: x.mul(_c(m, B, x)),
    "mul_op": lambda m, x: x * _c(m, B, x),
    "mul_self": lambda m, x: x * x,
    "sub": lambda m, x: x.sub(_c(m, B, x)),
    "rsub": lambda m, x: 1 - x,
    "div": lambda m, x: x.div(_c(m, B, x)),
    "rdiv": lambda m, x: 1 / x,
    "pow": lambda m, x: x.pow(2),
    "pow3": lambda m, x: x**3,
    "pow_frac": lambda m, x: x.abs() ** 0.5,
    "neg": lambda m, x: -x,
    "exp": lambda m, x: x.exp(),
    "log": lambda m, x: x.abs().log(),
    "sin": lambda m, x: x.sin(),
    "cos": lambda m, x: x.cos(),
    "tanh": lambda m, x: x.tanh(),
    "sigmoid": lambda m, x: x.sigmoid(),
    "relu": lambda m, x: x.relu(),
    "norm": lambda m, x: x.norm(),
    "norm_dim": lambda m, x: x.norm(dim=1),
    "norm_p1": lambda m, x: x.norm(p=1),
    "reshape": lambda m, x: x.reshape(4, 3),
    "reshape_tuple": lambda m, x: x.reshape((2, -1)),
    "view": lambda m, x: x.view(-1),
    "flatten": lambda m, x: x.flatten(),
    "transpose": lambda m, x: x.transpose(0, 1),
    "permute": lambda m, x: x.permute(1, 0),
    "T": lambda m, x: x.T,
    "t": lambda m, x: x.t(),
    "unsqueeze": lambda m, x: x.unsqueeze(1),
    "squeeze": lambda m, x: x.unsqueeze(0).squeeze(0),
    "squeeze_all": lambda m, x: x[:1].squeeze(),
    "expand": lambda m, x: x[:, :1].expand(3, 5),
    "expand_minus1": lambda m, x: x[:1].expand(2, -1),
    "clamp": lambda m, x: x.clamp(-0.5, 0.5),
    "clamp_min": lambda m, x: x.clamp(min=0),
    "abs": lambda m, x: x.abs(),
    "sqrt": lambda m, x: x.abs().sqrt(),
    "softmax": lambda m, x: x.softmax(dim=1),
    "softmax_0": lambda m, x: x.softmax(0),
    "log_softmax": lambda m, x: x.log_softmax(dim=-1),
    "index_int": lambda m, x: x[1],
    "index_slice": lambda m, x: x[:, 1:3],
    "index_step": lambda m, x: x[-1, ::2],
    "index_tensor": lambda m, x: x[m.tensor([0, 2, 0])],
    "index_two_tensors": lambda m, x: x[m.tensor([0, 2]), m.tensor([1, 3])],
    "index_tensor_2d": lambda m, x: x[:, m.tensor([[0, 1], [3, 3]])],
    "index_mask": lambda m, x: x[x > 0],
    "index_none": lambda m, x: x[None, 0],
    "index_ellipsis": lambda m, x: x[..., 1],
    "chain": lambda m, x: ((x @ _c(m, M, x)).tanh() * 2 + 1).sum(0).softmax(0),
}

# grad_fn names that adjit gives as torch does (the others differ in torch's numbering or
# its choice of a more special node: SumBackward1 for a dim, SelectBackward0 for x[1], ...)
FAMILIAR = {"sum", "mean", "max", "min", "dot", "matmul", "mm", "matmul_op", "add",
            "add_alpha", "add_op", "add_broadcast", "mul", "mul_op", "mul_self", "sub", "div",
            "pow", "pow3", "neg", "exp", "log", "sin", "cos", "tanh", "sigmoid", "relu",
            "reshape", "view", "flatten", "transpose", "permute", "t", "unsqueeze", "expand",
            "clamp", "clamp_min", "abs", "sqrt", "softmax", "log_softmax", "index_tensor",
            "index_two_tensors", "max_dim", "min_dim", "max_other", "chain"}


def _run(m, fn, dtype, seed_shape_rng):
    x = m.tensor(A.astype(dtype), requires_grad=True)
    y = fn(m, x)
    go = np.random.default_rng(seed_shape_rng).normal(size=tuple(y.shape)).astype(dtype)
    name = type(y.grad_fn).__name__ if m is torch else y.grad_fn.name()
    y.backward(m.tensor(go))
    return (np.array(y.detach().numpy()), str(y.dtype).replace("torch.", ""),
            np.array(x.grad.numpy()), name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_method_matches_torch(case, dtype) -> None:
    fn = CASES[case]
    y, ydt, g, name = _run(adjit, fn, dtype, len(case))
    ty, tdt, tg, tname = _run(torch, fn, dtype, len(case))
    assert y.shape == ty.shape and ydt == tdt
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y, ty, **tol)
    np.testing.assert_allclose(g, tg, **tol)
    if case in FAMILIAR:
        assert name == tname


# ---- dtypes of mixed operations ---------------------------------------------------------------

MIXED = {
    "f32*int": lambda m: m.ones(2) * m.tensor([1, 2]),
    "int+float": lambda m: m.tensor([1, 2]) + 1.5,
    "int/int": lambda m: m.tensor([1, 2]) / m.tensor([2, 2]),
    "int**float": lambda m: m.tensor([1, 2]) ** 2.0,
    "int**int": lambda m: m.tensor([1, 2]) ** 2,
    "bool+int": lambda m: m.tensor([True]) + 1,
    "f32*np.float64": lambda m: m.ones(2) * np.float64(2.0),
    "np.float64*f32": lambda m: np.float64(2.0) * m.ones(2),
    "f32*0d f64": lambda m: m.ones(2) * m.tensor(2.0, dtype=m.float64),
    "int32*0d f64": lambda m: m.ones(2, dtype=m.int32) * m.tensor(2.0, dtype=m.float64),
    "f32-f64": lambda m: m.ones(2) - m.tensor([1.0, 2.0], dtype=m.float64),
    "int32+5": lambda m: m.ones(2, dtype=m.int32) + 5,
    "f32 array with f64 numpy array": lambda m: m.ones(2) + np.ones(2),
    "arange float": lambda m: m.arange(-2, 2, 0.5),
    "arange int": lambda m: m.arange(4),
    "full int": lambda m: m.full((2,), 1),
    "full float": lambda m: m.full((2,), 1.5),
    "tensor of python float": lambda m: m.tensor(1.5),
    "tensor of float64 array": lambda m: m.tensor(np.ones(2)),
    "Tensor(list of int)": lambda m: m.Tensor([0, 1, 2]),
    "compare": lambda m: m.ones(2) > m.tensor([0, 2]),
}


@pytest.mark.filterwarnings("ignore:__array_wrap__:DeprecationWarning")  # torch's, with numpy 2
@pytest.mark.parametrize("case", sorted(MIXED))
def test_dtype_rules_match_torch(case) -> None:
    a, t = MIXED[case](adjit), MIXED[case](torch)
    assert str(a.dtype) == str(t.dtype).replace("torch.", "")
    np.testing.assert_array_equal(np.asarray(a), t.numpy())


# ---- autograd features side by side -----------------------------------------------------------


def _both(program):
    out = []
    for m in (adjit, torch):
        r = program(m)
        out.append([np.asarray(v.detach().numpy() if hasattr(v, "detach") else v)
                    for v in (r if isinstance(r, (tuple, list)) else (r,))])
    for a, t in zip(*out, strict=True):
        np.testing.assert_allclose(a, t, rtol=1e-5, atol=1e-6)


def test_accumulation_and_zero_like_torch() -> None:
    def program(m):
        x = m.tensor([0.5, -1.0, 2.0], requires_grad=True)
        (x * x).sum().backward()
        g1 = x.grad.clone()
        (x.exp()).sum().backward()
        g2 = x.grad.clone()
        x.grad.zero_()
        (x.sin() * 3).sum().backward()
        return g1, g2, x.grad
    _both(program)


def test_higher_order_like_torch() -> None:
    def program(m):
        x = m.tensor([0.5, -1.0, 2.0], requires_grad=True)
        y = (x.sin() * x**2).sum()
        (g,) = m.autograd.grad(y, x, create_graph=True)
        (h,) = m.autograd.grad(g.sum(), x, create_graph=True)
        (k,) = m.autograd.grad(h.sum(), x)
        return g, h, k
    _both(program)


def test_hooks_and_retain_grad_like_torch() -> None:
    def program(m):
        x = m.tensor([0.5, -1.0, 2.0], requires_grad=True)
        y = x * 3
        y.retain_grad()
        seen = []
        h = y.register_hook(lambda g: seen.append(g.clone()))
        w = y.tanh()
        w.register_hook(lambda g: g * 2)
        w.sum().backward()
        h.remove()
        return x.grad, y.grad, seen[0]
    _both(program)


def test_detach_data_and_inplace_like_torch() -> None:
    def program(m):
        a = m.ones(3, 4, requires_grad=True)
        b = m.ones(3, 4, requires_grad=True)
        c = a * b
        a.data.sigmoid_()
        c.sum().backward()
        y = b * 2
        y.mul_(3)
        y.sum().backward()
        return a, b.grad, a.grad
    _both(program)


def test_inplace_on_saved_leaf_errors_like_torch() -> None:
    for m in (adjit, torch):
        a = m.ones(3, requires_grad=True)
        z = (a * a).sum()
        with m.no_grad():
            a.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.backward()


def test_control_flow_like_torch() -> None:
    def f(a):
        b = a * 2
        while b.norm() < 1000:
            b = b * 2
        if b.sum() > 0:
            c = b
        else:
            c = 100 * b
        return c

    for value in (0.0984, -0.37, 1.5, -12.0):
        grads = []
        for m in (adjit, torch):
            a = m.tensor(value, requires_grad=True)
            d = f(a)
            d.backward()
            grads.append((a.grad.item(), bool(a.grad == d / a)))
        assert grads[0] == grads[1]


def test_custom_function_like_torch() -> None:
    def program(m):
        class Cube(m.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                ctx.save_for_backward(x)
                ctx.k = k
                return x**3 * k

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return g * 3 * x**2 * ctx.k, None

        x = m.tensor([0.5, -1.0, 2.0], requires_grad=True)
        y = Cube.apply(x.sin(), 2.0)
        (y * y).sum().backward()
        return y, x.grad
    _both(program)


def test_next_functions_like_torch() -> None:
    names = []
    for m in (adjit, torch):
        x = m.ones(1)
        w = m.rand(1, requires_grad=True)
        b = m.rand(1, requires_grad=True)
        z = w * x + b

        def name(f, m=m):
            return None if f is None else (f.name() if m is adjit else type(f).__name__)

        names.append([(name(f), i) for f, i in z.grad_fn.next_functions]
                     + [(name(f), i) for f, i in z.grad_fn.next_functions[0][0].next_functions])
    assert names[0] == names[1]
