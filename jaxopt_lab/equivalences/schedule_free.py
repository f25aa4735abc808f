"""Rows for schedule-free AdamW (optax.contrib, Keras; torch has none)."""

from __future__ import annotations

from jaxopt_lab.equivalences.check import KERAS_LR, Equivalence, Missing

COUNTERPARTS = {
    "schedule_free_adamw": {
        "tutorial": Missing("jaxopt_lab.reference.ScheduleFreeAdamW"),
        "optax": "optax.contrib.schedule_free_adamw",
        "torch": Missing("torch.optim.ScheduleFreeAdamW"),
        "keras": "keras.optimizers.ScheduleFreeAdamW",
    },
}

_RECOVERY = (
    "Like the lab, it recovers x = (y − (1 − β₁)·z)/β₁ from the params each step, which carries "
    "each step's rounding of y into the next"
)
_OPTAX_LAB = {"eps_hat": False, "lagged_warmup": True}
_OPTAX = (
    "optax keeps the bias correction inside the root (eps_hat=False), and its inner AdamW counts "
    "steps from 0 where the averaging weights count from 1 (lagged_warmup=True). " + _RECOVERY
)
_KERAS_LAB = {"weight_lr_power": 0.0, "eps_hat": False, "decay_point": "params"}
_KERAS = (
    "Keras averages with c = 1/t whatever the warmup (weight_lr_power=0), keeps the bias "
    "correction inside the root, and decays y itself, outside z (decay_point='params'). "
    + _RECOVERY
)
_OPTAX_NON_DEFAULT = {
    **_OPTAX_LAB,
    "learning_rate": 1e-2,
    "b1": 0.8,
    "b2": 0.99,
    "eps": 1e-6,
    "weight_decay": 0.01,
    "weight_lr_power": 1.5,
}
_KERAS_NON_DEFAULT = {
    **_KERAS_LAB,
    "learning_rate": 1e-2,
    "b1": 0.8,
    "b2": 0.99,
    "eps": 1e-6,
    "weight_decay": 0.01,
    "warmup_steps": 50,
}
_B1 = (("b1 x(1 + 1e-3)", {"b1": 0.9 * (1 + 1e-3)}),)

ROWS = (
    Equivalence(
        "schedule_free_adamw",
        "optax",
        _OPTAX_LAB,
        "optax.contrib.schedule_free_adamw",
        {},
        note=_OPTAX + " (measured: 16 ulps after 1000 steps in float32, 5 in float64).",
        ulps_per_step=0.05,
        perturbations=_B1,
    ),
    Equivalence(
        "schedule_free_adamw",
        "optax",
        _OPTAX_NON_DEFAULT,
        "optax.contrib.schedule_free_adamw",
        {
            "learning_rate": 1e-2,
            "b1": 0.8,
            "b2": 0.99,
            "eps": 1e-6,
            "weight_decay": 0.01,
            "weight_lr_power": 1.5,
        },
        label="non-default",
        ulps_per_step=0.05,
        note=_OPTAX + " (measured: 14 ulps after 1000 steps in float32, 9 in float64).",
        perturbations=(("decay_point 'params'", {"decay_point": "params"}),),
    ),
    Equivalence(
        "schedule_free_adamw",
        "optax",
        {**_OPTAX_LAB, "learning_rate": 1e-2, "eps": 1e-6, "warmup_steps": 50},
        "optax.contrib.schedule_free_adamw",
        {"learning_rate": 1e-2, "warmup_steps": 50, "eps": 1e-6},
        label="warmup",
        ulps_per_step=0.05,
        float64_ulps_per_step=5e5,
        note=_OPTAX + "; optax's warmup_constant_schedule computes count / warmup_steps in "
        "float32 even for float64 params (measured: 4.7e-9 relative after 1000 steps).",
        perturbations=(("lagged_warmup flipped", {"lagged_warmup": False}),),
    ),
    Equivalence(
        "schedule_free_adamw",
        "optax",
        _OPTAX_LAB,
        "optax.contrib.schedule_free_adamw",
        {},
        complex_params=True,
        label="complex",
        ulps_per_step=0.05,
        note="optax's convention: |g|² = conj(g)·g. " + _OPTAX + ".",
    ),
    Equivalence(
        "schedule_free_adamw",
        "keras",
        _KERAS_LAB,
        "keras.optimizers.ScheduleFreeAdamW",
        {"learning_rate": 0.0025},
        float32_learning_rate=True,
        ulps_per_step=0.05,
        note=_KERAS
        + " (measured: 16 ulps after 1000 steps in float32, 11 in float64). "
        + KERAS_LR,
        perturbations=_B1,
    ),
    Equivalence(
        "schedule_free_adamw",
        "keras",
        _KERAS_NON_DEFAULT,
        "keras.optimizers.ScheduleFreeAdamW",
        {
            "learning_rate": 1e-2,
            "beta_1": 0.8,
            "beta_2": 0.99,
            "epsilon": 1e-6,
            "warmup_steps": 50,
            "weight_decay": 0.01,
        },
        label="non-default",
        float32_learning_rate=True,
        ulps_per_step=0.1,
        note=_KERAS + " (measured: 45 ulps after 1000 steps in float32, 7 in float64). " + KERAS_LR,
        perturbations=(("decay_point 'y'", {"decay_point": "y"}),),
    ),
)
