"""The recorded Tensor API's semantics, checked without torch: dtypes, grad modes,
accumulation, retained and higher-order graphs, hooks, detach/.data, version counters,
custom Functions, compilation counting, adjit.inspect, and inputs that should be refused."""
from __future__ import annotations

import numpy as np
import pytest

import adjit
from adjit import autograd

# ---- dtypes and factories -----------------------------------------------------------------------


def test_python_floats_and_factories_are_float32() -> None:
    assert adjit.tensor([1.0, 2.0]).dtype == np.float32
    assert adjit.tensor(1.5).dtype == np.float32
    assert adjit.tensor([1, 2]).dtype == np.int64
    assert adjit.tensor([True]).dtype == np.bool_
    for make in (adjit.zeros, adjit.ones, adjit.rand, adjit.randn, adjit.empty):
        assert make(2, 3).dtype == np.float32 and make(2, 3).shape == (2, 3)
        assert make((2, 3)).shape == (2, 3) and make(()).shape == ()
    assert adjit.arange(4.0).dtype == np.float32 and adjit.arange(4).dtype == np.int64
    assert adjit.full((2,), 1.5).dtype == np.float32 and adjit.full((2,), 1).dtype == np.int64
    assert adjit.zeros_like(adjit.ones(2, dtype=np.float64)).dtype == np.float64
    assert adjit.ones_like(np.ones(3, np.float32), requires_grad=True).requires_grad


def test_arrays_keep_their_dtype() -> None:
    assert adjit.tensor(np.arange(3.0)).dtype == np.float64
    assert adjit.tensor(np.ones(2, np.float32)).dtype == np.float32
    assert adjit.tensor(np.arange(3, dtype=np.int32)).dtype == np.int32
    assert adjit.tensor([1.0], dtype=np.float64).dtype == np.float64
    x = adjit.tensor(np.arange(3.0), requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.dtype == np.float64


def test_set_default_dtype() -> None:
    adjit.set_default_dtype(np.float64)
    try:
        assert adjit.get_default_dtype() == np.float64
        assert adjit.tensor([1.0]).dtype == np.float64
        assert adjit.ones(2).dtype == np.float64 and adjit.randn(2).dtype == np.float64
        assert adjit.arange(3.0).dtype == np.float64
        assert (adjit.tensor([1, 2]) / 2).dtype == np.float64
        assert adjit.tensor([1]).dtype == np.int64
    finally:
        adjit.set_default_dtype(np.float32)
    assert adjit.ones(2).dtype == np.float32
    with pytest.raises(TypeError, match="float32 or float64"):
        adjit.set_default_dtype(np.int32)


def test_tensor_copies_and_numpy_shares() -> None:
    a = np.ones(3, np.float32)
    t = adjit.tensor(a)
    a[0] = 5
    assert t.tolist() == [1.0, 1.0, 1.0]
    assert np.shares_memory(t.numpy(), np.asarray(t))


# ---- bad inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("data", ["abc", np.ones(2, np.clongdouble), [object()], None,
                                  np.ones(2, np.float16)],
                         ids=["str", "complex256", "object", "None", "float16"])
def test_bad_data_is_refused_at_the_users_line(data) -> None:
    with pytest.raises(adjit.TraceError, match="adjit.tensor cannot hold") as e:
        adjit.tensor(data)
    assert "test_semantics.py" in str(e.value)


def test_integer_tensors_cannot_require_grad() -> None:
    with pytest.raises(RuntimeError, match="floating point"):
        adjit.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        adjit.arange(3).requires_grad_()


def test_shape_errors_name_the_line() -> None:
    with pytest.raises(adjit.ShapeError, match="cannot broadcast") as e:
        adjit.ones(3, requires_grad=True) + adjit.ones(2)
    assert "test_semantics.py" in str(e.value)
    with pytest.raises(adjit.ShapeError, match="matmul"):
        adjit.ones(3, 2, requires_grad=True) @ adjit.ones(3)


def test_gradient_of_the_wrong_shape() -> None:
    y = adjit.ones(3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: .* \[2\] .* \[3\]"):
        y.backward(adjit.ones(2))


def test_backward_of_something_without_a_graph() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        adjit.tensor([1.0, 2.0]).sum().backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        adjit.tensor([1, 2]).sum().backward()
    with pytest.raises(TypeError, match="expects tensors"):
        autograd.backward([np.ones(2)])


def test_numpy_of_a_tensor_requiring_grad_and_item_of_many() -> None:
    with pytest.raises(RuntimeError, match="detach"):
        adjit.ones(3, requires_grad=True).numpy()
    with pytest.raises(ValueError, match="3 elements"):
        adjit.ones(3).item()
    assert float(adjit.tensor(2.5, requires_grad=True) * 2) == 5.0


# ---- numpy arrays and tensors together ----------------------------------------------------------


def test_numpy_array_and_tensor_in_both_orders() -> None:
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    for y in (np.full(2, 3.0, np.float32) * x, x * np.full(2, 3.0, np.float32)):
        assert isinstance(y, adjit.Tensor) and y.grad_fn.name() == "MulBackward0"
        assert y.dtype == np.float32 and y.tolist() == [3.0, 6.0]
    (np.ones(2) + x).sum().backward()  # a float64 array: the result is float64
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [1.0, 1.0]
    assert (np.ones(2) + x).dtype == np.float64
    # numpy functions on tensors return tensors
    e = np.exp(x)
    assert isinstance(e, adjit.Tensor) and e.grad_fn.name() == "ExpBackward0"
    assert isinstance(np.asarray(x.detach()), np.ndarray)
    # as PyTorch: numpy may not convert a tensor that requires grad (it would cut the graph
    # silently: np.array([x[0], x[1]]) would be a constant)
    for convert in (np.asarray, lambda x: np.array([x[0], x[1]]), lambda x: np.mean([x, x])):
        with pytest.raises(RuntimeError, match="requires grad"):
            convert(x)


# ---- 0-d tensors, broadcasting, integers --------------------------------------------------------


def test_zero_dimensional_tensors() -> None:
    a = adjit.tensor(0.0, requires_grad=True)
    y = a * adjit.tensor(3.0) + a.exp()
    assert y.shape == () and y.grad_fn.name() == "AddBackward0"
    y.backward()
    assert a.grad.shape == () and a.grad.item() == 4.0
    assert a[()].shape == () and adjit.randn(()).shape == ()
    with pytest.raises(TypeError):
        len(adjit.tensor(2.0))


def test_broadcasting_gradients_are_summed_back() -> None:
    a = adjit.ones(2, 3, requires_grad=True)
    b = adjit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    c = adjit.tensor(2.0, requires_grad=True)
    (a * b * c).sum().backward()
    assert a.grad.tolist() == [[2.0, 4.0, 6.0]] * 2
    assert b.grad.tolist() == [4.0, 4.0, 4.0]
    assert c.grad.shape == () and c.grad.item() == 12.0
    col = adjit.ones(2, 1, requires_grad=True)
    (col + adjit.ones(1, 4)).sum().backward()
    assert col.grad.tolist() == [[4.0], [4.0]]


def test_integer_tensors_and_integer_indices() -> None:
    i = adjit.tensor([1, 2])
    assert (i * 3).tolist() == [3, 6] and (i * 3).dtype == np.int64
    assert (i // 2).dtype == np.int64 and (i / 2).dtype == np.float32
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    x[adjit.tensor([[0, 1], [1, 1]])].sum().backward()
    assert x.grad.tolist() == [1.0, 3.0]
    x.grad = None
    (x * i).sum().backward()  # an integer tensor is a constant
    assert x.grad.tolist() == [1.0, 2.0] and (x * i).dtype == np.float32
    with pytest.raises(adjit.TraceError, match="integer"):
        x[adjit.tensor([0.0])]


def test_setitem_records_and_reads_back() -> None:
    a = adjit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = a * 1
    y[1] = a[0] * 5
    assert y.tolist() == [1.0, 5.0, 3.0] and y.grad_fn.name() == "CopySlices"
    y.sum().backward()
    assert a.grad.tolist() == [6.0, 0.0, 1.0]
    a.grad = None
    y = a * 1
    y[adjit.tensor([0, 2])] = 0.0
    y.sum().backward()
    assert a.grad.tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        a[0] = 5.0


# ---- accumulation, retain_graph, unused inputs --------------------------------------------------


def test_backward_twice_and_retain_graph() -> None:
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    z = (x * x).sum()
    z.backward(retain_graph=True)
    z.backward(retain_graph=True)
    z.backward()
    assert x.grad.tolist() == [6.0, 12.0]
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        z.backward()
    # a graph built again from the same leaves is new
    (x * x).sum().backward()
    assert x.grad.tolist() == [8.0, 16.0]


def test_grad_of_unused_inputs() -> None:
    a = adjit.ones(2, requires_grad=True)
    b = adjit.ones(3, requires_grad=True)
    (a * 2).sum().backward()
    assert a.grad.tolist() == [2.0, 2.0] and b.grad is None
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        autograd.grad((a * 2).sum(), [a, b])
    ga, gb = autograd.grad((a * 2).sum(), [a, b], allow_unused=True)
    assert ga.tolist() == [2.0, 2.0] and gb is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        autograd.grad((a * 2).sum(), adjit.ones(2))


def test_backward_inputs_and_grad_outputs() -> None:
    a = adjit.ones(2, requires_grad=True)
    b = adjit.full((2,), 3.0, requires_grad=True)
    (a * b).sum().backward(inputs=[a])
    assert a.grad.tolist() == [3.0, 3.0] and b.grad is None
    x = adjit.tensor([1.0, 1.0], requires_grad=True)
    (g,) = autograd.grad(x * x, x, grad_outputs=adjit.tensor([1.0, 2.0]))
    assert g.tolist() == [2.0, 4.0]
    (g,) = autograd.grad([(x * x).sum(), (x * 3).sum()], [x])
    assert g.tolist() == [5.0, 5.0]


# ---- higher order -------------------------------------------------------------------------------


def test_second_and_third_derivatives() -> None:
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    y = (x**4).sum()
    (g,) = autograd.grad(y, x, create_graph=True)
    (h,) = autograd.grad(g.sum(), x, create_graph=True)
    (k,) = autograd.grad(h.sum(), x)
    assert g.tolist() == [4.0, 32.0]   # 4x^3
    assert h.tolist() == [12.0, 48.0]  # 12x^2
    assert k.tolist() == [24.0, 48.0]  # 24x
    assert g.requires_grad and h.requires_grad and not k.requires_grad


def test_backward_create_graph_leaves_a_differentiable_grad() -> None:
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.tolist() == [3.0, 12.0]
    x.grad = None
    g.sum().backward()
    assert x.grad.tolist() == [6.0, 12.0]


def test_mixed_second_derivative() -> None:
    x = adjit.tensor(2.0, requires_grad=True)
    y = adjit.tensor(3.0, requires_grad=True)
    (gx,) = autograd.grad(x * x * y, x, create_graph=True)  # 2xy
    (gxy,) = autograd.grad(gx, y)                            # 2x
    assert gx.item() == 12.0 and gxy.item() == 4.0


# ---- hooks and retain_grad ----------------------------------------------------------------------


def test_hooks_observe_modify_and_are_removable() -> None:
    x = adjit.ones(2, requires_grad=True)
    y = x * 2
    h = y.register_hook(lambda g: g * 10)
    y.sum().backward()
    assert x.grad.tolist() == [20.0, 20.0]
    h.remove()
    h.remove()  # twice is harmless
    x.grad = None
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    x.grad = None
    y = x * 2
    y.register_hook(lambda g: g + 1)
    y.register_hook(lambda g: g * 10)  # in order: (1 + 1) * 10, times 2
    y.sum().backward()
    assert x.grad.tolist() == [40.0, 40.0]
    x.grad = None
    y = x * 2
    with y.register_hook(lambda g: g * 0):
        y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_hook_on_a_leaf_and_returning_an_array() -> None:
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 3)
    (x * 2).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]
    w = adjit.ones(2, requires_grad=True)
    y = w * 2
    y.register_hook(lambda g: np.full(2, 7.0))
    y.sum().backward()
    assert w.grad.tolist() == [14.0, 14.0]
    with pytest.raises(RuntimeError, match="doesn't require"):
        adjit.ones(2).register_hook(print)


def test_retain_grad() -> None:
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    assert y.retains_grad and not x.retains_grad
    (y * y).sum().backward()
    assert y.grad.tolist() == [4.0, 8.0] and x.grad.tolist() == [8.0, 16.0]
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        adjit.ones(2).retain_grad()


# ---- detach, .data, versions, requires_grad_ ----------------------------------------------------


def test_detach_shares_memory_and_version() -> None:
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert np.shares_memory(d.numpy(), x.data.numpy())
    z = (x * x).sum()
    d.zero_()  # changes x too, and x's version
    assert x.tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_inplace_through_data_is_not_recorded_nor_noticed() -> None:
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    z = (x * 3).sum()
    x.data.mul_(10)
    z.backward()  # as in torch: the change is not seen by autograd
    assert x.grad.tolist() == [3.0, 3.0] and x.tolist() == [10.0, 20.0]
    x.data = adjit.tensor([5.0, 6.0])
    assert x.tolist() == [5.0, 6.0] and x.requires_grad


def test_inplace_on_a_saved_leaf_is_reported() -> None:
    a = adjit.ones(3, requires_grad=True)
    z = (a * a).sum()
    with adjit.no_grad():
        a.mul_(2)
    with pytest.raises(RuntimeError) as e:
        z.backward()
    assert "modified by an inplace operation" in str(e.value)
    assert "version 1; expected version 0" in str(e.value)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        a.add_(1)


def test_inplace_on_an_intermediate_is_correct() -> None:
    # the node that made y keeps the values it made when y changes in place, and the
    # compiled backward reads those: the gradient of what ran (torch reports it instead)
    a = adjit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = a * 2
    z = (y * y).sum()
    y.add_(1)
    z.backward()
    assert a.grad.tolist() == [8.0, 16.0, 24.0]
    # an in-place op on an intermediate is recorded
    a.grad = None
    y = a * 2
    y.mul_(3)
    y.sigmoid_()
    assert y.grad_fn.name() == "SigmoidBackward0"
    y.sum().backward()
    s = 1 / (1 + np.exp(-6 * np.array([1.0, 2.0, 3.0])))
    np.testing.assert_allclose(a.grad.numpy(), 6 * s * (1 - s), atol=1e-6)  # float32


def test_an_sgd_step_under_no_grad() -> None:
    w = adjit.ones(3, requires_grad=True)
    for _ in range(3):
        loss = (w * w).sum()
        loss.backward()
        with adjit.no_grad():
            w -= 0.1 * w.grad
        w.grad.zero_()
    assert w.is_leaf and w.requires_grad
    np.testing.assert_allclose(w.detach().numpy(), np.full(3, 0.8**3), rtol=1e-6)


def test_requires_grad_and_is_leaf() -> None:
    x = adjit.ones(2)
    assert x.requires_grad_() is x and x.requires_grad and x.is_leaf
    y = x * 2
    assert not y.is_leaf
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad_(False)
    assert x.requires_grad_(False).requires_grad is False


# ---- grad modes ---------------------------------------------------------------------------------


def test_no_grad_context_and_decorator() -> None:
    x = adjit.ones(2, requires_grad=True)
    with adjit.no_grad():
        assert not adjit.is_grad_enabled()
        y = x * 2
    assert adjit.is_grad_enabled() and not y.requires_grad and y.grad_fn is None

    @adjit.no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad and adjit.is_grad_enabled()
    with adjit.no_grad():
        with adjit.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad


def test_set_grad_enabled_as_function_context_and_decorator() -> None:
    x = adjit.ones(2, requires_grad=True)
    with adjit.set_grad_enabled(False):
        a = x * 2
    assert not a.requires_grad and adjit.is_grad_enabled()
    adjit.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        adjit.set_grad_enabled(True)
    assert (x * 2).requires_grad

    @adjit.set_grad_enabled(False)
    def double(t):
        return t * 2

    assert adjit.is_grad_enabled()
    assert not double(x).requires_grad and adjit.is_grad_enabled()
    with adjit.no_grad():
        with adjit.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not adjit.is_grad_enabled()


# ---- Python control flow on tensor values -------------------------------------------------------


def test_python_if_and_while_on_tensor_values() -> None:
    def f(a):
        b = a * 2
        while b.norm() < 1000:
            b = b * 2
        if b.sum() > 0:
            c = b
        else:
            c = 100 * b
        return c

    a = adjit.randn((), requires_grad=True)
    d = f(a)
    d.backward()
    assert a.grad.item() == pytest.approx((d / a).item(), rel=1e-6)
    assert a.grad.item() in {2.0**n * s for n in range(1, 40) for s in (1, 100)}


# ---- custom Functions ---------------------------------------------------------------------------


class Scale(autograd.Function):
    @staticmethod
    def forward(ctx, a, k, b):
        ctx.k = k
        ctx.save_for_backward(a, b)
        return a * b * k

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        assert ctx.needs_input_grad == (True, False, False)
        return g * b * ctx.k, None, None


class Two(autograd.Function):
    @staticmethod
    def forward(ctx, a):
        return a * 2, a * 3

    @staticmethod
    def backward(ctx, g1, g2):
        return g1 * 2 + g2 * 3


class Sin(autograd.Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * np.cos(a)


def test_custom_function_ctx() -> None:
    a = adjit.tensor([1.0, 2.0], requires_grad=True)
    b = adjit.tensor([3.0, 4.0])
    y = Scale.apply(a, 2.0, b)
    assert y.grad_fn.name() == "ScaleBackward" and y.tolist() == [6.0, 16.0]
    y.sum().backward()
    assert a.grad.tolist() == [6.0, 8.0] and b.grad is None


def test_custom_function_two_outputs_and_in_a_chain() -> None:
    a = adjit.tensor([1.0, 2.0], requires_grad=True)
    u, v = Two.apply(a)
    (u.sum() + (v * v).sum()).backward()
    assert a.grad.tolist() == [20.0, 38.0]  # 2 + 18a
    x = adjit.tensor([0.5, 1.0], requires_grad=True)
    Sin.apply(x * 2).exp().sum().backward()
    xs = np.array([0.5, 1.0])
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(2 * xs) * np.exp(np.sin(2 * xs)),
                               rtol=1e-6)
    assert not Sin.apply(adjit.ones(2)).requires_grad


def test_custom_function_errors() -> None:
    class Bad(autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(adjit.TraceError, match="returned 1 gradients for 2 inputs"):
        Bad.apply(adjit.ones(2, requires_grad=True), adjit.ones(2)).sum().backward()
    x = adjit.tensor([0.5, 1.0], requires_grad=True)
    with pytest.raises(adjit.TraceError, match="create_graph=True through a custom Function"):
        autograd.grad(Sin.apply(x).sum(), x, create_graph=True)


# ---- compilation and inspection -----------------------------------------------------------------


def test_a_training_loop_compiles_its_backward_once() -> None:
    rng = np.random.default_rng(0)
    x = adjit.tensor(rng.normal(size=(8, 4)).astype(np.float32))
    w = adjit.tensor(rng.normal(size=(4, 3)).astype(np.float32), requires_grad=True)
    b = adjit.zeros(3, requires_grad=True)
    before = autograd.compilations()
    losses = []
    for _ in range(100):
        loss = (np.tanh(x @ w + b) ** 2).mean()
        loss.backward()
        with adjit.no_grad():
            w -= 0.1 * w.grad
            b -= 0.1 * b.grad
        w.grad.zero_()
        b.grad.zero_()
        losses.append(loss.item())
    assert autograd.compilations() - before <= 1  # 0 when an earlier test compiled it
    assert losses[-1] < losses[0]
    # another structure (another shape) compiles again
    loss = (np.tanh(x[:4] @ w + b) ** 2).mean()
    n = autograd.compilations()
    loss.backward()
    assert autograd.compilations() in (n, n + 1)


def test_inspect_a_recorded_loss() -> None:
    w = adjit.randn(4, 3, requires_grad=True)
    x = adjit.randn(8, 4)
    frozen = adjit.randn(3, requires_grad=False)
    loss = ((x @ w).tanh() * frozen).sum()
    ins = adjit.inspect(loss)
    text = str(ins)
    for title in ("traced IR", "adjoint (joint forward + backward) IR", "pruned IR",
                  "simplified IR", "kernel plan", "generated source"):
        assert f"=== {title}" in text
    assert "matmul" in str(ins.traced) and "tanh" in str(ins.traced)
    assert "vjp(tanh)" in str(ins.adjoint)
    assert "pruned" in str(ins.prune_report).lower()
    assert "def " in ins.source
    with pytest.raises(adjit.TraceError, match="recorded graph"):
        adjit.inspect(adjit.ones(2))


def test_requires_grad_assignment_is_checked_as_requires_grad_() -> None:
    """`x.requires_grad = True` on an integer tensor fails at once, as in PyTorch (it was
    accepted and failed later, far from the cause); on a non-leaf, False is refused."""
    i = adjit.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="floating point"):
        i.requires_grad = True
    assert not i.requires_grad
    x = adjit.tensor([1.0, 2.0])
    x.requires_grad = True
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    y.requires_grad = True  # a no-op, as in PyTorch
    x.requires_grad = False
    assert not (x * 2).requires_grad


def test_create_graph_gradients_of_linear_functions_are_constants() -> None:
    """The gradient of a linear function does not depend on its input: with
    create_graph=True PyTorch returns it with requires_grad=False, and so does adjit; a
    nonlinear one keeps its graph to the third derivative."""
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    (g,) = autograd.grad((2 * x).sum(), x, create_graph=True)
    assert not g.requires_grad and g.grad_fn is None
    np.testing.assert_array_equal(g.numpy(), [2.0, 2.0])
    (g,) = autograd.grad((x ** 3).sum(), x, create_graph=True)
    (g2,) = autograd.grad(g.sum(), x, create_graph=True)
    (g3,) = autograd.grad(g2.sum(), x, create_graph=True)
    assert g2.requires_grad and not g3.requires_grad
    np.testing.assert_array_equal(g2.detach().numpy(), [6.0, 12.0])
    np.testing.assert_array_equal(g3.numpy(), [6.0, 6.0])


def test_one_backward_text_from_different_node_boundaries() -> None:
    """log_softmax then nll_loss (two recorded nodes) and cross_entropy (one) give the same
    joint graph text, but feed the backward different node outputs: the second must not
    reuse the first's compiled backward (it indexed values that were not there)."""
    import adjit.nn.functional as F

    x = np.random.default_rng(0).normal(size=(6, 4))
    t = adjit.tensor(np.array([0, 2, 1, 3, 2, 0]))
    w = adjit.tensor(np.array([1.0, 2.0, 0.5, 1.5]))
    for reduction in ("mean", "sum"):
        a = adjit.tensor(x, requires_grad=True)
        F.nll_loss(F.log_softmax(a, dim=1), t, weight=w, ignore_index=2,
                   reduction=reduction).backward()
        b = adjit.tensor(x, requires_grad=True)
        F.cross_entropy(b, t, weight=w, ignore_index=2, reduction=reduction).backward()
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-14)
