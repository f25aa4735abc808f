"""Run two optimizers side by side and measure, to the ulp, how far they part.

``compare(a, b, params, gradients)`` starts both sides from the same params,
feeds both the same fixed gradient sequence, and records after every step the
largest absolute error, relative error and ulp distance between their params,
and the first step at which either side went non-finite. A side may be:

- a lab or optax optimizer (an ``optax.GradientTransformation``);
- a ``torch.optim`` class, or ``functools.partial`` of one with its settings
  (``partial(torch.optim.Adam, lr=1e-3)``), or a :class:`TorchSide`;
- a Keras 3 optimizer instance (run on Keras's JAX backend);
- one of the seed's reference objects (``reference.Adam()``), or anything with
  the seed's ``update(params_dict, grads_dict)`` method.

Because the gradients are fixed rather than computed from the params, errors do
not feed back through a model: what is measured is the optimizers' arithmetic.

``EQUIVALENCES`` is the README's equivalence table as data: for each lab
optimizer and each of the seed, optax, torch.optim and Keras, the settings that
make the two agree (or a note on why they cannot), and the tolerance the
``jaxopt-lab check`` command and the tests hold them to.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab import optimizers, reference

# --------------------------------------------------------------------------- error measures


def _ordered_bits(values: np.ndarray) -> np.ndarray:
    """Map floats to integers whose order and differences count representable values."""
    bits = values.view(np.dtype(f"int{8 * values.dtype.itemsize}")).astype(np.int64)
    magnitude = bits & np.int64(2 ** (8 * values.dtype.itemsize - 1) - 1)
    return np.where(bits < 0, -magnitude, magnitude)


def ulp_distance(a: Any, b: Any) -> np.ndarray:
    """How many representable values of their dtype lie between ``a`` and ``b``.

    0 for equal values (and for +0 and -0); 1 for neighbours. ``a`` and ``b``
    must share one floating dtype (float16, bfloat16, float32 or float64).
    Returned as float64 so that distances across zero cannot overflow.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype:
        raise TypeError(f"ulp_distance needs one dtype, got {a.dtype} and {b.dtype}")
    ordered_a, ordered_b = _ordered_bits(a), _ordered_bits(b)
    same_sign = (ordered_a >= 0) == (ordered_b >= 0)
    with np.errstate(over="ignore"):
        within = np.abs(ordered_a - ordered_b).astype(np.float64)
    across = np.abs(ordered_a.astype(np.float64)) + np.abs(ordered_b.astype(np.float64))
    return np.where(same_sign, within, across)


def normwise_relative_error(a: Any, b: Any) -> float:
    """``max|a - b| / max(|a|, |b|)`` over a whole array, in float64; 0 if both are 0.

    The normwise error of numerical analysis: unlike an elementwise relative
    error (or :func:`ulp_distance`), it does not blow up where a value
    crosses zero while its neighbours are of order one.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(_max(np.abs(a)), _max(np.abs(b)))
    return _max(np.abs(a - b)) / scale if scale > 0 else 0.0


# --------------------------------------------------------------------------- sides


class OptaxSide:
    """A lab or optax optimizer, stepped with a jitted ``update`` + ``apply_updates``."""

    def __init__(self, optimizer: optax.GradientTransformation):
        self.optimizer = optimizer

    def start(self, leaves: list[np.ndarray], treedef: Any) -> None:
        self.treedef = treedef
        self.params = treedef.unflatten([jnp.asarray(leaf) for leaf in leaves])
        self.state = self.optimizer.init(self.params)

        def step(params, state, grads):
            updates, state = self.optimizer.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        self._step = jax.jit(step)

    def step(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        grads = self.treedef.unflatten([jnp.asarray(g) for g in grads])
        self.params, self.state = self._step(self.params, self.state, grads)
        return [np.asarray(leaf) for leaf in self.treedef.flatten_up_to(self.params)]


class ReferenceSide:
    """An object with the seed's ``update(params, grads)`` on dicts (copied, never mutated)."""

    def __init__(self, optimizer: Any):
        self.optimizer = optimizer

    def start(self, leaves: list[np.ndarray], treedef: Any) -> None:
        self.instance = copy.deepcopy(self.optimizer)
        self.params = {index: np.array(leaf) for index, leaf in enumerate(leaves)}

    def step(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        self.instance.update(self.params, dict(enumerate(grads)))
        return [self.params[index].copy() for index in range(len(grads))]


class TorchSide:
    """A ``torch.optim`` class with its settings: ``TorchSide(torch.optim.Adam, lr=1e-3)``."""

    def __init__(self, optimizer_class: Any, **settings: Any):
        self.optimizer_class = optimizer_class
        self.settings = settings

    def start(self, leaves: list[np.ndarray], treedef: Any) -> None:
        import torch

        self.tensors = [torch.tensor(np.array(leaf)) for leaf in leaves]
        self.instance = self.optimizer_class(self.tensors, **self.settings)

    def step(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        import torch

        for tensor, grad in zip(self.tensors, grads):
            tensor.grad = torch.tensor(np.array(grad))
        self.instance.step()
        return [tensor.detach().numpy().copy() for tensor in self.tensors]


def import_keras() -> Any:
    """Import Keras 3 on its JAX backend (set ``KERAS_BACKEND=jax`` first if unset)."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    if keras.backend.backend() != "jax":
        raise RuntimeError(
            f"Keras is running on its {keras.backend.backend()!r} backend; the cross-checks "
            "need KERAS_BACKEND=jax set before keras is first imported"
        )
    return keras


class KerasSide:
    """A Keras 3 optimizer, stepped with its own jitted ``stateless_apply``.

    ``stateless_apply`` runs Keras's ``update_step`` under ``jax.jit``, as
    ``model.fit`` does on the JAX backend. The optimizer passed in is copied
    through its config, so it is never built or stepped itself.
    """

    def __init__(self, optimizer: Any):
        self.optimizer = optimizer

    def start(self, leaves: list[np.ndarray], treedef: Any) -> None:
        keras = import_keras()
        self.instance = self.optimizer.__class__.from_config(self.optimizer.get_config())
        variables = [keras.Variable(np.array(leaf), dtype=str(leaf.dtype)) for leaf in leaves]
        self.instance.build(variables)
        self.values = [variable.value for variable in variables]
        self.optimizer_values = [variable.value for variable in self.instance.variables]
        self._step = jax.jit(self.instance.stateless_apply)

    def step(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        grads = [jnp.asarray(g) for g in grads]
        self.values, self.optimizer_values = self._step(self.optimizer_values, grads, self.values)
        return [np.asarray(value) for value in self.values]


class TorchTrainingSide:
    """A live torch training step: clipping, ``optimizer.step()``, a scheduler, param groups.

    ``build(tensors)`` gets the leaves as torch tensors (in the params' flatten
    order) and returns ``(optimizer, scheduler_or_None)``, so it decides the
    param groups. Each step sets the gradients, clips them as a torch script
    does (``clip_grad_norm_`` or ``clip_grad_value_`` over all tensors), steps
    the optimizer, and steps the scheduler once every ``scheduler_every`` steps.
    """

    def __init__(
        self,
        build: Any,
        *,
        clip_grad_norm: float | None = None,
        clip_grad_value: float | None = None,
        clip_norm_type: float = 2.0,
        scheduler_every: int = 1,
    ):
        self.build = build
        self.clip_grad_norm = clip_grad_norm
        self.clip_grad_value = clip_grad_value
        self.clip_norm_type = clip_norm_type
        self.scheduler_every = scheduler_every

    def start(self, leaves: list[np.ndarray], treedef: Any) -> None:
        import torch

        self.tensors = [torch.tensor(np.array(leaf)) for leaf in leaves]
        self.optimizer, self.scheduler = self.build(self.tensors)
        self.steps = 0

    def step(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        import warnings

        import torch

        for tensor, grad in zip(self.tensors, grads):
            tensor.grad = torch.tensor(np.array(grad))
        if self.clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.tensors, self.clip_grad_norm, self.clip_norm_type)
        if self.clip_grad_value is not None:
            torch.nn.utils.clip_grad_value_(self.tensors, self.clip_grad_value)
        self.optimizer.step()
        self.steps += 1
        if self.scheduler is not None and self.steps % self.scheduler_every == 0:
            with warnings.catch_warnings():
                # OneCycleLR past its end raises; other warnings are torch's advice.
                warnings.simplefilter("ignore", UserWarning)
                self.scheduler.step()
        return [tensor.detach().numpy().copy() for tensor in self.tensors]


def as_side(optimizer: Any) -> Any:
    """Wrap a lab, optax, torch, Keras or reference optimizer in its adapter."""
    if isinstance(optimizer, TorchTrainingSide):
        return optimizer
    if isinstance(optimizer, (OptaxSide, ReferenceSide, TorchSide, KerasSide)):
        return optimizer
    if isinstance(optimizer, optax.GradientTransformation):
        return OptaxSide(optimizer)
    target = optimizer.func if isinstance(optimizer, functools.partial) else optimizer
    if isinstance(target, type) and target.__module__.startswith("torch"):
        settings = optimizer.keywords if isinstance(optimizer, functools.partial) else {}
        return TorchSide(target, **settings)
    if type(optimizer).__module__.startswith("keras"):
        return KerasSide(optimizer)
    if callable(getattr(optimizer, "update", None)):
        return ReferenceSide(optimizer)
    raise TypeError(
        f"cannot compare {optimizer!r}: expected an optax/lab GradientTransformation, a "
        "torch.optim class (or functools.partial of one), a Keras optimizer, or an object "
        "with the seed's update(params, grads) method"
    )


# --------------------------------------------------------------------------- comparison


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Per-step differences between two optimizers' params (index k: after step k + 1).

    ``max_abs_error``: the largest ``|a - b|``. ``max_rel_error``: the largest
    normwise relative error of a leaf (:func:`normwise_relative_error`).
    ``max_ulp_distance``: the largest elementwise :func:`ulp_distance` (0 means
    bit-identical; it is large wherever a value crosses zero).
    ``worst_leaf[k]`` is the path of the leaf with step k's largest relative
    error; ``first_nonfinite_step`` is the 1-based step at which either
    side's params first held a NaN or infinity (``None`` if never).
    """

    dtype: np.dtype
    max_abs_error: np.ndarray
    max_rel_error: np.ndarray
    max_ulp_distance: np.ndarray
    worst_leaf: list[str]
    first_nonfinite_step: int | None
    final_a: Any
    final_b: Any

    @property
    def steps(self) -> int:
        return len(self.max_abs_error)

    @property
    def max_scaled_ulps(self) -> np.ndarray:
        """``max_rel_error`` in units of the dtype's epsilon: ulps of each leaf's scale."""
        return self.max_rel_error / float(jnp.finfo(self.dtype).eps)


def random_gradients(params: Any, steps: int, *, seed: int = 0, scale: float = 1.0) -> Any:
    """A fixed gradient sequence: ``params``' structure with a leading axis of ``steps``.

    Standard normal times ``scale``, drawn in float64 with NumPy.
    """
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda leaf: scale * rng.standard_normal((steps, *np.shape(leaf))), params)


def compare(
    a: Any,
    b: Any,
    params: Any,
    gradients: Any,
    steps: int | None = None,
    *,
    dtype: Any = None,
) -> Comparison:
    """Step ``a`` and ``b`` from ``params`` over ``gradients`` and measure how they part.

    Args:
      a, b: the two optimizers (see the module docstring for what each may be).
      params: the starting pytree of float arrays.
      gradients: a pytree like ``params`` whose leaves have a leading step axis
        (see :func:`random_gradients`).
      steps: how many steps (default: the whole sequence).
      dtype: the dtype both sides run in (default: the params'); float64 on the
        JAX side runs inside ``jax.enable_x64``.
    """
    param_leaves, treedef = jax.tree.flatten(params)
    if not param_leaves:
        raise ValueError("params has no leaves to compare")
    try:
        gradient_leaves = treedef.flatten_up_to(gradients)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"gradients must have the structure of params.\n  params: {treedef}\n"
            f"  gradients: {jax.tree.structure(gradients)}"
        ) from error
    available = min(len(g) for g in gradient_leaves)
    steps = available if steps is None else steps
    if not 0 < steps <= available:
        raise ValueError(f"steps must be in [1, {available}] for these gradients, got {steps}")
    dtype = np.dtype(dtype or np.result_type(param_leaves[0]))
    paths = [
        jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]
    ]
    start = [np.asarray(leaf, dtype) for leaf in param_leaves]
    gradient_leaves = [np.asarray(g[:steps], dtype) for g in gradient_leaves]

    side_a, side_b = as_side(a), as_side(b)
    max_abs, max_rel, max_ulp, worst = [], [], [], []
    first_nonfinite = None
    with jax.enable_x64(dtype == np.float64), np.errstate(invalid="ignore", over="ignore"):
        side_a.start(start, treedef)
        side_b.start(start, treedef)
        for step in range(steps):
            grads = [g[step] for g in gradient_leaves]
            leaves_a, leaves_b = side_a.step(grads), side_b.step(grads)
            abs_errors, rel_errors, ulp_errors = [], [], []
            for leaf_a, leaf_b in zip(leaves_a, leaves_b):
                leaf_a, leaf_b = np.asarray(leaf_a, dtype), np.asarray(leaf_b, dtype)
                finite = np.all(np.isfinite(leaf_a)) and np.all(np.isfinite(leaf_b))
                if not finite and first_nonfinite is None:
                    first_nonfinite = step + 1
                abs_errors.append(_max(np.abs(leaf_a.astype(np.float64) - leaf_b)))
                rel_errors.append(normwise_relative_error(leaf_a, leaf_b))
                ulp_errors.append(_max(ulp_distance(leaf_a, leaf_b)))
            worst_index = int(np.argmax(rel_errors))
            max_abs.append(max(abs_errors))
            max_rel.append(rel_errors[worst_index])
            max_ulp.append(max(ulp_errors))
            worst.append(paths[worst_index] or "<root>")
    return Comparison(
        dtype=dtype,
        max_abs_error=np.array(max_abs),
        max_rel_error=np.array(max_rel),
        max_ulp_distance=np.array(max_ulp),
        worst_leaf=worst,
        first_nonfinite_step=first_nonfinite,
        final_a=treedef.unflatten(leaves_a),
        final_b=treedef.unflatten(leaves_b),
    )


def _max(values: np.ndarray) -> float:
    return float(np.max(values)) if values.size else 0.0


def tolerance_failure(
    result: Comparison,
    *,
    ulps: float | None = None,
    ulps_per_step: float | None = None,
    rtol: float | None = None,
) -> str | None:
    """Why ``result`` breaks a bound, or ``None`` if it keeps them all.

    ``ulps``: bound on :attr:`Comparison.max_scaled_ulps` at every step (0
    demands bit-identical params). ``ulps_per_step``: the same bound growing
    linearly, ``ulps_per_step * k`` after step k. ``rtol``: bound on the
    normwise relative error at every step.
    """
    if result.first_nonfinite_step is not None:
        return f"params became non-finite at step {result.first_nonfinite_step}"
    step_numbers = np.arange(1, result.steps + 1)
    checks = []
    if ulps is not None:
        checks.append(
            ("ulps of the leaf's scale", result.max_scaled_ulps, np.full(result.steps, ulps))
        )
    if ulps_per_step is not None:
        checks.append(
            ("ulps of the leaf's scale", result.max_scaled_ulps, ulps_per_step * step_numbers)
        )
    if rtol is not None:
        checks.append(("relative error", result.max_rel_error, np.full(result.steps, rtol)))
    for name, per_step, bound in checks:
        failing = np.flatnonzero(per_step > bound)
        if failing.size:
            step = int(failing[0])
            return (
                f"the optimizers parted at step {step + 1} of {result.steps}, leaf "
                f"{result.worst_leaf[step]}: {name} {per_step[step]:.3g} > {bound[step]:.3g} "
                f"(max abs error {result.max_abs_error[step]:.3g}, relative error "
                f"{result.max_rel_error[step]:.3g}, elementwise ulp distance "
                f"{result.max_ulp_distance[step]:.0f}; dtype {result.dtype})"
            )
    return None


def assert_equivalent(
    a: Any,
    b: Any,
    params: Any,
    gradients: Any,
    steps: int | None = None,
    *,
    ulps: float | None = None,
    ulps_per_step: float | None = None,
    rtol: float | None = None,
    dtype: Any = None,
) -> Comparison:
    """Assert that ``a`` and ``b`` stay within the given bounds; return the comparison.

    Bounds as in :func:`tolerance_failure`; give at least one. Neither side may
    go non-finite. On failure the ``AssertionError`` says at which step and
    leaf the two parted, and by how much.

    Example, for a port from torch::

        assert_equivalent(jaxopt_lab.adam(eps=1e-8, eps_hat=False),
                          functools.partial(torch.optim.Adam, lr=1e-3),
                          params, random_gradients(params, 1000), ulps_per_step=1)
    """
    if ulps is None and ulps_per_step is None and rtol is None:
        raise ValueError("assert_equivalent needs a bound: give ulps, ulps_per_step or rtol")
    result = compare(a, b, params, gradients, steps, dtype=dtype)
    failure = tolerance_failure(result, ulps=ulps, ulps_per_step=ulps_per_step, rtol=rtol)
    if failure is not None:
        raise AssertionError(failure)
    return result


# --------------------------------------------------------------------------- the table

LIBRARIES = ("seed", "optax", "torch", "keras")


@dataclasses.dataclass(frozen=True)
class Equivalence:
    """One row of the equivalence table: a lab setting and another library's.

    ``other`` names the other side as ``"module.Name"`` with ``other_settings``
    its arguments (``None``: the library has no such optimizer; ``note``
    says why). ``agrees=False`` marks a documented difference: the check then
    confirms that the two do part (relative error above ``differs_above``).
    """

    optimizer: str
    library: str
    lab_settings: dict[str, Any]
    other: str | None
    other_settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    note: str = ""
    agrees: bool = True
    float32_learning_rate: bool = False

    def lab_call(self) -> str:
        return _call_text(self.optimizer, self.lab_settings)

    def other_call(self) -> str:
        return _call_text(self.other, self.other_settings) if self.other else "none"


def _call_text(name: str, settings: dict[str, Any]) -> str:
    return f"{name}({', '.join(f'{key}={value!r}' for key, value in settings.items())})"


_KERAS_LR = (
    "Keras keeps the learning rate in a float32 variable: in float64 the lab is given "
    "that rounded value."
)
EQUIVALENCES: tuple[Equivalence, ...] = (
    # The seed (jaxopt_lab.reference): the lab's defaults.
    Equivalence("sgd", "seed", {}, "reference.SGD"),
    Equivalence("momentum", "seed", {}, "reference.Momentum"),
    Equivalence(
        "nesterov",
        "seed",
        {},
        "reference.Nesterov",
        agrees=False,
        note="The seed's Nesterov steps p += m²·v − (1+m)·lr·g, not the standard m·v − lr·g "
        "that optax, torch and Keras share: different trajectories.",
    ),
    Equivalence("adagrad", "seed", {}, "reference.AdaGrad"),
    Equivalence("rmsprop", "seed", {}, "reference.RMSprop"),
    Equivalence("adam", "seed", {}, "reference.Adam"),
    Equivalence(
        "adamw",
        "seed",
        {"weight_decay": 0.0},
        "reference.Adam",
        note="The seed has no AdamW; without weight decay it is the seed's Adam.",
    ),
    # optax.
    Equivalence("sgd", "optax", {}, "optax.sgd", {"learning_rate": 0.01}),
    Equivalence(
        "momentum",
        "optax",
        {},
        "optax.sgd",
        {"learning_rate": 0.01, "momentum": 0.9},
        note="optax keeps b = g + m·b and steps −lr·b: equal for a constant learning rate.",
    ),
    Equivalence(
        "nesterov",
        "optax",
        {},
        "optax.sgd",
        {"learning_rate": 0.01, "momentum": 0.9, "nesterov": True},
    ),
    Equivalence(
        "adagrad",
        "optax",
        {"initial_accumulator_value": 0.1, "eps_in_sqrt": True},
        "optax.adagrad",
        {"learning_rate": 0.01},
    ),
    Equivalence(
        "rmsprop",
        "optax",
        {},
        "optax.rmsprop",
        {"learning_rate": 0.01, "decay": 0.99, "eps": 1e-7, "eps_in_sqrt": False},
    ),
    Equivalence(
        "adam", "optax", {"eps": 1e-8, "eps_hat": False}, "optax.adam", {"learning_rate": 0.001}
    ),
    Equivalence(
        "adamw",
        "optax",
        {"eps": 1e-8, "eps_hat": False, "weight_decay": 1e-4},
        "optax.adamw",
        {"learning_rate": 0.001, "weight_decay": 1e-4},
    ),
    # torch.optim.
    Equivalence("sgd", "torch", {}, "torch.optim.SGD", {"lr": 0.01}),
    Equivalence(
        "momentum",
        "torch",
        {},
        "torch.optim.SGD",
        {"lr": 0.01, "momentum": 0.9},
        note="torch keeps b = m·b + g and steps −lr·b: equal for a constant learning rate.",
    ),
    Equivalence(
        "nesterov", "torch", {}, "torch.optim.SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True}
    ),
    Equivalence(
        "adagrad", "torch", {"eps": 1e-10}, "torch.optim.Adagrad", {"lr": 0.01, "eps": 1e-10}
    ),
    Equivalence(
        "rmsprop", "torch", {}, "torch.optim.RMSprop", {"lr": 0.01, "alpha": 0.99, "eps": 1e-7}
    ),
    Equivalence(
        "adam", "torch", {"eps": 1e-8, "eps_hat": False}, "torch.optim.Adam", {"lr": 0.001}
    ),
    Equivalence(
        "adamw",
        "torch",
        {"eps": 1e-8, "eps_hat": False, "weight_decay": 0.01},
        "torch.optim.AdamW",
        {"lr": 0.001, "weight_decay": 0.01},
        note="torch applies the decay as its own update of p (p *= 1 − lr·wd) before the Adam "
        "step, so the two round differently and drift apart steadily (about 0.2 ulp a step).",
    ),
    # Keras 3 (JAX backend).
    Equivalence(
        "sgd",
        "keras",
        {},
        "keras.optimizers.SGD",
        {"learning_rate": 0.01},
        note=_KERAS_LR,
        float32_learning_rate=True,
    ),
    Equivalence(
        "momentum",
        "keras",
        {},
        "keras.optimizers.SGD",
        {"learning_rate": 0.01, "momentum": 0.9},
        note=_KERAS_LR,
        float32_learning_rate=True,
    ),
    Equivalence(
        "nesterov",
        "keras",
        {},
        "keras.optimizers.SGD",
        {"learning_rate": 0.01, "momentum": 0.9, "nesterov": True},
        note=_KERAS_LR,
        float32_learning_rate=True,
    ),
    Equivalence(
        "adagrad",
        "keras",
        {"initial_accumulator_value": 0.1, "eps_in_sqrt": True},
        "keras.optimizers.Adagrad",
        {"learning_rate": 0.01},
        note=_KERAS_LR,
        float32_learning_rate=True,
    ),
    Equivalence(
        "rmsprop",
        "keras",
        {"decay": 0.9, "eps_in_sqrt": True},
        "keras.optimizers.RMSprop",
        {"learning_rate": 0.01},
        note=_KERAS_LR,
        float32_learning_rate=True,
    ),
    Equivalence(
        "adam",
        "keras",
        {},
        "keras.optimizers.Adam",
        {"learning_rate": 0.001},
        note=_KERAS_LR,
        float32_learning_rate=True,
    ),
    Equivalence(
        "adamw",
        "keras",
        {"weight_decay": 0.004},
        "keras.optimizers.AdamW",
        {"learning_rate": 0.001, "weight_decay": 0.004},
        note="Keras applies the decay as its own update of p (p −= p·wd·lr) before the Adam "
        "step, so the two drift apart steadily (about 0.2 ulp a step). " + _KERAS_LR,
        float32_learning_rate=True,
    ),
)
"""The README's equivalence table; every row is a test and a line of ``jaxopt-lab check``."""

ULPS_PER_STEP = 1.0
"""Tolerance where the formula is the same: 1 ulp of the leaf's scale per step.

Measured over 1000 steps of a fixed N(0, 1) gradient sequence from N(0, 1)
params (``jaxopt-lab check``): AdamW against torch and Keras, which apply the
weight decay as a separate update, drift to about 210 ulps after 1000 steps;
every other row where the formula is the same stays within 6 ulps after 1000
steps (the worst single step: 0.74 ulps per step, at step 1). Rounding
differences add a fraction of an ulp per step; a different formula (the seed's
Nesterov, a wrong eps placement) costs thousands of ulps within a few steps.
"""
SEED_FLOAT64_RTOL = 1e-12
"""In float64 the lab matches the seed's NumPy code to a relative error of 1e-12
after 1000 steps (measured: at most 7e-16), leaving room for 10^3 times the
rounding that was seen."""
DIFFERS_ABOVE = 1e-3
"""A documented difference must show: relative error above this after the steps."""


def build_lab(row: Equivalence) -> optax.GradientTransformation:
    """The lab side of ``row``: the lab optimizer with the row's settings."""
    make = optimizers.OPTIMIZERS[row.optimizer]
    settings = dict(row.lab_settings)
    if row.float32_learning_rate:
        default = inspect.signature(make).parameters["learning_rate"].default
        settings["learning_rate"] = float(np.float32(settings.get("learning_rate", default)))
    return make(**settings)


def build_other(row: Equivalence) -> Any:
    """The other side of ``row``, ready for :func:`compare` (imports its library lazily)."""
    if row.other is None:
        raise ValueError(f"{row.library} has no counterpart of {row.optimizer}: {row.note}")
    module_name, _, name = row.other.rpartition(".")
    if module_name == "reference":
        return ReferenceSide(getattr(reference, name)(**row.other_settings))
    if module_name == "optax":
        return OptaxSide(getattr(optax, name)(**row.other_settings))
    if module_name == "torch.optim":
        import torch.optim

        return TorchSide(getattr(torch.optim, name), **row.other_settings)
    if module_name == "keras.optimizers":
        keras = import_keras()
        return KerasSide(getattr(keras.optimizers, name)(**row.other_settings))
    raise ValueError(f"unknown library in {row.other!r}")


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One row of the table, run in one dtype, and its verdict."""

    row: Equivalence
    dtype: np.dtype
    comparison: Comparison
    failure: str | None

    @property
    def passed(self) -> bool:
        return self.failure is None


def table_params(seed: int = 0) -> dict[str, np.ndarray]:
    """The params every row starts from: a small dense layer, N(0, 1), float64."""
    rng = np.random.default_rng(seed)
    return {"w": rng.standard_normal((8, 16)), "b": rng.standard_normal(16)}


def check_row(row: Equivalence, dtype: Any, steps: int = 1000, seed: int = 0) -> CheckResult:
    """Run one row of the table over ``steps`` fixed N(0, 1) gradients and judge it."""
    dtype = np.dtype(dtype)
    params = table_params(seed)
    gradients = random_gradients(params, steps, seed=seed + 1)
    comparison = compare(build_lab(row), build_other(row), params, gradients, dtype=dtype)
    if not row.agrees:
        final = comparison.max_rel_error[-1]
        failure = (
            None
            if final > DIFFERS_ABOVE
            else (
                f"expected the two to differ (relative error > {DIFFERS_ABOVE:g}), got {final:.3g}"
            )
        )
    else:
        rtol = SEED_FLOAT64_RTOL if row.library == "seed" and dtype == np.float64 else None
        failure = tolerance_failure(comparison, ulps_per_step=ULPS_PER_STEP, rtol=rtol)
    return CheckResult(row, dtype, comparison, failure)


def available_libraries() -> list[str]:
    """The libraries of the table that are importable here (seed and optax always are)."""
    import importlib.util

    found = ["seed", "optax"]
    found += [name for name in ("torch", "keras") if importlib.util.find_spec(name) is not None]
    return found
