"""jaxopt_lab: a laboratory for first-order optimizers in JAX."""

from jaxopt_lab import flat
from jaxopt_lab.optimizers import (
    OPTIMIZERS,
    AdagradState,
    AdamState,
    MomentumState,
    RmspropState,
    SgdState,
    adagrad,
    adam,
    adamw,
    apply_updates,
    momentum,
    nesterov,
    rmsprop,
    sgd,
)

__all__ = [
    "flat",
    "OPTIMIZERS",
    "AdagradState",
    "AdamState",
    "MomentumState",
    "RmspropState",
    "SgdState",
    "adagrad",
    "adam",
    "adamw",
    "apply_updates",
    "momentum",
    "nesterov",
    "rmsprop",
    "sgd",
]
