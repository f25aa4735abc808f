"""Rows for Rprop."""

from __future__ import annotations

from jaxopt_lab.equivalences.check import Equivalence, Missing

COUNTERPARTS = {
    "rprop": {
        "tutorial": Missing("reference.Rprop"),
        "optax": "optax.rprop",
        "torch": "torch.optim.Rprop",
        "keras": Missing("keras.optimizers.Rprop"),
    },
}

_OPTAX = (
    "optax's scale_by_rprop returns the update it computed the step before (its first update "
    "is 0, every later one lags a step; optax PR #1725), zeroed where the new gradient's sign "
    "reverses it: no setting reproduces it, and the lab keeps the algorithm (torch's). "
    "tests/equivalences/test_equivalence_differences.py rebuilds optax's trajectory from the "
    "lab's updates so; the relative error stays below 0.3 (measured 0.19 defaults, 0.08 "
    "non-default)."
)

ROWS = (
    Equivalence(
        "rprop",
        "optax",
        {},
        "optax.rprop",
        {"learning_rate": 0.1},
        agrees=False,
        differs_below=0.3,
        note=_OPTAX,
    ),
    Equivalence(
        "rprop",
        "optax",
        {
            "learning_rate": 0.01,
            "eta_minus": 0.3,
            "eta_plus": 1.5,
            "min_step_size": 1e-5,
            "max_step_size": 1.0,
        },
        "optax.rprop",
        {
            "learning_rate": 0.01,
            "eta_minus": 0.3,
            "eta_plus": 1.5,
            "min_step_size": 1e-5,
            "max_step_size": 1.0,
        },
        agrees=False,
        differs_below=0.15,
        label="non-default",
        note=_OPTAX,
    ),
    Equivalence("rprop", "torch", {"learning_rate": 0.01}, "torch.optim.Rprop", {"lr": 0.01}),
    Equivalence(
        "rprop",
        "torch",
        {
            "learning_rate": 0.05,
            "eta_minus": 0.3,
            "eta_plus": 1.5,
            "min_step_size": 1e-5,
            "max_step_size": 1.0,
            "maximize": True,
        },
        "torch.optim.Rprop",
        {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-5, 1.0), "maximize": True},
        label="non-default",
    ),
    Equivalence(
        "rprop",
        "torch",
        {"learning_rate": 0.01, "complex_convention": "torch"},
        "torch.optim.Rprop",
        {"lr": 0.01},
        complex_params=True,
        label="complex",
        note="torch's convention: each complex number as two reals, each step size starting "
        "at lr (torch: full_like(p, complex(lr, lr))).",
    ),
)
