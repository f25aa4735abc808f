"""A half-trained torch run moved to its optax port and back (``port.state``).

The proof of the issue: torch runs N steps; its params and optimizer state move to
JAX; JAX runs M more steps: that must be torch's N + M steps, within the port's bound
(1 ulp of the leaf's scale per step in float32, 1e-12 relative in float64). Then the
reverse: the port runs N steps, its state moves into a fresh torch optimizer, torch
runs M more. Every ported torch optimizer, each with two param groups and a scheduler.
"""

from __future__ import annotations

import warnings

import jax
import numpy as np
import optax
import pytest

from jaxopt_lab import crosscheck, port
from jaxopt_lab.port.call_text import parse_call, torch_optimizer_text, torch_scheduler_text
from jaxopt_lab.port.library_side import _torch_builder

torch = pytest.importorskip("torch")

BEFORE, AFTER = 6, 6
STEPS = 40  # tabulated optimizer steps (past BEFORE + AFTER)

CASES = [
    (
        "SGD([{}, {'lr': 0.02}], lr=0.05, momentum=0.9, dampening=0.1)",
        "StepLR(step_size=3, gamma=0.5)",
    ),
    (
        "SGD([{}, {}], lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)",
        "OneCycleLR(max_lr=[0.1, 0.05], total_steps=40)",
    ),
    ("Adam([{}, {'betas': (0.8, 0.99)}], lr=1e-2, weight_decay=1e-2)", "ExponentialLR(gamma=0.9)"),
    (
        "AdamW([{}, {'weight_decay': 0.0}], lr=1e-2, weight_decay=0.1, amsgrad=True)",
        "OneCycleLR(max_lr=[1e-2, 2e-2], total_steps=40)",
    ),
    (
        "Adagrad([{}, {'lr_decay': 0.0}], lr=0.05, lr_decay=1e-2, initial_accumulator_value=0.1)",
        "PolynomialLR(total_iters=8, power=2.0)",
    ),
    (
        "RMSprop([{}, {'momentum': 0.0}], lr=1e-2, momentum=0.9, centered=True)",
        "OneCycleLR(max_lr=1e-2, total_steps=40)",
    ),
    ("Adadelta([{}, {'rho': 0.8}], lr=1.0, weight_decay=1e-3)", "StepLR(step_size=4, gamma=0.5)"),
    ("Adamax([{}, {'betas': (0.8, 0.99)}], lr=2e-2)", "CosineAnnealingLR(T_max=8)"),
    (
        "NAdam([{}, {'weight_decay': 0.0}], lr=1e-2, weight_decay=0.1, "
        "decoupled_weight_decay=True)",
        "LinearLR(start_factor=0.1, total_iters=8)",
    ),
    (
        "RAdam([{}, {'weight_decay': 0.0}], lr=1e-2, weight_decay=0.1, "
        "decoupled_weight_decay=True)",
        "CosineAnnealingWarmRestarts(T_0=4, T_mult=2)",
    ),
    ("Rprop([{}, {'etas': (0.4, 1.3)}], lr=0.01)", "ExponentialLR(gamma=0.9)"),
    (
        "Adafactor([{}, {'weight_decay': 0.0}], lr=0.1, weight_decay=0.1)",
        "StepLR(step_size=4, gamma=0.5)",
    ),
]
DTYPES = [np.float32, np.float64]


def _params():
    rng = np.random.default_rng(0)
    params = {
        "w0": rng.standard_normal((4, 3)),
        "b0": rng.standard_normal(3),
        "w1": rng.standard_normal((4, 3)),
        "b1": rng.standard_normal(3),
    }
    group_of = {"w0": 0, "b0": 0, "w1": 1, "b1": 1}
    return params, group_of


class _Torch:
    """A live torch optimizer and scheduler over tensors made from ``params``."""

    def __init__(self, optimizer_text, scheduler_text, params, group_of, dtype):
        self.leaves, self.treedef = jax.tree.flatten(params)
        self.tensors = [
            torch.tensor(np.asarray(leaf, dtype), requires_grad=True) for leaf in self.leaves
        ]
        scheduler = torch_scheduler_text(parse_call(scheduler_text)) if scheduler_text else None
        build = _torch_builder(
            torch_optimizer_text(parse_call(optimizer_text)), scheduler, jax.tree.leaves(group_of)
        )
        self.optimizer, self.scheduler = build(self.tensors)

    def params(self):
        return self.treedef.unflatten([t.detach().numpy().copy() for t in self.tensors])


def _torch_steps(live, gradient_leaves, start, stop, dtype):
    for step in range(start, stop):
        for tensor, gradient in zip(live.tensors, gradient_leaves, strict=True):
            tensor.grad = torch.from_numpy(np.asarray(gradient[step], dtype).copy())
        live.optimizer.step()
        if live.scheduler is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                live.scheduler.step()


def _jax_steps(transformation, state, params, gradient_leaves, treedef, start, stop, dtype):
    update = jax.jit(transformation.update)
    for step in range(start, stop):
        grads = treedef.unflatten([np.asarray(g[step], dtype) for g in gradient_leaves])
        updates, state = update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return params, state


@pytest.fixture(autouse=True)
def _torch_default_dtype(request):
    """A float64 torch program sets float64 as torch's default dtype, so that its scalar state
    (NAdam's mu_product) is float64 too (as crosscheck.TorchAdapter runs it)."""
    dtype = request.node.callspec.params.get("dtype") if hasattr(request.node, "callspec") else None
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if dtype == np.float64 else torch.float32)
    yield
    torch.set_default_dtype(previous)


def _assert_close(got, want, dtype, steps):
    for leaf_got, leaf_want in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        error = crosscheck.normwise_relative_error(np.asarray(leaf_got), np.asarray(leaf_want))
        if dtype == np.float32:
            assert error / np.finfo(np.float32).eps <= steps, error
        else:
            assert error <= 1e-12, error


def _reference(optimizer_text, scheduler_text, params, group_of, gradient_leaves, dtype):
    live = _Torch(optimizer_text, scheduler_text, params, group_of, dtype)
    _torch_steps(live, gradient_leaves, 0, BEFORE + AFTER, dtype)
    return live.params()


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("optimizer_text, scheduler_text", CASES, ids=lambda t: t[:24])
def test_torch_to_jax_mid_run(optimizer_text, scheduler_text, dtype):
    params, group_of = _params()
    gradient_leaves = jax.tree.leaves(crosscheck.random_gradients(params, BEFORE + AFTER, seed=1))
    want = _reference(optimizer_text, scheduler_text, params, group_of, gradient_leaves, dtype)
    live = _Torch(optimizer_text, scheduler_text, params, group_of, dtype)
    _torch_steps(live, gradient_leaves, 0, BEFORE, dtype)
    with jax.enable_x64(dtype == np.float64):
        moved = jax.tree.map(lambda p: np.asarray(p, dtype), live.params())
        transformation, state = port.state_from_torch(
            live.optimizer, live.scheduler, like=moved, group_of=group_of, steps=STEPS
        )
        got, _ = _jax_steps(
            transformation,
            state,
            moved,
            gradient_leaves,
            live.treedef,
            BEFORE,
            BEFORE + AFTER,
            dtype,
        )
        got = jax.tree.map(np.asarray, got)
    _assert_close(got, want, dtype, BEFORE + AFTER)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("optimizer_text, scheduler_text", CASES, ids=lambda t: t[:24])
def test_jax_to_torch_mid_run(optimizer_text, scheduler_text, dtype):
    params, group_of = _params()
    gradient_leaves = jax.tree.leaves(crosscheck.random_gradients(params, BEFORE + AFTER, seed=1))
    want = _reference(optimizer_text, scheduler_text, params, group_of, gradient_leaves, dtype)
    fresh = _Torch(optimizer_text, scheduler_text, params, group_of, dtype)
    treedef = fresh.treedef
    with jax.enable_x64(dtype == np.float64):
        start = jax.tree.map(lambda p: np.asarray(p, dtype), params)
        transformation = port.from_torch(
            fresh.optimizer, fresh.scheduler, group_of=group_of, steps=STEPS
        )
        halfway, state = _jax_steps(
            transformation,
            transformation.init(start),
            start,
            gradient_leaves,
            treedef,
            0,
            BEFORE,
            dtype,
        )
        halfway = jax.tree.map(np.asarray, halfway)
        count = port.state_to_torch(
            state, fresh.optimizer, fresh.scheduler, like=halfway, group_of=group_of
        )
    assert count == BEFORE
    with torch.no_grad():
        for tensor, leaf in zip(fresh.tensors, jax.tree.leaves(halfway), strict=True):
            tensor.copy_(torch.from_numpy(np.asarray(leaf, dtype).copy()))
    _torch_steps(fresh, gradient_leaves, BEFORE, BEFORE + AFTER, dtype)
    _assert_close(fresh.params(), want, dtype, BEFORE + AFTER)


def _stepped(optimizer_text, scheduler_text, steps):
    params, group_of = _params()
    gradient_leaves = jax.tree.leaves(crosscheck.random_gradients(params, steps, seed=1))
    live = _Torch(optimizer_text, scheduler_text, params, group_of, np.float32)
    _torch_steps(live, gradient_leaves, 0, steps, np.float32)
    return live, live.params(), group_of


def test_a_scheduler_out_of_step_is_refused():
    live, params, group_of = _stepped(*CASES[2], BEFORE)
    live.scheduler.step()  # one scheduler step more than optimizer steps
    with pytest.raises(port.PortError, match="last_epoch=7 but the optimizer took 6 steps"):
        port.state_from_torch(
            live.optimizer, live.scheduler, like=params, group_of=group_of, steps=STEPS
        )


def test_sgd_without_a_count_asks_for_step():
    live, params, group_of = _stepped("SGD([{}, {}], lr=0.05, momentum=0.9)", None, 3)
    with pytest.raises(port.PortError, match="keeps no step count: give step="):
        port.state_from_torch(live.optimizer, like=params, group_of=group_of)
    _, state = port.state_from_torch(live.optimizer, like=params, group_of=group_of, step=3)
    buffer = live.optimizer.state[live.tensors[0]]["momentum_buffer"].numpy()
    traces = [leaf for leaf in jax.tree.leaves(state) if np.shape(leaf) == buffer.shape]
    assert any(np.array_equal(np.asarray(leaf), buffer) for leaf in traces)


def test_params_that_do_not_match_torch_are_refused():
    live, params, group_of = _stepped(*CASES[2], 2)
    params["w0"] = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"has shape \(3, 4\) but torch's param"):
        port.state_from_torch(
            live.optimizer, live.scheduler, like=params, group_of=group_of, steps=STEPS
        )


def test_an_unported_optimizer_is_refused_by_name():
    tensor = torch.zeros(3, requires_grad=True)
    with pytest.raises(port.PortError, match=r"torch\.optim\.ASGD cannot be moved"):
        port.state_from_torch(torch.optim.ASGD([tensor]), like={"w": np.zeros(3)})
