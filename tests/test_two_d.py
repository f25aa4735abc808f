"""Trajectories and sweeps against the tutorial's NumPy classes, closed forms and unswept runs."""

from __future__ import annotations

import importlib
import json
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxopt_lab
from jaxopt_lab import reference
from jaxopt_lab.grid import hyperparameter_names
from jaxopt_lab.two_d import DIVERGENCE_FACTOR, SweepResult, sweep, trajectory

TUTORIAL_SETTINGS = {"sgd": 0.95, "momentum": 0.1, "adagrad": 1.5, "adam": 0.3}


def seed_reference_trajectory(name: str, learning_rate: float, steps: int = 30) -> np.ndarray:
    """The tutorial's loop: its class on {"x", "y"} float64, the analytic gradient (x/10, 2y)."""
    params = {"x": np.float64(-7.0), "y": np.float64(2.0)}
    optimizer = reference.REFERENCES[name](lr=learning_rate)
    positions = [(params["x"], params["y"])]
    for _ in range(steps):
        grads = {"x": params["x"] / 10.0, "y": 2.0 * params["y"]}
        optimizer.update(params, grads)
        positions.append((params["x"], params["y"]))
    return np.asarray(positions, dtype=np.float64)


@pytest.mark.parametrize("name, learning_rate", TUTORIAL_SETTINGS.items())
def test_trajectory_matches_the_seed_reference_in_float64(x64, name, learning_rate):
    # The bar: 1e-12 in float64. The lab and the tutorial differ only in the
    # order of a few roundings per step (x/10 vs 2x/20, lr*(c*m/d) vs (lr*c)*m/d).
    positions = trajectory(jaxopt_lab.OPTIMIZERS[name](learning_rate), "bowl", steps=30)
    assert positions.shape == (31, 2) and positions.dtype == jnp.float64
    np.testing.assert_allclose(
        positions, seed_reference_trajectory(name, learning_rate), rtol=0, atol=1e-12
    )


def test_trajectory_float32_by_default_and_row_zero_is_the_start():
    positions = trajectory(jaxopt_lab.sgd(0.1), "rosenbrock", steps=5)
    assert positions.shape == (6, 2) and positions.dtype == jnp.float32
    np.testing.assert_array_equal(positions[0], np.float32([-1.2, 1.0]))
    assert trajectory(jaxopt_lab.sgd(0.1), "rosenbrock", steps=0).shape == (1, 2)


def test_trajectory_on_a_user_function_follows_the_closed_form(x64):
    # SGD on (x - 1)² + (y + 2)² with lr 0.25 halves the distance to (1, -2) each step.
    def shifted_bowl(xy):
        return (xy[0] - 1.0) ** 2 + (xy[1] + 2.0) ** 2

    positions = trajectory(jaxopt_lab.sgd(0.25), shifted_bowl, start=(3.0, 2.0), steps=10)
    expected = np.array([1.0, -2.0]) + np.array([2.0, 4.0]) * 0.5 ** np.arange(11)[:, None]
    np.testing.assert_allclose(positions, expected, rtol=0, atol=1e-15)


def test_sweep_over_learning_rates_equals_one_trajectory_per_rate(x64):
    learning_rates = np.array([0.01, 0.1, 0.3, 1.0, 3.0])
    result = sweep(jaxopt_lab.adam, {"learning_rate": learning_rates}, "bowl", steps=30)
    assert isinstance(result, SweepResult) and result.shape == (5,)
    for index, learning_rate in enumerate(learning_rates):
        final = trajectory(jaxopt_lab.adam(learning_rate), "bowl", steps=30)[-1]
        # Same float64 arithmetic, batched or not; 1e-12 covers XLA reassociation.
        np.testing.assert_allclose(result.final_position[index], final, rtol=0, atol=1e-12)
        expected_loss = final[0] ** 2 / 20 + final[1] ** 2
        np.testing.assert_allclose(result.final_loss[index], expected_loss, rtol=1e-12)
    assert not result.diverged.any()


def test_two_axis_grid_is_the_full_product_in_grid_order(x64):
    grid = {"learning_rate": np.array([0.01, 0.1, 0.5]), "b1": np.array([0.5, 0.9])}
    result = sweep("adam", grid, "rosenbrock", steps=20)
    assert result.shape == (3, 2) and result.final_position.shape == (3, 2, 2)
    for i, learning_rate in enumerate(grid["learning_rate"]):
        for j, b1 in enumerate(grid["b1"]):
            assert result.point((i, j)) == {"learning_rate": learning_rate, "b1": b1}
            final = trajectory(jaxopt_lab.adam(learning_rate, b1=b1), "rosenbrock", steps=20)[-1]
            np.testing.assert_allclose(result.final_position[i, j], final, rtol=0, atol=1e-12)


def test_kept_trajectories_equal_one_trajectory_per_point(x64):
    grid = {"learning_rate": np.array([0.01, 0.1, 0.5]), "b1": np.array([0.5, 0.9])}
    result = sweep("adam", grid, "rosenbrock", steps=20, keep_trajectories=True)
    assert result.trajectories.shape == (3, 2, 21, 2)
    for i, learning_rate in enumerate(grid["learning_rate"]):
        for j, b1 in enumerate(grid["b1"]):
            expected = trajectory(jaxopt_lab.adam(learning_rate, b1=b1), "rosenbrock", steps=20)
            # Same float64 arithmetic, batched or not; 1e-12 covers XLA reassociation.
            np.testing.assert_allclose(result.trajectories[i, j], expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(result.trajectories[..., -1, :], result.final_position)
    zero = sweep("sgd", {"learning_rate": [0.1, 0.2]}, "bowl", steps=0, keep_trajectories=True)
    np.testing.assert_array_equal(zero.trajectories, [[[-7.0, 2.0]], [[-7.0, 2.0]]])


def test_kept_trajectories_of_a_chunked_blocked_sweep(x64, monkeypatch):
    # Chunks of 4 and blocks of 3 points: padding and remainders must not shift a row.
    monkeypatch.setattr(importlib.import_module("jaxopt_lab.two_d"), "CPU_BLOCK_POINTS", 3)
    learning_rates = np.geomspace(1e-3, 3.0, 10)
    result = sweep("momentum", {"learning_rate": learning_rates}, "saddle", steps=12,
                   chunk_size=4, keep_trajectories=True)  # fmt: skip
    assert result.chunk_count == 3
    for index, learning_rate in enumerate(learning_rates):
        expected = trajectory(jaxopt_lab.momentum(learning_rate), "saddle", steps=12)
        np.testing.assert_allclose(result.trajectories[index], expected, rtol=0, atol=1e-12)


def test_the_default_sweep_keeps_no_trajectories():
    grid = {"learning_rate": np.geomspace(1e-3, 3.0, 16)}
    plain = sweep("adam", grid, "saddle")
    kept = sweep("adam", grid, "saddle", keep_trajectories=True)
    assert plain.trajectories is None and "trajectories" not in plain.to_dict()
    # The default program returns only the finals: (loss, position), nothing per step.
    two_d = importlib.import_module("jaxopt_lab.two_d")
    point = {"learning_rate": jax.ShapeDtypeStruct((), jnp.float32)}
    start = jax.ShapeDtypeStruct((2,), jnp.float32)
    final_only = two_d._point_function(jaxopt_lab.adam, jaxopt_lab.PROBLEMS["saddle"].function, 30)
    assert [o.shape for o in jax.eval_shape(final_only, point, start)] == [(), (2,)]
    # Two programs of the same float32 elementwise code: the finals agree to rounding.
    np.testing.assert_allclose(kept.final_position, plain.final_position, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(kept.diverged, plain.diverged)


def test_new_grid_values_do_not_recompile():
    traces = []

    def counting_adam(learning_rate):
        if isinstance(learning_rate, jax.core.Tracer):
            traces.append(learning_rate)
        return jaxopt_lab.adam(learning_rate)

    first = sweep(counting_adam, {"learning_rate": np.linspace(0.1, 0.5, 16)}, "bowl")
    assert traces  # the first call traces (the program, and the memory estimate)
    traces.clear()
    second = sweep(counting_adam, {"learning_rate": np.linspace(0.6, 0.9, 16)}, "bowl")
    third = sweep(counting_adam, {"learning_rate": np.geomspace(1e-3, 1.0, 16)}, "bowl")
    assert traces == []
    assert not np.array_equal(first.final_loss, second.final_loss)
    assert not np.array_equal(second.final_loss, third.final_loss)


def test_runs_that_blow_up_are_reported_as_diverged_not_raised():
    # SGD on the bowl: y <- (1 - 2 lr) y, so lr > 1 grows |y| geometrically
    # (lr = 1.5: 2^30 after 30 steps; lr = 1e20: overflow to inf, then nan).
    learning_rates = np.array([0.1, 0.9, 1.5, 1e20])
    result = sweep("sgd", {"learning_rate": learning_rates}, "bowl", steps=30)
    np.testing.assert_array_equal(result.diverged, [False, False, True, True])
    assert not np.isfinite(result.final_loss[3])
    assert result.divergence_threshold == pytest.approx(DIVERGENCE_FACTOR * (6.45 + 1), rel=1e-6)
    best, best_loss = result.best()
    assert best == {"learning_rate": pytest.approx(0.9)}
    assert best_loss == pytest.approx(float(result.final_loss[1]))
    json.dumps(result.to_dict())  # non-finite values become null


def test_divergence_threshold_can_be_set():
    result = sweep("sgd", {"learning_rate": [0.01, 0.9]}, "bowl", divergence_threshold=1.0)
    # lr 0.01 is still near the start (f = 6.45 > 1) after 30 steps; lr 0.9 is near 0.
    np.testing.assert_array_equal(result.diverged, [True, False])


def test_best_raises_when_every_run_diverged():
    result = sweep("sgd", {"learning_rate": [5.0, 10.0]}, "bowl")
    assert result.diverged.all()
    with pytest.raises(ValueError, match="every run of the sweep diverged"):
        result.best()
    assert "best" not in result.to_dict()


def test_chunked_sweep_equals_the_single_chunk_sweep():
    grid = {"learning_rate": np.geomspace(1e-3, 3.0, 10)}
    whole = sweep("adam", grid, "saddle")
    chunked = sweep("adam", grid, "saddle", chunk_size=3)
    assert whole.chunk_count == 1 and chunked.chunk_count == 4
    # Same compiled elementwise code per point; chunking only changes the batch.
    np.testing.assert_allclose(chunked.final_position, whole.final_position, rtol=1e-6)
    np.testing.assert_allclose(chunked.final_loss, whole.final_loss, rtol=1e-6, atol=1e-7)


def test_blocked_sweep_equals_one_trajectory_per_point(x64, monkeypatch):
    # Blocks of 4 points: 10 points run as two blocks inside lax.map plus a remainder.
    monkeypatch.setattr(importlib.import_module("jaxopt_lab.two_d"), "CPU_BLOCK_POINTS", 4)
    learning_rates = np.geomspace(1e-3, 1.0, 10)
    result = sweep("momentum", {"learning_rate": learning_rates}, "rosenbrock", steps=15)
    for index, learning_rate in enumerate(learning_rates):
        final = trajectory(jaxopt_lab.momentum(learning_rate), "rosenbrock", steps=15)[-1]
        np.testing.assert_allclose(result.final_position[index], final, rtol=0, atol=1e-12)


def test_hyperparameter_names_are_the_numeric_arguments():
    assert hyperparameter_names("adam") == (
        "learning_rate",
        "b1",
        "b2",
        "eps",
        "eps_root",
        "weight_decay",
    )
    assert hyperparameter_names(jaxopt_lab.momentum) == (
        "learning_rate",
        "momentum",
        "dampening",
        "weight_decay",
    )
    assert "momentum" in hyperparameter_names("rmsprop")  # float | None
    assert "centered" not in hyperparameter_names("rmsprop")  # a bool
    assert hyperparameter_names(lambda learning_rate: jaxopt_lab.adam(learning_rate)) == (
        "learning_rate",
    )


def test_bad_arguments_get_clear_errors():
    grid = {"learning_rate": [0.1]}
    with pytest.raises(ValueError, match="unknown hyperparameter 'momentum'.*b1, b2"):
        sweep("adam", {"momentum": [0.9]}, "bowl")
    with pytest.raises(ValueError, match=r"b1 must be \[0.0, 1.0\)"):
        sweep("adam", {"b1": [0.9, 1.5]}, "bowl")
    with pytest.raises(ValueError, match="unknown hyperparameter 'lr'.*: learning_rate"):
        sweep(lambda learning_rate: jaxopt_lab.sgd(learning_rate), {"lr": [0.1]}, "bowl")
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'.*adam"):
        sweep("adamm", grid, "bowl")
    with pytest.raises(ValueError, match="unknown problem"):
        sweep("adam", grid, "seed_bowl")
    with pytest.raises(ValueError, match="grid must be a non-empty mapping"):
        sweep("adam", {}, "bowl")
    with pytest.raises(ValueError, match=r"grid\['learning_rate'\] must be a non-empty 1-D"):
        sweep("adam", {"learning_rate": [[0.1, 0.2]]}, "bowl")
    with pytest.raises(ValueError, match="start is required"):
        sweep("adam", grid, lambda xy: jnp.sum(xy**2))
    with pytest.raises(ValueError, match="start must be two finite numbers"):
        trajectory(jaxopt_lab.adam(0.1), "bowl", start=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="steps must be a non-negative integer"):
        trajectory(jaxopt_lab.adam(0.1), "bowl", steps=-1)
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        sweep("adam", grid, "bowl", chunk_size=0)


def test_a_repeated_sweep_checks_each_new_grid():
    """The extremes check is cached per grid; an error is never cached away."""
    good = {"b1": np.array([0.5, 0.9])}
    assert sweep("adam", good, "bowl", steps=2).shape == (2,)
    for _ in range(2):
        with pytest.raises(ValueError, match=r"b1 must be \[0.0, 1.0\)"):
            sweep("adam", {"b1": np.array([0.5, 1.5])}, "bowl", steps=2)
    assert sweep("adam", good, "bowl", steps=2).shape == (2,)


SHARDED_SCRIPT = textwrap.dedent(
    """
    import importlib, json, sys
    import jax, numpy as np
    from jaxopt_lab.two_d import sweep

    # Blocks of 2 points: 3 points per device run as a block and a remainder.
    importlib.import_module("jaxopt_lab.two_d").CPU_BLOCK_POINTS = 2

    assert jax.device_count() == 4, jax.devices()
    report = {}
    for name, grid, chunk_size in [
        ("one_axis", {"learning_rate": np.geomspace(1e-3, 10.0, 10)}, None),
        ("two_axes_chunked", {"learning_rate": np.geomspace(1e-3, 1.0, 5),
                              "b1": np.array([0.5, 0.8, 0.95])}, 8),
        ("trajectories_chunked", {"learning_rate": np.geomspace(1e-3, 1.0, 15)}, 8),
    ]:
        keep = name.startswith("trajectories")
        sharded = sweep("adam", grid, "rosenbrock", steps=25, chunk_size=chunk_size,
                        keep_trajectories=keep)
        single = sweep("adam", grid, "rosenbrock", steps=25, devices=jax.devices()[:1],
                       keep_trajectories=keep)
        if keep:
            report["max_trajectory_difference"] = float(np.nanmax(np.abs(
                sharded.trajectories - single.trajectories)))
        report[name] = {
            "device_count": sharded.device_count,
            "chunk_count": sharded.chunk_count,
            "single_device_count": single.device_count,
            "max_position_difference": float(np.nanmax(np.abs(
                sharded.final_position - single.final_position))),
            "same_diverged": bool(np.array_equal(sharded.diverged, single.diverged)),
            "same_nan": bool(np.array_equal(np.isnan(sharded.final_loss),
                                            np.isnan(single.final_loss))),
            "max_loss_difference": float(np.nanmax(np.abs(
                sharded.final_loss - single.final_loss) / (1 + np.abs(single.final_loss)))),
        }
    json.dump(report, sys.stdout)
    """
)


@pytest.mark.slow
def test_sharded_sweep_over_four_cpu_devices_equals_the_unsharded_one(forced_cpu_devices):
    report = forced_cpu_devices.run(SHARDED_SCRIPT)
    one_axis, two_axes = report["one_axis"], report["two_axes_chunked"]
    # 10 points padded to 12 over 4 devices; 15 points in chunks of 8 -> 2 chunks.
    assert one_axis["device_count"] == 4 and one_axis["single_device_count"] == 1
    assert two_axes["device_count"] == 4 and two_axes["chunk_count"] == 2
    assert report["trajectories_chunked"]["chunk_count"] == 2
    assert report["max_trajectory_difference"] <= 1e-5
    for case in (one_axis, two_axes, report["trajectories_chunked"]):
        assert case["same_diverged"] and case["same_nan"]
        # Each device runs the same elementwise float32 code on its slice; allow a
        # few ulps in case the vector width or remainder loop rounds differently.
        assert case["max_position_difference"] <= 1e-5
        assert case["max_loss_difference"] <= 1e-5
