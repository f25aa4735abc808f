"""Rows for RAdam."""

from __future__ import annotations

from jaxopt_lab.equivalences.check import Equivalence, Missing

COUNTERPARTS = {
    "radam": {
        "tutorial": Missing("reference.RAdam"),
        "optax": "optax.radam",
        "torch": "torch.optim.RAdam",
        "keras": Missing("keras.optimizers.RAdam"),
    },
}

_TORCH = "torch folds the correction into eps's side: sqrt(1 − β₂ᵗ)/(√v + eps), eps_hat=True."
_TORCH_DECAY = (
    "torch applies the decay as its own update of p (p *= 1 − lr·wd) before the step: one more "
    "rounding of p per step."
)

_OPTAX = (
    "optax computes 1 − β₂ᵗ, and from it ρₜ, in float32 from β₂ rounded to float32: ρ₆ is off by "
    "0.03 for β₂ = 0.999, and the rectifier with it; the lab computes 1 − β₂ᵗ accurately "
    "(measured at most 0.068 ulps per step)."
)

ROWS = (
    Equivalence(
        "radam",
        "optax",
        {},
        "optax.radam",
        {"learning_rate": 0.001},
        note=_OPTAX,
        ulps_per_step=0.1,
    ),
    Equivalence(
        "radam",
        "optax",
        {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "threshold": 6.0},
        "optax.radam",
        {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "threshold": 6.0},
        label="non-default",
        note=_OPTAX,
        ulps_per_step=0.1,
    ),
    Equivalence(
        "radam",
        "optax",
        {},
        "optax.radam",
        {"learning_rate": 0.001},
        complex_params=True,
        label="complex",
        ulps_per_step=0.1,
        note="optax's convention: |g|² = conj(g)·g in the second moment. " + _OPTAX,
    ),
    Equivalence(
        "radam", "torch", {"eps_hat": True}, "torch.optim.RAdam", {"lr": 0.001}, note=_TORCH
    ),
    Equivalence(
        "radam",
        "torch",
        {
            "learning_rate": 0.003,
            "b1": 0.8,
            "b2": 0.99,
            "eps": 1e-6,
            "eps_hat": True,
            "weight_decay": 0.05,
            "maximize": True,
        },
        "torch.optim.RAdam",
        {"lr": 0.003, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05, "maximize": True},
        label="non-default",
        note=_TORCH + " Its weight_decay is L2 on the gradient.",
    ),
    Equivalence(
        "radam",
        "torch",
        {"eps_hat": True, "weight_decay": 0.01, "decoupled_weight_decay": True},
        "torch.optim.RAdam",
        {"lr": 0.001, "weight_decay": 0.01, "decoupled_weight_decay": True},
        label="decoupled",
        note=_TORCH + " " + _TORCH_DECAY + " (measured at most 0.54 ulps per step)",
        ulps_per_step=0.75,
    ),
    Equivalence(
        "radam",
        "torch",
        {"eps_hat": True, "complex_convention": "torch"},
        "torch.optim.RAdam",
        {"lr": 0.001},
        complex_params=True,
        label="complex",
        note=_TORCH + " torch's convention: each complex number as two reals.",
    ),
)
