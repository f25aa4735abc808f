"""Rows for Lion (optax, Keras; torch has none)."""

from __future__ import annotations

from jaxopt_lab.equivalences.check import KERAS_LR, Equivalence, Missing

COUNTERPARTS = {
    "lion": {
        "tutorial": Missing("jaxopt_lab.reference.Lion"),
        "optax": "optax.lion",
        "torch": Missing("torch.optim.Lion"),
        "keras": "keras.optimizers.Lion",
    },
}

_SAME_ORDER = "The lab writes optax's update in optax's order of operations: bit-identical."
_KERAS_DECAY = (
    "Keras applies the decay as its own update of p (p −= p·wd·lr) before the step: one more "
    "rounding of p per step (measured: 20 ulps after 1000 steps in float32)."
)

ROWS = (
    Equivalence(
        "lion",
        "optax",
        {"learning_rate": 1e-4, "weight_decay": 1e-3},
        "optax.lion",
        {"learning_rate": 1e-4},
        note="optax has no default learning rate (1e-4 is the paper code's) and decays by "
        "1e-3 by default. " + _SAME_ORDER,
    ),
    Equivalence(
        "lion",
        "optax",
        {"learning_rate": 3e-3, "b1": 0.8, "b2": 0.95, "weight_decay": 0.1},
        "optax.lion",
        {"learning_rate": 3e-3, "b1": 0.8, "b2": 0.95, "weight_decay": 0.1},
        label="non-default",
        note=_SAME_ORDER,
    ),
    Equivalence(
        "lion",
        "optax",
        {"learning_rate": 1e-4, "weight_decay": 1e-3},
        "optax.lion",
        {"learning_rate": 1e-4},
        complex_params=True,
        label="complex",
        note="optax's convention: the complex sign c/|c|. Lion steps by lr·c/|c|: over the "
        "sensitivity test's 25 steps lr x(1 + 1e-3) moves params of modulus up to 3 by 8e-7 "
        "of it, under complex64's 8 ulps; it checks lr x(1 + 1e-2) as well.",
        perturbations=(("learning rate x(1 + 1e-2)", {"learning_rate": 1e-4 * 1.01}),),
    ),
    Equivalence(
        "lion",
        "keras",
        {"learning_rate": 1e-3},
        "keras.optimizers.Lion",
        {"learning_rate": 1e-3},
        note=KERAS_LR,
        float32_learning_rate=True,
    ),
    Equivalence(
        "lion",
        "keras",
        {"learning_rate": 3e-3, "b1": 0.8, "b2": 0.95, "weight_decay": 0.1},
        "keras.optimizers.Lion",
        {"learning_rate": 3e-3, "beta_1": 0.8, "beta_2": 0.95, "weight_decay": 0.1},
        label="non-default",
        note=_KERAS_DECAY + " " + KERAS_LR,
        float32_learning_rate=True,
        ulps_per_step=0.05,
    ),
)
