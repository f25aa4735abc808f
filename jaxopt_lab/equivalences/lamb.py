"""Rows for LAMB (optax, Keras; torch has none)."""

from __future__ import annotations

from jaxopt_lab.equivalences.check import KERAS_LR, Equivalence, Missing

COUNTERPARTS = {
    "lamb": {
        "tutorial": Missing("jaxopt_lab.reference.Lamb"),
        "optax": "optax.lamb",
        "torch": Missing("torch.optim.Lamb"),
        "keras": "keras.optimizers.Lamb",
    },
}

_OPTAX = (
    "The paper's form: the decay inside the trust ratio, ‖p‖/‖r + wd·p‖. optax computes "
    "1 − βᵗ in float32; the lab accurately."
)
_KERAS = (
    "Keras decays p as a step of its own (p −= p·wd·lr) and its trust ratio sees only Adam's "
    "direction, against the decayed weights: decay_in_trust_ratio=False."
)


def _flip(row_settings: dict) -> tuple:
    inside = row_settings.get("decay_in_trust_ratio", True)
    return (("decay_in_trust_ratio flipped", {"decay_in_trust_ratio": not inside}),)


_NON_DEFAULT = {"learning_rate": 3e-3, "b1": 0.8, "b2": 0.95, "eps": 1e-4, "weight_decay": 0.1}
_KERAS_NON_DEFAULT = {**_NON_DEFAULT, "decay_in_trust_ratio": False}

ROWS = (
    Equivalence("lamb", "optax", {}, "optax.lamb", {"learning_rate": 1e-3}, note=_OPTAX),
    Equivalence(
        "lamb",
        "optax",
        _NON_DEFAULT,
        "optax.lamb",
        {"learning_rate": 3e-3, "b1": 0.8, "b2": 0.95, "eps": 1e-4, "weight_decay": 0.1},
        label="non-default",
        note=_OPTAX,
        perturbations=_flip(_NON_DEFAULT),
    ),
    Equivalence(
        "lamb",
        "optax",
        {"weight_decay": 0.01},
        "optax.lamb",
        {"learning_rate": 1e-3, "weight_decay": 0.01},
        complex_params=True,
        label="complex",
        note="optax's convention: |g|² = conj(g)·g, norms of complex leaves. " + _OPTAX,
    ),
    Equivalence(
        "lamb",
        "keras",
        {"eps": 1e-7, "decay_in_trust_ratio": False},
        "keras.optimizers.Lamb",
        {"learning_rate": 1e-3},
        note=_KERAS + " " + KERAS_LR,
        float32_learning_rate=True,
    ),
    Equivalence(
        "lamb",
        "keras",
        _KERAS_NON_DEFAULT,
        "keras.optimizers.Lamb",
        {
            "learning_rate": 3e-3,
            "beta_1": 0.8,
            "beta_2": 0.95,
            "epsilon": 1e-4,
            "weight_decay": 0.1,
        },
        label="non-default",
        float32_learning_rate=True,
        ulps_per_step=0.05,
        note=_KERAS + " Its own decay step rounds p once more per step (measured: 34 ulps "
        "after 1000 steps in float32). " + KERAS_LR,
        perturbations=_flip(_KERAS_NON_DEFAULT),
    ),
)
