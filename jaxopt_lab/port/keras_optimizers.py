"""A Keras 3 optimizer (its ``get_config()``) -> a recipe of lab optimizers and optax pieces.

Keras's step, on every backend: clip the gradients (``clipnorm`` per
variable, ``global_clipnorm`` or ``clipvalue``), decay the variables
(``p -= p * weight_decay * lr``, decoupled, for every optimizer), then the
optimizer's ``update_step``. The recipe is ``clip -> the lab optimizer ->
keras_weight_decay``: the decay comes last in the chain because it acts on the
params, not on the gradient, and :func:`keras_weight_decay` returns the update
that lands on Keras's ``(p - p*wd*lr) + step``.

The lab optimizers that are Keras's forms: ``sgd``, ``momentum``/``nesterov``
(``v = mu*v - lr*g``), ``adagrad(eps_in_sqrt=True)``, ``rmsprop(eps_in_sqrt=True)``
(centered and momentum included), ``adam`` (``eps_hat=True``, the folded form),
``amsgrad(eps_hat=True)``, ``adamax(eps_in_max=False)``, ``nadam(momentum_decay=1)``
(Keras's ``0.96 ** t``), ``adadelta``.
A float learning rate is Keras's float32 variable's value, as ``get_config()``
reports it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.port import keras_schedules
from jaxopt_lab.port.errors import PortError
from jaxopt_lab.port.recipe import Name, Recipe, call

_BASE = frozenset({
    "name", "learning_rate", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue",
    "use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
    "gradient_accumulation_steps",
})


def keras_weight_decay(weight_decay: float, learning_rate: Any) -> optax.GradientTransformation:
    """Keras's decoupled weight decay, ``p -= p * weight_decay * lr`` before the step.

    Chain it *after* the optimizer: given the optimizer's update ``u`` it
    returns ``((p - p * wd * lr) + u) - p``, which ``apply_updates`` turns into
    Keras's ``(p - p*wd*lr) + u`` exactly whenever the step is small against
    ``p`` (Sterbenz). ``learning_rate`` is a number or a schedule of the count.
    """
    weight_decay = float(weight_decay)
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")

    def init(params):
        del params
        return optax.ScaleByScheduleState(count=jnp.zeros([], jnp.int32))

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("keras_weight_decay needs params: pass them to update()")
        lr = learning_rate(state.count) if callable(learning_rate) else learning_rate

        def decayed(u, p):
            lr_cast = jnp.asarray(lr).astype(p.dtype)
            wd_cast = jnp.asarray(weight_decay, p.dtype)
            return ((p - p * wd_cast * lr_cast) + u) - p

        new_updates = jax.tree.map(decayed, updates, params)
        return new_updates, optax.ScaleByScheduleState(count=optax.safe_increment(state.count))

    return optax.GradientTransformation(init, update)


def _sgd(options, lr):
    if options["momentum"] == 0:
        return call("jaxopt_lab.sgd", lr)
    name = "jaxopt_lab.nesterov" if options["nesterov"] else "jaxopt_lab.momentum"
    return call(name, lr, momentum=options["momentum"])


def _adam(options, lr):
    settings = {"b1": options["beta_1"], "b2": options["beta_2"], "eps": options["epsilon"]}
    if options["amsgrad"]:  # Keras: the maximum of the raw v, in the folded eps form
        return call("jaxopt_lab.amsgrad", lr, **settings, eps_hat=True)
    return call("jaxopt_lab.adam", lr, **settings)


def _adamax(options, lr):
    return call("jaxopt_lab.adamax", lr, b1=options["beta_1"], b2=options["beta_2"],
                eps=options["epsilon"], eps_in_max=False)


def _nadam(options, lr):
    # Keras's momentum schedule is 0.96 ** t: torch's with momentum_decay = 1.
    return call("jaxopt_lab.nadam", lr, b1=options["beta_1"], b2=options["beta_2"],
                eps=options["epsilon"], momentum_decay=1.0)


def _adadelta(options, lr):
    return call("jaxopt_lab.adadelta", lr, rho=options["rho"], eps=options["epsilon"])


def _adagrad(options, lr):
    return call(
        "jaxopt_lab.adagrad",
        lr,
        eps=options["epsilon"],
        initial_accumulator_value=float(options["initial_accumulator_value"]),
        eps_in_sqrt=True,
    )


def _rmsprop(options, lr):
    settings = {"decay": options["rho"], "eps": options["epsilon"], "eps_in_sqrt": True}
    if options["centered"]:
        settings["centered"] = True
    if options["momentum"] > 0:
        settings["momentum"] = options["momentum"]
    return call("jaxopt_lab.rmsprop", lr, **settings)


_OPTIMIZERS = {
    "SGD": (_sgd, frozenset({"momentum", "nesterov"})),
    "Adam": (_adam, frozenset({"beta_1", "beta_2", "epsilon", "amsgrad"})),
    "AdamW": (_adam, frozenset({"beta_1", "beta_2", "epsilon", "amsgrad"})),
    "Adagrad": (_adagrad, frozenset({"initial_accumulator_value", "epsilon"})),
    "RMSprop": (_rmsprop, frozenset({"rho", "momentum", "epsilon", "centered"})),
    "Adamax": (_adamax, frozenset({"beta_1", "beta_2", "epsilon"})),
    "Nadam": (_nadam, frozenset({"beta_1", "beta_2", "epsilon"})),
    "Adadelta": (_adadelta, frozenset({"rho", "epsilon"})),
}


def covered_optimizers() -> tuple[str, ...]:
    """The ``keras.optimizers`` classes :func:`from_keras` reproduces."""
    return tuple(_OPTIMIZERS)


def _learning_rate(value: Any) -> tuple[Any, tuple]:
    """The learning rate expression and the assignments it needs."""
    if isinstance(value, float):
        return value, ()
    if isinstance(value, dict) and value.get("module") == "keras.optimizers.schedules" and (
        value.get("registered_name") is None
    ):
        class_name = value["class_name"]
        keras_schedules.from_config(class_name, value["config"])  # checks what it covers
        kwargs = {key: item for key, item in value["config"].items() if key != "name"}
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
        schedule = call(f"port.keras_schedules.{class_name}", **kwargs)
        return Name("schedule"), (("schedule", schedule),)
    raise PortError(
        f"Keras learning_rate {value!r} is not covered: give a float or one of the schedules "
        f"{', '.join(keras_schedules.SCHEDULES)}"
    )


def keras_recipe(optimizer: Any) -> Recipe:
    """The recipe of :func:`from_keras` (see there); ``Recipe.code()`` prints it."""
    cls = type(optimizer)
    if not cls.__module__.startswith("keras"):
        raise TypeError(f"optimizer must be a Keras optimizer, got {cls.__module__}.{cls.__name__}")
    name = cls.__name__
    if name not in _OPTIMIZERS:
        raise PortError(
            f"keras.optimizers.{name} is not covered by the port; covered: {', '.join(_OPTIMIZERS)}"
        )
    import keras

    if cls is not getattr(keras.optimizers, name):
        raise PortError(
            f"{cls.__module__}.{name} subclasses keras.optimizers.{name}; its step may differ"
        )
    build, known = _OPTIMIZERS[name]
    config = optimizer.get_config()
    for key in config:
        if key not in _BASE and key not in known:
            raise PortError(f"Keras {name} option {key!r} is not covered by the port")
    if config["use_ema"]:
        raise PortError(
            f"Keras {name}(use_ema=True) is not covered: the moving average of the weights "
            "(and its overwrite of them every ema_overwrite_frequency steps) is not an optax "
            "update of the gradient; keep an EMA of the params beside the optax loop"
        )
    if config["gradient_accumulation_steps"]:
        raise PortError(
            f"Keras {name}(gradient_accumulation_steps=...) is not covered (see optax.MultiSteps, "
            "whose step count and averaging differ from Keras's)"
        )
    if config["loss_scale_factor"] is not None:
        raise PortError(
            f"Keras {name}(loss_scale_factor=...) is not covered: it divides gradients of a loss "
            "you scaled; scale and unscale in your own loss instead"
        )
    if getattr(optimizer, "_exclude_from_weight_decay", None) or getattr(
        optimizer, "_exclude_from_weight_decay_pattern", None
    ):
        raise PortError(
            f"Keras {name}.exclude_from_weight_decay(...) is not covered: use port.param_groups "
            "with a weight_decay of 0 for the excluded leaves"
        )
    lr, assignments = _learning_rate(config["learning_rate"])
    clip = None
    if config["clipnorm"] and config["clipnorm"] > 0:
        clip = call("port.keras_clipnorm", float(config["clipnorm"]))
    elif config["global_clipnorm"] and config["global_clipnorm"] > 0:
        clip = call("port.keras_global_clipnorm", float(config["global_clipnorm"]))
    elif config["clipvalue"] and config["clipvalue"] > 0:
        clip = call("port.keras_clipvalue", float(config["clipvalue"]))
    decay = None
    if config["weight_decay"]:
        decay = call("port.keras_weight_decay", float(config["weight_decay"]), lr)
    parts = tuple(part for part in (clip, build(config, lr), decay) if part is not None)
    result = parts[0] if len(parts) == 1 else call("optax.chain", *parts)
    return Recipe(assignments, result)


def from_keras(optimizer: Any) -> optax.GradientTransformation:
    """A Keras 3 optimizer, as Keras would run it, as one optax transformation.

    Read from its ``get_config()``: the optimizer (SGD, Adam, AdamW, Adagrad,
    RMSprop, Adamax, Nadam, Adadelta; AMSGrad) and its settings, a float
    learning rate (Keras's float32 value) or one of the schedules of
    :mod:`~jaxopt_lab.port.keras_schedules`,
    ``clipnorm`` / ``global_clipnorm`` / ``clipvalue`` and ``weight_decay``.

    Raises:
      PortError: an optimizer, option or schedule the port cannot reproduce
        exactly (``use_ema``, gradient accumulation, loss scaling, ...), named.
    """
    return keras_recipe(optimizer).build()
