"""``jaxopt-lab port``: a call text -> the optax code, and its agreement with the library.

    run = port_run("AdamW(lr=3e-4, weight_decay=0.1)",
                   scheduler="OneCycleLR(max_lr=1e-3, total_steps=1000)",
                   clip_grad_norm=1.0)
    run.code            # the lab/optax code to paste
    run.report_lines()  # per-step agreement with the live library

The texts are parsed with :mod:`ast`, literals only (never evaluated): a call
``Name(args, key=value)`` whose arguments are Python literals or, where the
library takes one, another call (a scheduler in ``SequentialLR``'s list, a
Keras schedule as ``learning_rate``). A torch optimizer's first positional
argument, if given, is the list of its param groups' overrides, as in torch:
``AdamW([{"lr": 1e-3}, {"weight_decay": 0.0}], lr=3e-4)`` (two groups; each
group gets a 16x8 weight and a 16 bias).
"""

from __future__ import annotations

import ast
import dataclasses
import os
import warnings
from typing import Any, NamedTuple

import jax
import numpy as np
import optax

from jaxopt_lab import crosscheck
from jaxopt_lab.port.recipe import Recipe


class CallText(NamedTuple):
    """A parsed ``Name(*args, **kwargs)``; nested calls are ``CallText`` too."""

    name: str
    args: tuple
    kwargs: dict


def parse_call(text: str, *, what: str = "call") -> CallText:
    """``"AdamW(lr=3e-4, betas=(0.9, 0.95))"`` -> ``CallText("AdamW", (), {...})``.

    Literals and nested calls only; raises ``ValueError`` with a one-line
    message naming what is wrong.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ValueError(f"{what} {text!r} is not valid Python: {error.msg}") from None
    return _call(tree.body, text, what)


def _call(node: ast.AST, text: str, what: str) -> CallText:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise ValueError(f"{what} {text!r} must be a call like Name(arg=value, ...)")
    args = tuple(_value(arg, text, what) for arg in node.args)
    kwargs = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            raise ValueError(f"{what} {text!r}: ** arguments are not accepted")
        kwargs[keyword.arg] = _value(keyword.value, text, what)
    return CallText(node.func.id, args, kwargs)


def _value(node: ast.AST, text: str, what: str) -> Any:
    if isinstance(node, ast.Call):
        return _call(node, text, what)
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_value(item, text, what) for item in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise ValueError(f"{what} {text!r}: ** in a dict is not accepted")
        return {
            _value(key, text, what): _value(value, text, what)
            for key, value in zip(node.keys, node.values)
        }
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        raise ValueError(
            f"{what} {text!r}: {ast.unparse(node)!r} is not a literal (only numbers, strings, "
            "True/False/None, lists, tuples, dicts and calls are accepted)"
        ) from None


# --------------------------------------------------------------------------- the library's objects


def _group_params(count: int, seed: int) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    rng = np.random.default_rng(seed)
    if count == 1:
        return {"w": rng.standard_normal((16, 8)), "b": rng.standard_normal(16)}, {"w": 0, "b": 0}
    params, group_of = {}, {}
    for index in range(count):
        params[f"w{index}"] = rng.standard_normal((16, 8))
        params[f"b{index}"] = rng.standard_normal(16)
        group_of[f"w{index}"] = group_of[f"b{index}"] = index
    return params, group_of


def _has_call(value: Any) -> bool:
    if isinstance(value, CallText):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_call(item) for item in value)
    if isinstance(value, dict):
        return any(_has_call(item) for item in value.values())
    return False


def _torch_builder(optimizer: CallText, scheduler: CallText | None, group_indices: list[int]):
    """``build(tensors) -> (optimizer, scheduler)`` from the parsed texts."""
    import torch

    optimizer_class = getattr(torch.optim, optimizer.name, None)
    if not (
        isinstance(optimizer_class, type) and issubclass(optimizer_class, torch.optim.Optimizer)
    ):
        raise ValueError(f"torch.optim has no optimizer {optimizer.name!r}")
    for key, value in optimizer.kwargs.items():
        if _has_call(value):
            raise ValueError(
                f"{optimizer.name}: {key}={value.name if isinstance(value, CallText) else ''}"
                "(...) is a call; a torch optimizer's arguments are literals"
            )
    if any(_has_call(arg) for arg in optimizer.args):
        raise ValueError(f"{optimizer.name}: its param groups must be literals")
    overrides = optimizer.args[0] if optimizer.args else None
    if optimizer.args and (
        len(optimizer.args) != 1
        or not isinstance(overrides, list)
        or not all(isinstance(group, dict) for group in overrides)
        or not overrides
    ):
        raise ValueError(
            f"{optimizer.name}: the only positional argument is the list of param groups, "
            "e.g. [{'lr': 1e-3}, {'weight_decay': 0.0}]"
        )

    def make_scheduler(text: CallText, torch_optimizer):
        scheduler_class = getattr(torch.optim.lr_scheduler, text.name, None)
        if not isinstance(scheduler_class, type):
            raise ValueError(f"torch.optim.lr_scheduler has no scheduler {text.name!r}")
        args = [_nested(arg, torch_optimizer) for arg in text.args]
        kwargs = {key: _nested(value, torch_optimizer) for key, value in text.kwargs.items()}
        return scheduler_class(torch_optimizer, *args, **kwargs)

    def _nested(value, torch_optimizer):
        if isinstance(value, CallText):
            return make_scheduler(value, torch_optimizer)
        if isinstance(value, list):
            return [_nested(item, torch_optimizer) for item in value]
        return value

    def build(tensors):
        if overrides is None:
            groups = tensors
        else:
            groups = [
                {**group, "params": [t for t, g in zip(tensors, group_indices) if g == index]}
                for index, group in enumerate(overrides)
            ]
        torch_optimizer = optimizer_class(groups, **optimizer.kwargs)
        if scheduler is None:
            return torch_optimizer, None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return torch_optimizer, make_scheduler(scheduler, torch_optimizer)

    return build


def _keras_optimizer(optimizer: CallText) -> Any:
    keras = crosscheck.import_keras()
    optimizer_class = getattr(keras.optimizers, optimizer.name, None)
    if not (
        isinstance(optimizer_class, type)
        and issubclass(optimizer_class, keras.optimizers.Optimizer)
    ):
        raise ValueError(f"keras.optimizers has no optimizer {optimizer.name!r}")

    def _nested(value):
        if isinstance(value, CallText):
            schedule_class = getattr(keras.optimizers.schedules, value.name, None)
            if not isinstance(schedule_class, type):
                raise ValueError(f"keras.optimizers.schedules has no schedule {value.name!r}")
            return schedule_class(
                *[_nested(a) for a in value.args],
                **{k: _nested(v) for k, v in value.kwargs.items()},
            )
        return value

    return optimizer_class(
        *[_nested(a) for a in optimizer.args],
        **{k: _nested(v) for k, v in optimizer.kwargs.items()},
    )


# --------------------------------------------------------------------------- the run


@dataclasses.dataclass(frozen=True)
class PortRun:
    """What ``jaxopt-lab port`` found: the code, and the per-step comparison with the library."""

    description: str
    recipe: Recipe
    comparison: crosscheck.Comparison
    failure: str | None
    ulps_per_step: float

    @property
    def code(self) -> str:
        return self.recipe.code()

    @property
    def first_divergence(self) -> int | None:
        """The first step (1-based) after which the two sides' params differ in any bit."""
        differing = np.flatnonzero(self.comparison.max_ulp_distance > 0)
        return int(differing[0]) + 1 if differing.size else None

    def report_lines(self) -> list[str]:
        """The agreement, as lines of text: checkpoints, first divergence, verdict."""
        result = self.comparison
        lines = [
            f"# {result.steps} steps in {result.dtype.name}, N(0, 1) gradients from N(0, 1) params",
            "| step | ulps of the leaf's scale | max elementwise ulps | relative error | leaf |",
            "|---|---|---|---|---|",
        ]
        checkpoints = sorted({1, 10, 100, result.steps, *[s for s in (1000,) if s <= result.steps]})
        checkpoints = [step for step in checkpoints if step <= result.steps]
        for step in checkpoints:
            index = step - 1
            lines.append(
                f"| {step} | {result.max_scaled_ulps[index]:.2f} | "
                f"{result.max_ulp_distance[index]:.0f} | {result.max_rel_error[index]:.2e} | "
                f"{result.worst_leaf[index]} |"
            )
        if result.max_update_ulps is not None:
            updates = result.max_update_ulps
            lines.append(
                f"updates: worst {np.nanmax(updates):.2f} ulps of the update's own scale "
                f"(step {int(np.nanargmax(updates)) + 1}; step 1: {updates[0]:.2f})"
            )
        worst = int(np.argmax(result.max_scaled_ulps))
        per_step = result.max_scaled_ulps / np.arange(1, result.steps + 1)
        first = self.first_divergence
        lines.append(
            "first divergence: "
            + ("none, bit-identical at every step" if first is None else
               f"step {first} (leaf {result.worst_leaf[first - 1]})")
        )
        lines.append(
            f"worst: {result.max_scaled_ulps[worst]:.2f} ulps of the leaf's scale "
            f"(step {worst + 1}); largest per step: {per_step.max():.3f} ulps"
        )
        verdict = "within" if self.failure is None else "OUTSIDE"
        lines.append(
            f"{verdict} the bound of {self.ulps_per_step:g} ulp of the leaf's scale per step"
        )
        if self.failure is not None:
            lines.append(self.failure)
        return lines


@dataclasses.dataclass
class Prepared:
    """The library side of a port, built from the texts, and the port of it.

    ``library_side`` steps the live library (a
    :class:`~jaxopt_lab.crosscheck.TorchTrainingSide` or a Keras optimizer);
    ``live`` is the ``(optimizer, scheduler)`` the recipe was read from.
    """

    description: str
    params: dict[str, np.ndarray]
    group_of: dict[str, int] | None
    library_side: Any
    live: tuple
    recipe: Recipe


def prepare(
    optimizer: str,
    scheduler: str | None = None,
    *,
    library: str = "torch",
    clip_grad_norm: float | None = None,
    clip_grad_value: float | None = None,
    clip_norm_type: float = 2.0,
    scheduler_every: int = 1,
    steps: int = 1000,
    seed: int = 0,
) -> Prepared:
    """Parse the texts, build the live library objects, and port them (see :func:`port_run`)."""
    from jaxopt_lab.port.keras_optimizers import keras_recipe
    from jaxopt_lab.port.torch_optimizers import torch_recipe

    if library not in ("torch", "keras"):
        raise ValueError(f"library must be 'torch' or 'keras', got {library!r}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    optimizer_text = parse_call(optimizer, what="optimizer")
    if library == "keras":
        if scheduler is not None or clip_grad_norm is not None or clip_grad_value is not None:
            raise ValueError(
                "with --from keras, give the schedule as learning_rate=... and clipping as "
                "clipnorm/global_clipnorm/clipvalue inside the optimizer's call"
            )
        os.environ.setdefault("KERAS_BACKEND", "jax")
        try:
            live = _keras_optimizer(optimizer_text)
        except (TypeError, ValueError) as error:
            raise ValueError(f"keras.optimizers.{optimizer_text.name}: {error}") from None
        params, _ = _group_params(1, seed)
        return Prepared(
            f"keras.optimizers.{optimizer.strip()}", params, None, live, (live,),
            keras_recipe(live),
        )
    scheduler_text = parse_call(scheduler, what="scheduler") if scheduler else None
    first = optimizer_text.args[0] if optimizer_text.args else None
    groups = len(first) if isinstance(first, list) and first else 1
    params, group_of = _group_params(groups, seed)
    build = _torch_builder(optimizer_text, scheduler_text, jax.tree.leaves(group_of))
    import torch

    try:
        live = build([torch.zeros(np.shape(leaf)) for leaf in jax.tree.leaves(params)])
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"torch rejected it: {error}") from None
    recipe = torch_recipe(
        *live,
        clip_grad_norm=clip_grad_norm,
        clip_grad_value=clip_grad_value,
        clip_norm_type=clip_norm_type,
        scheduler_every=scheduler_every,
        group_of=group_of if groups > 1 else None,
        steps=steps,
    )
    side = crosscheck.TorchTrainingSide(
        build,
        clip_grad_norm=clip_grad_norm,
        clip_grad_value=clip_grad_value,
        clip_norm_type=clip_norm_type,
        scheduler_every=scheduler_every,
    )
    description = f"torch.optim.{optimizer.strip()}" + (
        f" + lr_scheduler.{scheduler.strip()}" if scheduler else ""
    )
    return Prepared(description, params, group_of if groups > 1 else None, side, live, recipe)


def compiled(transformation: optax.GradientTransformation) -> optax.GradientTransformation:
    """The same transformation with a jitted ``init`` (one compilation, not one per op)."""
    return optax.GradientTransformation(jax.jit(transformation.init), transformation.update)


def port_run(
    optimizer: str,
    scheduler: str | None = None,
    *,
    library: str = "torch",
    clip_grad_norm: float | None = None,
    clip_grad_value: float | None = None,
    clip_norm_type: float = 2.0,
    scheduler_every: int = 1,
    steps: int = 1000,
    dtype: Any = np.float32,
    seed: int = 0,
    float64_rtol: float = 1e-12,
    updates: bool = False,
) -> PortRun:
    """Port the library call in ``optimizer`` (and ``scheduler``) and compare it with the library.

    Both run ``steps`` steps from the same N(0, 1) params (a 16x8 weight and a
    16 bias per param group) over the same N(0, 1) gradients, in ``dtype``, held
    to 1 ulp of the leaf's scale per step, and in float64 to ``float64_rtol``.
    ``updates`` also measures each step's update (in ulps of the update's own
    scale, :attr:`~jaxopt_lab.crosscheck.Comparison.max_update_ulps`), step by step.
    Raises ``ValueError`` (bad text or arguments) or ``PortError`` (what the
    port does not cover), each with a one-line message.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    prepared = prepare(
        optimizer,
        scheduler,
        library=library,
        clip_grad_norm=clip_grad_norm,
        clip_grad_value=clip_grad_value,
        clip_norm_type=clip_norm_type,
        scheduler_every=scheduler_every,
        steps=steps,
        seed=seed,
    )
    gradients = crosscheck.random_gradients(prepared.params, steps, seed=seed + 1)
    comparison = crosscheck.compare(
        compiled(prepared.recipe.build()), prepared.library_side, prepared.params, gradients,
        dtype=dtype, updates=updates,
    )
    ulps_per_step = 1.0
    rtol = float64_rtol if dtype == np.float64 else None
    # A case whose library computes part of its step in float32 is held in float64 to
    # its relative bound alone (1 ulp of float64 per step would be 1e-13 after 1000).
    per_step = None if rtol is not None and rtol > 1e-12 else ulps_per_step
    failure = crosscheck.tolerance_failure(comparison, ulps_per_step=per_step, rtol=rtol)
    return PortRun(prepared.description, prepared.recipe, comparison, failure, ulps_per_step)
