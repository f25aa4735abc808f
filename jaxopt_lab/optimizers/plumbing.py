"""The plumbing every lab optimizer shares: checks, conventions, the step count, pytrees.

An optimizer's algorithm is a *leaf rule* (a few lines that update one array
of parameters, written beside its formula, in the optimizer's own module);
:func:`elementwise_optimizer` turns a rule into an
``optax.GradientTransformationExtraArgs`` and owns everything else once:
``None`` leaves, dtype, structure and shape checks, the step count,
learning-rate schedules, the state dtype and sharding, and the conventions
below. :func:`hyperparameters` declares, beside each optimizer, which of its
arguments are numbers that ``jax.vmap`` may sweep, and validates them.

The protocol
------------
``init(params) -> state`` and ``update(grads, state, params=None, **extra_args)
-> (updates, state)``: optax's ``GradientTransformationExtraArgs`` (extra
keyword arguments, which optax combinators pass along, are accepted and
ignored). Every state array is built *like* its param (``jnp.full_like``), so
it carries the param's sharding (Auto or Explicit mesh) and a jitted
``fori_loop``/``scan`` over a sharded state keeps its carry type. ``count`` may
be a Python int (as in a state loaded from elsewhere); it comes back an int32
that saturates instead of wrapping.

The conventions: keyword-only knobs every optimizer takes, applied here once
-----------------------------------------------------------------------------
Each optimizer passes these through to :func:`elementwise_optimizer`, which
validates them when the optimizer is built and applies them around the rule,
so a rule never sees them (and every rule written later gets them for free):

``maximize=False``
    torch's ``maximize``: the gradient is negated before anything else, so the
    optimizer climbs. (optax: chain ``optax.scale(-1)`` first; Keras: none.)
``weight_decay=0.0`` and ``decoupled_weight_decay=False``
    Coupled (``False``, torch's ``weight_decay=`` on SGD, Adam, RMSprop,
    Adagrad, Adadelta, Adamax, NAdam, RAdam): L2 added to the gradient,
    ``g <- g + weight_decay * p``, after ``maximize`` (torch's order), before
    the rule, so it enters the moments. Decoupled (``True``, AdamW's, Keras's
    ``weight_decay=`` on every optimizer, optax's ``add_decayed_weights``
    after the scaling, torch's ``decoupled_weight_decay=True``): the rule's
    update plus ``- lr_t * weight_decay * p``, where ``lr_t`` is the learning
    rate (schedule) of this step; the moments never see it. torch multiplies
    ``p *= 1 - lr * wd`` and Keras subtracts ``p * wd * lr`` as their own
    update of ``p`` before the step: equal in exact arithmetic, one more
    rounding of ``p`` per step in float (the equivalence table measures it).
    ``weight_decay`` is a hyperparameter (sweepable); at a concrete 0 nothing
    is computed and ``update`` needs no params.
``complex_convention="optax"``
    How complex params extend the rule. ``"optax"``: complex arithmetic, with
    ``|g|**2 = (conj(g) * g).real`` wherever the formula squares a gradient
    (:func:`squared_magnitude`; the fields that hold such squares, declared as
    ``real_fields``, are real arrays). ``"torch"``: each complex number is two
    reals (``torch.view_as_real``): the rule runs on a real view with a
    trailing axis of 2, and every state field shaped like the param is stored
    complex, like the param, each of its two reals starting at the field's
    initial value (torch: ``full_like(p, complex(v, v))``); a field shaped by a
    function (a per-leaf scalar) stays real. A rule that is not defined on
    complex numbers (a sign, a comparison) declares ``complex_rule=False``:
    complex params are then accepted only with ``complex_convention="torch"``.

Validation (of hyperparameters when an optimizer is built, of trees and shapes
when it runs) lives in :mod:`jaxopt_lab.optimizers.validation`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.experimental.shard_alike import shard_alike

from jaxopt_lab.optimizers.validation import (
    check_hyperparameter,
    check_inexact_leaves,
    check_same_shapes,
    check_same_structure,
    check_state_dtype,
    check_state_shapes,
    check_switch,
    check_tree_structure,
    is_concrete,
    is_concrete_zero,
    leaf_dtype,
    path_text,
    real_dtype,
    tree_structure,
    working_dtype,
)

Schedule = Callable[[jax.Array], jax.Array]
ScalarOrSchedule = float | jax.Array | Schedule

apply_updates = optax.apply_updates

COMPLEX_CONVENTIONS = ("optax", "torch")
"""``complex_convention`` values: optax's complex arithmetic, torch's pairs of reals."""

_INT32_MAX = int(np.iinfo(np.int32).max)


# --------------------------------------------------------------------------- shared maths


def squared_magnitude(x: jax.Array) -> jax.Array:
    """``|x|**2``, real: ``x * x`` for real ``x``, ``(conj(x) * x).real`` for complex.

    Every rule squares a gradient through this, so that it extends to complex
    params in the optax convention (optax's ``abs_sq``); in the torch
    convention the rule sees real views and this is ``x * x``.
    """
    if jnp.iscomplexobj(x):
        return (jnp.conj(x) * x).real
    return x * x


def _real_view(x: jax.Array) -> jax.Array:
    """``torch.view_as_real``: a complex array as reals with a trailing axis of 2."""
    return jnp.stack([x.real, x.imag], axis=-1)


def _complex_view(x: jax.Array) -> jax.Array:
    """``torch.view_as_complex``: the inverse of :func:`_real_view` (exact)."""
    return jax.lax.complex(x[..., 0], x[..., 1])


def _like(param: Any, value: Any, dtype: Any) -> jax.Array:
    """An array of ``value`` shaped and sharded like ``param``.

    ``jnp.full_like`` keeps a concrete param's sharding, and an Explicit mesh's
    under ``jit``; with Auto axes under ``jit`` the tracer carries no sharding,
    and a constant that does not read ``param`` would land on one device, so
    ``shard_alike`` ties the two together for the compiler's propagation.
    """
    array = jnp.full_like(param, value, dtype=dtype)
    if isinstance(param, jax.core.Tracer):
        array, _ = shard_alike(array, param)
    return array


def _initial_leaf(param: Any, value: Any, dtype: Any) -> jax.Array:
    """One leaf's initial state: ``value`` everywhere, like ``param``, or ``value(param)``.

    An array ``value(param)`` shaped like ``param`` is tied to its sharding as
    :func:`_like` ties a constant's.
    """
    if not callable(value):
        return _like(param, value, dtype)
    array = jnp.asarray(value(param))
    if jnp.iscomplexobj(array) and not jnp.issubdtype(dtype, jnp.complexfloating):
        array = array.real  # a real field (real_fields) of a complex leaf
    array = array.astype(dtype)
    if isinstance(param, jax.core.Tracer) and array.shape == jnp.shape(param):
        array, _ = shard_alike(array, param)
    return array


def _count(count: Any) -> jax.Array:
    """The step count as an array: a Python int (a state loaded from elsewhere) becomes int32."""
    if isinstance(count, (int, np.integer)) and not isinstance(count, (bool, np.bool_)):
        if count < 0:
            raise ValueError(f"the optimizer state's count must be >= 0, got {count}")
        return jnp.asarray(min(int(count), _INT32_MAX), jnp.int32)
    count = jnp.asarray(count)
    if not jnp.issubdtype(count.dtype, jnp.integer) or count.ndim:
        raise TypeError(
            f"the optimizer state's count must be an integer scalar, got {count.dtype} "
            f"of shape {count.shape}"
        )
    return count


# --------------------------------------------------------------------------- plumbing

# A leaf rule updates one array: rule(grad, leaf_state, param, step_size) ->
# (update, new_leaf_state). ``leaf_state`` is the optimizer's state NamedTuple
# holding that leaf's arrays (``None`` for unused fields) and the step count.
LeafRule = Callable[[jax.Array, Any, jax.Array | None, jax.Array], tuple[jax.Array, Any]]
TreeStage = Callable[[Any, jax.Array], tuple[Any, ...]]


def _staged_updates(
    tree_stage: TreeStage,
    finishes: list[Callable[..., jax.Array]],
    leaf_states: list[Any],
    fields: list[str],
    treedef: Any,
    state: Any,
    count: jax.Array,
) -> list[jax.Array]:
    """Each leaf's update: its rule's ``finish`` of its share of ``tree_stage``'s trees."""
    new_state = state._replace(
        **{field: treedef.unflatten([getattr(s, field) for s in leaf_states]) for field in fields}
    )
    staged = [treedef.flatten_up_to(tree) for tree in tree_stage(new_state, count)]
    return [finish(*(leaves[index] for leaves in staged)) for index, finish in enumerate(finishes)]


def elementwise_optimizer(
    rule: LeafRule,
    state_type: type,
    initial_values: dict[str, float | jax.Array | None],
    learning_rate: ScalarOrSchedule,
    *,
    state_dtype: Any = None,
    needs_params: bool = False,
    real_fields: Iterable[str] = (),
    complex_rule: bool = True,
    maximize: bool = False,
    weight_decay: Any = 0.0,
    decoupled_weight_decay: bool = False,
    complex_convention: str = "optax",
    tree_stage: TreeStage | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Build an ``(init, update)`` pair from a rule that updates one leaf.

    Args:
      rule: ``rule(grad, leaf_state, param, step_size) -> (update, leaf_state)``.
      state_type: the state NamedTuple; its first field is ``count``. A field
        named ``structure`` (for optimizers without moments) holds the params'
        tree structure (:class:`TreeStructure`, static), so that ``update`` can check
        grads against it when no params are passed.
      initial_values: for each moment field, the value its arrays start at, or
        ``None`` for a field this configuration does not use. A number fills
        an array like the leaf; a function ``f(param) -> array`` gives a state
        whose shape depends on the leaf's (Adafactor's factored row and column
        moments, a per-leaf scalar, a copy of the params), cast to the field's
        dtype.
      learning_rate: a number, an array, or a schedule of the step count
        (called with the count before this step: 0 on the first).
      state_dtype: dtype of the moment arrays (e.g. ``jnp.float32`` for
        bfloat16 params; its complex counterpart for complex params); default:
        each param's own dtype. The rule runs in that dtype and updates come
        back in the params' dtype.
      needs_params: the rule reads ``param``.
      real_fields: fields that hold squared magnitudes (or maxima of them):
        real arrays for complex params in the optax convention.
      complex_rule: the rule is defined on complex numbers (False: complex
        params need ``complex_convention="torch"``).
      maximize, weight_decay, decoupled_weight_decay, complex_convention: the
        conventions of the module docstring.
      tree_stage: ``tree_stage(new_state, count) -> trees``, run once per step over the
        whole tree, between the rules and their updates: ``new_state`` holds every
        leaf's new moments as the rules returned them; each rule then returns
        ``finish`` in place of its update, and ``finish(*leaves)`` (the leaf's share
        of each returned tree) is the update. For a library's arithmetic that XLA
        compiles per tree: optax's bias correction divides every leaf by one shared
        scalar, which XLA keeps a division, where a leaf's own scalar becomes a
        multiplication by its reciprocal (:func:`jaxopt_lab.adam`).
    """
    check_state_dtype(state_dtype)
    check_switch("maximize", maximize)
    check_switch("decoupled_weight_decay", decoupled_weight_decay)
    if complex_convention not in COMPLEX_CONVENTIONS:
        raise ValueError(
            f"complex_convention must be one of {COMPLEX_CONVENTIONS}, got {complex_convention!r}"
        )
    check_hyperparameter("weight_decay", weight_decay)
    real_fields = frozenset(real_fields)
    unknown = real_fields - set(initial_values)
    if unknown:
        raise ValueError(f"real_fields {sorted(unknown)} are not fields of {state_type.__name__}")
    decays = not is_concrete_zero(weight_decay)
    needs_params = needs_params or decays
    torch_convention = complex_convention == "torch"
    keeps_structure = "structure" in state_type._fields

    def field_dtype(field: str, param: Any) -> np.dtype:
        dtype = working_dtype(leaf_dtype(param), state_dtype)
        # Real fields are real in the optax convention; in torch's, a field like
        # the param is complex (viewed as pairs), one shaped by a function (a
        # per-leaf scalar) stays real.
        if field in real_fields and (not torch_convention or callable(initial_values[field])):
            return real_dtype(dtype)
        return dtype

    def check_complex(params: Any) -> None:
        if complex_rule or torch_convention:
            return
        for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
            if jnp.issubdtype(leaf_dtype(leaf), jnp.complexfloating):
                name = rule.__qualname__.split(".")[0]
                raise TypeError(
                    f"params leaf at {path_text(path)} is complex, and {name}'s rule is not "
                    "defined on complex numbers; pass complex_convention='torch' to treat "
                    "each complex number as two reals, as torch does"
                )

    def init(params):
        check_inexact_leaves(params, "params")
        check_complex(params)

        def initial(param, field, value):
            dtype = field_dtype(field, param)
            if torch_convention and jnp.issubdtype(dtype, jnp.complexfloating):
                # Two reals each starting at the value (torch: full_like(p, complex(v, v))).
                value = value if callable(value) else value * (1 + 1j)
            return _initial_leaf(param, value, dtype)

        moments = {
            field: None
            if value is None
            else jax.tree.map(lambda p, field=field, value=value: initial(p, field, value), params)
            for field, value in initial_values.items()
        }
        extra = {"structure": tree_structure(params)} if keeps_structure else {}
        return state_type(count=jnp.zeros([], jnp.int32), **moments, **extra)

    def update(grads, state, params=None, **extra_args):
        del extra_args  # optax's GradientTransformationExtraArgs: accepted and ignored
        check_inexact_leaves(grads, "grads")
        if needs_params and params is None:
            raise ValueError(
                "this optimizer reads the params (weight decay, or its rule): pass params "
                "to update()"
            )
        grad_leaves, treedef = jax.tree.flatten(grads)
        fields = [field for field in initial_values if getattr(state, field) is not None]
        for field in fields:
            check_same_structure(grads, getattr(state, field), "grads")
        if keeps_structure:
            check_tree_structure(grads, state.structure)
        if params is not None:
            check_same_structure(params, grads, "params")
            check_complex(params)
        moment_leaves = {field: treedef.flatten_up_to(getattr(state, field)) for field in fields}
        param_leaves = (
            treedef.flatten_up_to(params) if params is not None else [None] * len(grad_leaves)
        )
        for field in fields:
            check_state_shapes(grads, moment_leaves[field], initial_values[field], field)
        if params is not None:
            check_same_shapes(grads, param_leaves, "params")
        count = _count(state.count)
        step_size = learning_rate(count) if callable(learning_rate) else learning_rate

        update_leaves, leaf_states, leaf_settings = [], [], []
        for index, (grad, param) in enumerate(zip(grad_leaves, param_leaves)):
            grad = jnp.asarray(grad)
            output_dtype = grad.dtype if param is None else jnp.result_type(param)
            compute_dtype = working_dtype(
                jnp.promote_types(grad.dtype, output_dtype)
                if jnp.issubdtype(output_dtype, jnp.complexfloating)
                else grad.dtype,
                state_dtype,
            )
            grad = grad.astype(compute_dtype)
            param = None if param is None else jnp.asarray(param).astype(compute_dtype)
            if maximize:
                grad = -grad
            if decays and not decoupled_weight_decay:
                grad = grad + weight_decay * param
            moments = {field: moment_leaves[field][index] for field in fields}
            as_pairs = torch_convention and jnp.iscomplexobj(grad)
            rule_grad, rule_param, paired = grad, param, set()
            if as_pairs:  # torch: each complex number is two reals
                rule_grad = _real_view(grad)
                rule_param = None if param is None else _real_view(param)
                paired = {field for field, moment in moments.items() if jnp.iscomplexobj(moment)}
                moments = {
                    field: _real_view(moment.astype(compute_dtype)) if field in paired else moment
                    for field, moment in moments.items()
                }
            leaf_state = state._replace(count=count, **moments)
            update, new_leaf_state = rule(rule_grad, leaf_state, rule_param, step_size)
            update_leaves.append(update)
            leaf_states.append(new_leaf_state)
            leaf_settings.append((param, output_dtype, as_pairs, paired))
        if tree_stage is not None:
            update_leaves = _staged_updates(
                tree_stage, update_leaves, leaf_states, fields, treedef, state, count
            )

        new_moment_leaves = {field: [] for field in fields}
        for index, (update, new_leaf_state) in enumerate(zip(update_leaves, leaf_states)):
            param, output_dtype, as_pairs, paired = leaf_settings[index]
            if as_pairs:
                update = _complex_view(update)
            if decays and decoupled_weight_decay:
                update = update - step_size * (weight_decay * param)
            if jnp.iscomplexobj(update) and not jnp.issubdtype(output_dtype, jnp.complexfloating):
                update = jnp.real(update)  # a complex state_dtype on real params (optax's mu_dtype)
            update_leaves[index] = update.astype(output_dtype)
            for field in fields:
                moment = getattr(new_leaf_state, field)
                if as_pairs and field in paired:
                    moment = _complex_view(moment)
                new_moment_leaves[field].append(moment.astype(moment_leaves[field][index].dtype))

        new_state = state._replace(
            count=optax.safe_increment(count),
            **{field: treedef.unflatten(leaves) for field, leaves in new_moment_leaves.items()},
        )
        return treedef.unflatten(update_leaves), new_state

    return optax.GradientTransformationExtraArgs(init, update)


BIAS_CORRECTIONS = ("accurate", "float32")
"""How ``1 - b**t`` is computed: accurately (``-expm1(t * log b)``, the tutorial's and
torch's numbers), or as optax and Keras compute it (``1 - b**t`` in the working dtype, from
``b`` rounded to it: float32 in a float32 run)."""


def bias_corrections(
    leaf_state: Any, b1: Any, b2: Any, dtype: Any, form: str = "accurate"
) -> tuple[jax.Array, jax.Array]:
    """``(1 - b1**t, 1 - b2**t)`` for the 1-based step t, in at least float32.

    ``form="accurate"``: each is :func:`one_minus_power`, accurate to a few ulps
    of the working dtype, as the tutorial's NumPy code and torch (which compute
    it in double) are. ``form="float32"``: :func:`rounded_one_minus_power`, optax's
    and Keras's arithmetic bit for bit (0.999 becomes 0.99900001 in float32, so
    ``1 - b2`` is off by 1.3e-5). In bfloat16, 0.999 rounds to 1, so the
    computation is in at least float32; a float16 step number would be inexact
    past 2048 steps. The count is converted before adding one, so that a
    saturated int32 count cannot wrap to -2**31. ``dtype`` is the working dtype
    of the leaf (its real counterpart for complex leaves).
    """
    wide = jnp.promote_types(real_dtype(dtype), jnp.float32)
    t = jnp.asarray(leaf_state.count).astype(wide) + 1
    if form == "float32":
        return rounded_one_minus_power(b1, t), rounded_one_minus_power(b2, t)
    return one_minus_power(b1, t), one_minus_power(b2, t)


def rounded_one_minus_power(base: Any, exponent: jax.Array) -> jax.Array:
    """``1 - base**exponent`` as optax and Keras take it: ``base`` rounded to
    ``exponent``'s dtype, the power and the difference in that dtype."""
    dtype = jnp.result_type(exponent)
    return 1 - jnp.power(jnp.asarray(base, dtype), exponent)


def one_minus_power(base: Any, exponent: jax.Array) -> jax.Array:
    """``1 - base**exponent`` without cancellation: ``-expm1(exponent * log(base))``.

    For a concrete ``base`` (a Python number) the logarithm is taken in
    float64, so the result is accurate for the number given, not for its
    rounding to the working dtype; a traced ``base`` is taken as it is, with
    ``log1p(base - 1)`` (exact subtraction for base in [0.5, 1]). The result
    has ``exponent``'s dtype.
    """
    dtype = jnp.result_type(exponent)
    if is_concrete(base):
        with np.errstate(divide="ignore"):
            log_base = np.log(np.asarray(base, np.float64))
        log_base = jnp.asarray(log_base, dtype)
    else:
        log_base = jnp.log1p(jnp.asarray(base, dtype) - 1)
    return -jnp.expm1(exponent * log_base)
