"""Rows for NAdam and NAdamW."""

from __future__ import annotations

from jaxopt_lab.equivalences.check import KERAS_LR, Equivalence, Missing

COUNTERPARTS = {
    "nadam": {
        "tutorial": Missing("reference.Nadam"),
        "optax": "optax.nadam",
        "torch": "torch.optim.NAdam",
        "keras": "keras.optimizers.Nadam",
    },
    "nadamw": {
        "tutorial": Missing("reference.NadamW"),
        "optax": "optax.nadamw",
        "torch": "torch.optim.NAdam",
        "keras": "keras.optimizers.Nadam",
    },
}

_OPTAX = (
    "optax's NAdam keeps the momentum constant (μₜ = β₁): momentum_decay=None. optax computes "
    "1 − βᵗ in float32 from β rounded to float32 (off by 1.3e-5 for 0.999); the lab computes "
    "it accurately."
)
_BIAS_GROWTH = 0.05  # as in adam.py: measured at most 0.030 ulps per step
_TORCH_TWO_UPDATES = (
    "torch adds the gradient's and the momentum's parts to p as two updates: one more "
    "rounding of p per step (measured at most 0.11 ulps per step)."
)
_KERAS = "Keras's schedule is 0.96ᵗ: momentum_decay=1."
_TORCH_DECAY = (
    "torch applies the decay as its own update of p (p *= 1 − lr·wd) before the step: one more "
    "rounding of p per step."
)
_KERAS_DECAY = (
    "Keras applies the decay as its own update of p (p −= p·wd·lr) before the step: one more "
    "rounding of p per step."
)

ROWS = (
    # NAdam.
    Equivalence(
        "nadam",
        "optax",
        {"momentum_decay": None},
        "optax.nadam",
        {"learning_rate": 0.002},
        note=_OPTAX,
        ulps_per_step=_BIAS_GROWTH,
    ),
    Equivalence(
        "nadam",
        "optax",
        {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "momentum_decay": None},
        "optax.nadam",
        {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99, "eps": 1e-6},
        label="non-default",
        note=_OPTAX,
        ulps_per_step=_BIAS_GROWTH,
    ),
    Equivalence(
        "nadam",
        "optax",
        {"momentum_decay": None},
        "optax.nadam",
        {"learning_rate": 0.002},
        complex_params=True,
        label="complex",
        ulps_per_step=_BIAS_GROWTH,
        note="optax's convention: |g|² = conj(g)·g in the second moment. " + _OPTAX,
    ),
    Equivalence(
        "nadam",
        "torch",
        {},
        "torch.optim.NAdam",
        {"lr": 0.002},
        note=_TORCH_TWO_UPDATES,
        ulps_per_step=0.2,
    ),
    Equivalence(
        "nadam",
        "torch",
        {
            "learning_rate": 0.003,
            "b1": 0.8,
            "b2": 0.99,
            "eps": 1e-6,
            "momentum_decay": 0.01,
            "weight_decay": 0.05,
            "maximize": True,
        },
        "torch.optim.NAdam",
        {
            "lr": 0.003,
            "betas": (0.8, 0.99),
            "eps": 1e-6,
            "momentum_decay": 0.01,
            "weight_decay": 0.05,
            "maximize": True,
        },
        label="non-default",
        ulps_per_step=0.2,
        note="torch's NAdam(weight_decay=) is L2 on the gradient. " + _TORCH_TWO_UPDATES,
    ),
    Equivalence(
        "nadam",
        "torch",
        {"complex_convention": "torch"},
        "torch.optim.NAdam",
        {"lr": 0.002},
        complex_params=True,
        label="complex",
        ulps_per_step=0.2,
        note="torch's convention: each complex number as two reals (view_as_real). "
        + _TORCH_TWO_UPDATES,
    ),
    Equivalence(
        "nadam",
        "keras",
        {"learning_rate": 0.001, "eps": 1e-7, "momentum_decay": 1.0},
        "keras.optimizers.Nadam",
        {"learning_rate": 0.001},
        note=_KERAS + " " + KERAS_LR,
        float32_learning_rate=True,
    ),
    Equivalence(
        "nadam",
        "keras",
        {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "momentum_decay": 1.0},
        "keras.optimizers.Nadam",
        {"learning_rate": 0.003, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6},
        note=_KERAS + " " + KERAS_LR,
        float32_learning_rate=True,
        label="non-default",
    ),
    # NAdamW.
    Equivalence(
        "nadamw",
        "optax",
        {"weight_decay": 1e-4, "momentum_decay": None},
        "optax.nadamw",
        {"learning_rate": 0.002, "weight_decay": 1e-4},
        note=_OPTAX,
        ulps_per_step=_BIAS_GROWTH,
    ),
    Equivalence(
        "nadamw",
        "optax",
        {
            "learning_rate": 0.003,
            "b1": 0.8,
            "b2": 0.99,
            "eps": 1e-6,
            "weight_decay": 0.05,
            "momentum_decay": None,
        },
        "optax.nadamw",
        {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "weight_decay": 0.05},
        label="non-default",
        note=_OPTAX,
        ulps_per_step=_BIAS_GROWTH,
    ),
    Equivalence(
        "nadamw",
        "torch",
        {"weight_decay": 0.01},
        "torch.optim.NAdam",
        {"lr": 0.002, "weight_decay": 0.01, "decoupled_weight_decay": True},
        note=_TORCH_DECAY + " " + _TORCH_TWO_UPDATES,
        ulps_per_step=0.5,
    ),
    Equivalence(
        "nadamw",
        "torch",
        {
            "learning_rate": 0.003,
            "b1": 0.8,
            "b2": 0.99,
            "eps": 1e-6,
            "weight_decay": 0.05,
            "momentum_decay": 0.01,
            "maximize": True,
        },
        "torch.optim.NAdam",
        {
            "lr": 0.003,
            "betas": (0.8, 0.99),
            "eps": 1e-6,
            "weight_decay": 0.05,
            "momentum_decay": 0.01,
            "decoupled_weight_decay": True,
            "maximize": True,
        },
        label="non-default",
        note=_TORCH_DECAY + " " + _TORCH_TWO_UPDATES,
        ulps_per_step=0.5,
    ),
    Equivalence(
        "nadamw",
        "keras",
        {"learning_rate": 0.001, "eps": 1e-7, "weight_decay": 0.004, "momentum_decay": 1.0},
        "keras.optimizers.Nadam",
        {"learning_rate": 0.001, "weight_decay": 0.004},
        note=_KERAS + " " + _KERAS_DECAY + " " + KERAS_LR,
        float32_learning_rate=True,
        ulps_per_step=0.5,
    ),
    Equivalence(
        "nadamw",
        "keras",
        {
            "learning_rate": 0.003,
            "b1": 0.8,
            "b2": 0.99,
            "eps": 1e-6,
            "weight_decay": 0.05,
            "momentum_decay": 1.0,
        },
        "keras.optimizers.Nadam",
        {
            "learning_rate": 0.003,
            "beta_1": 0.8,
            "beta_2": 0.99,
            "epsilon": 1e-6,
            "weight_decay": 0.05,
        },
        note=_KERAS + " " + _KERAS_DECAY + " " + KERAS_LR,
        float32_learning_rate=True,
        label="non-default",
        ulps_per_step=0.5,
    ),
)
