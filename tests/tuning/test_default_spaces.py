"""Default spaces: one per lab optimizer, AlgoPerf's where it has one, and a point's settings."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxopt_lab import OPTIMIZERS, hyperparameter_names
from jaxopt_lab.tuning import (
    DEFAULT_SPACES,
    SearchSpaceError,
    check_space,
    default_space,
    optimizer_settings,
    search_points,
    warmup_cosine,
)

# AlgoPerf's paper-baseline spaces (reference_algorithms/paper_baselines/<name>/
# tuning_search_space.json), transcribed without dropout_rate and label_smoothing.
ALGOPERF_ADAMW = {
    "learning_rate": {"min": 1e-4, "max": 1e-2, "scaling": "log"},
    "one_minus_beta1": {"min": 2e-2, "max": 0.5, "scaling": "log"},
    "beta2": {"feasible_points": [0.999]},
    "warmup_factor": {"feasible_points": [0.05]},
    "weight_decay": {"min": 5e-3, "max": 1.0, "scaling": "log"},
}
ALGOPERF_NESTEROV = {
    "learning_rate": {"min": 2e-2, "max": 5.0, "scaling": "log"},
    "one_minus_beta1": {"min": 5e-3, "max": 0.3, "scaling": "log"},
    "warmup_factor": {"feasible_points": [0.05]},
    "weight_decay": {"min": 1e-7, "max": 5e-5, "scaling": "log"},
}
ALGOPERF_LAMB = {
    "learning_rate": {"min": 1e-4, "max": 1e-2, "scaling": "log"},
    "one_minus_beta1": {"min": 5e-2, "max": 0.3, "scaling": "log"},
    "beta2": {"feasible_points": [0.999]},
    "warmup_factor": {"feasible_points": [0.05]},
    "weight_decay": {"min": 1e-3, "max": 1.0, "scaling": "log"},
}

PARAMS = {"w": jnp.array([[0.5, -1.0, 2.0], [0.1, 0.3, -0.7]]), "b": jnp.array([0.2, -0.4, 0.0])}


def _grads(params, step):
    return jax.tree.map(lambda p: jnp.cos(3.0 * p + step) + 0.1 * p, params)


def _smooth_grads(params, step):
    """The gradient of a quadratic: rounding is not amplified however large the params grow."""
    return jax.tree.map(lambda p: 0.5 * p + 0.1 * (step + 1), params)


def _run(optimizer, steps=6, params=PARAMS, gradient=_grads):
    state = optimizer.init(params)
    for step in range(steps):
        updates, state = optimizer.update(gradient(params, step), state, params)
        params = optax.apply_updates(params, updates)
    return params


def test_every_lab_optimizer_has_a_default_space():
    assert set(DEFAULT_SPACES) == set(OPTIMIZERS) and len(OPTIMIZERS) == 19


@pytest.mark.parametrize(
    ("name", "space"),
    [
        ("adamw", ALGOPERF_ADAMW),
        ("nesterov", ALGOPERF_NESTEROV),
        ("momentum", ALGOPERF_NESTEROV),
        ("lamb", ALGOPERF_LAMB),
    ],
)
def test_algoperf_baseline_spaces(name, space):
    assert default_space(name) == space
    assert default_space(name, label_smoothing=True)["label_smoothing"] == {
        "feasible_points": [0.1, 0.2]
    }


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_each_default_space_trains_its_optimizer(name):
    space = default_space(name, label_smoothing=True)
    check_space(name, space)
    for point in search_points(space, 3):
        settings = optimizer_settings(name, point, total_steps=10)
        final = _run(OPTIMIZERS[name](**settings))
        assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(final))
        assert not all(
            bool(jnp.array_equal(a, b))
            for a, b in zip(jax.tree.leaves(final), jax.tree.leaves(PARAMS))
        )


def test_settings_map_one_minus_beta1_beta2_and_the_schedule():
    point = {
        "learning_rate": 0.01,
        "one_minus_beta1": 0.1,
        "beta2": 0.99,
        "warmup_factor": 0.1,
        "weight_decay": 0.5,
        "label_smoothing": 0.2,
    }
    settings = optimizer_settings("adamw", point, total_steps=50)
    assert settings.keys() == {"learning_rate", "b1", "b2", "weight_decay", "eps"}
    assert settings["b1"] == pytest.approx(0.9) and settings["b2"] == 0.99
    reference = warmup_cosine(0.01, 0.1, 50)
    for count in (0, 3, 5, 20, 50):
        assert float(settings["learning_rate"](count)) == float(reference(count))
    without_beta2 = {key: value for key, value in point.items() if key != "beta2"}
    nesterov = optimizer_settings("nesterov", without_beta2, total_steps=50)
    assert nesterov["momentum"] == pytest.approx(0.9)
    assert (
        optimizer_settings("rmsprop", {"learning_rate": 1e-3, "beta2": 0.95}, total_steps=5)[
            "decay"
        ]
        == 0.95
    )
    constant = optimizer_settings("adamw", point, total_steps=50, schedule="constant")
    assert float(constant["learning_rate"](0)) == pytest.approx(0.01)
    # Rprop's learning_rate is its initial step size: passed as is, no schedule
    assert (
        optimizer_settings("rprop", {"learning_rate": 0.05}, total_steps=5)["learning_rate"] == 0.05
    )


def test_nadamw_settings_equal_optax_nadamw_as_algoperf_runs_it():
    # AlgoPerf's NAdamW baseline is optax-like NAdam with decoupled decay lr * wd * p and
    # the warmup-cosine schedule; optax.nadamw is that rule. float32, 6 steps: 1e-6.
    point = {
        "learning_rate": 3e-3,
        "one_minus_beta1": 0.1,
        "beta2": 0.999,
        "warmup_factor": 0.2,
        "weight_decay": 0.3,
    }
    schedule = warmup_cosine(3e-3, 0.2, 10)
    lab = _run(OPTIMIZERS["nadamw"](**optimizer_settings("nadamw", point, total_steps=10)))
    reference = _run(optax.nadamw(schedule, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.3))
    for a, b in zip(jax.tree.leaves(lab), jax.tree.leaves(reference), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("name", "nesterov"), [("momentum", False), ("nesterov", True)])
def test_heavy_ball_settings_equal_algoperf_s_at_a_constant_rate(name, nesterov):
    # AlgoPerf: optax.chain(add_decayed_weights(wd), optax.sgd(lr, 1 - x, nesterov=...)).
    # The lab's momentum and Nesterov are Keras's velocity form (lr inside the velocity),
    # equal to optax's at a constant rate only, so the mapping is checked there.
    # float32, 6 steps: 1e-6.
    point = {
        "learning_rate": 0.3,
        "one_minus_beta1": 0.1,
        "warmup_factor": 0.05,
        "weight_decay": 1e-2,
    }
    settings = optimizer_settings(name, point, total_steps=10, schedule="constant")
    lab = _run(OPTIMIZERS[name](**settings))
    reference = _run(
        optax.chain(
            optax.add_decayed_weights(1e-2), optax.sgd(0.3, momentum=0.9, nesterov=nesterov)
        )
    )
    for a, b in zip(jax.tree.leaves(lab), jax.tree.leaves(reference), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["adamw", "momentum", "lion", "schedule_free_adamw", "adafactor"])
def test_settings_of_traced_points_equal_each_point_alone(name):
    # a study vmaps over points: the settings must not branch on the values
    points = search_points(default_space(name), 3)
    stacked = {key: jnp.array([point[key] for point in points]) for key in points[0]}

    def train(point):
        settings = optimizer_settings(name, point, total_steps=6)
        return _run(OPTIMIZERS[name](**settings), gradient=_smooth_grads)

    swept = jax.jit(jax.vmap(train))(stacked)
    for index, point in enumerate(points):
        alone = train(point)
        for a, b in zip(jax.tree.leaves(swept), jax.tree.leaves(alone), strict=True):
            # same float32 program, vmapped or not: XLA may reorder a reduction
            np.testing.assert_allclose(a[index], b, rtol=2e-5, atol=1e-6)


def test_check_space_refuses_a_hyperparameter_the_optimizer_lacks():
    with pytest.raises(SearchSpaceError, match=r"^search space: sgd has no hyperparameter 'beta2'"):
        check_space("sgd", {"beta2": {"feasible_points": [0.99]}})
    with pytest.raises(SearchSpaceError, match="rprop has no hyperparameter 'warmup_factor'"):
        check_space(
            "rprop",
            {
                "learning_rate": {"feasible_points": [0.1]},
                "warmup_factor": {"feasible_points": [0.05]},
            },
        )
    with pytest.raises(SearchSpaceError, match="has no hyperparameter 'label_smoothing'"):
        check_space(
            "adam", [{"learning_rate": 0.1, "label_smoothing": 0.1}], workload_hyperparameters=()
        )
    with pytest.raises(SearchSpaceError, match="unknown 'adamz'"):
        check_space("adamz", {"learning_rate": {"feasible_points": [0.1]}})
    with pytest.raises(SearchSpaceError, match="needs a 'learning_rate'"):
        optimizer_settings("adam", {"beta2": 0.9}, total_steps=5)
    # the names alone (a study checks them before drawing points), or a dict of anything
    check_space("adamw", ("learning_rate", "one_minus_beta1", "beta2"))
    check_space("adamw", {"learning_rate": None})
    with pytest.raises(SearchSpaceError, match="adagrad has no hyperparameter 'one_minus_beta1'"):
        check_space("adagrad", ["learning_rate", "one_minus_beta1"])
    # every name the optimizer itself takes passes, e.g. adam's eps
    check_space("adam", {"eps": {"min": 1e-8, "max": 1e-6, "scaling": "log"}})
    assert "eps" in hyperparameter_names("adam")


def test_an_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="schedule: unknown 'linear'"):
        optimizer_settings("adam", {"learning_rate": 0.1}, total_steps=5, schedule="linear")
