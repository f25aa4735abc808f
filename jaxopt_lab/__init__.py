"""jaxopt_lab: a laboratory for first-order optimizers in JAX."""

from jaxopt_lab import checkpoint, data, flat, mnist
from jaxopt_lab.data import MnistData, load_mnist
from jaxopt_lab.grid import hyperparameter_names
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
from jaxopt_lab.problems import PROBLEMS, Problem, as_problem
from jaxopt_lab.two_d import SweepResult, sweep, sweep_to_file, trajectory

__all__ = [
    "MnistData",
    "data",
    "flat",
    "load_mnist",
    "mnist",
    "OPTIMIZERS",
    "PROBLEMS",
    "Problem",
    "SweepResult",
    "AdagradState",
    "AdamState",
    "MomentumState",
    "RmspropState",
    "SgdState",
    "adagrad",
    "adam",
    "adamw",
    "apply_updates",
    "as_problem",
    "checkpoint",
    "hyperparameter_names",
    "momentum",
    "nesterov",
    "rmsprop",
    "sgd",
    "sweep",
    "sweep_to_file",
    "trajectory",
]
