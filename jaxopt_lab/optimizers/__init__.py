"""First-order optimizers as pure ``(init, update)`` pairs over pytrees.

Each function below takes its hyperparameters and returns an
``optax.GradientTransformation``::

    optimizer = adam(learning_rate=0.001)
    state = optimizer.init(params)
    updates, state = optimizer.update(grads, state, params)
    params = apply_updates(params, updates)

(an ``optax.GradientTransformationExtraArgs``), so a lab optimizer drops into
``optax.chain`` and any optax training loop. The algorithm of each optimizer
is a *leaf rule*: a few lines that update one array of parameters, written
beside its formula. The pytree plumbing (``None`` leaves, dtype checks,
structure checks, the step count, schedules, sharding-preserving state) and
the conventions every optimizer takes as keyword-only knobs (``maximize``,
coupled or decoupled ``weight_decay``, ``complex_convention``) live once, in
:func:`~jaxopt_lab.optimizers.plumbing.elementwise_optimizer`; the
``plumbing`` module docstring describes them.

One module per family: ``sgd`` (SGD, momentum, Nesterov), ``adaptive``
(AdaGrad, RMSprop, Adadelta), ``adam`` (Adam, AdamW, AMSGrad, Adamax),
``nadam`` (NAdam, NAdamW), ``radam``, ``rprop``, ``adafactor``, ``lion``,
``lamb``, ``muon``, ``schedule_free`` (schedule-free AdamW); ``plumbing``
holds what they share, and ``validation`` what they check (hyperparameters
when built, trees and shapes when run; ``@hyperparameters`` declares what a
sweep may vary).

The defaults and formulas are those of the NumPy tutorial this lab starts from
(``jaxopt_lab.reference``): eps = 1e-7 outside the square root, RMSprop decay
0.99, Adam in the folded "epsilon-hat" form. Keyword-only knobs reproduce the
variants of optax, ``torch.optim`` and Keras; the docs' equivalence table
says which settings make which libraries agree.

Hyperparameters are closed over, not frozen: they may be Python numbers, JAX
arrays or tracers, so ``jax.vmap(lambda lr: run(adam(lr)))(learning_rates)``
sweeps a learning rate in one compiled program, and a jitted function that
takes the learning rate as an argument does not recompile when it changes.
Concrete values are validated when the optimizer is built.
"""

from __future__ import annotations

from collections.abc import Callable

import optax

from jaxopt_lab.optimizers.adafactor import AdafactorState, adafactor
from jaxopt_lab.optimizers.adam import (
    AdamaxState,
    AdamState,
    AmsgradState,
    adam,
    adamax,
    adamw,
    amsgrad,
)
from jaxopt_lab.optimizers.adaptive import (
    AdadeltaState,
    AdagradState,
    RmspropState,
    adadelta,
    adagrad,
    rmsprop,
)
from jaxopt_lab.optimizers.lamb import LambState, lamb
from jaxopt_lab.optimizers.lion import LionState, lion
from jaxopt_lab.optimizers.muon import MuonState, muon, orthogonalize
from jaxopt_lab.optimizers.nadam import NadamState, nadam, nadamw
from jaxopt_lab.optimizers.plumbing import (
    COMPLEX_CONVENTIONS,
    ScalarOrSchedule,
    Schedule,
    apply_updates,
    elementwise_optimizer,
    squared_magnitude,
)
from jaxopt_lab.optimizers.radam import radam
from jaxopt_lab.optimizers.rprop import RpropState, rprop
from jaxopt_lab.optimizers.schedule_free import (
    ScheduleFreeState,
    schedule_free_adamw,
    schedule_free_eval_params,
)
from jaxopt_lab.optimizers.sgd import MomentumState, SgdState, momentum, nesterov, sgd
from jaxopt_lab.optimizers.validation import (
    check_eps,
    check_hyperparameter,
    hyperparameters,
)

OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adadelta": adadelta,
    "adam": adam,
    "adamw": adamw,
    "amsgrad": amsgrad,
    "adamax": adamax,
    "nadam": nadam,
    "nadamw": nadamw,
    "radam": radam,
    "rprop": rprop,
    "adafactor": adafactor,
    "lion": lion,
    "lamb": lamb,
    "muon": muon,
    "schedule_free_adamw": schedule_free_adamw,
}
"""Every lab optimizer by name, for the CLI and sweeps."""

__all__ = [
    "COMPLEX_CONVENTIONS",
    "OPTIMIZERS",
    "AdadeltaState",
    "AdafactorState",
    "AdagradState",
    "AdamState",
    "AdamaxState",
    "AmsgradState",
    "LambState",
    "LionState",
    "MomentumState",
    "MuonState",
    "NadamState",
    "RmspropState",
    "RpropState",
    "ScalarOrSchedule",
    "Schedule",
    "ScheduleFreeState",
    "SgdState",
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "amsgrad",
    "apply_updates",
    "check_eps",
    "check_hyperparameter",
    "elementwise_optimizer",
    "hyperparameters",
    "lamb",
    "lion",
    "momentum",
    "muon",
    "nadam",
    "nadamw",
    "nesterov",
    "orthogonalize",
    "radam",
    "rmsprop",
    "rprop",
    "schedule_free_adamw",
    "schedule_free_eval_params",
    "sgd",
    "squared_magnitude",
]
