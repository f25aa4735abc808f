"""Rows for Adam, AdamW, AMSGrad and Adamax."""

from __future__ import annotations

from jaxopt_lab.equivalences.check import KERAS_LR, Equivalence, Missing

COUNTERPARTS = {
    "adam": {
        "tutorial": "reference.Adam",
        "optax": "optax.adam",
        "torch": "torch.optim.Adam",
        "keras": "keras.optimizers.Adam",
    },
    "adamw": {
        "tutorial": "reference.Adam",
        "optax": "optax.adamw",
        "torch": "torch.optim.AdamW",
        "keras": "keras.optimizers.AdamW",
    },
    "amsgrad": {
        "tutorial": Missing("reference.AMSGrad"),
        "optax": "optax.amsgrad",
        "torch": "torch.optim.Adam",
        "keras": "keras.optimizers.Adam",
    },
    "adamax": {
        "tutorial": Missing("reference.Adamax"),
        "optax": "optax.adamax",
        "torch": "torch.optim.Adamax",
        "keras": "keras.optimizers.Adamax",
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
_BIAS_GROWTH = 0.05
"""Rows whose library computes 1 − βᵗ in float32 from β rounded to float32 (optax, Keras): the
step's scale differs by ~1e-5 relative the same way every step; measured at most 0.034 ulps
per step (float32, 1000 steps)."""
_OPTAX_BIAS = (
    "optax computes 1 − βᵗ in float32 from β rounded to float32 (off by 1.3e-5 for 0.999); "
    "the lab computes it accurately."
)

_OPTAX_FORM = {"eps_hat": False, "bias_correction": "float32", "moment_form": "weighted_sum"}
"""optax's arithmetic: 1 − βᵗ in float32 from β rounded to it, moments as (1 − β)·g + β·m."""
_OPTAX_ARITHMETIC = (
    "optax computes 1 − βᵗ in float32 from β rounded to float32 (off by 1.3e-5 for 0.999) and "
    "the moments as (1 − β)·g + β·m, and divides the whole tree by 1 − βᵗ in one call: "
    "bias_correction='float32', moment_form='weighted_sum' take all three, bit for bit."
)
_FLOAT32_BIAS = (
    "optax computes 1 − βᵗ in float32 from β rounded to float32 (off by 1.3e-5 for 0.999): "
    "bias_correction='float32' takes it so."
)
_KERAS_ARITHMETIC = (
    "Keras computes 1 − βᵗ in float32 from β rounded to float32 (off by 1.3e-5 for 0.999) and "
    "its step as (m·α)/(√v + ε), α = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ): bias_correction='float32' takes "
    "both, bit for bit."
)

ROWS = (
    # Adam.
    Equivalence("adam", "tutorial", {}, "reference.Adam"),
    Equivalence(
        "adam",
        "tutorial",
        {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99},
        "reference.Adam",
        {"lr": 0.003, "beta1": 0.8, "beta2": 0.99},
        label="non-default",
    ),
    Equivalence(
        "adam",
        "optax",
        {"eps": 1e-8, **_OPTAX_FORM},
        "optax.adam",
        {"learning_rate": 0.001},
        note=_OPTAX_ARITHMETIC,
    ),
    Equivalence(
        "adam",
        "optax",
        {
            "learning_rate": 0.003,
            "b1": 0.8,
            "b2": 0.99,
            "eps": 1e-6,
            "eps_root": 1e-10,
            **_OPTAX_FORM,
        },
        "optax.adam",
        {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "eps_root": 1e-10},
        label="non-default",
        note=_OPTAX_ARITHMETIC,
    ),
    Equivalence(
        "adam",
        "optax",
        {"eps": 1e-8, **_OPTAX_FORM},
        "optax.adam",
        {"learning_rate": 0.001},
        complex_params=True,
        label="complex",
        note="optax's convention: |g|² = conj(g)·g in the second moment, which optax keeps "
        "complex (so does the lab with these knobs). " + _OPTAX_ARITHMETIC,
    ),
    Equivalence(
        "adam", "torch", {"eps": 1e-8, "eps_hat": False}, "torch.optim.Adam", {"lr": 0.001}
    ),
    Equivalence(
        "adam",
        "torch",
        {
            "learning_rate": 0.003,
            "b1": 0.8,
            "b2": 0.99,
            "eps": 1e-6,
            "eps_hat": False,
            "weight_decay": 0.05,
            "maximize": True,
        },
        "torch.optim.Adam",
        {"lr": 0.003, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05, "maximize": True},
        label="non-default",
        note="torch's Adam(weight_decay=) is L2 on the gradient (coupled).",
    ),
    Equivalence(
        "adam",
        "torch",
        {"eps": 1e-8, "eps_hat": False, "complex_convention": "torch"},
        "torch.optim.Adam",
        {"lr": 0.001},
        complex_params=True,
        label="complex",
        note="torch's convention: each complex number as two reals (view_as_real).",
    ),
    Equivalence(
        "adam",
        "keras",
        {"bias_correction": "float32"},
        "keras.optimizers.Adam",
        {"learning_rate": 0.001},
        note=_KERAS_ARITHMETIC + " " + KERAS_LR,
        float32_learning_rate=True,
    ),
    Equivalence(
        "adam",
        "keras",
        {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "bias_correction": "float32"},
        "keras.optimizers.Adam",
        {"learning_rate": 0.003, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6},
        note=_KERAS_ARITHMETIC + " " + KERAS_LR,
        float32_learning_rate=True,
        label="non-default",
    ),
    # AdamW.
    Equivalence(
        "adamw",
        "tutorial",
        {"weight_decay": 0.0},
        "reference.Adam",
        note="The tutorial has no AdamW; without weight decay it is the tutorial's Adam.",
    ),
    Equivalence(
        "adamw",
        "tutorial",
        {"learning_rate": 0.003, "b1": 0.8, "weight_decay": 0.0},
        "reference.Adam",
        {"lr": 0.003, "beta1": 0.8},
        label="non-default",
        note="The tutorial has no AdamW; without weight decay it is the tutorial's Adam.",
    ),
    Equivalence(
        "adamw",
        "optax",
        {"eps": 1e-8, "eps_hat": False, "weight_decay": 1e-4},
        "optax.adamw",
        {"learning_rate": 0.001, "weight_decay": 1e-4},
        note=_OPTAX_BIAS,
        ulps_per_step=_BIAS_GROWTH,
    ),
    Equivalence(
        "adamw",
        "optax",
        {
            "learning_rate": 0.003,
            "b1": 0.8,
            "b2": 0.99,
            "eps": 1e-6,
            "eps_hat": False,
            "weight_decay": 0.05,
        },
        "optax.adamw",
        {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "weight_decay": 0.05},
        label="non-default",
        note=_OPTAX_BIAS,
        ulps_per_step=_BIAS_GROWTH,
    ),
    Equivalence(
        "adamw",
        "optax",
        {"eps": 1e-8, "eps_hat": False, "weight_decay": 0.01},
        "optax.adamw",
        {"learning_rate": 0.001, "weight_decay": 0.01},
        complex_params=True,
        label="complex",
        note="optax's convention: |g|² = conj(g)·g in the second moment. " + _OPTAX_BIAS,
        ulps_per_step=_BIAS_GROWTH,
    ),
    Equivalence(
        "adamw",
        "torch",
        {"eps": 1e-8, "eps_hat": False, "weight_decay": 0.01},
        "torch.optim.AdamW",
        {"lr": 0.001, "weight_decay": 0.01},
        note=_TORCH_DECAY,
        ulps_per_step=0.5,
    ),
    Equivalence(
        "adamw",
        "torch",
        {
            "learning_rate": 0.003,
            "b1": 0.8,
            "b2": 0.99,
            "eps": 1e-6,
            "eps_hat": False,
            "weight_decay": 0.05,
            "maximize": True,
        },
        "torch.optim.AdamW",
        {"lr": 0.003, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05, "maximize": True},
        label="non-default",
        note=_TORCH_DECAY,
        ulps_per_step=0.5,
    ),
    Equivalence(
        "adamw",
        "torch",
        {"eps": 1e-8, "eps_hat": False, "weight_decay": 0.01, "complex_convention": "torch"},
        "torch.optim.AdamW",
        {"lr": 0.001, "weight_decay": 0.01},
        complex_params=True,
        label="complex",
        note="torch's convention (view_as_real). " + _TORCH_DECAY,
        ulps_per_step=0.5,
    ),
    Equivalence(
        "adamw",
        "keras",
        {"weight_decay": 0.004, "bias_correction": "float32"},
        "keras.optimizers.AdamW",
        {"learning_rate": 0.001, "weight_decay": 0.004},
        note=_KERAS_DECAY + " " + _KERAS_ARITHMETIC + " " + KERAS_LR,
        float32_learning_rate=True,
        ulps_per_step=0.5,
    ),
    Equivalence(
        "adamw",
        "keras",
        {
            "learning_rate": 0.003,
            "b1": 0.8,
            "b2": 0.99,
            "eps": 1e-6,
            "weight_decay": 0.05,
            "bias_correction": "float32",
        },
        "keras.optimizers.AdamW",
        {
            "learning_rate": 0.003,
            "beta_1": 0.8,
            "beta_2": 0.99,
            "epsilon": 1e-6,
            "weight_decay": 0.05,
        },
        note=_KERAS_DECAY + " " + _KERAS_ARITHMETIC + " " + KERAS_LR,
        float32_learning_rate=True,
        label="non-default",
        ulps_per_step=0.5,
    ),
    # AMSGrad.
    Equivalence(
        "amsgrad",
        "optax",
        {"max_of": "corrected", "bias_correction": "float32"},
        "optax.amsgrad",
        {"learning_rate": 0.001},
        note="optax takes the maximum of v/(1 − β₂ᵗ), torch and Keras of the raw v: no optax "
        "setting gives torch's numbers. " + _FLOAT32_BIAS,
    ),
    Equivalence(
        "amsgrad",
        "optax",
        {
            "learning_rate": 0.003,
            "b1": 0.8,
            "b2": 0.99,
            "eps": 1e-6,
            "eps_root": 1e-10,
            "max_of": "corrected",
            "bias_correction": "float32",
        },
        "optax.amsgrad",
        {"learning_rate": 0.003, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "eps_root": 1e-10},
        label="non-default",
        note=_FLOAT32_BIAS,
    ),
    Equivalence(
        "amsgrad",
        "optax",
        {"bias_correction": False},
        "optax.amsgrad",
        {"learning_rate": 0.001, "bias_correction_mu": False, "bias_correction_nu": False},
        label="uncorrected",
        note="The paper's Algorithm 2 (with eps): no bias correction.",
    ),
    Equivalence(
        "amsgrad",
        "optax",
        {"max_of": "corrected"},
        "optax.amsgrad",
        {"learning_rate": 0.001},
        complex_params=True,
        label="complex",
        note="optax's convention: |g|² = conj(g)·g in the second moment. " + _OPTAX_BIAS,
        ulps_per_step=_BIAS_GROWTH,
    ),
    Equivalence("amsgrad", "torch", {}, "torch.optim.Adam", {"lr": 0.001, "amsgrad": True}),
    Equivalence(
        "amsgrad",
        "torch",
        {
            "learning_rate": 0.003,
            "b1": 0.8,
            "b2": 0.99,
            "eps": 1e-6,
            "weight_decay": 0.05,
            "maximize": True,
        },
        "torch.optim.Adam",
        {
            "lr": 0.003,
            "betas": (0.8, 0.99),
            "eps": 1e-6,
            "weight_decay": 0.05,
            "amsgrad": True,
            "maximize": True,
        },
        label="non-default",
    ),
    Equivalence(
        "amsgrad",
        "torch",
        {"weight_decay": 0.01, "decoupled_weight_decay": True},
        "torch.optim.AdamW",
        {"lr": 0.001, "amsgrad": True},
        label="adamw",
        note=_TORCH_DECAY,
        ulps_per_step=0.5,
    ),
    Equivalence(
        "amsgrad",
        "torch",
        {"complex_convention": "torch"},
        "torch.optim.Adam",
        {"lr": 0.001, "amsgrad": True},
        complex_params=True,
        label="complex",
        note="torch's convention: each complex number as two reals (view_as_real).",
    ),
    Equivalence(
        "amsgrad",
        "keras",
        {"eps": 1e-7, "eps_hat": True, "bias_correction": "float32"},
        "keras.optimizers.Adam",
        {"learning_rate": 0.001, "amsgrad": True},
        note=_FLOAT32_BIAS.replace("optax", "Keras") + " " + KERAS_LR,
        float32_learning_rate=True,
    ),
    Equivalence(
        "amsgrad",
        "keras",
        {
            "learning_rate": 0.003,
            "b1": 0.8,
            "b2": 0.99,
            "eps": 1e-6,
            "eps_hat": True,
            "bias_correction": "float32",
        },
        "keras.optimizers.Adam",
        {"learning_rate": 0.003, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6, "amsgrad": True},
        note=_FLOAT32_BIAS.replace("optax", "Keras") + " " + KERAS_LR,
        float32_learning_rate=True,
        label="non-default",
    ),
    # Adamax.
    Equivalence("adamax", "optax", {}, "optax.adamax", {"learning_rate": 0.002}),
    Equivalence(
        "adamax",
        "optax",
        {"learning_rate": 0.01, "b1": 0.8, "b2": 0.99, "eps": 1e-6},
        "optax.adamax",
        {"learning_rate": 0.01, "b1": 0.8, "b2": 0.99, "eps": 1e-6},
        label="non-default",
    ),
    Equivalence(
        "adamax",
        "optax",
        {},
        "optax.adamax",
        {"learning_rate": 0.002},
        complex_params=True,
        label="complex",
        note="optax's convention: |g| is the modulus.",
    ),
    Equivalence("adamax", "torch", {}, "torch.optim.Adamax", {"lr": 0.002}),
    Equivalence(
        "adamax",
        "torch",
        {
            "learning_rate": 0.01,
            "b1": 0.8,
            "b2": 0.99,
            "eps": 1e-6,
            "weight_decay": 0.05,
            "maximize": True,
        },
        "torch.optim.Adamax",
        {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05, "maximize": True},
        label="non-default",
    ),
    Equivalence(
        "adamax",
        "torch",
        {"complex_convention": "torch"},
        "torch.optim.Adamax",
        {"lr": 0.002},
        complex_params=True,
        label="complex",
        note="torch's convention: each complex number as two reals (view_as_real).",
    ),
    Equivalence(
        "adamax",
        "keras",
        {"learning_rate": 0.001, "eps": 1e-7, "eps_in_max": False},
        "keras.optimizers.Adamax",
        {"learning_rate": 0.001},
        note="Keras adds eps to u, outside the max. "
        + _KERAS_BIAS.replace("β₂", "β₁")
        + " "
        + KERAS_LR,
        float32_learning_rate=True,
        ulps_per_step=_BIAS_GROWTH,
    ),
    Equivalence(
        "adamax",
        "keras",
        {"learning_rate": 0.01, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "eps_in_max": False},
        "keras.optimizers.Adamax",
        {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6},
        note=KERAS_LR,
        float32_learning_rate=True,
        label="non-default",
    ),
)
