"""Rows for Adafactor (optax, torch, Keras)."""

from __future__ import annotations

from jaxopt_lab.equivalences.check import KERAS_LR, Equivalence, Missing

COUNTERPARTS = {
    "adafactor": {
        "tutorial": Missing("jaxopt_lab.reference.Adafactor"),
        "optax": "optax.adafactor",
        "torch": "torch.optim.Adafactor",
        "keras": "keras.optimizers.Adafactor",
    },
}

_OPTAX_LAB = {
    "relative_step": False,
    "min_dim_size_to_factor": 128,
    "factored_dims": "two_largest",
    "decay_form": "unscaled",
}
_OPTAX = (
    "optax has no relative step and factors only leaves whose two largest dims are >= 128 "
    "(min_dim_size_to_factor; the (8, 16) kernel is not). Its default learning_rate=None is "
    "a step of rms(p) per step (lr = 1 here): on these gradients the params overflow float32 "
    "at step 129 (identical until then, within 3 ulps); 1e-2 is torch's and the paper's cap. "
    "optax computes the decay 1 − t^−0.8 in float32 even for float64 params "
    "(factorized._decay_rate_pow)"
)
_TORCH = (
    "torch floors instead of adding eps₁ (max(V, eps₁²), eps₁ the dtype's machine epsilon): "
    "eps1_as_floor=True."
)
_TORCH_DECAY = (
    " torch decays p as a step of its own (p *= 1 − lr·wd, 1 − lr·wd rounded to the params' "
    "dtype) before the step: one more rounding of p per step (measured: 12 ulps after 1000 "
    "steps in float32, 0.87 a step at most)."
)
_KERAS = (
    "Keras decays p as a step of its own before the step (decay_form='lr_scaled_first'), and "
    "its ops.mean runs in float32 on float64 input (JAX backend)"
)


def _factor_all(settings: dict) -> tuple:
    size = settings.get("min_dim_size_to_factor", 0)
    return (("the other factoring rule", {"min_dim_size_to_factor": 128 if size < 16 else 0}),)


_DECAY_RATE = (("decay_rate x(1 + 1e-3)", {"decay_rate": 0.8 * (1 + 1e-3)}),)
_OPTAX_NON_DEFAULT = {
    **_OPTAX_LAB,
    "learning_rate": 3e-3,
    "decay_rate": 0.7,
    "eps1": 1e-20,
    "clipping_threshold": 2.0,
    "weight_decay": 1e-3,
    "multiply_by_parameter_scale": False,
    "min_dim_size_to_factor": 0,
}
_TORCH_NON_DEFAULT = {
    "learning_rate": 0.1,
    "decay_rate": 0.7,
    "eps1": 1e-10,
    "eps2": 1e-2,
    "clipping_threshold": 2.0,
    "weight_decay": 0.1,
    "eps1_as_floor": True,
    "maximize": True,
}
_KERAS_NON_DEFAULT = {
    "learning_rate": 0.1,
    "decay_rate": 0.7,
    "eps1": 1e-20,
    "eps2": 1e-2,
    "clipping_threshold": 2.0,
    "weight_decay": 0.1,
    "decay_form": "lr_scaled_first",
}

ROWS = (
    Equivalence(
        "adafactor",
        "optax",
        {"learning_rate": 1e-2, **_OPTAX_LAB},
        "optax.adafactor",
        {"learning_rate": 1e-2},
        note=_OPTAX + " (measured: 2.6e-8 relative after 1000 steps).",
        float64_ulps_per_step=1e6,
        perturbations=_factor_all(_OPTAX_LAB) + _DECAY_RATE,
    ),
    Equivalence(
        "adafactor",
        "optax",
        _OPTAX_NON_DEFAULT,
        "optax.adafactor",
        {
            "learning_rate": 3e-3,
            "min_dim_size_to_factor": 0,
            "decay_rate": 0.7,
            "eps": 1e-20,
            "clipping_threshold": 2.0,
            "weight_decay_rate": 1e-3,
            "multiply_by_parameter_scale": False,
        },
        label="non-default",
        note=_OPTAX + " (measured: 1.8e-8 relative after 1000 steps). "
        "Its weight_decay_rate is not scaled by the learning rate: decay_form='unscaled'.",
        float64_ulps_per_step=1e6,
        perturbations=_factor_all(_OPTAX_NON_DEFAULT),
    ),
    Equivalence(
        "adafactor",
        "optax",
        {"learning_rate": 1e-2, **_OPTAX_LAB, "min_dim_size_to_factor": 0},
        "optax.adafactor",
        {"learning_rate": 1e-2, "min_dim_size_to_factor": 0},
        complex_params=True,
        label="complex",
        float64_ulps_per_step=1e6,
        note="optax's convention: |g|² = conj(g)·g. " + _OPTAX + ".",
    ),
    Equivalence(
        "adafactor",
        "torch",
        {"eps1_as_floor": True},
        "torch.optim.Adafactor",
        {},
        note=_TORCH,
        perturbations=_DECAY_RATE,
    ),
    Equivalence(
        "adafactor",
        "torch",
        _TORCH_NON_DEFAULT,
        "torch.optim.Adafactor",
        {
            "lr": 0.1,
            "beta2_decay": -0.7,
            "eps": (1e-10, 1e-2),
            "d": 2.0,
            "weight_decay": 0.1,
            "maximize": True,
        },
        label="non-default",
        note=_TORCH + _TORCH_DECAY,
        ulps_per_step=0.2,
        perturbations=(("decay_form 'lr_scaled_first'", {"decay_form": "lr_scaled_first"}),),
    ),
    Equivalence(
        "adafactor",
        "keras",
        {"learning_rate": 1e-3, "decay_form": "lr_scaled_first"},
        "keras.optimizers.Adafactor",
        {"learning_rate": 1e-3},
        note=_KERAS + " (measured: 1.4e-9 relative after 1000 steps). Keras applies the relative "
        "step min(lr, 1/√t) whatever relative_step says. " + KERAS_LR,
        float32_learning_rate=True,
        float64_ulps_per_step=2e6,
        perturbations=_DECAY_RATE,
    ),
    Equivalence(
        "adafactor",
        "keras",
        _KERAS_NON_DEFAULT,
        "keras.optimizers.Adafactor",
        {
            "learning_rate": 0.1,
            "beta_2_decay": -0.7,
            "epsilon_1": 1e-20,
            "epsilon_2": 1e-2,
            "clip_threshold": 2.0,
            "weight_decay": 0.1,
        },
        label="non-default",
        float32_learning_rate=True,
        ulps_per_step=0.05,
        float64_ulps_per_step=5e7,
        note=_KERAS + " (measured: 2.8e-8 relative after 1000 steps, 9.3e-9 after the first, "
        "where lr = 0.1); the decay step rounds p once more per step (3.5 ulps after 1000 "
        "steps in float32). " + KERAS_LR,
        perturbations=(("decay_form 'lr_scaled'", {"decay_form": "lr_scaled"}),),
    ),
)
