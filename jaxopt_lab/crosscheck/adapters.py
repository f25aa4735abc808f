"""The sides of a comparison: one adapter per library, all with the :class:`Adapter` interface.

A side steps one optimizer over a fixed gradient sequence from given params:
:class:`OptaxAdapter` (a lab or optax ``GradientTransformation``, one compiled
scan), :class:`TorchAdapter` (a ``torch.optim`` class and its settings),
:class:`TorchTrainingAdapter` (a live torch optimizer with its scheduler,
clipping and parameter groups, as a training script steps it),
:class:`KerasAdapter` (a Keras 3 optimizer on the JAX backend, through its own
jitted ``stateless_apply``) and :class:`ReferenceAdapter` (the tutorial's NumPy
classes). :func:`as_adapter` picks the adapter; :mod:`jaxopt_lab.crosscheck`
measures how far two sides part.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np
import optax

# --------------------------------------------------------------------------- sides


@runtime_checkable
class Adapter(Protocol):
    """What :func:`~jaxopt_lab.crosscheck.trajectory` needs of one side of a comparison.

    ``start(leaves, treedef)`` receives the starting params (NumPy arrays in
    the comparison's dtype, in ``treedef``'s leaf order) and resets the side;
    ``step(grads)`` applies one step for a list of gradient arrays and returns
    the params after it. A side may also offer ``run(gradient_leaves)``: all
    the steps at once (arrays with a leading step axis in, the params after
    each step out), which :func:`~jaxopt_lab.crosscheck.trajectory` prefers (a compiled loop), and
    ``probe(grads)``: the step it would take now from params of zero, its state
    left as it was (for the update measure, :func:`jaxopt_lab.crosscheck.trajectory`
    with ``updates=True``).
    """

    def start(self, leaves: list[np.ndarray], treedef: Any) -> None: ...

    def step(self, grads: list[np.ndarray]) -> list[np.ndarray]: ...


class OptaxAdapter:
    """A lab or optax optimizer: ``update`` + ``apply_updates``, jitted (or op by op).

    With ``jit=True`` (the default) :meth:`run` runs all the steps as one
    compiled ``lax.scan``; with ``jit=False`` every step runs op by op, which
    compiles nothing (for a few steps of many settings).
    """

    def __init__(self, optimizer: optax.GradientTransformation, *, jit: bool = True):
        self.optimizer = optimizer
        self.jit = jit

    def _step(self, params, state, grads):
        updates, state = self.optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    def start(self, leaves: list[np.ndarray], treedef: Any) -> None:
        self.treedef = treedef
        self.params = treedef.unflatten([jnp.asarray(leaf) for leaf in leaves])
        self.state = self.optimizer.init(self.params)
        self._compiled = jax.jit(self._step) if self.jit else self._step

    def step(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        grads = self.treedef.unflatten([jnp.asarray(g) for g in grads])
        self.params, self.state = self._compiled(self.params, self.state, grads)
        return [np.asarray(leaf) for leaf in self.treedef.flatten_up_to(self.params)]

    def probe(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        grads = self.treedef.unflatten([jnp.asarray(g) for g in grads])
        if not hasattr(self, "_probe"):

            def probe(params, state, grads):
                zeros = jax.tree.map(jnp.zeros_like, params)
                return self.optimizer.update(grads, state, zeros)[0]

            self._probe = jax.jit(probe) if self.jit else probe
        updates = self._probe(self.params, self.state, grads)
        return [np.asarray(leaf) for leaf in self.treedef.flatten_up_to(updates)]

    def run(self, gradient_leaves: list[np.ndarray]) -> list[np.ndarray]:
        if not self.jit:
            return run_by_steps(self, gradient_leaves)

        def body(carry, grads):
            params, state = self._step(*carry, grads)
            return (params, state), params

        grads = self.treedef.unflatten([jnp.asarray(g) for g in gradient_leaves])
        (self.params, self.state), history = jax.jit(
            lambda carry, grads: jax.lax.scan(body, carry, grads)
        )((self.params, self.state), grads)
        return [np.asarray(leaf) for leaf in self.treedef.flatten_up_to(history)]

    def run_with_updates(self, gradient_leaves: list[np.ndarray]) -> tuple[list, list]:
        """:meth:`run`, also returning each step's :meth:`probe` (one compiled scan)."""
        if not self.jit:
            raise NotImplementedError("run_with_updates needs jit=True")

        def body(carry, grads):
            params, state = carry
            zeros = jax.tree.map(jnp.zeros_like, params)
            probe = self.optimizer.update(grads, state, zeros)[0]
            params, state = self._step(params, state, grads)
            return (params, state), (params, probe)

        grads = self.treedef.unflatten([jnp.asarray(g) for g in gradient_leaves])
        (self.params, self.state), (history, probes) = jax.jit(
            lambda carry, grads: jax.lax.scan(body, carry, grads)
        )((self.params, self.state), grads)
        flat = self.treedef.flatten_up_to
        return [np.asarray(leaf) for leaf in flat(history)], [np.asarray(u) for u in flat(probes)]


def run_by_steps(side: Adapter, gradient_leaves: list[np.ndarray]) -> list[np.ndarray]:
    """Step ``side`` once per row of the gradients; the params after each step, stacked."""
    steps = len(gradient_leaves[0]) if gradient_leaves else 0
    history = [side.step([g[index] for g in gradient_leaves]) for index in range(steps)]
    return [np.stack([after[leaf] for after in history]) for leaf in range(len(gradient_leaves))]


class ReferenceAdapter:
    """An object with the tutorial's ``update(params, grads)`` on dicts (copied, never mutated)."""

    def __init__(self, optimizer: Any):
        self.optimizer = optimizer

    def start(self, leaves: list[np.ndarray], treedef: Any) -> None:
        self.instance = copy.deepcopy(self.optimizer)
        self.params = {index: np.array(leaf) for index, leaf in enumerate(leaves)}

    def step(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        self.instance.update(self.params, dict(enumerate(grads)))
        return [self.params[index].copy() for index in range(len(grads))]

    def probe(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        instance = copy.deepcopy(self.instance)
        params = {index: np.zeros_like(self.params[index]) for index in self.params}
        instance.update(params, dict(enumerate(grads)))
        return [params[index] for index in range(len(grads))]


class TorchAdapter:
    """A ``torch.optim`` class with its settings: ``TorchAdapter(torch.optim.Adam, lr=1e-3)``.

    In float64 (or complex128) torch runs with ``torch.set_default_dtype(float64)``,
    as a float64 torch program does, so that its scalar state (the step count,
    NAdam's momentum product) is float64 too.
    """

    def __init__(self, optimizer_class: Any, **settings: Any):
        self.optimizer_class = optimizer_class
        self.settings = settings

    @contextlib.contextmanager
    def _default_dtype(self):
        import torch

        previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64 if self.wide else torch.float32)
        try:
            yield
        finally:
            torch.set_default_dtype(previous)

    def start(self, leaves: list[np.ndarray], treedef: Any) -> None:
        import torch

        self.wide = bool(leaves) and np.finfo(leaves[0].dtype).bits == 64
        self.tensors = [torch.tensor(np.array(leaf)) for leaf in leaves]
        with self._default_dtype():
            self.instance = self.optimizer_class(self.tensors, **self.settings)

    def step(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        import torch

        for tensor, grad in zip(self.tensors, grads):
            tensor.grad = torch.tensor(np.array(grad))
        with self._default_dtype():
            self.instance.step()
        return [tensor.detach().numpy().copy() for tensor in self.tensors]

    def probe(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        return _torch_probe(self, self.instance, grads)


def _torch_probe(side: Any, optimizer: Any, grads: list[np.ndarray]) -> list[np.ndarray]:
    """torch's next step from params of zero: saved, stepped, read, restored."""
    import torch

    saved_params = [tensor.detach().clone() for tensor in side.tensors]
    saved_state = copy.deepcopy(optimizer.state_dict())
    with torch.no_grad():
        for tensor in side.tensors:
            tensor.zero_()
    for tensor, grad in zip(side.tensors, grads):
        tensor.grad = torch.tensor(np.array(grad))
    clip = getattr(side, "clip_grad_norm", None)
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(side.tensors, clip, side.clip_norm_type)
    if getattr(side, "clip_grad_value", None) is not None:
        torch.nn.utils.clip_grad_value_(side.tensors, side.clip_grad_value)
    with side._default_dtype():
        optimizer.step()
    updates = [tensor.detach().numpy().copy() for tensor in side.tensors]
    with torch.no_grad():
        for tensor, saved in zip(side.tensors, saved_params):
            tensor.copy_(saved)
    optimizer.load_state_dict(saved_state)
    return updates


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


class KerasAdapter:
    """A Keras 3 optimizer, stepped with its own ``stateless_apply`` under ``jax.jit``.

    ``stateless_apply`` runs Keras's ``update_step`` under ``jax.jit``, as
    ``model.fit`` does on the JAX backend (:meth:`run`: all steps in one
    compiled ``lax.scan``). The optimizer passed in is copied through its
    config, so it is never built or stepped itself.
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

    def probe(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        zeros = [jnp.zeros_like(value) for value in self.values]
        updated, _ = self._step(self.optimizer_values, [jnp.asarray(g) for g in grads], zeros)
        return [np.asarray(value) for value in updated]

    def run_with_updates(self, gradient_leaves: list[np.ndarray]) -> tuple[list, list]:
        """:meth:`run`, also returning each step's :meth:`probe` (one compiled scan)."""

        def body(carry, grads):
            values, optimizer_values = carry
            zeros = [jnp.zeros_like(value) for value in values]
            probe, _ = self.instance.stateless_apply(optimizer_values, list(grads), zeros)
            values, optimizer_values = self.instance.stateless_apply(
                optimizer_values, list(grads), values
            )
            return (values, optimizer_values), (values, probe)

        grads = [jnp.asarray(g) for g in gradient_leaves]
        (self.values, self.optimizer_values), (history, probes) = jax.jit(
            lambda carry, grads: jax.lax.scan(body, carry, grads)
        )((self.values, self.optimizer_values), grads)
        return [np.asarray(leaf) for leaf in history], [np.asarray(u) for u in probes]

    def run(self, gradient_leaves: list[np.ndarray]) -> list[np.ndarray]:
        def body(carry, grads):
            values, optimizer_values = carry
            values, optimizer_values = self.instance.stateless_apply(
                optimizer_values, list(grads), values
            )
            return (values, optimizer_values), values

        grads = [jnp.asarray(g) for g in gradient_leaves]
        (self.values, self.optimizer_values), history = jax.jit(
            lambda carry, grads: jax.lax.scan(body, carry, grads)
        )((self.values, self.optimizer_values), grads)
        return [np.asarray(leaf) for leaf in history]


class TorchTrainingAdapter:
    """A live torch training step: clipping, ``optimizer.step()``, a scheduler, param groups.

    (A :class:`Adapter`, like :class:`TorchAdapter`, float64 included.)

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

    _default_dtype = TorchAdapter._default_dtype

    def start(self, leaves: list[np.ndarray], treedef: Any) -> None:
        import torch

        self.wide = bool(leaves) and np.finfo(leaves[0].dtype).bits == 64
        self.tensors = [torch.tensor(np.array(leaf)) for leaf in leaves]
        with self._default_dtype():
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
        with self._default_dtype():
            self.optimizer.step()
        self.steps += 1
        if self.scheduler is not None and self.steps % self.scheduler_every == 0:
            with warnings.catch_warnings():
                # OneCycleLR past its end raises; other warnings are torch's advice.
                warnings.simplefilter("ignore", UserWarning)
                self.scheduler.step()
        return [tensor.detach().numpy().copy() for tensor in self.tensors]

    def probe(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        return _torch_probe(self, self.optimizer, grads)


def as_adapter(optimizer: Any) -> Adapter:
    """Wrap a lab, optax, torch, Keras or reference optimizer in its adapter."""
    if isinstance(optimizer, TorchTrainingAdapter):
        return optimizer
    if isinstance(optimizer, (OptaxAdapter, ReferenceAdapter, TorchAdapter, KerasAdapter)):
        return optimizer
    if isinstance(optimizer, optax.GradientTransformation):
        return OptaxAdapter(optimizer)
    target = optimizer.func if isinstance(optimizer, functools.partial) else optimizer
    if isinstance(target, type) and target.__module__.startswith("torch"):
        settings = optimizer.keywords if isinstance(optimizer, functools.partial) else {}
        return TorchAdapter(target, **settings)
    if type(optimizer).__module__.startswith("keras"):
        return KerasAdapter(optimizer)
    if callable(getattr(optimizer, "update", None)):
        return ReferenceAdapter(optimizer)
    if isinstance(optimizer, Adapter):
        return optimizer
    raise TypeError(
        f"cannot compare {optimizer!r}: expected an optax/lab GradientTransformation, a "
        "torch.optim class (or functools.partial of one), a Keras optimizer, or an object "
        "with the tutorial's update(params, grads) method"
    )
