"""Gradient clipping as torch and Keras do it, as optax transformations.

Chain one of these before the optimizer, as the library applies it before its
step: ``optax.chain(clip_grad_norm(1.0), optimizer)``.

- :func:`clip_grad_norm` is ``torch.nn.utils.clip_grad_norm_``: the norm of the
  per-tensor norms, ``coef = max_norm / (norm + 1e-6)`` clamped to 1, and the
  gradients *always* multiplied by it. optax's ``clip_by_global_norm`` has no
  1e-6 and leaves the gradients untouched at or below ``max_norm``, so the two
  part whenever clipping is active (the docs measure by how much).
- :func:`clip_grad_value` is ``torch.nn.utils.clip_grad_value_`` (and optax's
  ``clip``).
- :func:`keras_clipnorm`, :func:`keras_global_clipnorm` and
  :func:`keras_clipvalue` are Keras 3's ``clipnorm`` (each variable on its
  own), ``global_clipnorm`` and ``clipvalue``, op for op.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax


def rounded(x: jax.Array) -> jax.Array:
    """``x``, rounded to its dtype before any later addition uses it.

    XLA (on CPU with FMA, and on GPU) contracts ``a * b + c`` into one fused
    multiply-add, which rounds once where torch and NumPy round twice. A
    select that is the identity (``x == x`` is false only for NaN, which it
    returns as NaN) stands between the product and the sum, so the compiler
    cannot fuse them.
    """
    return jnp.where(x == x, x, jnp.nan)


def _check_positive(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not value > 0 or math.isnan(value):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


def _tensor_norm(leaf: jax.Array, norm_type: float) -> jax.Array:
    magnitude = jnp.abs(leaf).ravel()
    if norm_type == math.inf:
        return jnp.max(magnitude, initial=0.0)
    if norm_type == 2.0:
        return jnp.sqrt(jnp.sum(magnitude * magnitude))
    if norm_type == 1.0:
        return jnp.sum(magnitude)
    return jnp.sum(magnitude**norm_type) ** (1.0 / norm_type)


def clip_grad_norm(max_norm: float, norm_type: float = 2.0) -> optax.GradientTransformation:
    """torch's ``clip_grad_norm_(parameters, max_norm, norm_type)`` over the whole tree.

    ``norm = ||(||g_1||, ..., ||g_n||)||`` (the p-norm of the per-leaf p-norms);
    ``g *= min(1, max_norm / (norm + 1e-6))``, always. A non-finite norm makes
    every gradient NaN, as in torch with ``error_if_nonfinite=False``.
    """
    max_norm = _check_positive("max_norm", max_norm)
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"norm_type must be > 0 (or inf), got {norm_type!r}")

    def update(updates, state, params=None):
        del params
        leaves = [leaf for leaf in jax.tree.leaves(updates) if leaf is not None]
        if not leaves:
            return updates, state
        norms = jnp.stack([_tensor_norm(leaf, norm_type) for leaf in leaves])
        total_norm = _tensor_norm(norms, norm_type)
        coefficient = jnp.minimum(max_norm / (total_norm + 1e-6), 1.0)
        return jax.tree.map(lambda g: g * coefficient.astype(g.dtype), updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def clip_grad_value(clip_value: float) -> optax.GradientTransformation:
    """torch's ``clip_grad_value_(parameters, clip_value)``: each entry into ``[-v, v]``."""
    clip_value = _check_positive("clip_value", clip_value)

    def update(updates, state, params=None):
        del params
        return jax.tree.map(lambda g: jnp.clip(g, -clip_value, clip_value), updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def keras_clipnorm(clipnorm: float) -> optax.GradientTransformation:
    """Keras's ``clipnorm``: each variable's gradient clipped to L2 norm ``clipnorm`` on its own.

    ``g * clipnorm / max(||g||, clipnorm)``, as ``BaseOptimizer._clip_by_norm``.
    """
    clipnorm = _check_positive("clipnorm", clipnorm)

    def clip(values):
        l2sum = jnp.sum(jnp.square(values), None, keepdims=True)
        pred = l2sum > 0
        l2sum_safe = jnp.where(pred, l2sum, jnp.ones_like(l2sum))
        l2norm = jnp.where(pred, jnp.sqrt(l2sum_safe), l2sum)
        return jnp.multiply(values, clipnorm) / jnp.maximum(l2norm, clipnorm)

    def update(updates, state, params=None):
        del params
        return jax.tree.map(clip, updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def keras_global_clipnorm(clipnorm: float) -> optax.GradientTransformation:
    """Keras's ``global_clipnorm``: ``g * clipnorm * min(1/norm, 1/clipnorm)`` over all leaves.

    ``norm = sqrt(sum of the per-variable sums of squares)``; a non-finite norm
    makes every gradient NaN.
    """
    clipnorm = _check_positive("global_clipnorm", clipnorm)

    def update(updates, state, params=None):
        del params
        leaves = [leaf for leaf in jax.tree.leaves(updates) if leaf is not None]
        if not leaves:
            return updates, state
        squared_norm = jnp.sum(jnp.stack([jnp.sum(jnp.square(leaf)) for leaf in leaves]))
        use_norm = jnp.sqrt(squared_norm)
        scale_for_finite = clipnorm * jnp.minimum(1.0 / use_norm, 1.0 / clipnorm)
        scale = scale_for_finite + (use_norm - use_norm)
        return jax.tree.map(lambda g: g * scale, updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def keras_clipvalue(clipvalue: float) -> optax.GradientTransformation:
    """Keras's ``clipvalue``: each entry into ``[-clipvalue, clipvalue]``."""
    clipvalue = _check_positive("clipvalue", clipvalue)

    def update(updates, state, params=None):
        del params
        return jax.tree.map(lambda g: jnp.clip(g, -clipvalue, clipvalue), updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)
