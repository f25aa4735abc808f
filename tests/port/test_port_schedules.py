"""The port's schedules against the live libraries, value by value.

torch's schedulers run in Python floats: the port's table must equal torch's
``param_group["lr"]`` (and OneCycleLR's momentum/beta1) bit for bit, at every
scheduler step, for every group. Keras's schedules run as JAX ops: the port's
must give Keras's value bit for bit at every step, in float32 and float64.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab import port
from jaxopt_lab.port import keras_schedules, torch_schedules

torch = pytest.importorskip("torch")
L = torch.optim.lr_scheduler


def _adam(params):
    return torch.optim.Adam(
        [{"params": params[:1]}, {"params": params[1:], "lr": 3e-3, "betas": (0.8, 0.99)}],
        lr=1e-3,
    )


def _sgd(params):
    return torch.optim.SGD(
        [{"params": params[:1]}, {"params": params[1:], "lr": 0.5}], lr=0.1, momentum=0.9
    )


SCHEDULERS = {
    "StepLR": (_adam, lambda o: L.StepLR(o, 7, 0.5)),
    "MultiStepLR": (_adam, lambda o: L.MultiStepLR(o, [3, 10, 10, 40], 0.3)),
    "ConstantLR": (_adam, lambda o: L.ConstantLR(o, 0.25, 17)),
    "LinearLR": (_adam, lambda o: L.LinearLR(o, 0.1, 0.9, 33)),
    "ExponentialLR": (_adam, lambda o: L.ExponentialLR(o, 0.97)),
    "PolynomialLR": (_adam, lambda o: L.PolynomialLR(o, 50, 2.0)),
    "CosineAnnealingLR": (_adam, lambda o: L.CosineAnnealingLR(o, 37, 1e-5)),
    "CosineAnnealingLR-long": (_adam, lambda o: L.CosineAnnealingLR(o, 100)),
    "CosineAnnealingWarmRestarts": (_adam, lambda o: L.CosineAnnealingWarmRestarts(o, 13, 2, 1e-6)),
    "CosineAnnealingWarmRestarts-1": (_adam, lambda o: L.CosineAnnealingWarmRestarts(o, 10)),
    "OneCycleLR-adam": (_adam, lambda o: L.OneCycleLR(o, max_lr=[1e-2, 2e-2], total_steps=300)),
    "OneCycleLR-sgd-three-phase": (
        _sgd,
        lambda o: L.OneCycleLR(
            o,
            max_lr=1.0,
            total_steps=301,
            pct_start=0.25,
            anneal_strategy="linear",
            three_phase=True,
            div_factor=7.0,
            final_div_factor=300.0,
        ),
    ),
    "OneCycleLR-epochs": (
        _sgd,
        lambda o: L.OneCycleLR(
            o,
            max_lr=1.0,
            epochs=10,
            steps_per_epoch=31,
            pct_start=0.37,
            base_momentum=0.8,
            max_momentum=0.97,
        ),
    ),
    "SequentialLR-warmup-cosine": (
        _adam,
        lambda o: L.SequentialLR(
            o, [L.LinearLR(o, 0.01, total_iters=20), L.CosineAnnealingLR(o, 180)], [20]
        ),
    ),
    "SequentialLR-three": (
        _adam,
        lambda o: L.SequentialLR(
            o,
            [
                L.ConstantLR(o, 0.1, 5),
                L.ExponentialLR(o, 0.99),
                L.CosineAnnealingWarmRestarts(o, 20),
            ],
            [10, 50],
        ),
    ),
    "SequentialLR-polynomial": (
        _adam,
        lambda o: L.SequentialLR(
            o,
            [L.LinearLR(o, 0.1, total_iters=10), L.PolynomialLR(o, 90, 0.5), L.StepLR(o, 5)],
            [10, 100],
        ),
    ),
}


def _live(make_optimizer, make_scheduler):
    params = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
    optimizer = make_optimizer(params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return optimizer, make_scheduler(optimizer)


def _torch_values(make_optimizer, make_scheduler, epochs):
    optimizer, scheduler = _live(make_optimizer, make_scheduler)
    lrs, momenta = [], []
    for epoch in range(epochs):
        if epoch:
            optimizer.step()
            scheduler.step()
        lrs.append([group["lr"] for group in optimizer.param_groups])
        momenta.append(
            [
                group["betas"][0] if "betas" in group else group["momentum"]
                for group in optimizer.param_groups
            ]
        )
    return np.array(lrs), np.array(momenta)


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_torch_schedules_equal_torch_bit_for_bit(name):
    make_optimizer, make_scheduler = SCHEDULERS[name]
    spec = torch_schedules.spec_from_torch(_live(make_optimizer, make_scheduler)[1])
    epochs = (
        torch_schedules.one_cycle_total_steps(spec) + 1
        if isinstance(spec, torch_schedules.OneCycleLR)
        else 310
    )
    lrs, momenta = _torch_values(make_optimizer, make_scheduler, epochs)
    groups = [
        {key: group[key] for key in ("lr", "betas", "momentum") if key in group}
        for group in make_optimizer([torch.zeros(2), torch.zeros(3)]).param_groups
    ]
    table = torch_schedules.simulate(spec, groups, epochs)
    np.testing.assert_array_equal(table.lr, lrs)  # exact: torch's own float64 arithmetic
    if table.momentum is not None:
        np.testing.assert_array_equal(table.momentum, momenta)


def test_recursive_cosine_cycles_past_t_max_where_optax_clamps():
    # torch's recursive cosine stays within a few float64 roundings of the closed
    # form (it is not equal to it), and keeps cycling past T_max; optax's
    # cosine_decay_schedule holds its final value there.
    import optax

    spec = torch_schedules.CosineAnnealingLR(T_max=1000, eta_min=1e-5)
    table = torch_schedules.simulate(spec, [{"lr": 1.0}], 2001).lr[:, 0]
    epochs = np.arange(2001)
    closed = 1e-5 + (1 - 1e-5) * (1 + np.cos(np.pi * epochs / 1000)) / 2
    relative = np.abs(table - closed) / closed
    assert 0 < relative.max() < 1e-14
    assert table[1500] == pytest.approx(0.5 + 0.5e-5, rel=1e-9)
    optax_value = optax.cosine_decay_schedule(1.0, 1000, alpha=1e-5)(1500)
    assert float(optax_value) == pytest.approx(1e-5)


def test_schedule_steps_every_k_optimizer_steps_and_continues_past_its_table():
    schedule = port.torch_schedule(
        torch_schedules.StepLR(step_size=2, gamma=0.5), [{"lr": 1.0}], every=3, steps=12
    )
    values = [float(schedule.lr[0](jnp.int32(count))) for count in range(20)]
    # epochs 0..3 cover optimizer steps 0..11; past them the closed form (never NaN).
    assert values == [1.0] * 6 + [0.5] * 6 + [0.25] * 6 + [0.125] * 2
    assert schedule.exact_until == 12
    settled = port.torch_schedule(
        torch_schedules.LinearLR(start_factor=0.5, total_iters=4), [{"lr": 1.0}]
    )
    assert float(settled.lr[0](jnp.int32(10**6))) == 1.0  # LinearLR has settled: exact


def test_schedule_in_float64_is_torch_float():
    schedule = port.torch_schedule(
        torch_schedules.CosineAnnealingLR(T_max=7), [{"lr": 0.1}], steps=20
    )
    with jax.enable_x64(True):
        values = np.array([schedule.lr[0](jnp.int64(count)) for count in range(20)])
    np.testing.assert_array_equal(values, schedule.table.lr[:20, 0])


def test_open_ended_schedule_runs_without_steps_and_a_finished_one_is_refused_past_its_end():
    schedule = port.torch_schedule(torch_schedules.ExponentialLR(gamma=0.9), [{"lr": 1.0}])
    assert float(schedule.lr[0](jnp.int32(3))) == pytest.approx(0.729, rel=1e-6)
    with pytest.raises(ValueError, match="OneCycleLR ends after 100 scheduler steps"):
        port.torch_schedule(
            torch_schedules.OneCycleLR(max_lr=1.0, total_steps=100),
            [{"lr": 1.0, "momentum": 0.9}],
            steps=500,
        )


@pytest.mark.parametrize(
    "make_scheduler, message",
    [
        (lambda o: L.LambdaLR(o, lambda epoch: 0.9**epoch), "LambdaLR cannot be ported"),
        (lambda o: L.MultiplicativeLR(o, lambda epoch: 0.9), "MultiplicativeLR cannot be ported"),
        (lambda o: L.ReduceLROnPlateau(o), "ReduceLROnPlateau cannot be ported"),
        (lambda o: L.CyclicLR(o, 0.01, 0.1), "CyclicLR cannot be ported"),
    ],
)
def test_unported_schedulers_are_refused_by_name(make_scheduler, message):
    _, scheduler = _live(_sgd, make_scheduler)
    with pytest.raises(port.PortError, match=message):
        torch_schedules.spec_from_torch(scheduler)


# --------------------------------------------------------------------------- Keras


KERAS_SCHEDULES = {
    "ExponentialDecay": dict(initial_learning_rate=0.1, decay_steps=7, decay_rate=0.9),
    "ExponentialDecay-staircase": dict(
        initial_learning_rate=0.1, decay_steps=7, decay_rate=0.9, staircase=True
    ),
    "PiecewiseConstantDecay": dict(boundaries=[10, 30, 31], values=[0.1, 0.05, 0.02, 0.01]),
    "PolynomialDecay": dict(
        initial_learning_rate=0.1, decay_steps=40, end_learning_rate=0.001, power=0.5
    ),
    "PolynomialDecay-cycle": dict(
        initial_learning_rate=0.1, decay_steps=40, end_learning_rate=0.001, power=2.0, cycle=True
    ),
    "InverseTimeDecay": dict(initial_learning_rate=0.1, decay_steps=5, decay_rate=0.3),
    "InverseTimeDecay-staircase": dict(
        initial_learning_rate=0.1, decay_steps=5, decay_rate=0.3, staircase=True
    ),
    "CosineDecay": dict(initial_learning_rate=0.1, decay_steps=90, alpha=0.05),
    "CosineDecay-warmup": dict(
        initial_learning_rate=0.0, decay_steps=90, alpha=0.1, warmup_target=0.3, warmup_steps=25
    ),
    "CosineDecayRestarts": dict(
        initial_learning_rate=0.1, first_decay_steps=20, t_mul=2.0, m_mul=0.7, alpha=0.01
    ),
    "CosineDecayRestarts-tmul1": dict(
        initial_learning_rate=0.1, first_decay_steps=20, t_mul=1.0, m_mul=0.9
    ),
}


@pytest.mark.parametrize("x64", [False, True])
@pytest.mark.parametrize("name", list(KERAS_SCHEDULES))
def test_keras_schedules_equal_keras_bit_for_bit(keras, name, x64):
    class_name = name.split("-")[0]
    config = KERAS_SCHEDULES[name]
    theirs = getattr(keras.optimizers.schedules, class_name)(**config)
    ours = keras_schedules.from_config(class_name, config)
    steps = jnp.arange(300, dtype=jnp.int32)
    with jax.enable_x64(x64):
        expected = np.asarray(jax.jit(jax.vmap(theirs))(steps))
        got = np.asarray(jax.jit(jax.vmap(ours))(steps))
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_keras_schedule_refuses_what_it_does_not_cover():
    with pytest.raises(port.PortError, match="'Nope' is not covered"):
        keras_schedules.from_config("Nope", {})
    with pytest.raises(port.PortError, match="option 'bogus'"):
        keras_schedules.from_config("ExponentialDecay", {"bogus": 1})
    with pytest.raises(port.PortError, match="only float learning rates"):
        keras_schedules.from_config(
            "ExponentialDecay", {"initial_learning_rate": 1, "decay_steps": 2, "decay_rate": 0.5}
        )
