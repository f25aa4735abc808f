"""Rows for Adam and AdamW."""

from __future__ import annotations

from jaxopt_lab.equivalences.table import KERAS_LR, Equivalence

COUNTERPARTS = {
    "adam": {
        "seed": "reference.Adam",
        "optax": "optax.adam",
        "torch": "torch.optim.Adam",
        "keras": "keras.optimizers.Adam",
    },
    "adamw": {
        "seed": "reference.Adam",
        "optax": "optax.adamw",
        "torch": "torch.optim.AdamW",
        "keras": "keras.optimizers.AdamW",
    },
}

_TORCH_DECAY = (
    "torch applies the decay as its own update of p (p *= 1 − lr·wd) before the step: one more "
    "rounding of p per step."
)
_KERAS_DECAY = (
    "Keras applies the decay as its own update of p (p −= p·wd·lr) before the step: one more "
    "rounding of p per step."
)
_KERAS_BIAS = (
    "Keras computes 1 − β₂ᵗ in float32 from β₂ rounded to float32 (off by 1.3e-5 for 0.999); "
    "the lab computes it accurately."
)
_OPTAX_BIAS = (
    "optax computes 1 − βᵗ in float32 from β rounded to float32 (off by 1.3e-5 for 0.999); "
    "the lab computes it accurately."
)

ROWS = (
    # Adam.
    Equivalence("adam", "seed", {}, "reference.Adam"),
    Equivalence("adam", "seed", {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99},
                "reference.Adam", {"lr": 0.003, "beta1": 0.8, "beta2": 0.99},
                label="non-default"),
    Equivalence("adam", "optax", {"eps": 1e-8, "eps_hat": False}, "optax.adam",
                {"learning_rate": 0.001}, note=_OPTAX_BIAS),
    Equivalence(
        "adam", "optax",
        {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "eps_root": 1e-10,
         "eps_hat": False},
        "optax.adam",
        {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "eps_root": 1e-10},
        label="non-default", note=_OPTAX_BIAS,
    ),
    Equivalence(
        "adam", "optax", {"eps": 1e-8, "eps_hat": False}, "optax.adam", {"learning_rate": 0.001},
        complex_params=True, label="complex",
        note="optax's convention: |g|² = conj(g)·g in the second moment. " + _OPTAX_BIAS,
    ),
    Equivalence("adam", "torch", {"eps": 1e-8, "eps_hat": False}, "torch.optim.Adam",
                {"lr": 0.001}),
    Equivalence(
        "adam", "torch",
        {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "eps_hat": False,
         "weight_decay": 0.05, "maximize": True},
        "torch.optim.Adam",
        {"lr": 0.003, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05,
         "maximize": True},
        label="non-default", note="torch's Adam(weight_decay=) is L2 on the gradient (coupled).",
    ),
    Equivalence(
        "adam", "torch", {"eps": 1e-8, "eps_hat": False, "complex_convention": "torch"},
        "torch.optim.Adam", {"lr": 0.001}, complex_params=True, label="complex",
        note="torch's convention: each complex number as two reals (view_as_real).",
    ),
    Equivalence("adam", "keras", {}, "keras.optimizers.Adam", {"learning_rate": 0.001},
                note=_KERAS_BIAS + " " + KERAS_LR, float32_learning_rate=True),
    Equivalence(
        "adam", "keras", {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99, "eps": 1e-6},
        "keras.optimizers.Adam",
        {"learning_rate": 0.003, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6},
        note=_KERAS_BIAS + " " + KERAS_LR, float32_learning_rate=True, label="non-default",
    ),
    # AdamW.
    Equivalence("adamw", "seed", {"weight_decay": 0.0}, "reference.Adam",
                note="The book has no AdamW; without weight decay it is the book's Adam."),
    Equivalence("adamw", "seed", {"learning_rate": 0.003, "b1": 0.8, "weight_decay": 0.0},
                "reference.Adam", {"lr": 0.003, "beta1": 0.8}, label="non-default",
                note="The book has no AdamW; without weight decay it is the book's Adam."),
    Equivalence("adamw", "optax", {"eps": 1e-8, "eps_hat": False, "weight_decay": 1e-4},
                "optax.adamw", {"learning_rate": 0.001, "weight_decay": 1e-4}, note=_OPTAX_BIAS),
    Equivalence(
        "adamw", "optax",
        {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "eps_hat": False,
         "weight_decay": 0.05},
        "optax.adamw",
        {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "weight_decay": 0.05},
        label="non-default", note=_OPTAX_BIAS,
    ),
    Equivalence(
        "adamw", "optax", {"eps": 1e-8, "eps_hat": False, "weight_decay": 0.01}, "optax.adamw",
        {"learning_rate": 0.001, "weight_decay": 0.01}, complex_params=True, label="complex",
        note="optax's convention: |g|² = conj(g)·g in the second moment. " + _OPTAX_BIAS,
    ),
    Equivalence(
        "adamw", "torch", {"eps": 1e-8, "eps_hat": False, "weight_decay": 0.01},
        "torch.optim.AdamW", {"lr": 0.001, "weight_decay": 0.01}, note=_TORCH_DECAY,
        ulps_per_step=0.5,
    ),
    Equivalence(
        "adamw", "torch",
        {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "eps_hat": False,
         "weight_decay": 0.05, "maximize": True},
        "torch.optim.AdamW",
        {"lr": 0.003, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05,
         "maximize": True},
        label="non-default", note=_TORCH_DECAY, ulps_per_step=0.5,
    ),
    Equivalence(
        "adamw", "torch",
        {"eps": 1e-8, "eps_hat": False, "weight_decay": 0.01, "complex_convention": "torch"},
        "torch.optim.AdamW", {"lr": 0.001, "weight_decay": 0.01}, complex_params=True,
        label="complex", note="torch's convention (view_as_real). " + _TORCH_DECAY,
        ulps_per_step=0.5,
    ),
    Equivalence(
        "adamw", "keras", {"weight_decay": 0.004}, "keras.optimizers.AdamW",
        {"learning_rate": 0.001, "weight_decay": 0.004},
        note=_KERAS_DECAY + " " + _KERAS_BIAS + " " + KERAS_LR, float32_learning_rate=True,
        ulps_per_step=0.5,
    ),
    Equivalence(
        "adamw", "keras",
        {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "weight_decay": 0.05},
        "keras.optimizers.AdamW",
        {"learning_rate": 0.003, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6,
         "weight_decay": 0.05},
        note=_KERAS_DECAY + " " + _KERAS_BIAS + " " + KERAS_LR, float32_learning_rate=True,
        label="non-default", ulps_per_step=0.5,
    ),
)
