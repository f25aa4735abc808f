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
(centered and momentum included), ``adam`` (``eps_hat=True``, the folded form,
with ``bias_correction="float32"``, Keras's rounding: bit for bit),
``amsgrad(eps_hat=True)``, ``adamax(eps_in_max=False)``, ``nadam(momentum_decay=1)``
(Keras's ``0.96 ** t``), ``adadelta``.
A float learning rate is Keras's float32 variable's value, as ``get_config()``
reports it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab.port import keras_schedules
from jaxopt_lab.port.errors import PortError
from jaxopt_lab.port.recipe import Name, Recipe, Ref, call

_BASE = frozenset(
    {
        "name",
        "learning_rate",
        "weight_decay",
        "clipnorm",
        "global_clipnorm",
        "clipvalue",
        "use_ema",
        "ema_momentum",
        "ema_overwrite_frequency",
        "loss_scale_factor",
        "gradient_accumulation_steps",
    }
)


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
        return call("jaxopt_lab.amsgrad", lr, **settings, eps_hat=True, bias_correction="float32")
    # Keras's 1 - b**t in float32 and its grouping of the step: bit for bit.
    return call("jaxopt_lab.adam", lr, **settings, bias_correction="float32")


def _adamax(options, lr):
    return call(
        "jaxopt_lab.adamax",
        lr,
        b1=options["beta_1"],
        b2=options["beta_2"],
        eps=options["epsilon"],
        eps_in_max=False,
    )


def _nadam(options, lr):
    # Keras's momentum schedule is 0.96 ** t: torch's with momentum_decay = 1.
    return call(
        "jaxopt_lab.nadam",
        lr,
        b1=options["beta_1"],
        b2=options["beta_2"],
        eps=options["epsilon"],
        momentum_decay=1.0,
    )


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


def _lion(options, lr):
    return call("jaxopt_lab.lion", lr, b1=options["beta_1"], b2=options["beta_2"])


def _lamb(options, lr):
    # Keras decays p first; its trust ratio sees Adam's direction and the decayed p.
    return call(
        "jaxopt_lab.lamb",
        lr,
        b1=options["beta_1"],
        b2=options["beta_2"],
        eps=options["epsilon"],
        weight_decay=float(options["weight_decay"] or 0.0),
        decay_in_trust_ratio=False,
    )


def _adafactor(options, lr):
    # Keras applies the relative step min(lr, 1/sqrt(t)) whatever relative_step says, and
    # decays p as a step of its own first, so that rms(p) sees the decayed weights.
    return call(
        "jaxopt_lab.adafactor",
        lr,
        -options["beta_2_decay"],
        options["epsilon_1"],
        options["epsilon_2"],
        options["clip_threshold"],
        float(options["weight_decay"] or 0.0),
        decay_form="lr_scaled_first",
    )


def _schedule_free(options, lr):
    # Keras averages with c = 1/t (weight_lr_power 0) and decays p itself, first.
    return call(
        "jaxopt_lab.schedule_free_adamw",
        lr,
        options["beta_1"],
        options["beta_2"],
        options["epsilon"],
        float(options["weight_decay"] or 0.0),
        warmup_steps=int(options["warmup_steps"]),
        weight_lr_power=0.0,
        eps_hat=False,
        decay_point="params",
    )


def _muon(options, lr):
    if options["exclude_layers"]:
        raise PortError(
            f"Keras Muon(exclude_layers={options['exclude_layers']!r}) is not covered: the port "
            "cannot see Keras's variable paths; route those leaves with port.param_groups"
        )
    ratio = options["adam_lr_ratio"]
    adam_lr: Any = lr
    if ratio != 1:
        if not isinstance(lr, float):
            raise PortError("Keras Muon adam_lr_ratio with a learning-rate schedule is not covered")
        adam_lr = float(np.float32(lr) * np.float32(ratio))  # Keras: float32 lr * ratio
    rms_rate = options["rms_rate"]
    settings = {
        "nesterov": options["nesterov"],
        "momentum_form": "sum",  # Keras: b = mu * b + g
        "ns_coefficients": (options["muon_a"], options["muon_b"], options["muon_c"]),
        "ns_steps": int(options["ns_steps"]),
        "shape_scaling": "none" if rms_rate is None else "rms",
        **({} if rms_rate is None else {"rms_rate": rms_rate}),
        **({} if ratio == 1 else {"adam_learning_rate": adam_lr}),
        "adam_b1": options["adam_beta_1"],
        "adam_b2": options["adam_beta_2"],
        "adam_eps": options["epsilon"],
        "adam_eps_hat": True,  # Keras's Adam form for the leaves Muon does not take
    }
    # Keras's Newton-Schulz normalises by ||x|| + 1e-7, whatever epsilon says.
    core = call("jaxopt_lab.muon", lr, options["momentum"], 0.0, 1e-7, **settings)
    if options["exclude_embeddings"]:
        embeddings = call(
            "jaxopt_lab.adam",
            adam_lr,
            b1=options["adam_beta_1"],
            b2=options["adam_beta_2"],
            eps=options["epsilon"],
        )
        core = call("port.param_groups", [core, embeddings], Ref("port.keras_embedding_group"))
    decay = call(
        "port.keras_muon_weight_decay",
        options["weight_decay"],
        options["adam_weight_decay"],
        lr,
        exclude_embeddings=options["exclude_embeddings"],
    )
    return call("optax.chain", core, decay)


_OPTIMIZERS = {
    "SGD": (_sgd, frozenset({"momentum", "nesterov"})),
    "Adam": (_adam, frozenset({"beta_1", "beta_2", "epsilon", "amsgrad"})),
    "AdamW": (_adam, frozenset({"beta_1", "beta_2", "epsilon", "amsgrad"})),
    "Adagrad": (_adagrad, frozenset({"initial_accumulator_value", "epsilon"})),
    "RMSprop": (_rmsprop, frozenset({"rho", "momentum", "epsilon", "centered"})),
    "Adamax": (_adamax, frozenset({"beta_1", "beta_2", "epsilon"})),
    "Nadam": (_nadam, frozenset({"beta_1", "beta_2", "epsilon"})),
    "Adadelta": (_adadelta, frozenset({"rho", "epsilon"})),
    "Lion": (_lion, frozenset({"beta_1", "beta_2"})),
    "Lamb": (_lamb, frozenset({"beta_1", "beta_2", "epsilon"})),
    "Adafactor": (
        _adafactor,
        frozenset({"beta_2_decay", "epsilon_1", "epsilon_2", "clip_threshold", "relative_step"}),
    ),
    "ScheduleFreeAdamW": (
        _schedule_free,
        frozenset({"beta_1", "beta_2", "epsilon", "warmup_steps"}),
    ),
    "Muon": (
        _muon,
        frozenset(
            {
                "adam_beta_1",
                "adam_beta_2",
                "epsilon",
                "exclude_layers",
                "muon_a",
                "muon_b",
                "muon_c",
                "adam_lr_ratio",
                "momentum",
                "ns_steps",
                "nesterov",
                "exclude_embeddings",
                "adam_weight_decay",
                "rms_rate",
            }
        ),
    ),
}
_OWN_DECAY = frozenset({"Lamb", "Adafactor", "ScheduleFreeAdamW", "Muon"})
"""Optimizers whose Keras weight decay the lab optimizer applies itself (it changes what
the step sees: Lamb's trust ratio, Adafactor's rms(p), the schedule-free average, Muon's
two rates). Their scheduled learning rate is cast to the variables' dtype first, as Keras
casts it before ``p * wd * lr`` (:class:`~jaxopt_lab.port.keras_schedules.InVariableDtype`)."""


def keras_embedding_group(path: Any) -> int:
    """Keras Muon's routing: 1 (AdamW) for a leaf whose key path contains "embedding", else 0.

    Keras sends a variable whose path contains "embedding" to AdamW when
    ``exclude_embeddings=True``; the port applies the rule to the JAX key path.
    """
    return int("embedding" in jax.tree_util.keystr(tuple(path)).lower())


def keras_muon_weight_decay(
    weight_decay: float | None,
    adam_weight_decay: float | None,
    learning_rate: Any,
    *,
    exclude_embeddings: bool = True,
) -> optax.GradientTransformation:
    """Keras Muon's decay: ``p -= p * wd * lr`` first, with ``adam_weight_decay`` for the
    leaves Muon leaves to AdamW (not 2-D, or an embedding). Chain it after the step."""
    rates = (
        None if weight_decay is None else float(weight_decay),
        None if adam_weight_decay is None else float(adam_weight_decay),
    )

    def init(params):
        del params
        return optax.ScaleByScheduleState(count=jnp.zeros([], jnp.int32))

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("keras_muon_weight_decay needs params: pass them to update()")
        lr = learning_rate(state.count) if callable(learning_rate) else learning_rate

        def decayed(path, u, p):
            adamw = jnp.ndim(p) != 2 or (exclude_embeddings and keras_embedding_group(path))
            rate = rates[1] if adamw else rates[0]
            if rate is None or rate == 0:
                return u
            lr_cast = jnp.asarray(lr).astype(p.dtype)
            return ((p - p * jnp.asarray(rate, p.dtype) * lr_cast) + u) - p

        new_updates = jax.tree_util.tree_map_with_path(decayed, updates, params)
        return new_updates, optax.ScaleByScheduleState(count=optax.safe_increment(state.count))

    return optax.GradientTransformation(init, update)


def covered_optimizers() -> tuple[str, ...]:
    """The ``keras.optimizers`` classes :func:`from_keras` reproduces."""
    return tuple(_OPTIMIZERS)


def _learning_rate(value: Any, *, in_variable_dtype: bool = False) -> tuple[Any, tuple]:
    """The learning rate expression and the assignments it needs."""
    if isinstance(value, float):
        return value, ()
    if (
        isinstance(value, dict)
        and value.get("module") == "keras.optimizers.schedules"
        and (value.get("registered_name") is None)
    ):
        class_name = value["class_name"]
        keras_schedules.from_config(class_name, value["config"])  # checks what it covers
        kwargs = {key: item for key, item in value["config"].items() if key != "name"}
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
        schedule = call(f"port.keras_schedules.{class_name}", **kwargs)
        if in_variable_dtype:
            schedule = call("port.keras_schedules.InVariableDtype", schedule)
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
    lr, assignments = _learning_rate(config["learning_rate"], in_variable_dtype=name in _OWN_DECAY)
    clip = None
    if config["clipnorm"] and config["clipnorm"] > 0:
        clip = call("port.keras_clipnorm", float(config["clipnorm"]))
    elif config["global_clipnorm"] and config["global_clipnorm"] > 0:
        clip = call("port.keras_global_clipnorm", float(config["global_clipnorm"]))
    elif config["clipvalue"] and config["clipvalue"] > 0:
        clip = call("port.keras_clipvalue", float(config["clipvalue"]))
    decay = None
    if config["weight_decay"] and name not in _OWN_DECAY:
        decay = call("port.keras_weight_decay", float(config["weight_decay"]), lr)
    parts = tuple(part for part in (clip, build(config, lr), decay) if part is not None)
    result = parts[0] if len(parts) == 1 else call("optax.chain", *parts)
    return Recipe(assignments, result)


def from_keras(optimizer: Any) -> optax.GradientTransformation:
    """A Keras 3 optimizer, as Keras would run it, as one optax transformation.

    Read from its ``get_config()``: the optimizer (SGD, Adam, AdamW, Adagrad,
    RMSprop, Adamax, Nadam, Adadelta, Lion, Lamb, Adafactor, ScheduleFreeAdamW,
    Muon; AMSGrad) and its settings, a float
    learning rate (Keras's float32 value) or one of the schedules of
    :mod:`~jaxopt_lab.port.keras_schedules`,
    ``clipnorm`` / ``global_clipnorm`` / ``clipvalue`` and ``weight_decay``.

    Raises:
      PortError: an optimizer, option or schedule the port cannot reproduce
        exactly (``use_ema``, gradient accumulation, loss scaling, ...), named.
    """
    return keras_recipe(optimizer).build()
