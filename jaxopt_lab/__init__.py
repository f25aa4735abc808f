"""jaxopt_lab: a laboratory for first-order optimizers in JAX."""

from jaxopt_lab import checkpoint, data, flat, mnist
from jaxopt_lab.data import MnistData, load_mnist
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
    "MnistData",
    "data",
    "flat",
    "load_mnist",
    "mnist",
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
