"""The adapters: one interface over optax, torch.optim, Keras and the tutorial's classes.

Each adapter's step is checked against the library's own arithmetic done by hand
here (plain SGD: ``p - lr * g``, exact in float64), :func:`as_adapter` picks the
adapter by what it is given, and refuses anything else by name.
"""

from __future__ import annotations

import functools

import jax
import numpy as np
import optax
import pytest

import jaxopt_lab
from jaxopt_lab import crosscheck, equivalences, reference


def leaves_and_treedef(params):
    leaves, treedef = jax.tree_util.tree_flatten(params)
    return [np.asarray(leaf, np.float64) for leaf in leaves], treedef


PARAMS = {"b": np.array([0.5, -1.0]), "w": np.array([[1.0, 2.0], [3.0, -4.0]])}
GRADIENTS = [np.array([0.25, 1.0]), np.array([[1.0, -1.0], [0.5, 2.0]])]  # leaf order: b, w


def sgd_step(learning_rate: float) -> list[np.ndarray]:
    leaves, _ = leaves_and_treedef(PARAMS)
    return [leaf - learning_rate * grad for leaf, grad in zip(leaves, GRADIENTS, strict=True)]


@pytest.mark.parametrize("jit", [True, False])
def test_optax_adapter_steps_as_update_then_apply_updates(x64, jit):
    adapter = crosscheck.OptaxAdapter(optax.sgd(0.1), jit=jit)
    adapter.start(*leaves_and_treedef(PARAMS))
    after = adapter.step(GRADIENTS)
    for ours, theirs in zip(after, sgd_step(0.1), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    stacked = [np.stack([g, 2 * g]) for g in GRADIENTS]  # two more steps at once
    history = adapter.run(stacked)
    assert [h.shape for h in history] == [(2, 2), (2, 2, 2)]
    np.testing.assert_allclose(history[1][-1], after[1] - 0.1 * 3 * GRADIENTS[1], rtol=1e-15)


def test_run_by_steps_stacks_the_params_after_each_step(x64):
    adapter = crosscheck.ReferenceAdapter(reference.SGD(0.1))
    adapter.start(*leaves_and_treedef(PARAMS))
    history = crosscheck.run_by_steps(adapter, [np.stack([g, g, g]) for g in GRADIENTS])
    assert [h.shape for h in history] == [(3, 2), (3, 2, 2)]
    leaves, _ = leaves_and_treedef(PARAMS)
    np.testing.assert_allclose(history[0][2], leaves[0] - 0.3 * GRADIENTS[0], rtol=1e-15)
    assert crosscheck.run_by_steps(adapter, []) == []


def test_torch_adapter_steps_as_torch_does(torch):
    adapter = crosscheck.TorchAdapter(torch.optim.SGD, lr=0.1)
    adapter.start(*leaves_and_treedef(PARAMS))
    after = adapter.step(GRADIENTS)
    assert all(leaf.dtype == np.float64 for leaf in after)
    for ours, theirs in zip(after, sgd_step(0.1), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_keras_adapter_steps_as_keras_does(keras):
    adapter = crosscheck.KerasAdapter(keras.optimizers.SGD(0.125))  # exact in float32
    leaves, treedef = leaves_and_treedef(PARAMS)
    adapter.start([leaf.astype(np.float32) for leaf in leaves], treedef)
    after = adapter.step([g.astype(np.float32) for g in GRADIENTS])
    for ours, theirs in zip(after, sgd_step(0.125), strict=True):
        np.testing.assert_array_equal(ours, theirs.astype(np.float32))


def test_as_adapter_picks_the_adapter_and_refuses_the_rest():
    assert type(crosscheck.as_adapter(jaxopt_lab.sgd(0.1))) is crosscheck.OptaxAdapter
    assert type(crosscheck.as_adapter(optax.adam(1e-3))) is crosscheck.OptaxAdapter
    assert type(crosscheck.as_adapter(reference.SGD())) is crosscheck.ReferenceAdapter
    adapter = crosscheck.OptaxAdapter(optax.sgd(0.1))
    assert crosscheck.as_adapter(adapter) is adapter  # an adapter passes through
    for bad in (None, 3.0, "adam"):
        with pytest.raises(TypeError, match="cannot compare"):
            crosscheck.as_adapter(bad)


def test_reference_adapter_never_mutates_the_tutorials_object():
    seed_adam = reference.Adam()
    params = {"w": np.ones(3)}
    crosscheck.compare(jaxopt_lab.adam(), seed_adam, params, crosscheck.random_gradients(params, 5))
    assert seed_adam.iter == 0 and seed_adam.m is None


def test_torch_partial_is_accepted():
    torch = pytest.importorskip("torch")
    params = {"w": np.linspace(-1, 1, 4).astype(np.float32)}
    crosscheck.assert_equivalent(
        jaxopt_lab.adam(eps=1e-8, eps_hat=False),
        functools.partial(torch.optim.Adam, lr=1e-3),
        params,
        crosscheck.random_gradients(params, 100),
        ulps=equivalences.FLAT_ULPS,
    )


def test_every_adapter_has_the_adapter_protocol():
    torch = pytest.importorskip("torch")
    keras = crosscheck.import_keras()
    sides = [
        crosscheck.as_adapter(jaxopt_lab.adam()),
        crosscheck.as_adapter(reference.Adam()),
        crosscheck.as_adapter(functools.partial(torch.optim.Adam, lr=1e-3)),
        crosscheck.as_adapter(keras.optimizers.Adam()),
    ]
    for side in sides:
        assert isinstance(side, crosscheck.Adapter), type(side)


def test_compiled_run_equals_step_by_step():
    # A side's run() (one compiled lax.scan) and its step() loop compute the same
    # arithmetic: within 1 ulp of the leaf's scale (XLA may fuse the loop body
    # differently from the single step).
    params = equivalences.table_params()
    gradients = crosscheck.random_gradients(params, 30)

    class StepByStep(crosscheck.OptaxAdapter):
        run = None

    for dtype in (np.float32, np.float64):
        compiled = crosscheck.trajectory(
            crosscheck.OptaxAdapter(jaxopt_lab.adam()), params, gradients, dtype=dtype
        )
        stepped = crosscheck.trajectory(
            StepByStep(jaxopt_lab.adam()), params, gradients, dtype=dtype
        )
        eager = crosscheck.trajectory(
            crosscheck.OptaxAdapter(jaxopt_lab.adam(), jit=False), params, gradients, dtype=dtype
        )
        assert compiled.steps == stepped.steps == eager.steps == 30
        for other in (stepped, eager):
            result = crosscheck.measure(compiled, other)
            assert result.max_scaled_ulps.max() <= 1, result.max_scaled_ulps.max()


def test_torch_in_float64_keeps_its_scalar_state_in_float64():
    torch = pytest.importorskip("torch")
    side = crosscheck.TorchAdapter(torch.optim.NAdam, lr=1e-3)
    side.start([np.ones(3)], None)
    side.step([np.ones(3)])
    state = side.instance.state[side.tensors[0]]
    assert state["mu_product"].dtype == torch.float64
    assert torch.get_default_dtype() == torch.float32  # restored
