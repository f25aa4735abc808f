"""Run two optimizers side by side and measure, to the ulp, how far they part.

``compare(a, b, params, gradients)`` starts both sides from the same params,
feeds both the same fixed gradient sequence, and records after every step the
largest absolute error, relative error and ulp distance between their params,
and the first step at which either side went non-finite. A side may be:

- a lab or optax optimizer (an ``optax.GradientTransformation``);
- a ``torch.optim`` class, or ``functools.partial`` of one with its settings
  (``partial(torch.optim.Adam, lr=1e-3)``), or a :class:`TorchAdapter`;
- a Keras 3 optimizer instance (run on Keras's JAX backend);
- one of the tutorial's reference objects (``reference.Adam()``), or anything with
  the tutorial's ``update(params_dict, grads_dict)`` method.

Each is wrapped in an adapter with the :class:`Adapter` interface (``start``,
``step``); :func:`trajectory` runs one side over the sequence and keeps its
params after every step, :func:`measure` compares two trajectories. Because
the gradients are fixed rather than computed from the params, errors do not
feed back through a model: what is measured is the optimizers' arithmetic.

The adapters live in :mod:`jaxopt_lab.crosscheck.adapters`; everything is importable
from :mod:`jaxopt_lab.crosscheck`.
The equivalence table (which settings make which libraries agree, and the
tolerance it is held to) is :mod:`jaxopt_lab.equivalences`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from jaxopt_lab.crosscheck.adapters import as_adapter, run_by_steps

__all__ = [
    "Comparison",
    "Trajectory",
    "assert_equivalent",
    "compare",
    "first_steps",
    "measure",
    "normwise_relative_error",
    "random_gradients",
    "tolerance_failure",
    "trajectory",
    "ulp_distance",
]

# --------------------------------------------------------------------------- error measures


def _ordered_bits(values: np.ndarray) -> np.ndarray:
    """Map floats to integers whose order and differences count representable values."""
    bits = values.view(np.dtype(f"int{8 * values.dtype.itemsize}")).astype(np.int64)
    magnitude = bits & np.int64(2 ** (8 * values.dtype.itemsize - 1) - 1)
    return np.where(bits < 0, -magnitude, magnitude)


def ulp_distance(a: Any, b: Any) -> np.ndarray:
    """How many representable values of their dtype lie between ``a`` and ``b``.

    0 for equal values (and for +0 and -0); 1 for neighbours. ``a`` and ``b``
    must share one floating dtype (float16, bfloat16, float32 or float64; a
    complex dtype is measured on its real and imaginary parts, with a trailing
    axis of 2). Returned as float64 so that distances across zero cannot
    overflow.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype:
        raise TypeError(f"ulp_distance needs one dtype, got {a.dtype} and {b.dtype}")
    if np.iscomplexobj(a):
        a, b = _real_pairs(a), _real_pairs(b)
    ordered_a, ordered_b = _ordered_bits(a), _ordered_bits(b)
    same_sign = (ordered_a >= 0) == (ordered_b >= 0)
    with np.errstate(over="ignore"):
        within = np.abs(ordered_a - ordered_b).astype(np.float64)
    across = np.abs(ordered_a.astype(np.float64)) + np.abs(ordered_b.astype(np.float64))
    return np.where(same_sign, within, across)


def _real_pairs(values: np.ndarray) -> np.ndarray:
    return np.stack([values.real, values.imag], axis=-1)


def normwise_relative_error(a: Any, b: Any) -> float:
    """``max|a - b| / max(|a|, |b|)`` over a whole array, in float64; 0 if both are 0.

    The normwise error of numerical analysis: unlike an elementwise relative
    error (or :func:`ulp_distance`), it does not blow up where a value
    crosses zero while its neighbours are of order one.
    """
    a, b = _wide(a), _wide(b)
    scale = max(_max(np.abs(a)), _max(np.abs(b)))
    return _max(np.abs(a - b)) / scale if scale > 0 else 0.0


def _wide(values: Any) -> np.ndarray:
    values = np.asarray(values)
    return values.astype(np.complex128 if np.iscomplexobj(values) else np.float64)


def _max(values: np.ndarray) -> float:
    return float(np.max(values)) if values.size else 0.0


# --------------------------------------------------------------------------- trajectories


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """One side's params after every step: ``leaves[i][k]`` is leaf i after step k + 1.

    ``updates[i][k]``, where recorded, is the step the side would take at step k + 1
    from params of zero (its ``probe``): the update itself, not rounded into p.
    """

    dtype: np.dtype
    treedef: Any
    paths: list[str]
    leaves: list[np.ndarray]
    updates: list[np.ndarray] | None = None

    @property
    def steps(self) -> int:
        return len(self.leaves[0]) if self.leaves else 0


def random_gradients(params: Any, steps: int, *, seed: int = 0, scale: float = 1.0) -> Any:
    """A fixed gradient sequence: ``params``' structure with a leading axis of ``steps``.

    Standard normal times ``scale``, drawn in float64 with NumPy, each leaf from
    its own stream (``seed`` and the leaf's index), so that the first k steps
    of a longer sequence are exactly the k steps of a shorter one.
    """
    leaves, treedef = jax.tree.flatten(params)
    return treedef.unflatten(
        [
            scale * np.random.default_rng([seed, index]).standard_normal((steps, *np.shape(leaf)))
            for index, leaf in enumerate(leaves)
        ]
    )


def trajectory(
    side: Any,
    params: Any,
    gradients: Any,
    steps: int | None = None,
    *,
    dtype: Any = None,
    updates: bool = False,
) -> Trajectory:
    """Run one side from ``params`` over ``gradients``; keep its params after every step.

    Args:
      side: an optimizer or adapter, as for :func:`compare`.
      params: the starting pytree of float (or complex) arrays.
      gradients: a pytree like ``params`` whose leaves have a leading step axis
        (see :func:`random_gradients`).
      steps: how many steps (default: the whole sequence).
      dtype: the dtype the side runs in (default: the params'); float64 (and
        complex128) on the JAX side runs inside ``jax.enable_x64``.
      updates: also record each step's update (the side's ``probe``: the step
        from its state at params of zero), step by step; for the update measure.
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
        jax.tree_util.keystr(path) or "<root>"
        for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]
    ]
    start = [np.asarray(leaf, dtype) for leaf in param_leaves]
    gradient_leaves = [np.asarray(g[:steps], dtype) for g in gradient_leaves]
    side = as_adapter(side)
    wide = np.finfo(dtype).bits == 64
    recorded = None
    with jax.enable_x64(wide), np.errstate(invalid="ignore", over="ignore"):
        side.start(start, treedef)
        if updates:
            history, recorded = _run_with_updates(side, gradient_leaves)
        elif callable(getattr(side, "run", None)):
            history = side.run(gradient_leaves)
        else:
            history = run_by_steps(side, gradient_leaves)
    history = [np.asarray(leaf, dtype) for leaf in history]
    return Trajectory(dtype, treedef, paths, history, recorded)


def _run_with_updates(side: Any, gradient_leaves: list[np.ndarray]) -> tuple[list, list]:
    """Each step's probe (the update from params of zero), then the step: in the side's
    own compiled loop where it has one (``run_with_updates``), else step by step."""
    if callable(getattr(side, "run_with_updates", None)):
        try:
            return side.run_with_updates(gradient_leaves)
        except NotImplementedError:
            pass
    if not callable(getattr(side, "probe", None)):
        raise TypeError(f"{type(side).__name__} has no probe(): it cannot report its updates")
    steps = len(gradient_leaves[0]) if gradient_leaves else 0
    probes, history = [], []
    for index in range(steps):
        grads = [g[index] for g in gradient_leaves]
        probes.append(side.probe(grads))
        history.append(side.step(grads))
    stack = lambda rows: [np.stack([row[leaf] for row in rows]) for leaf in range(len(rows[0]))]  # noqa: E731
    return stack(history), stack(probes)


def first_steps(trajectory: Trajectory, steps: int) -> Trajectory:
    """The first ``steps`` steps of a trajectory."""
    if steps > trajectory.steps:
        raise ValueError(f"the trajectory has {trajectory.steps} steps, not {steps}")
    updates = None if trajectory.updates is None else [u[:steps] for u in trajectory.updates]
    return dataclasses.replace(
        trajectory, leaves=[leaf[:steps] for leaf in trajectory.leaves], updates=updates
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
    ``max_update_ulps`` (where both trajectories recorded their updates): the
    largest normwise difference of the two sides' updates at each step, in ulps
    of the update's own scale (the dtype's epsilon times the leaf's largest
    update): a row whose params agree only because the learning rate makes the
    step small against p shows here.
    """

    dtype: np.dtype
    max_abs_error: np.ndarray
    max_rel_error: np.ndarray
    max_ulp_distance: np.ndarray
    worst_leaf: list[str]
    first_nonfinite_step: int | None
    final_a: Any
    final_b: Any
    max_update_ulps: np.ndarray | None = None

    @property
    def steps(self) -> int:
        return len(self.max_abs_error)

    @property
    def max_scaled_ulps(self) -> np.ndarray:
        """``max_rel_error`` in units of the dtype's epsilon: ulps of each leaf's scale."""
        return self.max_rel_error / float(np.finfo(self.dtype).eps)


def measure(a: Trajectory, b: Trajectory) -> Comparison:
    """Compare two trajectories of the same params, step by step."""
    if a.dtype != b.dtype or a.steps != b.steps or len(a.leaves) != len(b.leaves):
        raise ValueError(
            f"trajectories differ in dtype or length: {a.dtype} x {a.steps} steps x "
            f"{len(a.leaves)} leaves against {b.dtype} x {b.steps} x {len(b.leaves)}"
        )
    absolute, relative, ulps, finite = [], [], [], []
    with np.errstate(invalid="ignore", over="ignore"):
        for leaf_a, leaf_b in zip(a.leaves, b.leaves, strict=True):
            axes = tuple(range(1, leaf_a.ndim))
            wide_a, wide_b = _wide(leaf_a), _wide(leaf_b)
            error = _per_step_max(np.abs(wide_a - wide_b), axes)
            scale = np.maximum(
                _per_step_max(np.abs(wide_a), axes), _per_step_max(np.abs(wide_b), axes)
            )
            absolute.append(error)
            relative.append(np.where(scale > 0, error / np.where(scale > 0, scale, 1), 0.0))
            distance = ulp_distance(leaf_a, leaf_b)
            ulps.append(_per_step_max(distance, tuple(range(1, distance.ndim))))
            finite.append(
                np.all(np.isfinite(leaf_a), axis=axes) & np.all(np.isfinite(leaf_b), axis=axes)
            )
    absolute, relative, ulps = np.stack(absolute), np.stack(relative), np.stack(ulps)
    all_finite = np.all(np.stack(finite), axis=0)
    nonfinite = np.flatnonzero(~all_finite)
    worst = np.argmax(np.nan_to_num(relative, nan=np.inf), axis=0)
    update_ulps = None
    if a.updates is not None and b.updates is not None:
        update_ulps = _update_ulps(a.updates, b.updates, a.dtype)
    return Comparison(
        dtype=a.dtype,
        max_abs_error=absolute.max(axis=0),
        max_rel_error=relative[worst, np.arange(relative.shape[1])],
        max_ulp_distance=ulps.max(axis=0),
        worst_leaf=[a.paths[index] for index in worst],
        first_nonfinite_step=int(nonfinite[0]) + 1 if nonfinite.size else None,
        final_a=a.treedef.unflatten([leaf[-1] for leaf in a.leaves]),
        final_b=b.treedef.unflatten([leaf[-1] for leaf in b.leaves]),
        max_update_ulps=update_ulps,
    )


def _update_ulps(updates_a: list, updates_b: list, dtype: Any) -> np.ndarray:
    """Per step, the largest over leaves of ``max|u_a - u_b| / max(|u_a|, |u_b|)`` in ulps."""
    per_leaf = []
    with np.errstate(invalid="ignore", over="ignore"):
        for leaf_a, leaf_b in zip(updates_a, updates_b, strict=True):
            axes = tuple(range(1, leaf_a.ndim))
            wide_a, wide_b = _wide(leaf_a), _wide(leaf_b)
            error = _per_step_max(np.abs(wide_a - wide_b), axes)
            scale = np.maximum(
                _per_step_max(np.abs(wide_a), axes), _per_step_max(np.abs(wide_b), axes)
            )
            per_leaf.append(np.where(scale > 0, error / np.where(scale > 0, scale, 1), 0.0))
    return np.max(np.stack(per_leaf), axis=0) / float(np.finfo(dtype).eps)


def _per_step_max(values: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """The maximum over every axis but the first (0 for empty leaves)."""
    if values.size == 0:
        return np.zeros(values.shape[0])
    return np.max(values, axis=axes) if axes else values.astype(np.float64)


def compare(
    a: Any,
    b: Any,
    params: Any,
    gradients: Any,
    steps: int | None = None,
    *,
    dtype: Any = None,
    updates: bool = False,
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
      updates: also measure the updates (:attr:`Comparison.max_update_ulps`).
    """
    side_a, side_b = as_adapter(a), as_adapter(b)
    return measure(
        trajectory(side_a, params, gradients, steps, dtype=dtype, updates=updates),
        trajectory(side_b, params, gradients, steps, dtype=dtype, updates=updates),
    )


def tolerance_failure(
    result: Comparison,
    *,
    ulps: float | None = None,
    ulps_per_step: float | None = None,
    rtol: float | None = None,
) -> str | None:
    """Why ``result`` breaks a bound, or ``None`` if it keeps them all.

    The bound on :attr:`Comparison.max_scaled_ulps` after step k is ``ulps +
    ulps_per_step * k`` (either may be omitted; ``ulps=0`` alone demands
    bit-identical params). ``rtol``: bound on the normwise relative error at
    every step.
    """
    if result.first_nonfinite_step is not None:
        return f"params became non-finite at step {result.first_nonfinite_step}"
    step_numbers = np.arange(1, result.steps + 1)
    checks = []
    if ulps is not None or ulps_per_step is not None:
        bound = (ulps or 0.0) + (ulps_per_step or 0.0) * step_numbers
        checks.append(("ulps of the leaf's scale", result.max_scaled_ulps, bound))
    if rtol is not None:
        checks.append(("relative error", result.max_rel_error, np.full(result.steps, rtol)))
    for name, per_step, bound in checks:
        failing = np.flatnonzero(~(per_step <= bound))
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
                          params, random_gradients(params, 1000), ulps=8)
    """
    if ulps is None and ulps_per_step is None and rtol is None:
        raise ValueError("assert_equivalent needs a bound: give ulps, ulps_per_step or rtol")
    result = compare(a, b, params, gradients, steps, dtype=dtype)
    failure = tolerance_failure(result, ulps=ulps, ulps_per_step=ulps_per_step, rtol=rtol)
    if failure is not None:
        raise AssertionError(failure)
    return result
