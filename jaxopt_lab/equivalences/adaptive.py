"""Rows for AdaGrad, RMSprop and Adadelta."""

from __future__ import annotations

from jaxopt_lab.equivalences.check import KERAS_LR, Equivalence, Missing

COUNTERPARTS = {
    "adagrad": {
        "tutorial": "reference.AdaGrad",
        "optax": "optax.adagrad",
        "torch": "torch.optim.Adagrad",
        "keras": "keras.optimizers.Adagrad",
    },
    "rmsprop": {
        "tutorial": "reference.RMSprop",
        "optax": "optax.rmsprop",
        "torch": "torch.optim.RMSprop",
        "keras": "keras.optimizers.RMSprop",
    },
    "adadelta": {
        "tutorial": Missing("reference.Adadelta"),
        "optax": "optax.adadelta",
        "torch": "torch.optim.Adadelta",
        "keras": "keras.optimizers.Adadelta",
    },
}

_OPTAX_ADAGRAD = "optax computes where(h > 0, rsqrt(h + eps), 0)·g: the same formula."
_TORCH_MOMENTUM = (
    "torch keeps b = m·b + g/denominator and steps −lr·b; the lab (and Keras) accumulate "
    "lr·g/denominator: equal for a constant lr."
)

ROWS = (
    # AdaGrad.
    Equivalence("adagrad", "tutorial", {}, "reference.AdaGrad"),
    Equivalence(
        "adagrad",
        "tutorial",
        {"learning_rate": 0.2},
        "reference.AdaGrad",
        {"lr": 0.2},
        label="non-default",
    ),
    Equivalence(
        "adagrad",
        "optax",
        {"initial_accumulator_value": 0.1, "eps_in_sqrt": True},
        "optax.adagrad",
        {"learning_rate": 0.01},
        note=_OPTAX_ADAGRAD,
    ),
    Equivalence(
        "adagrad",
        "optax",
        {"learning_rate": 0.05, "eps": 1e-5, "initial_accumulator_value": 0.5, "eps_in_sqrt": True},
        "optax.adagrad",
        {"learning_rate": 0.05, "initial_accumulator_value": 0.5, "eps": 1e-5},
        label="non-default",
        note=_OPTAX_ADAGRAD,
    ),
    Equivalence(
        "adagrad",
        "optax",
        {"learning_rate": 0.05, "initial_accumulator_value": 0.1, "eps_in_sqrt": True},
        "optax.adagrad",
        {"learning_rate": 0.05},
        complex_params=True,
        label="complex",
        note="optax's convention: |g|² = conj(g)·g in the accumulator.",
    ),
    Equivalence(
        "adagrad", "torch", {"eps": 1e-10}, "torch.optim.Adagrad", {"lr": 0.01, "eps": 1e-10}
    ),
    Equivalence(
        "adagrad",
        "torch",
        {
            "learning_rate": 0.05,
            "eps": 1e-8,
            "initial_accumulator_value": 0.2,
            "lr_decay": 0.01,
            "weight_decay": 0.05,
            "maximize": True,
        },
        "torch.optim.Adagrad",
        {
            "lr": 0.05,
            "eps": 1e-8,
            "initial_accumulator_value": 0.2,
            "lr_decay": 0.01,
            "weight_decay": 0.05,
            "maximize": True,
        },
        label="non-default",
    ),
    Equivalence(
        "adagrad",
        "torch",
        {"learning_rate": 0.05, "eps": 1e-10, "complex_convention": "torch"},
        "torch.optim.Adagrad",
        {"lr": 0.05, "eps": 1e-10},
        complex_params=True,
        label="complex",
        note="torch's convention: each complex number as two reals (view_as_real).",
    ),
    Equivalence(
        "adagrad",
        "keras",
        {"initial_accumulator_value": 0.1, "eps_in_sqrt": True},
        "keras.optimizers.Adagrad",
        {"learning_rate": 0.01},
        note=KERAS_LR,
        float32_learning_rate=True,
    ),
    Equivalence(
        "adagrad",
        "keras",
        {"learning_rate": 0.05, "eps": 1e-5, "initial_accumulator_value": 0.5, "eps_in_sqrt": True},
        "keras.optimizers.Adagrad",
        {"learning_rate": 0.05, "initial_accumulator_value": 0.5, "epsilon": 1e-5},
        note=KERAS_LR,
        float32_learning_rate=True,
        label="non-default",
    ),
    # RMSprop.
    Equivalence("rmsprop", "tutorial", {}, "reference.RMSprop"),
    Equivalence(
        "rmsprop",
        "tutorial",
        {"learning_rate": 0.03, "decay": 0.9},
        "reference.RMSprop",
        {"lr": 0.03, "decay_rate": 0.9},
        label="non-default",
    ),
    Equivalence(
        "rmsprop",
        "optax",
        {},
        "optax.rmsprop",
        {"learning_rate": 0.01, "decay": 0.99, "eps": 1e-7, "eps_in_sqrt": False},
    ),
    Equivalence(
        "rmsprop",
        "optax",
        {
            "learning_rate": 0.01,
            "decay": 0.95,
            "eps": 1e-6,
            "eps_in_sqrt": True,
            "initial_scale": 0.5,
            "centered": True,
            "momentum": 0.5,
        },
        "optax.rmsprop",
        {
            "learning_rate": 0.01,
            "decay": 0.95,
            "eps": 1e-6,
            "initial_scale": 0.5,
            "centered": True,
            "momentum": 0.5,
        },
        label="non-default",
        note="optax applies the momentum after the learning rate, as the lab does.",
    ),
    Equivalence(
        "rmsprop",
        "optax",
        {"decay": 0.9, "eps": 1e-8, "eps_in_sqrt": True},
        "optax.rmsprop",
        {"learning_rate": 0.01},
        complex_params=True,
        label="complex",
        note="optax's convention: |g|² = conj(g)·g in the mean square.",
    ),
    Equivalence(
        "rmsprop", "torch", {}, "torch.optim.RMSprop", {"lr": 0.01, "alpha": 0.99, "eps": 1e-7}
    ),
    Equivalence(
        "rmsprop",
        "torch",
        {
            "learning_rate": 0.01,
            "decay": 0.9,
            "eps": 1e-6,
            "centered": True,
            "momentum": 0.5,
            "weight_decay": 0.05,
            "maximize": True,
        },
        "torch.optim.RMSprop",
        {
            "lr": 0.01,
            "alpha": 0.9,
            "eps": 1e-6,
            "centered": True,
            "momentum": 0.5,
            "weight_decay": 0.05,
            "maximize": True,
        },
        label="non-default",
        note=_TORCH_MOMENTUM,
    ),
    Equivalence(
        "rmsprop",
        "torch",
        {"eps": 1e-8, "complex_convention": "torch"},
        "torch.optim.RMSprop",
        {"lr": 0.01},
        complex_params=True,
        label="complex",
        note="torch's convention: each complex number as two reals (view_as_real).",
    ),
    Equivalence(
        "rmsprop",
        "keras",
        {"decay": 0.9, "eps_in_sqrt": True},
        "keras.optimizers.RMSprop",
        {"learning_rate": 0.01},
        note=KERAS_LR,
        float32_learning_rate=True,
    ),
    Equivalence(
        "rmsprop",
        "keras",
        {
            "learning_rate": 0.01,
            "decay": 0.8,
            "eps": 1e-6,
            "eps_in_sqrt": True,
            "centered": True,
            "momentum": 0.5,
        },
        "keras.optimizers.RMSprop",
        {"learning_rate": 0.01, "rho": 0.8, "epsilon": 1e-6, "centered": True, "momentum": 0.5},
        note=KERAS_LR,
        float32_learning_rate=True,
        label="non-default",
    ),
    # Adadelta.
    Equivalence(
        "adadelta",
        "optax",
        {"rho": 0.9},
        "optax.adadelta",
        {"learning_rate": 1.0},
        note="optax's own default, learning_rate=None, is the next row.",
    ),
    Equivalence(
        "adadelta",
        "optax",
        {"rho": 0.9},
        "optax.adadelta",
        {},
        agrees=False,
        label="no-learning-rate",
        differs_below=0.3,
        note="optax adadelta() with its default learning_rate=None applies no scaling at all, "
        "not even the sign flip: apply_updates adds +Δ and climbs the loss. The lab keeps "
        "the algorithm (p −= lr·Δ, lr 1 by default); with maximize=True it is optax's (a "
        "test checks it). Relative error measured 0.2 at most.",
    ),
    Equivalence(
        "adadelta",
        "optax",
        {"learning_rate": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.01},
        "optax.adadelta",
        {"learning_rate": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.01},
        label="non-default",
        note="optax's weight_decay is added to the gradient (coupled).",
    ),
    Equivalence(
        "adadelta",
        "optax",
        {"rho": 0.9},
        "optax.adadelta",
        {"learning_rate": 1.0},
        complex_params=True,
        label="complex",
        agrees=False,
        other_diverges=True,
        note="optax's adadelta squares complex gradients (g², its update_moment), not |g|² as "
        "its Adam does: its means are complex and its steps leave the lab's (optax "
        "convention, |g|²) at once, and grow without bound (params 2e25 after 1000 steps in "
        "complex128; not finite from step 765 in complex64). A test checks both sides "
        "against a NumPy transcription with g² and with |g|².",
    ),
    Equivalence("adadelta", "torch", {"rho": 0.9}, "torch.optim.Adadelta", {"lr": 1.0}),
    Equivalence(
        "adadelta",
        "torch",
        {"learning_rate": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.01, "maximize": True},
        "torch.optim.Adadelta",
        {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.01, "maximize": True},
        label="non-default",
    ),
    Equivalence(
        "adadelta",
        "torch",
        {"rho": 0.9, "complex_convention": "torch"},
        "torch.optim.Adadelta",
        {"lr": 1.0},
        complex_params=True,
        label="complex",
        note="torch's convention: each complex number as two reals (view_as_real).",
    ),
    Equivalence(
        "adadelta",
        "keras",
        {"learning_rate": 0.001, "eps": 1e-7},
        "keras.optimizers.Adadelta",
        {"learning_rate": 0.001},
        note=KERAS_LR,
        float32_learning_rate=True,
    ),
    Equivalence(
        "adadelta",
        "keras",
        {"learning_rate": 0.5, "rho": 0.8, "eps": 1e-5},
        "keras.optimizers.Adadelta",
        {"learning_rate": 0.5, "rho": 0.8, "epsilon": 1e-5},
        note=KERAS_LR,
        float32_learning_rate=True,
        label="non-default",
    ),
)
