"""Studies: a lane equals the trial run alone, against a NumPy loop, NaN lanes, bad input."""

import dataclasses
import importlib

import jax
import numpy as np
import pytest

import jaxopt_lab
from jaxopt_lab.tuning import StudyError, study
from jaxopt_lab.workloads import Workload, get_workload

study_module = importlib.import_module("jaxopt_lab.tuning.study")  # `study`: the function

ROSENBROCK = dataclasses.replace(get_workload("rosenbrock"), steps=60, eval_every=10)
QUADRATIC = dataclasses.replace(get_workload("noisy_quadratic"), steps=40, eval_every=10)
ADAM_SPACE = [{"learning_rate": lr} for lr in (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3)]


def test_curves_have_one_row_per_study_trial_evaluation():
    result = study("adam", ADAM_SPACE[:4], ROSENBROCK, trials=4, studies=2)
    curves = result.curves
    assert list(curves.columns) == ["study", "trial", "step", "train_loss", "validation_metric",
                                    "seconds", "learning_rate"]  # fmt: skip
    assert len(curves) == 2 * 4 * 6
    assert sorted(curves["step"].unique()) == [10, 20, 30, 40, 50, 60]
    np.testing.assert_array_equal(curves.groupby("trial")["learning_rate"].first(),
                                  np.float32([1e-3, 3e-3, 1e-2, 3e-2]))  # fmt: skip
    assert result.lane_steps == result.full_lane_steps == 2 * 4 * 60


def test_a_lane_is_the_trial_run_alone_bit_for_bit_on_rosenbrock():
    # Elementwise arithmetic only: XLA computes each lane exactly as the lone run.
    full = study("adamw", ADAM_SPACE, ROSENBROCK, trials=6, studies=2, seed=7)
    for trial in (0, 4):
        alone = study("adamw", [ADAM_SPACE[trial]], ROSENBROCK, trials=1, studies=2, seed=7)
        lane = full.curves[full.curves["trial"] == trial].reset_index(drop=True)
        columns = ["study", "step", "train_loss", "validation_metric"]
        np.testing.assert_array_equal(lane[columns], alone.curves[columns])


def test_a_lane_is_the_trial_run_alone_on_the_noisy_quadratic_within_reduction_rounding():
    # Its 10^4-term sums are vectorized differently under vmap: measured max relative
    # difference 5e-7 over 40 steps (float32's epsilon is 1.2e-7); bound 1e-5.
    space = [{"learning_rate": lr} for lr in (0.1, 0.5, 1.0, 2.0)]
    full = study("sgd", space, QUADRATIC, trials=4, studies=2, seed=1, schedule="constant")
    alone = study("sgd", [space[2]], QUADRATIC, trials=1, studies=2, seed=1, schedule="constant")
    lane = full.curves[full.curves["trial"] == 2].reset_index(drop=True)
    for column in ("train_loss", "validation_metric"):
        np.testing.assert_allclose(lane[column], alone.curves[column], rtol=1e-5)


def test_studies_in_sequence_on_a_cpu_equal_studies_vmapped(monkeypatch):
    # A CPU runs a device's studies one after another (lax.map); an accelerator vmaps them.
    # Same numbers either way: bit for bit on rosenbrock, reduction rounding on the quadratic.
    assert study_module.study_block(jax.devices("cpu")) == 1
    in_sequence = study("adamw", ADAM_SPACE, ROSENBROCK, trials=6, studies=3, seed=2)
    quadratic_in_sequence = study("sgd", [{"learning_rate": 0.5}], QUADRATIC, trials=1,
                                  studies=3, seed=2, schedule="constant")  # fmt: skip
    monkeypatch.setattr(study_module, "study_block", lambda devices: None)
    vmapped = study("adamw", ADAM_SPACE, ROSENBROCK, trials=6, studies=3, seed=2)
    quadratic_vmapped = study("sgd", [{"learning_rate": 0.5}], QUADRATIC, trials=1,
                              studies=3, seed=2, schedule="constant")  # fmt: skip
    columns = ["study", "trial", "step", "train_loss", "validation_metric"]
    np.testing.assert_array_equal(in_sequence.curves[columns], vmapped.curves[columns])
    for column in ("train_loss", "validation_metric"):
        np.testing.assert_allclose(quadratic_in_sequence.curves[column],
                                   quadratic_vmapped.curves[column], rtol=1e-5)  # fmt: skip


def test_studies_differ_by_seed_and_repeat_with_it():
    first = study("adam", ADAM_SPACE[:2], QUADRATIC, trials=2, studies=2, seed=3)
    again = study("adam", ADAM_SPACE[:2], QUADRATIC, trials=2, studies=2, seed=3)
    np.testing.assert_array_equal(first.curves["train_loss"], again.curves["train_loss"])
    by_study = first.curves.pivot_table(index=["trial", "step"], columns="study",
                                        values="validation_metric")  # fmt: skip
    assert not np.allclose(by_study[0], by_study[1])  # other init, other noise


def test_constant_sgd_on_rosenbrock_matches_a_numpy_loop():
    learning_rate = 1e-3
    result = study(jaxopt_lab.sgd, [{"learning_rate": learning_rate}], ROSENBROCK, trials=1)
    xy = np.float64([-1.2, 1.0])
    expected = []
    for step in range(1, 61):
        x, y = xy
        xy = xy - learning_rate * np.array(
            [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)]
        )
        if step % 10 == 0:
            expected.append((1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2)
    np.testing.assert_allclose(result.curves["validation_metric"], expected, rtol=1e-4)  # float32


def test_a_diverging_trial_is_nan_never_reaches_the_target_and_spares_the_others():
    space = [{"learning_rate": 1e-3}, {"learning_rate": 1e3}]
    result = study("sgd", space, ROSENBROCK, trials=2, schedule="constant")
    final = result.final()
    assert np.isnan(final.loc[1, "validation_metric"]) and not final.loc[1, "reached"]
    assert np.isfinite(final.loc[0, "validation_metric"])
    assert np.isnan(result.steps_to_target().loc[1, "steps_to_target"])
    assert result.best_trials().loc[0, "trial"] == 0


def test_a_users_own_workload_plugs_in():
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(256, 3)).astype(np.float32)
    targets = inputs @ np.float32([1.0, -2.0, 0.5])

    def loss(w, batch, smoothing):
        x, y = batch
        return ((x @ w - y) ** 2).mean()

    workload = Workload(
        "regression", lambda key: np.zeros(3, np.float32), loss,
        lambda w, validation: loss(w, validation, 0.0),
        train=(inputs[:192], targets[:192]), validation=(inputs[192:], targets[192:]),
        target=1e-3, direction="minimize", batch_size=32, steps=200, eval_every=50,
    )  # fmt: skip
    result = study("sgd", [{"learning_rate": 0.1}], workload, trials=1, schedule="constant")
    assert result.final().loc[0, "reached"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(trials=0), "trials must be a positive integer"),
        (dict(optimizer="adamz"), "unknown optimizer 'adamz'"),
        (dict(workload="cifar"), "unknown workload 'cifar'"),
        (dict(space=[{"learning_rate": 0.1, "momentum": 0.9}]), "momentum"),
        (dict(space={"learning_rate": {"min": 2, "max": 1, "scaling": "log"}}), "min"),
        (dict(space=[{"label_smoothing": 0.1, "learning_rate": 0.1}]), "no label_smoothing"),
        (dict(halving=1), "halving must be an integer >= 2"),
        (dict(steps=15), "multiple of rosenbrock's eval_every"),
        (dict(schedule="linear"), "schedule"),
    ],
)
def test_bad_input_is_one_error_naming_it(arguments, message):
    call = dict(optimizer="adam", space=ADAM_SPACE[:2], workload=ROSENBROCK, trials=2)
    call.update(arguments)
    with pytest.raises(StudyError, match=message):
        study(call.pop("optimizer"), call.pop("space"), call.pop("workload"), **call)


SHARDED = """
import dataclasses, json, jax, numpy as np
from jaxopt_lab.tuning import study
from jaxopt_lab.workloads import get_workload
workload = dataclasses.replace(get_workload("rosenbrock"), steps=40, eval_every=10)
space = [{"learning_rate": 1e-3}, {"learning_rate": 1e-2}]
both = study("adam", space, workload, trials=2, studies=3, seed=2, halving=2)
one = study("adam", space, workload, trials=2, studies=3, seed=2, halving=2,
            devices=jax.devices()[:1])
print(json.dumps({"devices": both.device_count, "same": bool(both.curves[
    ["train_loss", "validation_metric"]].equals(one.curves[["train_loss", "validation_metric"]]))}))
"""


@pytest.mark.slow
def test_studies_shard_over_devices_with_the_same_curves(forced_cpu_devices):
    # Two CPU devices (XLA's host platform split in two): 3 studies padded to 4, two per device.
    process = forced_cpu_devices.start(SHARDED, devices=2)
    assert forced_cpu_devices.report(process) == {"devices": 2, "same": True}
