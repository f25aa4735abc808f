"""Rows for SGD, momentum and Nesterov."""

from __future__ import annotations

from jaxopt_lab.equivalences.check import KERAS_LR, Equivalence

COUNTERPARTS = {
    "sgd": {
        "tutorial": "reference.SGD",
        "optax": "optax.sgd",
        "torch": "torch.optim.SGD",
        "keras": "keras.optimizers.SGD",
    },
    "momentum": {
        "tutorial": "reference.Momentum",
        "optax": "optax.sgd",
        "torch": "torch.optim.SGD",
        "keras": "keras.optimizers.SGD",
    },
    "nesterov": {
        "tutorial": "reference.Nesterov",
        "optax": "optax.sgd",
        "torch": "torch.optim.SGD",
        "keras": "keras.optimizers.SGD",
    },
}

_BUFFER = "keeps b = m·b + g and steps −lr·b: equal to the lab's v = m·v − lr·g for a constant lr."
_KERAS_DECAY = (
    "Keras applies the decay as its own update of p (p −= p·wd·lr) before the step, one more "
    "rounding of p per step."
)

ROWS = (
    # The tutorial (jaxopt_lab.reference): the lab's defaults.
    Equivalence("sgd", "tutorial", {}, "reference.SGD"),
    Equivalence(
        "sgd",
        "tutorial",
        {"learning_rate": 0.05},
        "reference.SGD",
        {"lr": 0.05},
        label="non-default",
    ),
    Equivalence("momentum", "tutorial", {}, "reference.Momentum"),
    Equivalence(
        "momentum",
        "tutorial",
        {"learning_rate": 0.03, "momentum": 0.5},
        "reference.Momentum",
        {"lr": 0.03, "momentum": 0.5},
        label="non-default",
    ),
    Equivalence(
        "nesterov",
        "tutorial",
        {},
        "reference.Nesterov",
        agrees=False,
        differs_below=0.07,
        note="The tutorial's Nesterov steps p += m²·v − (1+m)·lr·g, not the standard m·v − lr·g "
        "that optax, torch and Keras share: different trajectories (relative error measured "
        "0.035 at most).",
    ),
    Equivalence(
        "nesterov",
        "tutorial",
        {"learning_rate": 0.03, "momentum": 0.5},
        "reference.Nesterov",
        {"lr": 0.03, "momentum": 0.5},
        agrees=False,
        label="non-default",
        differs_below=0.035,
        note="The tutorial's own Nesterov variant (see above; measured 0.016 at most).",
    ),
    # optax.
    Equivalence("sgd", "optax", {}, "optax.sgd", {"learning_rate": 0.01}),
    Equivalence(
        "sgd",
        "optax",
        {"learning_rate": 0.05},
        "optax.sgd",
        {"learning_rate": 0.05},
        label="non-default",
    ),
    Equivalence(
        "sgd",
        "optax",
        {"learning_rate": 0.05},
        "optax.sgd",
        {"learning_rate": 0.05},
        complex_params=True,
        label="complex",
    ),
    Equivalence(
        "momentum",
        "optax",
        {},
        "optax.sgd",
        {"learning_rate": 0.01, "momentum": 0.9},
        note="optax " + _BUFFER,
    ),
    Equivalence(
        "momentum",
        "optax",
        {"learning_rate": 0.03, "momentum": 0.5},
        "optax.sgd",
        {"learning_rate": 0.03, "momentum": 0.5},
        label="non-default",
        note="optax " + _BUFFER,
    ),
    Equivalence(
        "nesterov",
        "optax",
        {},
        "optax.sgd",
        {"learning_rate": 0.01, "momentum": 0.9, "nesterov": True},
    ),
    Equivalence(
        "nesterov",
        "optax",
        {"learning_rate": 0.03, "momentum": 0.5},
        "optax.sgd",
        {"learning_rate": 0.03, "momentum": 0.5, "nesterov": True},
        label="non-default",
    ),
    Equivalence(
        "nesterov",
        "optax",
        {"learning_rate": 0.03, "momentum": 0.5},
        "optax.sgd",
        {"learning_rate": 0.03, "momentum": 0.5, "nesterov": True},
        complex_params=True,
        label="complex",
    ),
    # torch.optim.
    Equivalence("sgd", "torch", {}, "torch.optim.SGD", {"lr": 0.01}),
    Equivalence(
        "sgd",
        "torch",
        {"learning_rate": 0.05, "weight_decay": 0.1, "maximize": True},
        "torch.optim.SGD",
        {"lr": 0.05, "weight_decay": 0.1, "maximize": True},
        label="non-default",
    ),
    Equivalence(
        "momentum",
        "torch",
        {},
        "torch.optim.SGD",
        {"lr": 0.01, "momentum": 0.9},
        note="torch " + _BUFFER,
    ),
    Equivalence(
        "momentum",
        "torch",
        {"learning_rate": 0.03, "momentum": 0.5, "dampening": 0.3, "weight_decay": 0.05},
        "torch.optim.SGD",
        {"lr": 0.03, "momentum": 0.5, "dampening": 0.3, "weight_decay": 0.05},
        label="non-default",
        note="torch's dampening spares the first step (its first buffer is g itself); "
        "so does the lab's.",
    ),
    Equivalence(
        "momentum",
        "torch",
        {"learning_rate": 0.03, "momentum": 0.5, "complex_convention": "torch"},
        "torch.optim.SGD",
        {"lr": 0.03, "momentum": 0.5},
        complex_params=True,
        label="complex",
    ),
    Equivalence(
        "nesterov", "torch", {}, "torch.optim.SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True}
    ),
    Equivalence(
        "nesterov",
        "torch",
        {"learning_rate": 0.03, "momentum": 0.5, "weight_decay": 0.05, "maximize": True},
        "torch.optim.SGD",
        {"lr": 0.03, "momentum": 0.5, "nesterov": True, "weight_decay": 0.05, "maximize": True},
        label="non-default",
    ),
    # Keras 3 (JAX backend).
    Equivalence(
        "sgd",
        "keras",
        {},
        "keras.optimizers.SGD",
        {"learning_rate": 0.01},
        note=KERAS_LR,
        float32_learning_rate=True,
    ),
    Equivalence(
        "sgd",
        "keras",
        {"learning_rate": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True},
        "keras.optimizers.SGD",
        {"learning_rate": 0.05, "weight_decay": 0.1},
        note=_KERAS_DECAY + " " + KERAS_LR,
        float32_learning_rate=True,
        label="non-default",
        ulps_per_step=0.5,
    ),
    Equivalence(
        "momentum",
        "keras",
        {},
        "keras.optimizers.SGD",
        {"learning_rate": 0.01, "momentum": 0.9},
        note=KERAS_LR,
        float32_learning_rate=True,
    ),
    Equivalence(
        "momentum",
        "keras",
        {
            "learning_rate": 0.03,
            "momentum": 0.5,
            "weight_decay": 0.05,
            "decoupled_weight_decay": True,
        },
        "keras.optimizers.SGD",
        {"learning_rate": 0.03, "momentum": 0.5, "weight_decay": 0.05},
        note=_KERAS_DECAY + " " + KERAS_LR,
        float32_learning_rate=True,
        label="non-default",
        ulps_per_step=0.5,
    ),
    Equivalence(
        "nesterov",
        "keras",
        {},
        "keras.optimizers.SGD",
        {"learning_rate": 0.01, "momentum": 0.9, "nesterov": True},
        note=KERAS_LR,
        float32_learning_rate=True,
    ),
    Equivalence(
        "nesterov",
        "keras",
        {"learning_rate": 0.03, "momentum": 0.5},
        "keras.optimizers.SGD",
        {"learning_rate": 0.03, "momentum": 0.5, "nesterov": True},
        note=KERAS_LR,
        float32_learning_rate=True,
        label="non-default",
    ),
)
