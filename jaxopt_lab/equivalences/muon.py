"""Rows for Muon (optax.contrib, torch, Keras)."""

from __future__ import annotations

from jaxopt_lab.equivalences.check import KERAS_LR, Equivalence, Missing

COUNTERPARTS = {
    "muon": {
        "tutorial": Missing("jaxopt_lab.reference.Muon"),
        "optax": "optax.contrib.muon",
        "torch": "torch.optim.Muon",
        "keras": "keras.optimizers.Muon",
    },
}

_OPTAX_LAB = {"momentum_form": "debiased_ema", "adam_nesterov": True}
_OPTAX = (
    "optax keeps an EMA of g and steps a bias-corrected Nesterov mix of it; its inner AdamW "
    "(for the bias) is Nesterov's with Muon's eps. It computes 1 − βᵗ in float32, the lab "
    "accurately"
)
_TORCH_LAB = {
    "learning_rate": 1e-3,
    "weight_decay": 0.1,
    "eps_as_floor": True,
    "ns_dtype": "bfloat16",
    "layout": "out_in",
    "non_matrix": "raise",
}
_TORCH = (
    "torch runs the Newton-Schulz iteration in bfloat16 whatever the params' dtype. With "
    "ns_dtype=bfloat16 the lab rounds each of its operations as torch does (bit-identical on "
    "most single matrices), but float32 matrix products sum in another order in XLA and in "
    "torch, and a difference of one float32 ulp flips a bfloat16 rounding now and then. "
    "torch takes only matrices (non_matrix='raise'; here a (16, 8) and an (8, 4) weight, "
    "[out, in]: layout='out_in')"
)
_TORCH_SHAPES = {"w": (16, 8), "v": (8, 4)}
_KERAS_LAB = {
    "momentum_form": "sum",
    "shape_scaling": "rms",
    "adam_eps": 1e-7,
    "adam_eps_hat": True,
}
_KERAS = (
    "Keras keeps b = μ·b + g (momentum_form='sum'), scales by 0.2·√max(n, m), steps the bias "
    "with its folded-eps Adam, and its ops.norm runs in float32 on float64 input (JAX backend), "
    "which hides the iteration's eps (1e-7 against a norm of about 10²): the row cannot see "
    "eps x10 (nor eps x2)"
)
_KERAS_BLIND = ("eps x10", "eps x2")


def _knobs(settings: dict) -> tuple:
    """Muon's own knobs, where the row can see them.

    Without Nesterov every momentum form is the same direction up to a scale,
    which the iteration normalises away; the layout matters to the width
    scaling only.
    """
    knobs = [("nesterov flipped", {"nesterov": not settings.get("nesterov", True)})]
    if settings.get("nesterov", True):
        form = settings.get("momentum_form", "ema")
        other = "ema" if form == "debiased_ema" else "debiased_ema"
        knobs.append((f"momentum_form {other!r}", {"momentum_form": other}))
    if settings.get("shape_scaling", "width") == "width":
        flipped = "out_in" if settings.get("layout", "in_out") == "in_out" else "in_out"
        knobs.append(("layout flipped", {"layout": flipped}))
    return tuple(knobs)


_OPTAX_NON_DEFAULT = {
    **_OPTAX_LAB,
    "learning_rate": 3e-3,
    "momentum": 0.9,
    "weight_decay": 0.1,
    "eps": 1e-6,
    "shape_scaling": "rms",
    "rms_rate": 0.3,
    "adam_b1": 0.8,
    "adam_b2": 0.95,
    "adam_eps": 1e-6,
    "adam_weight_decay": 0.01,
}
_KERAS_DEFAULTS = {
    **_KERAS_LAB,
    "learning_rate": 1e-3,
    "weight_decay": 0.004,
    "adam_weight_decay": 0.004,
}
_KERAS_NON_DEFAULT = {
    **_KERAS_LAB,
    "learning_rate": 2e-2,
    "momentum": 0.9,
    "nesterov": False,
    "shape_scaling": "none",
    "adam_b1": 0.8,
    "adam_b2": 0.95,
    "adam_eps": 1e-6,
}
_OPTAX_DEFAULTS = {**_OPTAX_LAB, "eps": 1e-8}

ROWS = (
    Equivalence(
        "muon",
        "optax",
        _OPTAX_DEFAULTS,
        "optax.contrib.muon",
        {"learning_rate": 0.02},
        note=_OPTAX + " (the bias's AdamW at lr 0.02: 40 ulps after 1000 steps in float32).",
        ulps_per_step=0.1,
        perturbations=_knobs(_OPTAX_DEFAULTS),
    ),
    Equivalence(
        "muon",
        "optax",
        _OPTAX_NON_DEFAULT,
        "optax.contrib.muon",
        {
            "learning_rate": 3e-3,
            "beta": 0.9,
            "eps": 1e-6,
            "weight_decay": 0.1,
            "consistent_rms": 0.3,
            "adam_b1": 0.8,
            "adam_b2": 0.95,
            "adam_weight_decay": 0.01,
        },
        label="non-default",
        note=_OPTAX + "; consistent_rms=r is shape_scaling='rms', rms_rate=r.",
        perturbations=_knobs(_OPTAX_NON_DEFAULT),
    ),
    Equivalence(
        "muon",
        "optax",
        _OPTAX_DEFAULTS,
        "optax.contrib.muon",
        {"learning_rate": 0.02},
        complex_params=True,
        label="complex",
        ulps_per_step=0.1,
        note="optax's convention: X·Xᴴ in the iteration, |g|² in the AdamW. " + _OPTAX + ".",
    ),
    Equivalence(
        "muon",
        "torch",
        _TORCH_LAB,
        "torch.optim.Muon",
        {},
        agrees=False,
        differs_above=1e-6,
        differs_below=1e-4,
        param_shapes=_TORCH_SHAPES,
        note=_TORCH + ". Measured after 1000 steps: 2.1e-5 relative in float32, 8.8e-6 in "
        "float64 (2.9e-4 with the iteration in the params' dtype); the first step agrees to "
        "1e-7 (1.9e-16).",
    ),
    Equivalence(
        "muon",
        "torch",
        {
            **_TORCH_LAB,
            "learning_rate": 2e-2,
            "momentum": 0.9,
            "weight_decay": 0.0,
            "eps": 1e-5,
            "shape_scaling": "rms",
        },
        "torch.optim.Muon",
        {
            "lr": 2e-2,
            "momentum": 0.9,
            "weight_decay": 0.0,
            "eps": 1e-5,
            "adjust_lr_fn": "match_rms_adamw",
        },
        label="non-default",
        agrees=False,
        differs_above=1e-6,
        differs_below=2e-4,
        param_shapes=_TORCH_SHAPES,
        note=_TORCH + "; adjust_lr_fn='match_rms_adamw' is shape_scaling='rms'. Measured after "
        "1000 steps: 8e-5 relative in both dtypes (2.5e-3 with the iteration in the params' "
        "dtype); the first step is bit-identical.",
    ),
    Equivalence(
        "muon",
        "keras",
        _KERAS_DEFAULTS,
        "keras.optimizers.Muon",
        {"learning_rate": 1e-3},
        float32_learning_rate=True,
        ulps_per_step=0.5,
        float64_ulps_per_step=1e5,
        blind_to=_KERAS_BLIND,
        note=_KERAS + ". Keras decays p as a step of its own (p −= p·wd·lr; 0.004 by "
        "default, the bias's AdamW too): one more rounding of p per step (measured: 209 ulps "
        "after 1000 steps in float32; 5.7e-10 relative in float64). " + KERAS_LR,
        perturbations=_knobs(_KERAS_DEFAULTS),
    ),
    Equivalence(
        "muon",
        "keras",
        _KERAS_NON_DEFAULT,
        "keras.optimizers.Muon",
        {
            "learning_rate": 2e-2,
            "adam_beta_1": 0.8,
            "adam_beta_2": 0.95,
            "epsilon": 1e-6,
            "weight_decay": None,
            "adam_weight_decay": None,
            "momentum": 0.9,
            "nesterov": False,
            "rms_rate": None,
        },
        label="non-default",
        float32_learning_rate=True,
        float64_ulps_per_step=3e6,
        blind_to=_KERAS_BLIND,
        perturbations=_knobs(_KERAS_NON_DEFAULT),
        note=_KERAS + " (measured: 1.1e-8 relative after 1000 steps). " + KERAS_LR,
    ),
)
