"""First-order optimizers as pure ``(init, update)`` pairs over pytrees.

Each function below takes its hyperparameters and returns an
``optax.GradientTransformation``::

    optimizer = adam(learning_rate=0.001)
    state = optimizer.init(params)
    updates, state = optimizer.update(grads, state, params)
    params = apply_updates(params, updates)

so a lab optimizer drops into ``optax.chain`` and any optax training loop. The
algorithm of each optimizer is a *leaf rule*: a few lines that update one
array of parameters, written beside its formula. The pytree plumbing (``None``
leaves, dtype checks, structure checks, the step count, schedules) lives once,
in :func:`elementwise_optimizer`.

The defaults and formulas are those of the NumPy tutorial this lab starts from
(``jaxopt_lab.reference``): eps = 1e-7 outside the square root, RMSprop decay
0.99, Adam in the folded "epsilon-hat" form. Keyword-only knobs reproduce the
variants of optax, ``torch.optim`` and Keras; the README's equivalence table
says which settings make which libraries agree.

Hyperparameters are closed over, not frozen: they may be Python numbers, JAX
arrays or tracers, so ``jax.vmap(lambda lr: run(adam(lr)))(learning_rates)``
sweeps a learning rate in one compiled program, and a jitted function that
takes the learning rate as an argument does not recompile when it changes.
Concrete values are validated when the optimizer is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

Schedule = Callable[[jax.Array], jax.Array]
ScalarOrSchedule = float | jax.Array | Schedule

apply_updates = optax.apply_updates


# --------------------------------------------------------------------------- states


class SgdState(NamedTuple):
    """State of :func:`sgd`: only the step count (for schedules)."""

    count: jax.Array


class MomentumState(NamedTuple):
    """State of :func:`momentum` and :func:`nesterov`.

    ``velocity`` is the seed's ``v``: the (negative, learning-rate-scaled)
    running step, ``v = momentum * v - lr * g``.
    """

    count: jax.Array
    velocity: Any


class AdagradState(NamedTuple):
    """State of :func:`adagrad`: ``sum_of_squares`` is the seed's ``h``."""

    count: jax.Array
    sum_of_squares: Any


class RmspropState(NamedTuple):
    """State of :func:`rmsprop`.

    ``mean_square`` is the seed's ``h`` (optax's ``nu``); ``mean_gradient`` is
    kept only when ``centered`` (else ``None``); ``velocity`` only when
    ``momentum`` is given (else ``None``).
    """

    count: jax.Array
    mean_square: Any
    mean_gradient: Any
    velocity: Any


class AdamState(NamedTuple):
    """State of :func:`adam` and :func:`adamw`: optax's ``mu`` and ``nu``."""

    count: jax.Array
    first_moment: Any
    second_moment: Any


# --------------------------------------------------------------------------- checks


def _is_concrete(value: Any) -> bool:
    return not isinstance(value, jax.core.Tracer)


def check_hyperparameter(
    name: str,
    value: Any,
    *,
    low: float = 0.0,
    high: float | None = None,
    optional: bool = False,
) -> None:
    """Raise ``ValueError`` if a concrete ``value`` is outside ``[low, high)``.

    Tracers (``jit``/``vmap`` arguments) and schedules are not checked here: a
    traced value is unknown when the optimizer is built, and a schedule is a
    function. Arrays are checked element by element; NaN is always rejected.
    """
    if value is None and optional:
        return
    if callable(value) or not _is_concrete(value):
        return
    try:
        values = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a number, got {value!r}") from error
    bad = ~(values >= low)
    if high is not None:
        bad |= ~(values < high)
    if np.any(bad):
        interval = f"[{low}, {high})" if high is not None else f">= {low}"
        shown = value if values.ndim == 0 else values[bad]
        raise ValueError(f"{name} must be {interval}, got {shown!r}")


def _check_float_leaves(tree: Any, argument: str) -> None:
    """Raise ``TypeError`` naming the first leaf that is not floating point."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        dtype = jnp.result_type(leaf)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(
                f"{argument} leaf at {jax.tree_util.keystr(path) or '<root>'} has dtype "
                f"{dtype}; optimizers need floating-point leaves (cast it, or keep "
                "it out of the optimized tree)"
            )


def _check_same_structure(grads: Any, state_tree: Any, argument: str) -> None:
    grads_structure = jax.tree.structure(grads)
    state_structure = jax.tree.structure(state_tree)
    if grads_structure != state_structure:
        raise ValueError(
            f"{argument} do not have the tree structure the optimizer state was built "
            f"for.\n  {argument}: {grads_structure}\n  state:  {state_structure}"
        )


def _check_same_shapes(grads: Any, other_leaves: list, other: str) -> None:
    """Raise ``ValueError`` naming the first grads leaf whose shape is not ``other``'s.

    Without it a ``()`` gradient broadcasts silently against a ``(3,)`` moment.
    """
    grads_with_paths = jax.tree_util.tree_flatten_with_path(grads)[0]
    for (path, grad), other_leaf in zip(grads_with_paths, other_leaves, strict=True):
        if jnp.shape(grad) != jnp.shape(other_leaf):
            raise ValueError(
                f"grads leaf at {jax.tree_util.keystr(path) or '<root>'} has shape "
                f"{jnp.shape(grad)}; {other} has {jnp.shape(other_leaf)}"
            )


def _check_state_dtype(state_dtype: Any) -> None:
    if state_dtype is None:
        return
    try:
        dtype = jnp.dtype(state_dtype)
    except TypeError:
        dtype = None
    if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"state_dtype must be a floating-point dtype, got {state_dtype!r}")


# --------------------------------------------------------------------------- plumbing

# A leaf rule updates one array: rule(grad, leaf_state, param, step_size) ->
# (update, new_leaf_state). ``leaf_state`` is the optimizer's state NamedTuple
# holding that leaf's arrays (``None`` for unused fields) and the step count.
LeafRule = Callable[[jax.Array, Any, jax.Array | None, jax.Array], tuple[jax.Array, Any]]


def elementwise_optimizer(
    rule: LeafRule,
    state_type: type,
    initial_values: dict[str, float | jax.Array | None],
    learning_rate: ScalarOrSchedule,
    *,
    state_dtype: Any = None,
    needs_params: bool = False,
) -> optax.GradientTransformation:
    """Build an ``(init, update)`` pair from a rule that updates one leaf.

    Args:
      rule: ``rule(grad, leaf_state, param, step_size) -> (update, leaf_state)``.
      state_type: the state NamedTuple; its first field is ``count``.
      initial_values: for each other field, the value its arrays start at, or
        ``None`` for a field this configuration does not use.
      learning_rate: a number, an array, or a schedule of the step count
        (called with the count before this step: 0 on the first).
      state_dtype: dtype of the moment arrays (e.g. ``jnp.float32`` for
        bfloat16 params); default: each param's own dtype. The rule runs in
        that dtype and updates come back in the params' dtype.
      needs_params: the rule reads ``param`` (weight decay).
    """

    _check_state_dtype(state_dtype)

    def init(params):
        _check_float_leaves(params, "params")
        moments = {
            field: None
            if value is None
            else jax.tree.map(
                lambda p, value=value: jnp.full(
                    jnp.shape(p), value, state_dtype or jnp.result_type(p)
                ),
                params,
            )
            for field, value in initial_values.items()
        }
        return state_type(count=jnp.zeros([], jnp.int32), **moments)

    def update(grads, state, params=None):
        _check_float_leaves(grads, "grads")
        if needs_params and params is None:
            raise ValueError("this optimizer applies weight decay: pass params to update()")
        grad_leaves, treedef = jax.tree.flatten(grads)
        fields = [field for field in state_type._fields[1:] if getattr(state, field) is not None]
        for field in fields:
            _check_same_structure(grads, getattr(state, field), "grads")
        if params is not None:
            _check_same_structure(params, grads, "params")
        moment_leaves = {field: treedef.flatten_up_to(getattr(state, field)) for field in fields}
        param_leaves = (
            treedef.flatten_up_to(params) if params is not None else [None] * len(grad_leaves)
        )
        for field in fields[:1]:
            _check_same_shapes(grads, moment_leaves[field], f"the optimizer state's {field}")
        if params is not None:
            _check_same_shapes(grads, param_leaves, "params")
        step_size = learning_rate(state.count) if callable(learning_rate) else learning_rate

        update_leaves = []
        new_moment_leaves = {field: [] for field in fields}
        for index, (grad, param) in enumerate(zip(grad_leaves, param_leaves)):
            grad = jnp.asarray(grad)
            compute_dtype = state_dtype or grad.dtype
            leaf_state = state._replace(**{field: moment_leaves[field][index] for field in fields})
            update, new_leaf_state = rule(
                grad.astype(compute_dtype),
                leaf_state,
                None if param is None else jnp.asarray(param).astype(compute_dtype),
                step_size,
            )
            output_dtype = grad.dtype if param is None else jnp.result_type(param)
            update_leaves.append(update.astype(output_dtype))
            for field in fields:
                moment = getattr(new_leaf_state, field)
                new_moment_leaves[field].append(moment.astype(moment_leaves[field][index].dtype))

        new_state = state._replace(
            count=optax.safe_increment(state.count),
            **{field: treedef.unflatten(leaves) for field, leaves in new_moment_leaves.items()},
        )
        return treedef.unflatten(update_leaves), new_state

    return optax.GradientTransformation(init, update)


def _bias_corrections(leaf_state: Any, b1: Any, b2: Any, dtype: Any) -> tuple[jax.Array, jax.Array]:
    """``(1 - b1**t, 1 - b2**t)`` for the 1-based step t, in at least float32.

    In bfloat16, 0.999 rounds to 1, so ``1 - b2**t`` would be 0 and Adam would
    never move; a float16 step number is inexact past 2048 steps. Computed as
    optax does, in at least float32, from the count converted before adding
    one, so that a saturated int32 count cannot wrap to -2**31.
    """
    wide = jnp.promote_types(dtype, jnp.float32)
    t = leaf_state.count.astype(wide) + 1
    return 1 - b1**t, 1 - b2**t


# --------------------------------------------------------------------------- optimizers


def sgd(learning_rate: ScalarOrSchedule = 0.01) -> optax.GradientTransformation:
    """Stochastic gradient descent.

    ``p -= lr * g``. Equals optax ``sgd(lr)``, ``torch.optim.SGD(lr)`` and
    Keras ``SGD(lr)``.
    """
    check_hyperparameter("learning_rate", learning_rate)

    def rule(grad, state, param, step_size):
        return -step_size * grad, state

    return elementwise_optimizer(rule, SgdState, {}, learning_rate)


def momentum(
    learning_rate: ScalarOrSchedule = 0.01,
    momentum: float = 0.9,
    *,
    state_dtype: Any = None,
) -> optax.GradientTransformation:
    """SGD with (heavy-ball) momentum, in the seed's velocity form.

    ``v = momentum * v - lr * g;  p += v``, v starting at 0. Identical to Keras
    ``SGD(lr, momentum)``; equal in exact arithmetic (for a constant learning
    rate) to optax ``sgd(lr, momentum)`` and ``torch.optim.SGD(lr, momentum)``,
    which keep ``b = momentum * b + g`` and step ``-lr * b``.
    Polyak (1964), "Some methods of speeding up the convergence of iteration methods".
    """
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("momentum", momentum, high=1.0)

    def rule(grad, state, param, step_size):
        velocity = momentum * state.velocity - step_size * grad
        return velocity, state._replace(velocity=velocity)

    return elementwise_optimizer(
        rule, MomentumState, {"velocity": 0.0}, learning_rate, state_dtype=state_dtype
    )


def nesterov(
    learning_rate: ScalarOrSchedule = 0.01,
    momentum: float = 0.9,
    *,
    state_dtype: Any = None,
) -> optax.GradientTransformation:
    """Nesterov accelerated gradient, in the standard form.

    ``v = momentum * v - lr * g;  p += momentum * v - lr * g``. Identical to
    Keras ``SGD(lr, momentum, nesterov=True)``; equal in exact arithmetic (for a
    constant learning rate) to optax ``sgd(lr, momentum, nesterov=True)`` and
    ``torch.optim.SGD(lr, momentum, nesterov=True)``. It differs from the
    seed's ``Nesterov`` class (``p += momentum**2 * v - (1 + momentum) * lr * g``),
    which is kept, as written, in ``jaxopt_lab.reference``.
    Sutskever et al. (2013), "On the importance of initialization and momentum".
    """
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("momentum", momentum, high=1.0)

    def rule(grad, state, param, step_size):
        velocity = momentum * state.velocity - step_size * grad
        return momentum * velocity - step_size * grad, state._replace(velocity=velocity)

    return elementwise_optimizer(
        rule, MomentumState, {"velocity": 0.0}, learning_rate, state_dtype=state_dtype
    )


def adagrad(
    learning_rate: ScalarOrSchedule = 0.01,
    eps: float = 1e-7,
    *,
    initial_accumulator_value: float = 0.0,
    eps_in_sqrt: bool = False,
    state_dtype: Any = None,
) -> optax.GradientTransformation:
    """AdaGrad.

    ``h += g**2;  p -= lr * g / (sqrt(h) + eps)``, h starting at
    ``initial_accumulator_value``; with ``eps_in_sqrt=True``,
    ``p -= lr * g / sqrt(h + eps)``.

    The defaults are the seed's. ``torch.optim.Adagrad(lr, eps=1e-10)`` is
    ``adagrad(lr, eps=1e-10)``; optax ``adagrad(lr)`` and Keras ``Adagrad(lr)``
    are ``adagrad(lr, initial_accumulator_value=0.1, eps_in_sqrt=True)``.
    Duchi, Hazan and Singer (2011), "Adaptive subgradient methods".
    """
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("eps", eps)
    check_hyperparameter("initial_accumulator_value", initial_accumulator_value)

    def rule(grad, state, param, step_size):
        sum_of_squares = state.sum_of_squares + grad * grad
        if eps_in_sqrt:
            denominator = jnp.sqrt(sum_of_squares + eps)
        else:
            denominator = jnp.sqrt(sum_of_squares) + eps
        return -step_size * grad / denominator, state._replace(sum_of_squares=sum_of_squares)

    return elementwise_optimizer(
        rule,
        AdagradState,
        {"sum_of_squares": initial_accumulator_value},
        learning_rate,
        state_dtype=state_dtype,
    )


def rmsprop(
    learning_rate: ScalarOrSchedule = 0.01,
    decay: float = 0.99,
    eps: float = 1e-7,
    *,
    eps_in_sqrt: bool = False,
    initial_scale: float = 0.0,
    centered: bool = False,
    momentum: float | None = None,
    state_dtype: Any = None,
) -> optax.GradientTransformation:
    """RMSprop.

    ``h = decay * h + (1 - decay) * g**2;  p -= lr * g / (sqrt(h) + eps)``, h
    starting at ``initial_scale``. With ``eps_in_sqrt=True`` the denominator is
    ``sqrt(h + eps)``. With ``centered=True``, ``h`` is replaced by
    ``h - m**2`` where ``m = decay * m + (1 - decay) * g``. With a
    ``momentum``, the scaled step is accumulated:
    ``v = momentum * v + lr * g / denominator;  p -= v``.

    The defaults are the seed's; they equal optax ``rmsprop(lr, decay=0.99,
    eps=1e-7, eps_in_sqrt=False)`` and ``torch.optim.RMSprop(lr, alpha=0.99,
    eps=1e-7)``. Keras ``RMSprop(lr)`` is ``rmsprop(lr, decay=0.9,
    eps_in_sqrt=True)``. Tieleman and Hinton (2012), Coursera lecture 6.5.
    """
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("decay", decay, high=1.0)
    check_hyperparameter("eps", eps)
    check_hyperparameter("initial_scale", initial_scale)
    check_hyperparameter("momentum", momentum, high=1.0, optional=True)

    def rule(grad, state, param, step_size):
        mean_square = decay * state.mean_square + (1 - decay) * grad * grad
        variance, mean_gradient = mean_square, None
        if centered:
            mean_gradient = decay * state.mean_gradient + (1 - decay) * grad
            variance = mean_square - mean_gradient * mean_gradient
        if eps_in_sqrt:
            denominator = jnp.sqrt(variance + eps)
        else:
            denominator = jnp.sqrt(variance) + eps
        step, velocity = step_size * grad / denominator, None
        if momentum is not None:
            velocity = step = momentum * state.velocity + step
        new_state = state._replace(
            mean_square=mean_square, mean_gradient=mean_gradient, velocity=velocity
        )
        return -step, new_state

    return elementwise_optimizer(
        rule,
        RmspropState,
        {
            "mean_square": initial_scale,
            "mean_gradient": 0.0 if centered else None,
            "velocity": None if momentum is None else 0.0,
        },
        learning_rate,
        state_dtype=state_dtype,
    )


def _adam_direction(grad, state, b1, b2, eps, eps_root, eps_hat):
    """The moment updates and the step direction shared by Adam and AdamW.

    Returns ``(direction, first_moment, second_moment)`` where the parameter
    step is ``-learning_rate * direction`` (plus weight decay for AdamW).
    """
    correction1, correction2 = _bias_corrections(state, b1, b2, grad.dtype)
    first_moment = state.first_moment + (1 - b1) * (grad - state.first_moment)
    second_moment = state.second_moment + (1 - b2) * (grad * grad - state.second_moment)
    if eps_hat:
        # lr_t = lr * sqrt(1 - b2**t) / (1 - b1**t); step = lr_t * m / (sqrt(v) + eps)
        correction = (jnp.sqrt(correction2) / correction1).astype(grad.dtype)
        direction = correction * first_moment / (jnp.sqrt(second_moment + eps_root) + eps)
    else:
        # m_hat = m / (1 - b1**t); v_hat = v / (1 - b2**t); step = lr * m_hat / (sqrt(v_hat) + eps)
        first_unbiased = first_moment / correction1.astype(grad.dtype)
        second_unbiased = second_moment / correction2.astype(grad.dtype)
        direction = first_unbiased / (jnp.sqrt(second_unbiased + eps_root) + eps)
    return direction, first_moment, second_moment


def _check_adam_hyperparameters(learning_rate, b1, b2, eps, eps_root):
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("b1", b1, high=1.0)
    check_hyperparameter("b2", b2, high=1.0)
    check_hyperparameter("eps", eps)
    check_hyperparameter("eps_root", eps_root)


def adam(
    learning_rate: ScalarOrSchedule = 0.001,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-7,
    *,
    eps_root: float = 0.0,
    eps_hat: bool = True,
    state_dtype: Any = None,
) -> optax.GradientTransformation:
    """Adam.

    ``m += (1 - b1) * (g - m);  v += (1 - b2) * (g**2 - v)``, both from 0, t the
    1-based step. With ``eps_hat=True`` (the seed's folded form, and Keras's)::

        lr_t = lr * sqrt(1 - b2**t) / (1 - b1**t)
        p -= lr_t * m / (sqrt(v + eps_root) + eps)

    With ``eps_hat=False`` (the paper's Algorithm 1, optax and torch)::

        p -= lr * m_hat / (sqrt(v_hat + eps_root) + eps),  m_hat = m / (1 - b1**t),
                                                          v_hat = v / (1 - b2**t)

    The two differ only in where eps sits: ``eps_hat=True`` with eps equals
    ``eps_hat=False`` with ``eps * sqrt(1 - b2**t)``.
    Defaults are the seed's, which equal Keras ``Adam(lr)``; optax ``adam(lr)``
    and ``torch.optim.Adam(lr)`` are ``adam(lr, eps=1e-8, eps_hat=False)``.
    Kingma and Ba (2015), "Adam: a method for stochastic optimization".
    """
    _check_adam_hyperparameters(learning_rate, b1, b2, eps, eps_root)

    def rule(grad, state, param, step_size):
        direction, first_moment, second_moment = _adam_direction(
            grad, state, b1, b2, eps, eps_root, eps_hat
        )
        new_state = state._replace(first_moment=first_moment, second_moment=second_moment)
        return -step_size * direction, new_state

    return elementwise_optimizer(
        rule,
        AdamState,
        {"first_moment": 0.0, "second_moment": 0.0},
        learning_rate,
        state_dtype=state_dtype,
    )


def adamw(
    learning_rate: ScalarOrSchedule = 0.001,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-7,
    weight_decay: float = 0.01,
    *,
    eps_root: float = 0.0,
    eps_hat: bool = True,
    state_dtype: Any = None,
) -> optax.GradientTransformation:
    """Adam with decoupled weight decay.

    The :func:`adam` step plus ``- lr * weight_decay * p`` (the decay is scaled
    by the learning rate, not by the Adam correction). ``update`` needs params.
    optax ``adamw(lr, weight_decay=wd)`` and ``torch.optim.AdamW(lr,
    weight_decay=wd)`` are ``adamw(lr, eps=1e-8, weight_decay=wd,
    eps_hat=False)``; Keras ``AdamW(lr, weight_decay=wd)`` is
    ``adamw(lr, weight_decay=wd)``. The default weight_decay, 0.01, is torch's.
    Loshchilov and Hutter (2019), "Decoupled weight decay regularization".
    """
    _check_adam_hyperparameters(learning_rate, b1, b2, eps, eps_root)
    check_hyperparameter("weight_decay", weight_decay)

    def rule(grad, state, param, step_size):
        direction, first_moment, second_moment = _adam_direction(
            grad, state, b1, b2, eps, eps_root, eps_hat
        )
        new_state = state._replace(first_moment=first_moment, second_moment=second_moment)
        return -step_size * (direction + weight_decay * param), new_state

    return elementwise_optimizer(
        rule,
        AdamState,
        {"first_moment": 0.0, "second_moment": 0.0},
        learning_rate,
        state_dtype=state_dtype,
        needs_params=True,
    )


OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adam": adam,
    "adamw": adamw,
}
"""Every lab optimizer by name, for the CLI and sweeps."""
