"""``jaxopt-lab port --emit optax``: plain optax where the table says it is exact (issue 20, 2).

The emitted code is executed here, on its own (only ``optax`` in its namespace),
and run against the live torch optimizer: it must meet the port's bound, 1 ulp
of each leaf's scale per step (float32) and 1e-12 relative (float64).
"""

from __future__ import annotations

import numpy as np
import pytest

from jaxopt_lab import cli, crosscheck
from jaxopt_lab.port import command
from jaxopt_lab.port.emit_optax import optax_form

STEPS = 200

EXACT = [
    ("Adam(lr=1e-3)", "optax.adam(0.001"),
    ("torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)", "optax.adamw(0.001"),
    ("SGD(lr=0.1)", "optax.sgd(0.1)"),
    ("SGD(lr=0.1, momentum=0.9, nesterov=True)", "optax.sgd(0.1, momentum=0.9"),
    ("RMSprop(lr=0.01)", "optax.rmsprop(0.01"),
    ("Adamax(lr=2e-3, betas=(0.8, 0.99))", "optax.adamax(0.002, b1=0.8, b2=0.99"),
    ("Adadelta(lr=1.0, rho=0.8)", "optax.adadelta(1.0"),
    ("SGD([{'momentum': 0.9}, {'lr': 0.01}], lr=0.1)", "optax.partition("),
]


def _run_emitted(code: str, prepared: command.Prepared, dtype) -> crosscheck.Comparison:
    """Execute the printed code with nothing but optax importable from it, and compare."""
    namespace: dict = {}
    exec(compile(code, "<emitted>", "exec"), namespace)  # noqa: S102 (the port's own output)
    optimizer = namespace["optimizer"]
    gradients = crosscheck.random_gradients(prepared.params, STEPS, seed=1)
    return crosscheck.compare(
        command.compiled(optimizer),
        prepared.library_side,
        prepared.params,
        gradients,
        dtype=dtype,
    )


@pytest.mark.parametrize("text, expected", EXACT)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_emitted_optax_code_runs_alone_and_meets_the_bound(torch, text, expected, dtype):
    run = command.port_optimizer(text, steps=STEPS, dtype=dtype, emit="optax")
    assert "jaxopt_lab" not in run.code and "import optax" in run.code
    assert expected in run.code
    assert run.failure is None
    assert run.notes[0].startswith("--emit optax: plain optax, no lab import")
    prepared = command.prepare(text, steps=STEPS)
    comparison = _run_emitted(run.code, prepared, dtype)
    rtol = 1e-12 if np.dtype(dtype) == np.float64 else None
    assert crosscheck.tolerance_failure(comparison, ulps_per_step=1.0, rtol=rtol) is None
    # The executed code is the code measured: the same numbers, bit for bit.
    np.testing.assert_array_equal(comparison.max_scaled_ulps, run.comparison.max_scaled_ulps)


@pytest.mark.parametrize(
    "text, scheduler, clip, reason",
    [
        ("NAdam(lr=2e-3)", None, None, "optax.nadam equals it only where momentum_decay=None"),
        ("Adagrad(lr=0.01)", None, None, "optax.adagrad equals it only where eps_in_sqrt=True"),
        ("Adam(lr=1e-3, amsgrad=True)", None, None, "optax takes the maximum of v/(1 − β₂ᵗ)"),
        ("Rprop(lr=0.01)", None, None, "the table documents optax.rprop as differing"),
        ("SGD(lr=0.1, momentum=0.9, dampening=0.1)", None, None, "optax.sgd has no dampening"),
        ("SGD(lr=0.1)", "StepLR(step_size=3)", None, "port.torch_schedule: torch's scheduler"),
        ("SGD(lr=0.1)", None, 1.0, "port.clip_grad_norm: torch's clip_grad_norm_ divides"),
    ],
)
def test_settings_without_an_exact_optax_form_say_why(torch, text, scheduler, clip, reason):
    run = command.port_optimizer(text, scheduler, clip_grad_norm=clip, steps=20, emit="optax")
    assert "jaxopt_lab" in run.code  # the lab's code, which the check held to the bound
    assert run.failure is None
    assert run.notes[0].startswith("--emit optax: no exact optax form")
    assert reason in run.notes[0]


def test_clip_grad_value_and_groups_become_optax(torch):
    prepared = command.prepare("SGD([{}, {'lr': 0.01}], lr=0.1)", clip_grad_value=0.5, steps=5)
    form = optax_form(prepared.recipe)
    code = form.recipe.code()
    assert "optax.clip(0.5)" in code and "optax.partition(" in code
    assert "jaxopt_lab" not in code and form.reasons == ()


def test_the_default_stays_the_lab(torch, capsys):
    assert cli.main(["port", "Adam(lr=1e-3)", "--steps", "10"]) == 0
    assert "jaxopt_lab.adam(" in capsys.readouterr().out
    assert cli.main(["port", "Adam(lr=1e-3)", "--steps", "10", "--emit", "optax"]) == 0
    output = capsys.readouterr().out
    assert "optax.adam(0.001" in output and "jaxopt_lab" not in output.split("#", 2)[1]
    assert "adam = optax.adam (defaults, flat)" in output


def test_keras_clipvalue_is_optax_clip_and_clipnorm_says_why(keras):
    text = "keras.optimizers.SGD(learning_rate=0.01, clipvalue=0.5)"
    run = command.port_optimizer(text, steps=30, emit="optax")
    assert "optax.chain(optax.clip(0.5), optax.sgd(" in run.code and run.failure is None
    run = command.port_optimizer(
        "keras.optimizers.SGD(learning_rate=0.01, clipnorm=0.5)", steps=10, emit="optax"
    )
    assert (
        "port.keras_clipnorm: Keras clips each variable's gradient to its own norm"
        in (run.notes[0])
    )
