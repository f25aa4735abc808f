"""Port a torch.optim or Keras optimizer, with its schedule, clipping and groups, to optax::

    from jaxopt_lab import port
    optimizer = port.from_torch(torch_optimizer, scheduler, clip_grad_norm=1.0,
                                group_of=group_of, steps=1000)
    optimizer = port.from_keras(keras_optimizer)

Each returns an ``optax.GradientTransformation`` built from lab optimizers and
optax pieces that reproduces the library's arithmetic (its recursive
schedules, its clipping, its weight decay), or raises :class:`PortError`
naming what it cannot reproduce exactly. ``torch_recipe`` / ``keras_recipe``
return the same thing as a :class:`~jaxopt_lab.port.recipe.Recipe`, whose
``code()`` is the Python to paste. torch and Keras are imported only by the
functions that read their objects.

Modules: ``torch_optimizers`` (a live torch.optim optimizer read into a recipe),
``torch_steps`` (each torch step as lab/optax calls, one param group at a time),
``torch_schedules`` (torch's schedulers tabulated as optax schedules; their specs in
``torch_schedule_specs``, their arithmetic re-run in ``torch_arithmetic``,
``torch_scheduler_machine`` and ``torch_one_cycle``), ``closed_forms`` (their closed
forms past a table, and how far those are from torch's recursion), ``keras_optimizers``
and ``keras_schedules`` (Keras 3), ``clipping`` (both libraries' gradient clipping),
``groups`` (param groups on ``optax.partition``), ``recipe`` (the code and the object
from one description), ``call_text`` (a pasted call, read with ``ast`` and bounded),
``script`` and ``script_names`` (``--from-file``: a training script's optimizer,
scheduler and clipping), ``emit_optax`` (``--emit optax``: plain optax where the
equivalence table makes it exact), ``state`` (a half-trained optimizer's state, moved
both ways: :func:`state_from_torch`, :func:`state_to_torch`; ``keras_state``:
:func:`state_from_keras`, :func:`state_to_keras`), ``library_side`` (the live library
objects built from call texts) and ``command`` (``jaxopt-lab port``: both sides run and
compared).
"""

from jaxopt_lab.port import clipping, keras_schedules, recipe, torch_schedules
from jaxopt_lab.port.clipping import (
    clip_grad_norm,
    clip_grad_value,
    keras_clipnorm,
    keras_clipvalue,
    keras_global_clipnorm,
)
from jaxopt_lab.port.errors import PortError
from jaxopt_lab.port.groups import param_groups
from jaxopt_lab.port.keras_optimizers import (
    from_keras,
    keras_embedding_group,
    keras_muon_weight_decay,
    keras_recipe,
    keras_weight_decay,
)
from jaxopt_lab.port.keras_state import state_from_keras, state_to_keras
from jaxopt_lab.port.recipe import Recipe
from jaxopt_lab.port.state import state_from_torch, state_to_torch
from jaxopt_lab.port.torch_optimizers import from_torch, torch_recipe
from jaxopt_lab.port.torch_schedules import TabulatedSchedule, torch_schedule
from jaxopt_lab.port.torch_steps import scheduled
from jaxopt_lab.port.torch_transforms import torch_dampening, torch_decoupled_weight_decay

__all__ = [
    "PortError",
    "Recipe",
    "TabulatedSchedule",
    "clip_grad_norm",
    "clip_grad_value",
    "clipping",
    "from_keras",
    "from_torch",
    "keras_clipnorm",
    "keras_clipvalue",
    "keras_embedding_group",
    "keras_muon_weight_decay",
    "keras_global_clipnorm",
    "keras_recipe",
    "keras_schedules",
    "keras_weight_decay",
    "param_groups",
    "recipe",
    "scheduled",
    "state_from_keras",
    "state_from_torch",
    "state_to_keras",
    "state_to_torch",
    "torch_dampening",
    "torch_decoupled_weight_decay",
    "torch_recipe",
    "torch_schedule",
    "torch_schedules",
]
