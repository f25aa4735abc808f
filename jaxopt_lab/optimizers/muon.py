"""Muon: momentum orthogonalised by a Newton-Schulz iteration, for matrices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers.plumbing import (
    ScalarOrSchedule,
    bias_corrections,
    elementwise_optimizer,
    squared_magnitude,
)
from jaxopt_lab.optimizers.validation import (
    check_choice,
    check_count,
    check_eps,
    check_hyperparameter,
    hyperparameters,
    is_concrete_zero,
)

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
"""The quintic Newton-Schulz coefficients (a, b, c) of Jordan's Muon (optax, torch and Keras)."""

_MOMENTUM_FORMS = ("ema", "sum", "debiased_ema")
_SHAPE_SCALINGS = ("width", "rms", "none")
_LAYOUTS = ("in_out", "out_in")
_NON_MATRIX = ("adamw", "raise")


class MuonState(NamedTuple):
    """State of :func:`muon`.

    ``momentum``: every leaf's momentum buffer (for a leaf that is not a matrix,
    the inner AdamW's first moment). ``second_moment``: the inner AdamW's
    second moment for leaves that are not matrices; empty (shape ``(0,)``)
    for matrices.
    """

    count: jax.Array
    momentum: Any
    second_moment: Any


def orthogonalize(
    x: jax.Array,
    coefficients: Sequence[float] = NS_COEFFICIENTS,
    steps: int = 5,
    eps: float = 1e-7,
    *,
    eps_as_floor: bool = False,
    dtype: Any = None,
) -> jax.Array:
    """The Newton-Schulz orthogonalisation of a matrix: roughly ``U V^T`` for ``x = U S V^T``.

    ``X = x / (||x||_F + eps)`` (``/ max(||x||_F, eps)`` with ``eps_as_floor``,
    torch), then ``steps`` times ``A = X X^H;  B = b A + c A A;  X = a X + B X``,
    on the wide orientation (a tall ``x`` is transposed and back). Each of
    these operations runs in at least float32 and is rounded to ``dtype``
    (default: ``x``'s), as torch does on bfloat16 (torch and Jordan's
    reference run the iteration in bfloat16); the result has ``x``'s dtype
    (and its sharding: a matrix sharded over an Explicit mesh axis is gathered
    for the iteration).
    """
    a, b, c = coefficients
    out_dtype = x.dtype
    dtype = jnp.dtype(dtype or x.dtype)
    wide = jnp.promote_types(dtype, jnp.float32)
    info = jnp.finfo(dtype)

    def rounded(value):
        if dtype == wide or jnp.iscomplexobj(value):
            return value
        return jax.lax.reduce_precision(value, exponent_bits=info.nexp, mantissa_bits=info.nmant)

    spec = _explicit_spec(x)
    if spec is not None:  # a product over a sharded axis needs the whole matrix
        x = jax.sharding.reshard(x, jax.sharding.PartitionSpec())
    x = rounded(x.astype(wide))
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    norm = rounded(jnp.linalg.norm(x))
    x = rounded(x / rounded(jnp.maximum(norm, eps) if eps_as_floor else norm + eps))
    for _ in range(steps):
        gram = rounded(x @ jnp.conj(x.T))
        x = rounded(a * x + rounded(b * gram + c * (gram @ gram)) @ x)
    x = (x.T if tall else x).astype(out_dtype)
    return x if spec is None else jax.sharding.reshard(x, spec)


def _explicit_spec(x: jax.Array) -> Any:
    """``x``'s PartitionSpec if it is sharded over an Explicit mesh axis, else ``None``."""
    typeof = getattr(jax, "typeof", None)
    sharding = getattr(typeof(x), "sharding", None) if typeof is not None else None
    spec = getattr(sharding, "spec", None)
    return spec if spec is not None and any(axis is not None for axis in spec) else None


def lerp(start: jax.Array, end: jax.Array, weight: Any) -> jax.Array:
    """``start + weight * (end - start)``, rounded as ``torch.lerp`` rounds it.

    torch computes ``start + w * (end - start)`` for ``|w| < 0.5`` and
    ``end - (end - start) * (1 - w)`` otherwise, with ``w`` in the tensor's
    dtype; Jordan's Muon and ``torch.optim.Muon`` keep their momentum with it.
    """
    weight = jnp.asarray(weight, start.dtype)
    difference = end - start
    return jnp.where(
        jnp.abs(weight) < 0.5, start + weight * difference, end - difference * (1 - weight)
    )


@hyperparameters(
    "learning_rate",
    "momentum",
    "weight_decay",
    "eps",
    "rms_rate",
    "adam_learning_rate",
    "adam_b1",
    "adam_b2",
    "adam_eps",
    "adam_weight_decay",
)
def muon(
    learning_rate: ScalarOrSchedule = 0.02,
    momentum: float = 0.95,
    weight_decay: float = 0.0,
    eps: float = 1e-7,
    *,
    nesterov: bool = True,
    momentum_form: str = "ema",
    ns_coefficients: Sequence[float] = NS_COEFFICIENTS,
    ns_steps: int = 5,
    ns_dtype: Any = None,
    eps_as_floor: bool = False,
    shape_scaling: str = "width",
    rms_rate: float = 0.2,
    layout: str = "in_out",
    non_matrix: str = "adamw",
    adam_learning_rate: ScalarOrSchedule | None = None,
    adam_b1: float = 0.9,
    adam_b2: float = 0.999,
    adam_eps: float = 1e-8,
    adam_weight_decay: float = 0.0,
    adam_nesterov: bool = False,
    adam_eps_hat: bool = False,
    maximize: bool = False,
    state_dtype: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """Muon (MomentUm Orthogonalized by Newton-Schulz), with AdamW for non-matrices.

    For a 2-D leaf, with ``mu = momentum``::

        m = lerp(m, g, 1 - mu);      d = lerp(g, m, mu)           ("ema": Jordan, torch)
        m = mu * m + g;              d = g + mu * m               ("sum": Keras)
        m = mu * m + (1 - mu) * g;   d = mu * m / (1 - mu**(t+1)) + (1 - mu) * g / (1 - mu**t)
                                                                  ("debiased_ema": optax)
        p -= lr * (s * orthogonalize(d) + weight_decay * p)

    (``d = m``, or ``m / (1 - mu**t)`` for "debiased_ema", without
    ``nesterov``); :func:`orthogonalize` with ``ns_coefficients``,
    ``ns_steps``, ``eps``, ``eps_as_floor`` and ``ns_dtype``. The shape scale s
    is ``sqrt(max(1, fan_out / fan_in))`` ("width": Jordan, torch's
    default, optax's), ``rms_rate * sqrt(max(fan_in, fan_out))`` ("rms":
    Moonshot's, torch's "match_rms_adamw", Keras's) or 1 ("none"), where a
    leaf is ``[fan_in, fan_out]`` (``layout="in_out"``, Flax's Dense kernel)
    or ``[fan_out, fan_in]`` (``"out_in"``, torch's Linear weight).

    A leaf that is not 2-D is stepped by AdamW (``non_matrix="adamw"``: optax,
    Keras) with ``adam_learning_rate`` (default: ``learning_rate``),
    ``adam_b1``, ``adam_b2``, ``adam_eps``, ``adam_weight_decay``, as
    :func:`~jaxopt_lab.adamw` with ``eps_hat=adam_eps_hat``;
    ``adam_nesterov`` uses optax's Nesterov first moment
    ``b1 * m / (1 - b1**(t+1)) + (1 - b1) * g / (1 - b1**t)``.
    ``non_matrix="raise"`` (torch) refuses such leaves in ``init``.
    ``update`` needs params when a weight decay is not 0.

    Defaults: Jordan's reference (``KellerJordan/Muon``: lr 0.02, momentum
    0.95, Nesterov, no weight decay, eps 1e-7, width scaling; it runs the
    iteration in bfloat16, the lab in the leaf's dtype unless ``ns_dtype``);
    the inner AdamW has torch's AdamW betas and eps, no decay.

    ``torch.optim.Muon(lr, weight_decay=wd, momentum=mu, eps=e)`` is
    ``muon(lr, mu, wd, e, eps_as_floor=True, ns_dtype=jnp.bfloat16,
    layout="out_in", non_matrix="raise")`` (``adjust_lr_fn="match_rms_adamw"``:
    ``shape_scaling="rms"``). optax ``contrib.muon(lr, beta=mu, eps=e,
    weight_decay=wd)`` is ``muon(lr, mu, wd, e, momentum_form="debiased_ema",
    adam_eps=e, adam_nesterov=True)`` (``consistent_rms=r``:
    ``shape_scaling="rms", rms_rate=r``). Keras ``Muon(lr, weight_decay=wd,
    adam_weight_decay=awd, epsilon=ae, momentum=mu)`` is ``muon(lr, mu, wd,
    1e-7, momentum_form="sum", shape_scaling="rms", adam_eps=ae,
    adam_weight_decay=awd, adam_eps_hat=True)``.
    Jordan et al. (2024), "Muon: an optimizer for hidden layers in neural
    networks"; Liu et al. (2025), "Muon is scalable for LLM training".
    """
    check_hyperparameter("learning_rate", learning_rate)
    check_hyperparameter("momentum", momentum, high=1.0)
    check_hyperparameter("weight_decay", weight_decay)
    check_eps("eps", eps, denominator="||d||_F + eps")
    check_hyperparameter("rms_rate", rms_rate)
    check_hyperparameter("adam_learning_rate", adam_learning_rate, optional=True)
    check_hyperparameter("adam_b1", adam_b1, high=1.0)
    check_hyperparameter("adam_b2", adam_b2, high=1.0)
    check_eps("adam_eps", adam_eps, denominator="sqrt(v) + adam_eps")
    check_hyperparameter("adam_weight_decay", adam_weight_decay)
    check_choice("momentum_form", momentum_form, _MOMENTUM_FORMS)
    check_choice("shape_scaling", shape_scaling, _SHAPE_SCALINGS)
    check_choice("layout", layout, _LAYOUTS)
    check_choice("non_matrix", non_matrix, _NON_MATRIX)
    try:
        coefficients = tuple(float(c) for c in ns_coefficients)
    except (TypeError, ValueError):
        coefficients = ()
    if len(coefficients) != 3:
        raise ValueError(
            f"ns_coefficients must be three numbers (a, b, c), got {ns_coefficients!r}"
        )
    ns_coefficients = coefficients
    check_count("ns_steps", ns_steps)
    if ns_dtype is not None:
        _check_floating_dtype("ns_dtype", ns_dtype)
    decays = not is_concrete_zero(weight_decay)
    adam_decays = non_matrix == "adamw" and not is_concrete_zero(adam_weight_decay)

    def shape_scale(shape):
        fan_in, fan_out = shape if layout == "in_out" else shape[::-1]
        if shape_scaling == "width":
            return max(1.0, fan_out / fan_in) ** 0.5
        if shape_scaling == "rms":
            return rms_rate * max(fan_in, fan_out) ** 0.5
        return 1.0

    def matrix_rule(grad, state, param, step_size):
        real = grad.real.dtype
        m = state.momentum
        if momentum_form == "ema":
            m = lerp(m, grad, 1 - momentum)
            direction = lerp(grad, m, momentum) if nesterov else m
        elif momentum_form == "sum":
            m = momentum * m + grad
            direction = grad + momentum * m if nesterov else m
        else:
            m = (1 - momentum) * grad + momentum * m
            correction, _ = bias_corrections(state, momentum, momentum, real)
            if nesterov:
                ahead = state._replace(count=state.count + 1)
                correction_ahead, _ = bias_corrections(ahead, momentum, momentum, real)
                direction = momentum * (m / correction_ahead.astype(real)) + (1 - momentum) * (
                    grad / correction.astype(real)
                )
            else:
                direction = m / correction.astype(real)
        orthogonal = orthogonalize(
            direction, ns_coefficients, ns_steps, eps, eps_as_floor=eps_as_floor, dtype=ns_dtype
        )
        step = shape_scale(grad.shape) * orthogonal
        if decays:
            step = step + weight_decay * param
        return -step_size * step, state._replace(momentum=m)

    def adamw_rule(grad, state, param, step_size):
        b1, b2, real = adam_b1, adam_b2, grad.real.dtype
        correction1, correction2 = bias_corrections(state, b1, b2, real)
        m = state.momentum + (1 - b1) * (grad - state.momentum)
        v = state.second_moment + (1 - b2) * (squared_magnitude(grad) - state.second_moment)
        if adam_nesterov:
            ahead = state._replace(count=state.count + 1)
            correction_ahead, _ = bias_corrections(ahead, b1, b2, real)
            first = b1 * (m / correction_ahead.astype(real)) + (1 - b1) * (
                grad / correction1.astype(real)
            )
        else:
            first = m / correction1.astype(real)
        if adam_eps_hat:
            direction = jnp.sqrt(correction2).astype(real) * first / (jnp.sqrt(v) + adam_eps)
        else:
            direction = first / (jnp.sqrt(v / correction2.astype(real)) + adam_eps)
        if adam_decays:
            direction = direction + adam_weight_decay * param
        if adam_learning_rate is not None:
            step_size = (
                adam_learning_rate(state.count)
                if callable(adam_learning_rate)
                else adam_learning_rate
            )
        return -step_size * direction, state._replace(momentum=m, second_moment=v)

    def rule(grad, state, param, step_size):
        if grad.size == 0:
            return jnp.zeros_like(grad), state
        if grad.ndim == 2:
            return matrix_rule(grad, state, param, step_size)
        return adamw_rule(grad, state, param, step_size)

    def second_moment(param):
        return jnp.zeros((0,)) if jnp.ndim(param) == 2 else jnp.zeros_like(param)

    transformation = elementwise_optimizer(
        rule,
        MuonState,
        {"momentum": 0.0, "second_moment": second_moment},
        learning_rate,
        state_dtype=state_dtype,
        needs_params=decays or adam_decays,
        real_fields=("second_moment",),
        maximize=maximize,
    )

    def init(params):
        for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
            where = f"params leaf at {jax.tree_util.keystr(path) or '<root>'}"
            if jnp.ndim(leaf) != 2 and non_matrix == "raise":
                raise ValueError(
                    f"{where} has shape {jnp.shape(leaf)}; muon(non_matrix='raise') takes "
                    "only 2-D leaves (as torch.optim.Muon): step the others with another "
                    "optimizer, or pass non_matrix='adamw'"
                )
        return transformation.init(params)

    return transformation._replace(init=init)


def _check_floating_dtype(name: str, dtype: Any) -> None:
    try:
        floating = jnp.issubdtype(jnp.dtype(dtype), jnp.floating)
    except TypeError:
        floating = False
    if not floating:
        raise ValueError(f"{name} must be a floating-point dtype, got {dtype!r}")
