"""Each ``torch.optim`` step as lab optimizers and optax pieces, one param group at a time.

:data:`OPTIMIZERS` maps a torch class to the builder of one group's recipe
call (from the group's hyperparameters, its learning rate or schedule, and a
cycled momentum or beta1) and the hyperparameters it reads;
:mod:`jaxopt_lab.port.torch_optimizers` reads a live optimizer and calls them.
Which lab/optax setting reproduces which torch form, and why:

- ``SGD``: ``jaxopt_lab.sgd``; with momentum, ``optax.sgd`` (torch's form,
  ``b = mu*b + g; p -= lr*b``, which the lab's velocity form equals only for a
  constant learning rate), after :func:`torch_dampening` for ``dampening``.
- ``Adam`` / ``AdamW``: ``jaxopt_lab.adam`` with ``eps_hat=False``; torch's
  coupled ``weight_decay`` is ``optax.add_decayed_weights`` before it, the
  decoupled one (``AdamW``) :func:`torch_decoupled_weight_decay` after it, in
  torch's order (``jaxopt_lab.adamw`` folds the decay into the update instead,
  and drifts from torch by about 0.03 ulp a step).
- ``Adagrad``: ``jaxopt_lab.adagrad`` (eps outside the square root, the
  accumulator from ``initial_accumulator_value``, ``lr_decay``).
- ``RMSprop``: ``jaxopt_lab.rmsprop``; with momentum, torch's form
  ``buf = mu*buf + g/avg; p -= lr*buf`` as ``rmsprop(1.0) -> optax.trace ->
  scale by lr`` (the lab's own momentum accumulates ``lr*g/avg``, Keras's form).
- ``Adam(amsgrad=True)``: ``jaxopt_lab.amsgrad`` (the maximum of the raw v);
  ``Adamax``, ``Adadelta``: ``jaxopt_lab.adamax`` / ``adadelta``; ``NAdam``:
  ``jaxopt_lab.nadam`` (torch's ``momentum_decay`` schedule); ``RAdam``:
  ``jaxopt_lab.radam(eps_hat=True)``; ``Rprop``: ``jaxopt_lab.rprop`` (the
  learning rate is only the first step size, so a scheduler changes nothing
  after it). Decoupled decay (AdamW, NAdam and RAdam's
  ``decoupled_weight_decay``) is :func:`torch_decoupled_weight_decay` after
  the step, in torch's order.
- ``maximize``, coupled ``weight_decay`` and complex params: the lab's knobs
  (``maximize``, ``weight_decay``, ``complex_convention="torch"``), or
  ``optax.scale(-1.0)`` and ``optax.add_decayed_weights`` before ``optax.sgd``;
  ``OneCycleLR``'s cycled momentum or beta1 goes in through :func:`scheduled`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import optax

from jaxopt_lab.port.errors import PortError
from jaxopt_lab.port.recipe import Call, Name, Ref, call


def chained(*parts: Any) -> Any:
    """``optax.chain`` of the parts that are not None (the part itself when it is alone)."""
    parts = tuple(part for part in parts if part is not None)
    return parts[0] if len(parts) == 1 else call("optax.chain", *parts)


def scheduled(factory: Callable, **arguments: Any) -> optax.GradientTransformation:
    """``factory(**arguments)``, with each callable argument a schedule of the step count.

    ``optax.inject_hyperparams`` with every other argument static, so that
    constants stay Python numbers (injecting them as float32 arrays changes
    the arithmetic, optax#1532): ``scheduled(jaxopt_lab.adam,
    learning_rate=lr_schedule, b1=b1_schedule, b2=0.95)``.
    """
    schedules = {name for name, value in arguments.items() if callable(value)}
    static = [name for name in inspect.signature(factory).parameters if name not in schedules]
    return optax.inject_hyperparams(factory, static_args=static)(**arguments)


def _injected(factory: str, scheduled_arguments: dict[str, Any], **settings: Any) -> Call:
    """``port.scheduled(factory, ...)``: the scheduled arguments injected each step."""
    return call("port.scheduled", Ref(factory), **scheduled_arguments, **settings)


def _prefix(options: dict[str, Any]) -> list:
    """torch's first lines as optax pieces (for optax.sgd, which has no such knobs):
    ``grad = -grad`` (maximize), then ``grad += wd * param``."""
    parts = []
    if options["maximize"]:
        parts.append(call("optax.scale", -1.0))
    if options["weight_decay"] != 0:
        parts.append(call("optax.add_decayed_weights", options["weight_decay"]))
    return parts


def _knobs(options: dict[str, Any], *, coupled_decay: bool = True) -> dict[str, Any]:
    """The lab's torch conventions: ``maximize``, coupled ``weight_decay`` (torch's
    order: negate, then add ``wd * p``), and torch's complex convention."""
    knobs: dict[str, Any] = {}
    if coupled_decay and options.get("weight_decay", 0) != 0:
        knobs["weight_decay"] = options["weight_decay"]
    if options["maximize"]:
        knobs["maximize"] = True
    if options["complex"]:
        knobs["complex_convention"] = "torch"
    return knobs


def _sgd(options, lr, momentum):
    if momentum is None and options["momentum"] == 0:
        return call("jaxopt_lab.sgd", lr, **_knobs(options))
    dampening = None
    if options["dampening"] != 0:
        # torch's first buffer is the gradient itself, undamped; later ones add (1 - d) * g.
        factor = call("port.torch_dampening", options["dampening"])
        dampening = call("optax.scale_by_schedule", factor)
    if momentum is None:
        core = call("optax.sgd", lr, momentum=options["momentum"], nesterov=options["nesterov"])
    else:
        core = _injected(
            "optax.sgd", {"learning_rate": lr, "momentum": momentum}, nesterov=options["nesterov"]
        )
    return chained(*_prefix(options), dampening, core)


def _with_beta1(factory: str, lr: Any, b1: float, beta1: Any, **settings: Any) -> Call:
    """``factory(lr, b1=...)``, or with OneCycleLR's cycled beta1 injected each step."""
    if beta1 is None:
        return call(factory, lr, b1=b1, **settings)
    return _injected(factory, {"learning_rate": lr, "b1": beta1}, **settings)


def _decoupled(options: dict[str, Any]) -> bool:
    return bool(options.get("decoupled_weight_decay")) and options["weight_decay"] != 0


def _torch_decay(options: dict[str, Any], lr: Any) -> Call | None:
    """torch's decoupled decay, ``p *= 1 - lr * wd`` before the step, if the group has it."""
    if not _decoupled(options):
        return None
    return call("port.torch_decoupled_weight_decay", options["weight_decay"], lr)


def _adam(options, lr, beta1):
    b1, b2 = options["betas"]
    knobs = _knobs(options, coupled_decay=not _decoupled(options))
    if options["amsgrad"]:  # torch: the maximum of the raw v, divided by sqrt(1 - b2**t)
        core = _with_beta1("jaxopt_lab.amsgrad", lr, b1, beta1, b2=b2, eps=options["eps"], **knobs)
    else:
        core = _with_beta1(
            "jaxopt_lab.adam", lr, b1, beta1, b2=b2, eps=options["eps"], eps_hat=False, **knobs
        )
    return chained(core, _torch_decay(options, lr))


def _adamax(options, lr, beta1):
    b1, b2 = options["betas"]
    return _with_beta1(
        "jaxopt_lab.adamax", lr, b1, beta1, b2=b2, eps=options["eps"], **_knobs(options)
    )


def _nadam(options, lr, beta1):
    b1, b2 = options["betas"]
    knobs = _knobs(options, coupled_decay=not _decoupled(options))
    core = _with_beta1(
        "jaxopt_lab.nadam",
        lr,
        b1,
        beta1,
        b2=b2,
        eps=options["eps"],
        momentum_decay=options["momentum_decay"],
        **knobs,
    )
    return chained(core, _torch_decay(options, lr))


def _radam(options, lr, beta1):
    b1, b2 = options["betas"]
    knobs = _knobs(options, coupled_decay=not _decoupled(options))
    # torch folds the bias correction into eps's side: sqrt(1 - b2**t) / (sqrt(v) + eps).
    core = _with_beta1(
        "jaxopt_lab.radam", lr, b1, beta1, b2=b2, eps=options["eps"], eps_hat=True, **knobs
    )
    return chained(core, _torch_decay(options, lr))


def _adadelta(options, lr, momentum):
    return call(
        "jaxopt_lab.adadelta", lr, rho=options["rho"], eps=options["eps"], **_knobs(options)
    )


def _adafactor(options, lr, momentum):
    if options["complex"]:
        raise PortError("torch.optim.Adafactor with complex params is not covered by the port")
    eps1, eps2 = options["eps"]
    core = call(
        "jaxopt_lab.adafactor",
        lr,
        -options["beta2_decay"],
        eps1,
        eps2,
        options["d"],
        eps1_as_floor=True,  # torch floors V at eps1**2 instead of adding eps1 to g**2
        **({"maximize": True} if options["maximize"] else {}),
    )
    # torch takes rms(p) first, then p *= 1 - lr * wd, then the step: the decay after.
    decay = None
    if options["weight_decay"] != 0:
        decay = call("port.torch_decoupled_weight_decay", options["weight_decay"], lr)
    return chained(core, decay)


def _rprop(options, lr, momentum):
    # torch reads the learning rate once, as every coordinate's first step size: a
    # scheduler changing it later changes nothing (here: its first value).
    eta_minus, eta_plus = options["etas"]
    min_step, max_step = options["step_sizes"]
    return call(
        "jaxopt_lab.rprop",
        options["initial_lr"],
        eta_minus,
        eta_plus,
        min_step_size=float(min_step),
        max_step_size=float(max_step),
        **_knobs(options),
    )


def _adagrad(options, lr, momentum):
    settings = {
        "eps": options["eps"],
        "initial_accumulator_value": float(options["initial_accumulator_value"]),
    }
    if options["lr_decay"] != 0:
        settings["lr_decay"] = options["lr_decay"]
    return call("jaxopt_lab.adagrad", lr, **settings, **_knobs(options))


def _rmsprop(options, lr, momentum):
    rms = {"decay": options["alpha"], "eps": options["eps"], **_knobs(options)}
    if options["centered"]:
        rms["centered"] = True
    if momentum is None and options["momentum"] == 0:
        return call("jaxopt_lab.rmsprop", lr, **rms)
    # torch's momentum: buf = mu * buf + g / avg; p -= lr * buf.
    if momentum is None:
        trace = call("optax.trace", decay=options["momentum"])
    else:
        trace = _injected("optax.trace", {"decay": momentum})
    scale = call("optax.scale_by_schedule", lr) if isinstance(lr, Name) else call("optax.scale", lr)
    return chained(call("jaxopt_lab.rmsprop", 1.0, **rms), trace, scale)


_ADAM_KEYS = frozenset(
    {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "decoupled_weight_decay"}
)
OPTIMIZERS: dict[str, tuple[Callable, frozenset]] = {
    "SGD": (
        _sgd,
        frozenset({"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"}),
    ),
    "Adam": (_adam, _ADAM_KEYS),
    "AdamW": (_adam, _ADAM_KEYS),
    "Adagrad": (
        _adagrad,
        frozenset(
            {"lr", "lr_decay", "eps", "weight_decay", "initial_accumulator_value", "maximize"}
        ),
    ),
    "RMSprop": (
        _rmsprop,
        frozenset({"lr", "momentum", "alpha", "eps", "centered", "weight_decay", "maximize"}),
    ),
    "Adadelta": (_adadelta, frozenset({"lr", "rho", "eps", "weight_decay", "maximize"})),
    "Adamax": (_adamax, frozenset({"lr", "betas", "eps", "weight_decay", "maximize"})),
    "NAdam": (
        _nadam,
        frozenset(
            {
                "lr",
                "betas",
                "eps",
                "weight_decay",
                "momentum_decay",
                "decoupled_weight_decay",
                "maximize",
            }
        ),
    ),
    "RAdam": (
        _radam,
        frozenset({"lr", "betas", "eps", "weight_decay", "decoupled_weight_decay", "maximize"}),
    ),
    "Rprop": (_rprop, frozenset({"lr", "etas", "step_sizes", "maximize"})),
    "Adafactor": (
        _adafactor,
        frozenset({"lr", "beta2_decay", "eps", "d", "weight_decay", "maximize"}),
    ),
}
"""torch class name -> (the builder of one param group's call, the hyperparameters it reads)."""
NOT_PORTED = {
    "Muon": "torch runs Muon's Newton-Schulz iteration in bfloat16, and a float32 matrix "
    "product summed in another order flips a bfloat16 rounding now and then: the lab's "
    "muon(eps_as_floor=True, ns_dtype=bfloat16, layout='out_in', non_matrix='raise') comes "
    "within 2e-5 relative after 1000 steps, not to the last ulp (see the equivalence table)",
    "LBFGS": "L-BFGS is not a first-order elementwise optimizer",
    "SparseAdam": "sparse gradients are not covered",
    "ASGD": "ASGD is not in the lab",
}
"""torch optimizers the port refuses, and why."""


def covered_optimizers() -> tuple[str, ...]:
    """The ``torch.optim`` classes :func:`from_torch` reproduces."""
    return tuple(OPTIMIZERS)
