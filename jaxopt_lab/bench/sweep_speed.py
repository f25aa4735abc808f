"""How fast is a compiled learning-rate sweep?

Adam on the tutorial's bowl (x²/20 + y²) from (-7, 2), 30 steps, float32, for every
learning rate of a 10,000-point log grid, three ways in one process:

* ``lab``: ``jaxopt_lab.sweep`` -- one call, one compiled, vmapped ``lax.scan``
  (compile time reported apart: the first call minus the median call);
* ``tutorial loop``: the tutorial's way, a Python loop over ``reference.Adam`` objects on
  the ``{"x", "y"}`` dict with the analytic gradient (float64, as the tutorial
  runs). Timed on a subset of the grid and scaled linearly to the full grid;
* ``numpy vectorised``: the tutorial's Adam written once over the learning-rate
  axis in float32 NumPy (x and y as separate arrays, in-place moment updates:
  the fastest plain NumPy form we found);
* ``tutorial class vectorised``: the tutorial's ``reference.Adam`` class itself, fed
  arrays (learning rates and positions) instead of scalars.

Plus a 1,000,000-point sweep in one call and a width series (trajectory-steps
per second against the number of points, 10² to 10⁶) that the benchmark suite
reuses. Medians throughout; the ratios compare runs of the same process.

    python -m jaxopt_lab.bench.sweep_speed [--quick] [--out results.json] [--cpu-devices 2]

On a CPU host JAX sees one device, and XLA runs these small elementwise
kernels on one core; ``--cpu-devices N`` splits the host into N devices so the
sweep is sharded over N cores (the same code path as several GPUs).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

import jaxopt_lab
from jaxopt_lab import reference
from jaxopt_lab.bench import timing
from jaxopt_lab.report.tables import markdown_table

NAME = "sweep"
STEPS = 30
START = (-7.0, 2.0)


def tutorial_loop(learning_rates: np.ndarray, steps: int = STEPS) -> np.ndarray:
    """The tutorial's way: one ``reference.Adam`` per learning rate, a Python loop of updates."""
    finals = np.empty((len(learning_rates), 2))
    for index, learning_rate in enumerate(learning_rates):
        params = {"x": START[0], "y": START[1]}
        optimizer = reference.Adam(lr=float(learning_rate))
        for _ in range(steps):
            grads = {"x": params["x"] / 10.0, "y": 2.0 * params["y"]}
            optimizer.update(params, grads)
        finals[index] = params["x"], params["y"]
    return finals


def numpy_vectorised(learning_rates: np.ndarray, steps: int = STEPS) -> np.ndarray:
    """The tutorial's Adam over the learning-rate axis in float32 NumPy; final positions ``(n, 2)``.

    x and y are separate contiguous arrays and the moments are updated in
    place: the fastest plain NumPy form we found (an ``(n, 2)`` layout with a
    broadcast gradient scale ran about 2.5x slower).
    """
    learning_rates = np.asarray(learning_rates, dtype=np.float32)
    x = np.full(len(learning_rates), START[0], dtype=np.float32)
    y = np.full(len(learning_rates), START[1], dtype=np.float32)
    first_x, first_y = np.zeros_like(x), np.zeros_like(y)
    second_x, second_y = np.zeros_like(x), np.zeros_like(y)
    b1_complement, b2_complement, eps = np.float32(0.1), np.float32(0.001), np.float32(1e-7)
    for t in range(1, steps + 1):
        grad_x, grad_y = x / np.float32(10), np.float32(2) * y  # the gradient of x²/20 + y²
        step_size = learning_rates * np.float32(np.sqrt(1.0 - 0.999**t) / (1.0 - 0.9**t))
        first_x += b1_complement * (grad_x - first_x)
        first_y += b1_complement * (grad_y - first_y)
        second_x += b2_complement * (grad_x * grad_x - second_x)
        second_y += b2_complement * (grad_y * grad_y - second_y)
        x -= step_size * first_x / (np.sqrt(second_x) + eps)
        y -= step_size * first_y / (np.sqrt(second_y) + eps)
    return np.stack([x, y], axis=-1)


def tutorial_class_vectorised(learning_rates: np.ndarray, steps: int = STEPS) -> np.ndarray:
    """The tutorial's ``reference.Adam`` class fed float32 arrays instead of scalars."""
    learning_rates = np.asarray(learning_rates, dtype=np.float32)
    params = {
        "x": np.full(len(learning_rates), START[0], dtype=np.float32),
        "y": np.full(len(learning_rates), START[1], dtype=np.float32),
    }
    optimizer = reference.Adam(lr=learning_rates)
    for _ in range(steps):
        optimizer.update(params, {"x": params["x"] / 10.0, "y": 2.0 * params["y"]})
    return np.stack([params["x"], params["y"]], axis=-1)


def _lab_sweep(make_optimizer, learning_rates: np.ndarray, devices=None) -> jaxopt_lab.SweepResult:
    return jaxopt_lab.sweep(
        make_optimizer, {"learning_rate": learning_rates}, "bowl", START, STEPS, devices
    )


def _row(method: str, points: int, seconds: float, **extra: Any) -> dict[str, Any]:
    return {
        "method": method,
        "points": points,
        "steps": STEPS,
        "seconds": seconds,
        "trajectory_steps_per_second": points * STEPS / seconds,
        **extra,
    }


def width_series(widths: list[int], *, repeats: int = 5) -> list[dict[str, Any]]:
    """Trajectory-steps per second of one ``jaxopt_lab.sweep`` call against its width."""
    rows = []
    for width in widths:
        learning_rates = np.geomspace(1e-4, 10.0, width)
        seconds = timing.median_seconds(
            lambda lr=learning_rates: _lab_sweep(jaxopt_lab.adam, lr).final_loss,
            repeats=repeats,
        )
        rows.append(_row("lab width series", width, seconds, series="width"))
    return rows


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark; ``quick`` shrinks the tutorial subset, the big sweep and the series."""
    points = 10_000
    tutorial_subset = 20 if quick else 200
    big = 100_000 if quick else 1_000_000
    widths = [10**k for k in range(2, 6 if quick else 7)]
    learning_rates = np.geomspace(1e-4, 10.0, points)

    # A fresh function object: its first sweep traces and compiles.
    def make_adam(learning_rate):
        return jaxopt_lab.adam(learning_rate)

    start = time.perf_counter()
    lab_result = _lab_sweep(make_adam, learning_rates)
    first_call = time.perf_counter() - start
    lab = timing.median_seconds(
        lambda: _lab_sweep(make_adam, learning_rates).final_loss, repeats=21, warmup=2
    )

    subset = learning_rates[:: points // tutorial_subset][:tutorial_subset]
    tutorial_subset_seconds = timing.median_seconds(
        lambda: tutorial_loop(subset), repeats=3, warmup=0
    )
    tutorial = tutorial_subset_seconds * points / tutorial_subset
    vectorised = timing.median_seconds(lambda: numpy_vectorised(learning_rates), repeats=11)
    tutorial_class = timing.median_seconds(
        lambda: tutorial_class_vectorised(learning_rates), repeats=7
    )

    # The three agree (float32 against the tutorial's float64: loose, and only
    # where the run converges to a sane point, i.e. did not diverge).
    finite = ~lab_result.diverged
    np.testing.assert_allclose(
        lab_result.final_position[finite],
        numpy_vectorised(learning_rates)[finite],
        rtol=1e-3,
        atol=1e-3,
    )
    np.testing.assert_allclose(
        lab_result.final_position[:: points // tutorial_subset][:tutorial_subset],
        tutorial_loop(subset),
        rtol=1e-3,
        atol=1e-3,
    )

    big_rates = np.geomspace(1e-4, 10.0, big)
    start = time.perf_counter()
    _lab_sweep(jaxopt_lab.adam, big_rates)
    big_first = time.perf_counter() - start
    big_seconds = timing.median_seconds(
        lambda: _lab_sweep(jaxopt_lab.adam, big_rates).final_loss, repeats=5
    )

    device_count = jax.device_count()
    rows = [
        _row(
            f"lab (jaxopt_lab.sweep, one call, {device_count} device(s))",
            points,
            lab,
            compile_seconds=max(first_call - lab, 0.0),
        ),
        _row(
            "tutorial loop (reference.Adam per rate)",
            points,
            tutorial,
            note=f"timed on {tutorial_subset} rates, scaled linearly",
        ),
        _row("numpy vectorised (float32, in place)", points, vectorised),
        _row("tutorial class vectorised (reference.Adam on arrays)", points, tutorial_class),
        _row("lab, one call", big, big_seconds, compile_seconds=max(big_first - big_seconds, 0.0)),
    ]
    if device_count > 1:
        one_device = jax.devices()[:1]
        seconds = timing.median_seconds(
            lambda: _lab_sweep(make_adam, learning_rates, one_device).final_loss, repeats=21
        )
        rows.append(_row("lab, one call, 1 device", points, seconds))
    rows += width_series(widths, repeats=3 if quick else 5)
    return {
        "benchmark": NAME,
        "machine": timing.machine(),
        "quick": quick,
        "rows": rows,
        "summary": {
            "speedup_vs_tutorial_loop": tutorial / lab,
            "speedup_vs_numpy_vectorised": vectorised / lab,
            "speedup_vs_tutorial_class_vectorised": tutorial_class / lab,
            "lab_seconds_10k": lab,
            "lab_device_count": device_count,
            "lab_compile_seconds": max(first_call - lab, 0.0),
            f"trajectory_steps_per_second_{big}": big * STEPS / big_seconds,
        },
    }


def _lab_repeats(width: int) -> int:
    """More repeats where a call is short: its median must survive a shared machine's load."""
    if width > 10**7:  # seconds of host work per call
        return 2
    return 21 if width <= 10**4 else 11 if width <= 10**5 else 5 if width <= 10**6 else 3


def _numpy_repeats(width: int) -> int:
    return 11 if width <= 10**4 else 5 if width <= 10**5 else 3 if width <= 10**6 else 1


def run_widths(
    widths: Sequence[int],
    *,
    numpy_max_points: int = 10**7,
    budget_s: float | None = None,
    on_width: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """One ``jaxopt_lab.sweep`` call against the vectorised NumPy Adam on the host, by width.

    For each width (a log grid of learning rates; Adam on the bowl, 30 steps,
    float32): the median seconds of one ``sweep()`` call, whose outputs come
    back to the host (compile apart: the first call minus the median), and of
    :func:`numpy_vectorised` on the host, measured up to ``numpy_max_points``
    and above it the largest measured width's seconds per point times the width
    (the row says so: NumPy's cost per point is flat at these sizes). Where
    both ran, the largest difference between their final positions over the
    points that converged, and whether it is within 1e-3 (absolute and
    relative: float32 against float32, 30 steps). Widths left when
    ``budget_s`` has passed are listed as not run. ``on_width(result)`` gets
    the result so far after each width.
    """
    widths = sorted(int(width) for width in widths)
    if not widths or widths[0] < 1:
        raise ValueError(f"widths: want positive point counts, got {widths}")
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    not_run: list[int] = []
    numpy_per_point: float | None = None
    numpy_measured_at: int | None = None
    result: dict[str, Any] = {}
    for width in widths:
        if budget_s is not None and time.perf_counter() - started > budget_s:
            not_run.append(width)
            continue
        learning_rates = np.geomspace(1e-4, 10.0, width)
        begin = time.perf_counter()
        lab_result = _lab_sweep(jaxopt_lab.adam, learning_rates)
        first_call = time.perf_counter() - begin
        lab = timing.median_seconds(
            lambda lr=learning_rates: _lab_sweep(jaxopt_lab.adam, lr).final_loss,
            repeats=_lab_repeats(width), warmup=0,
        )  # fmt: skip
        row = {
            "points": width,
            "steps": STEPS,
            "lab_seconds": lab,
            "lab_compile_seconds": max(first_call - lab, 0.0),
            "lab_trajectory_steps_per_second": width * STEPS / lab,
            "lab_diverged": int(np.sum(lab_result.diverged)),
        }
        if width <= numpy_max_points:
            last: dict[str, np.ndarray] = {}

            def run_numpy(lr=learning_rates, last=last):
                last["final"] = numpy_vectorised(lr)
                return last["final"]

            numpy_seconds = timing.median_seconds(
                run_numpy, repeats=_numpy_repeats(width), warmup=0
            )
            numpy_per_point, numpy_measured_at = numpy_seconds / width, width
            converged = ~lab_result.diverged & np.all(np.isfinite(last["final"]), axis=-1)
            difference = np.abs(lab_result.final_position[converged] - last["final"][converged])
            bound = 1e-3 + 1e-3 * np.abs(last["final"][converged])
            row.update(
                numpy_seconds=numpy_seconds,
                numpy_note="measured",
                max_abs_diff_vs_numpy=float(np.max(difference, initial=0.0)),
                agrees_with_numpy=bool(np.all(difference <= bound)),
            )
        elif numpy_per_point is not None:
            row.update(
                numpy_seconds=numpy_per_point * width,
                numpy_note=f"timed at {numpy_measured_at:.0e} points, scaled linearly",
            )
        if "numpy_seconds" in row:
            row["speedup_vs_numpy_vectorised"] = row["numpy_seconds"] / lab
        rows.append(row)
        del lab_result
        result = _widths_result(rows, not_run, numpy_max_points, started)
        if on_width is not None:
            on_width(result)
    return _widths_result(rows, not_run, numpy_max_points, started)


def _widths_result(rows, not_run, numpy_max_points, started) -> dict[str, Any]:
    speedups = {
        str(row["points"]): row["speedup_vs_numpy_vectorised"]
        for row in rows
        if "speedup_vs_numpy_vectorised" in row
    }
    return {
        "benchmark": "sweep_widths",
        "machine": timing.machine(),
        "plan": {"numpy_max_points": numpy_max_points, "steps": STEPS, "start": START},
        "rows": list(rows),
        "summary": {
            "speedup_vs_numpy_vectorised": speedups,
            "all_agree_with_numpy": all(row.get("agrees_with_numpy", True) for row in rows),
            "not_run_for_time": list(not_run),
            "lab_device_count": jax.device_count(),
            "wall_s": time.perf_counter() - started,
        },
    }


def markdown_widths(result: dict[str, Any]) -> str:
    """The width rows: the lab's call, NumPy on the host, their ratio, agreement."""
    rows = []
    for row in result["rows"]:
        numpy_seconds = row.get("numpy_seconds")
        note = row.get("numpy_note", "")
        if "agrees_with_numpy" in row:
            agree = "yes" if row["agrees_with_numpy"] else "**no**"
            note = f"{note}; agree: {agree} (max diff {row['max_abs_diff_vs_numpy']:.1e})"
        rows.append([
            f"{row['points']:.0e}", f"{row['lab_seconds'] * 1e3:.3g}",
            f"{row['lab_compile_seconds']:.2f}", f"{row['lab_trajectory_steps_per_second']:.3g}",
            "-" if numpy_seconds is None else f"{numpy_seconds * 1e3:.4g}",
            "-" if numpy_seconds is None else f"{row['speedup_vs_numpy_vectorised']:.1f}x",
            note,
        ])  # fmt: skip
    headers = ["points", "lab ms", "lab compile s", "trajectory-steps/s", "NumPy ms",
               "lab speedup", "NumPy note"]  # fmt: skip
    return markdown_table(rows, headers, align=["right"] * 6 + ["left"])


def markdown(result: dict[str, Any]) -> str:
    """The rows as a Markdown table, and the headline ratios."""
    rows = []
    for row in result["rows"]:
        note = row.get("note", "")
        if "compile_seconds" in row:
            note = f"compile {row['compile_seconds']:.2f} s"
        rows.append([row["method"], f"{row['points']:,}", f"{row['seconds']:.4g}",
                     f"{row['trajectory_steps_per_second']:.3g}", note])  # fmt: skip
    lines = [markdown_table(rows, ["method", "points", "median s", "trajectory-steps/s", "note"],
                            align=["left", "right", "right", "right", "left"])]  # fmt: skip
    summary = result["summary"]
    lines += [
        "",
        f"lab vs tutorial loop: {summary['speedup_vs_tutorial_loop']:,.0f}x; "
        f"vs numpy vectorised: {summary['speedup_vs_numpy_vectorised']:.1f}x; "
        f"vs tutorial class vectorised: {summary['speedup_vs_tutorial_class_vectorised']:.1f}x",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    parser.add_argument("--out", help="write the result as JSON to this path")
    parser.add_argument(
        "--cpu-devices",
        type=int,
        help="split the host CPU into this many JAX devices (one thread each) so that the "
        "sweep is sharded over the cores; must come before JAX starts its backend",
    )
    args = parser.parse_args(argv)
    if args.cpu_devices:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = (
            f"{flags} --xla_force_host_platform_device_count={args.cpu_devices}"
        ).strip()
    result = run(quick=args.quick)
    print(markdown(result))
    if args.out:
        with open(args.out, "w") as file:
            json.dump(result, file, indent=1)


if __name__ == "__main__":
    main()
