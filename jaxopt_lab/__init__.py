"""jaxopt_lab: a laboratory for first-order optimizers in JAX."""

from jaxopt_lab import checkpoint
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
    "checkpoint",
    "momentum",
    "nesterov",
    "rmsprop",
    "sgd",
]
