"""The kept mutation check's list: deliberate bugs, each with the tests that must catch it.

Each :class:`Mutation` replaces one exact piece of text (``old``, found once in
``path``) with ``new`` in a temporary copy of the package, and ``tests`` (pytest
node ids) must then fail. ``tests/equivalences/test_mutations.py`` runs them. Constants, signs,
clamps, the order of operations and schedule formulas, from every optimizer
family, the equivalence table, the port, runs and the page's script; the first
seven are the survivors of the outside audit, each caught by a test
named for it. Add a line with every bug found.
"""

from __future__ import annotations

from typing import NamedTuple


class Mutation(NamedTuple):
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


def _row(name: str, dtype: str = "float64") -> str:
    return f"tests/equivalences/test_equivalences.py::test_row[{name}-{dtype}]"


_DEFAULTS = "tests/optimizers/test_defaults_crosschecked.py"
_DIFFERENCES = "tests/equivalences/test_equivalence_differences.py"
_SENSITIVITY = "tests/equivalences/test_equivalence_sensitivity.py"
_GEOMETRY = "tests/report/test_page_geometry.py"
_NUMBERS = "tests/runs/test_printed_numbers.py"
_OPT = "jaxopt_lab/optimizers/"

MUTATIONS = (
    # ------------------------------------------------ the audit's survivors
    Mutation(
        "rprop: max_step_size clamp removed",
        _OPT + "rprop.py",
        "factor.astype(grad.dtype), min_step_size, max_step_size)",
        "factor.astype(grad.dtype), min_step_size, None)",
        (f"{_DEFAULTS}::test_rprop_defaults_until_both_clamps_against_torch_s_algorithm[float64]",),
    ),
    Mutation(
        "schedule-free: averaging weight without sqrt(1 - b2**t)",
        _OPT + "schedule_free.py",
        "weight_step = jnp.asarray(step_size * warmup(t) * scale, real)",
        "weight_step = jnp.asarray(step_size * warmup(t), real)",
        (f"{_DEFAULTS}::test_schedule_free_adamw_defaults_against_the_authors_reference[float64]",),
    ),
    Mutation(
        "runs: final_mean_loss over the first 100 iterations",
        "jaxopt_lab/runs/training.py",
        "float(row[-window:].mean())",
        "float(row[:window].mean())",
        (f"{_NUMBERS}::test_final_mean_loss_is_the_mean_of_the_last_100_iterations[250]",),
    ),
    Mutation(
        "report.js: the sweep chart's log x-axis ignored",
        "jaxopt_lab/report/page/report.js",
        "x: [lrOf(0), lrOf(N - 1)], xLog: true,",
        "x: [lrOf(0), lrOf(N - 1)], xLog: false,",
        (f"{_GEOMETRY}::test_the_learning_rate_sweep_is_drawn_on_its_log_axes",),
    ),
    Mutation(
        "report.js: the loss curve drawn from raw data, upside down",
        "jaxopt_lab/report/page/report.js",
        "d: linePath(Array.from(values, (v, t) => [c.x(t), c.y(v)]))",
        "d: linePath(Array.from(series[i].raw.values, (v, t) => [c.x(t), c.y(top - v)]))",
        (f"{_GEOMETRY}::test_loss_curves_are_drawn_where_their_axes_put_them[smoothed]",),
    ),
    Mutation(
        "table: the float32 bound loosened to 1e6 ulps + 1e3 per step",
        "jaxopt_lab/equivalences/check.py",
        "return crosscheck.tolerance_failure(comparison, ulps=FLAT_ULPS, ulps_per_step=per_step or "
        "None)",
        "wide = np.finfo(comparison.dtype).bits >= 64\n"
        "    return crosscheck.tolerance_failure(comparison, ulps=FLAT_ULPS if wide else 1e6, "
        "ulps_per_step=(per_step or None) if wide else 1e3)",
        (
            f"{_SENSITIVITY}::test_the_float32_bound_catches_learning_rate_times_1_plus_1e_3"
            "[adam-torch-defaults]",
        ),
    ),
    Mutation(
        "muon: Nesterov term dropped",
        _OPT + "muon.py",
        "direction = lerp(grad, m, momentum) if nesterov else m",
        "direction = m",
        (
            f"{_DEFAULTS}::test_muon_defaults_against_jordan_s_reference[float64-nesterov]",
            f"{_DIFFERENCES}::test_muon_without_its_nesterov_term_breaks_the_torch_rows_upper_bound"
            "[muon-torch-defaults]",
        ),
    ),
    # ------------------------------------------------ the equivalence table
    Mutation(
        "table: the flat bound x 1e6",
        "jaxopt_lab/equivalences/check.py",
        "FLAT_ULPS = 8.0\n",
        "FLAT_ULPS = 8.0e6\n",
        (
            f"{_SENSITIVITY}::test_every_wrong_setting_fails_the_row_in_each_dtype"
            "[adam-torch-defaults]",
        ),
    ),
    Mutation(
        "table: a non-finite documented difference passes",
        "jaxopt_lab/equivalences/check.py",
        "if row.other_diverges and all(",
        "if True or row.other_diverges and all(",
        (f"{_DIFFERENCES}::test_a_documented_difference_that_turns_non_finite_fails",),
    ),
    # ------------------------------------------------ SGD, momentum, Nesterov, the plumbing
    Mutation(
        "sgd: sign of the step",
        _OPT + "sgd.py",
        "return -step_size * grad, state",
        "return step_size * grad, state",
        (_row("sgd-optax-defaults"),),
    ),
    Mutation(
        "nesterov: the look-ahead dropped",
        _OPT + "sgd.py",
        "return momentum * velocity - step_size * grad,",
        "return velocity - step_size * grad,",
        (_row("nesterov-optax-defaults"),),
    ),
    Mutation(
        "momentum: dampening on the first step too",
        _OPT + "sgd.py",
        "jnp.where(state.count == 0, 1, 1 - dampening)",
        "jnp.where(state.count == 0, 1 - dampening, 1 - dampening)",
        (_row("momentum-torch-non-default"),),
    ),
    Mutation(
        "plumbing: coupled weight decay's sign",
        _OPT + "plumbing.py",
        "grad = grad + weight_decay * param",
        "grad = grad - weight_decay * param",
        (_row("momentum-torch-non-default"),),
    ),
    # ------------------------------------------------ AdaGrad, RMSprop, Adadelta
    Mutation(
        "adagrad: eps inside the root",
        _OPT + "adaptive.py",
        "denominator = jnp.sqrt(sum_of_squares) + eps",
        "denominator = jnp.sqrt(sum_of_squares + eps)",
        (_row("adagrad-tutorial-defaults"),),
    ),
    Mutation(
        "adagrad: lr_decay one step early",
        _OPT + "adaptive.py",
        "step_size / (1 + state.count * lr_decay)",
        "step_size / (1 + (state.count + 1) * lr_decay)",
        (_row("adagrad-torch-non-default"),),
    ),
    Mutation(
        "rmsprop: centred variance's sign",
        _OPT + "adaptive.py",
        "variance = mean_square - squared_magnitude(mean_gradient)",
        "variance = mean_square + squared_magnitude(mean_gradient)",
        (_row("rmsprop-torch-non-default"),),
    ),
    Mutation(
        "adadelta: the step's running mean updated from the old mean",
        _OPT + "adaptive.py",
        "delta = jnp.sqrt(state.mean_square_delta + eps) / jnp.sqrt(mean_square + eps) * grad",
        "delta = jnp.sqrt(state.mean_square_delta + eps) / jnp.sqrt(state.mean_square + eps) "
        "* grad",
        (f"{_DEFAULTS}::test_defaults_against_the_library[adadelta-float64]",),
    ),
    # ------------------------------------------------ Adam, AMSGrad, AdaMax
    Mutation(
        "adam: eps-hat correction without its square root",
        _OPT + "adam.py",
        "correction = (jnp.sqrt(correction2) / correction1).astype(real)",
        "correction = (correction2 / correction1).astype(real)",
        (_row("adam-tutorial-defaults"),),
    ),
    Mutation(
        "adam: first moment corrected by the second's factor",
        _OPT + "adam.py",
        "        first_unbiased = first_moment / correction1.astype(real)\n"
        "        second_unbiased = second_moment / correction2.astype(real)\n"
        "        direction = first_unbiased",
        "        first_unbiased = first_moment / correction2.astype(real)\n"
        "        second_unbiased = second_moment / correction2.astype(real)\n"
        "        direction = first_unbiased",
        (_row("adam-torch-defaults"),),
    ),
    Mutation(
        "amsgrad: the running maximum dropped",
        _OPT + "adam.py",
        "max_second_moment = jnp.maximum(state.max_second_moment, second_moment)",
        "max_second_moment = second_moment",
        (_row("amsgrad-torch-defaults"),),
    ),
    Mutation(
        "adamax: eps outside the max",
        _OPT + "adam.py",
        "jnp.maximum(b2 * state.infinity_norm, jnp.abs(grad) + eps)",
        "jnp.maximum(b2 * state.infinity_norm, jnp.abs(grad)) + eps",
        (_row("adamax-torch-defaults"),),
    ),
    # ------------------------------------------------ NAdam, RAdam
    Mutation(
        "nadam: momentum schedule one step late",
        _OPT + "nadam.py",
        "return b1 * (1 - 0.5 * jnp.exp(t * rate))",
        "return b1 * (1 - 0.5 * jnp.exp((t + 1) * rate))",
        (_row("nadam-torch-defaults"),),
    ),
    Mutation(
        "nadam: the moment weighted by this step's momentum",
        _OPT + "nadam.py",
        "moment_weight = momentum_next.astype(real) / (1 - product_next)",
        "moment_weight = momentum.astype(real) / (1 - product_next)",
        (_row("nadam-torch-defaults"),),
    ),
    Mutation(
        "radam: rectification threshold moved",
        _OPT + "radam.py",
        "rectified = rho > threshold",
        "rectified = rho > threshold + 1",
        (_row("radam-optax-defaults"),),
    ),
    Mutation(
        "radam: rho_t without its division",
        _OPT + "radam.py",
        "rho = rho_inf - 2 * t * (1 - correction2) / correction2",
        "rho = rho_inf - 2 * t * (1 - correction2)",
        (_row("radam-optax-defaults"),),
    ),
    # ------------------------------------------------ Rprop
    Mutation(
        "rprop: min_step_size clamp removed",
        _OPT + "rprop.py",
        "factor.astype(grad.dtype), min_step_size, max_step_size)",
        "factor.astype(grad.dtype), None, max_step_size)",
        (f"{_DEFAULTS}::test_rprop_defaults_until_both_clamps_against_torch_s_algorithm[float64]",),
    ),
    Mutation(
        "rprop: gradient kept after a sign change",
        _OPT + "rprop.py",
        "grad = jnp.where(sign < 0, jnp.zeros_like(grad), grad)",
        "grad = grad",
        (_row("rprop-torch-defaults"),),
    ),
    # ------------------------------------------------ Adafactor
    Mutation(
        "adafactor: decay schedule one step late",
        _OPT + "adafactor.py",
        "beta = (1 - t ** (-decay_rate)).astype(real)",
        "beta = (1 - (t + 1) ** (-decay_rate)).astype(real)",
        (_row("adafactor-torch-defaults"),),
    ),
    Mutation(
        "adafactor: relative step clamped the other way",
        _OPT + "adafactor.py",
        "jnp.minimum(step_size, jax.lax.rsqrt(t))",
        "jnp.maximum(step_size, jax.lax.rsqrt(t))",
        (_row("adafactor-torch-defaults"),),
    ),
    Mutation(
        "adafactor: update clipping inverted",
        _OPT + "adafactor.py",
        "direction / jnp.maximum(1, rms(direction) / clipping_threshold)",
        "direction / jnp.minimum(1, rms(direction) / clipping_threshold)",
        (_row("adafactor-torch-defaults"),),
    ),
    # ------------------------------------------------ Lion, LAMB
    Mutation(
        "lion: interpolation with b2",
        _OPT + "lion.py",
        "interpolation = (1 - b1) * grad + b1 * state.momentum",
        "interpolation = (1 - b2) * grad + b2 * state.momentum",
        (_row("lion-optax-non-default"),),
    ),
    Mutation(
        "lamb: trust ratio inverted",
        _OPT + "lamb.py",
        "param_norm / jnp.where(usable, direction_norm, 1)",
        "direction_norm / jnp.where(usable, param_norm, 1)",
        (_row("lamb-optax-defaults"),),
    ),
    Mutation(
        "lamb: trust ratio of the undecayed weights",
        _OPT + "lamb.py",
        "ratio = trust_ratio(param - decay, direction)",
        "ratio = trust_ratio(param, direction)",
        (_row("lamb-keras-non-default"),),
    ),
    # ------------------------------------------------ Muon, schedule-free
    Mutation(
        "muon: a Newton-Schulz coefficient",
        _OPT + "muon.py",
        "NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)",
        "NS_COEFFICIENTS = (3.4445, -4.7750, 2.315)",
        (_row("muon-optax-defaults"),),
    ),
    Mutation(
        "muon: width scaling upside down",
        _OPT + "muon.py",
        "return max(1.0, fan_out / fan_in) ** 0.5",
        "return max(1.0, fan_in / fan_out) ** 0.5",
        (f"{_DEFAULTS}::test_muon_defaults_against_jordan_s_reference[float64-nesterov]",),
    ),
    Mutation(
        "schedule-free: y mixes x and z the other way",
        _OPT + "schedule_free.py",
        "new_y = b1 * x + (1 - b1) * z",
        "new_y = (1 - b1) * x + b1 * z",
        (_row("schedule_free_adamw-optax-defaults"),),
    ),
    Mutation(
        "schedule-free: warmup one step ahead",
        _OPT + "schedule_free.py",
        "jnp.minimum(1, t / warmup_steps)",
        "jnp.minimum(1, (t + 1) / warmup_steps)",
        (_row("schedule_free_adamw-optax-warmup"),),
    ),
    Mutation(
        "adam: optax's bias correction leaf by leaf, not over the tree",
        _OPT + "adam.py",
        "optax.tree.bias_correction(new_state.first_moment, b1, count),",
        "jax.tree.map(lambda m: optax.tree.bias_correction(m, b1, count), new_state.first_moment),",
        (
            "tests/optimizers/test_bias_correction.py::"
            "test_adam_is_optax_adam_bit_for_bit_on_an_mlp_step_by_step[jitted]",
        ),
    ),
    # ------------------------------------------------ the port
    Mutation(
        "port: torch Adam ported with eps hat",
        "jaxopt_lab/port/torch_steps.py",
        'eps=options["eps"], eps_hat=False, **knobs',
        'eps=options["eps"], eps_hat=True, **knobs',
        (
            "tests/port/test_port.py::test_matrix_case_agrees_for_1000_steps_in_both_dtypes"
            "[AdamW(lr=1e-3, eps=1e-6, weight_decay=0.05, maximize=True) + CosineAnn]",
        ),
    ),
    Mutation(
        "port: torch's recursive cosine one epoch off",
        "jaxopt_lab/port/torch_arithmetic.py",
        "/ (1 + math.cos(math.pi * (self.last_epoch - 1) / self.T_max))",
        "/ (1 + math.cos(math.pi * (self.last_epoch - 2) / self.T_max))",
        (
            "tests/port/test_port_schedules.py::test_torch_schedules_equal_torch_bit_for_bit"
            "[CosineAnnealingLR]",
        ),
    ),
    Mutation(
        "port: Keras cosine decay without its floor alpha",
        "jaxopt_lab/port/keras_schedules.py",
        "decayed = (1 - self.alpha) * cosine_decayed + self.alpha",
        "decayed = (1 - self.alpha) * cosine_decayed",
        (
            "tests/port/test_port_schedules.py::test_keras_schedules_equal_keras_bit_for_bit"
            "[CosineDecay-False]",
        ),
    ),
    Mutation(
        "port: torch's clip_grad_norm_ without its 1e-6",
        "jaxopt_lab/port/clipping.py",
        "jnp.minimum(max_norm / (total_norm + 1e-6), 1.0)",
        "jnp.minimum(max_norm / total_norm, 1.0)",
        (
            "tests/port/test_port.py::test_clip_grad_norm_scales_just_below_the_threshold_as_torch_does",
        ),
    ),
    # ------------------------------------------------ runs and the page
    Mutation(
        "runs: the final mean printed to 3 decimals",
        "jaxopt_lab/runs/training.py",
        'else f"{final:.4f}"',
        'else f"{final:.3f}"',
        (f"{_NUMBERS}::test_final_mean_loss_is_the_mean_of_the_last_100_iterations[250]",),
    ),
    Mutation(
        "report.js: every chart's y axis upside down",
        "jaxopt_lab/report/page/report.js",
        "y: (v) => margin.top + h - (fy(v) - y0) / (y1 - y0 || 1) * h,",
        "y: (v) => margin.top + (fy(v) - y0) / (y1 - y0 || 1) * h,",
        (f"{_GEOMETRY}::test_loss_curves_are_drawn_where_their_axes_put_them[raw]",),
    ),
    Mutation(
        "report.js: the mnist sweep's log axis ignored",
        "jaxopt_lab/report/page/report.js",
        "xLog: data.log_x,",
        "xLog: false,",
        (f"{_GEOMETRY}::test_the_mnist_sweep_is_drawn_on_its_log_axis",),
    ),
)
