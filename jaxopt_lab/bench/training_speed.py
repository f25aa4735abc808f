"""The tutorial's MNIST comparison: the lab's compiled program against the NumPy reference.

Two measurements:

1. **Comparison.** SGD, Momentum, AdaGrad and Adam (the tutorial's defaults) each
   train the tutorial's 784-100-100-100-100-10 MLP for 2000 iterations of batch
   128: the lab's ``mnist.compare`` (one ``lax.scan`` program, compile time
   reported apart) against the tutorial's experiment written in NumPy (its
   ``MultiLayerNet`` forward/backward and the reference optimizer classes,
   float64 weights as in the tutorial, and a float32 variant). The NumPy loop runs
   fewer iterations and is scaled to the full count (its cost per iteration is
   constant); the row says how many it ran.
2. **Sweep.** ``mnist.sweep`` training learning rates x seeds Adam networks at
   once (vmap) against training the same networks one at a time (the same
   program with one point), in networks per second, compile time apart.

    python -m jaxopt_lab.bench.training_speed [--quick] [--out results.json]

MNIST comes from ``--data-dir``, ``$JAXOPT_LAB_MNIST_DIR`` or ``../shared/data/mnist``;
without it the benchmark uses random data of MNIST's shape (timings do not
depend on pixel values) and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import jaxopt_lab
from jaxopt_lab import reference
from jaxopt_lab.bench import timing
from jaxopt_lab.report.tables import markdown_table

NAME = "train"
TUTORIAL_OPTIMIZERS = {
    "sgd": (lambda: jaxopt_lab.sgd(0.01), lambda: reference.SGD(0.01)),
    "momentum": (lambda: jaxopt_lab.momentum(0.01, 0.9), lambda: reference.Momentum(0.01, 0.9)),
    "adagrad": (lambda: jaxopt_lab.adagrad(0.01), lambda: reference.AdaGrad(0.01)),
    "adam": (lambda: jaxopt_lab.adam(0.001), lambda: reference.Adam(0.001)),
}
SIZES = (784, 100, 100, 100, 100, 10)
BATCH_SIZE = 128


def load_data(
    data_dir: str | None = None, random: bool = False
) -> tuple[jaxopt_lab.MnistData, str]:
    """Real MNIST where it can be found (unless ``random``), else random data of the same shapes."""
    candidates = [] if random else [data_dir, os.environ.get("JAXOPT_LAB_MNIST_DIR")]
    if not random:
        here = Path(__file__).resolve()
        candidates += [str(here.parents[i] / "shared" / "data" / "mnist") for i in (2, 1)]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            try:
                return jaxopt_lab.load_mnist("idx", candidate), f"MNIST IDX files in {candidate}"
            except (jaxopt_lab.data.MnistNotFoundError, jaxopt_lab.data.CorruptIdxFileError):
                continue
    rng = np.random.default_rng(0)
    shaped = jaxopt_lab.MnistData(
        rng.uniform(size=(60000, 784)).astype(np.float32),
        rng.integers(0, 10, 60000).astype(np.int32),
        rng.uniform(size=(10000, 784)).astype(np.float32),
        rng.integers(0, 10, 10000).astype(np.int32),
    )
    note = "asked for" if candidates == [] else "no MNIST found"
    return shaped, f"random data of MNIST's shape ({note})"


# --------------------------------------------------------------------------- NumPy reference


class NumpyMlp:
    """The tutorial's ``MultiLayerNet`` (He init, ReLU, softmax cross-entropy) in NumPy.

    ``params`` is the tutorial's flat dict ``W1, b1, ..., W5, b5``; ``gradient``
    is its backward pass. ``dtype`` float64 is the tutorial as written (its weights
    come from ``np.random.randn``); float32 matches the lab's precision.
    """

    def __init__(self, sizes=SIZES, dtype=np.float64, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {}
        for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), 1):
            scale = np.sqrt(2.0 / n_in)
            self.params[f"W{index}"] = (scale * rng.standard_normal((n_in, n_out))).astype(dtype)
            self.params[f"b{index}"] = np.zeros(n_out, dtype)
        self.layers = len(sizes) - 1

    def _forward(self, images):
        activations = [images]
        for index in range(1, self.layers + 1):
            out = activations[-1] @ self.params[f"W{index}"] + self.params[f"b{index}"]
            activations.append(np.maximum(out, 0) if index < self.layers else out)
        return activations

    @staticmethod
    def _softmax(logits):
        shifted = logits - logits.max(axis=1, keepdims=True)
        exponentials = np.exp(shifted)
        return exponentials / exponentials.sum(axis=1, keepdims=True)

    def loss(self, images, labels):
        probabilities = self._softmax(self._forward(images)[-1])
        return -np.mean(np.log(probabilities[np.arange(len(labels)), labels] + 1e-7))

    def gradient(self, images, labels):
        activations = self._forward(images)
        delta = self._softmax(activations[-1])
        delta[np.arange(len(labels)), labels] -= 1
        delta /= len(labels)
        grads = {}
        for index in range(self.layers, 0, -1):
            grads[f"W{index}"] = activations[index - 1].T @ delta
            grads[f"b{index}"] = delta.sum(axis=0)
            # The tutorial's Affine layers compute the input gradient in every layer,
            # the first included (where it is thrown away): so does this reference.
            delta = delta @ self.params[f"W{index}"].T
            if index > 1:
                delta = delta * (activations[index - 1] > 0)
        return grads


def numpy_comparison(data, iterations: int, dtype) -> tuple[float, np.ndarray]:
    """The tutorial's loop in NumPy for ``iterations``; seconds and the last losses."""
    rng = np.random.default_rng(0)
    images = data.train_images.astype(dtype, copy=False)
    networks = {name: NumpyMlp(dtype=dtype) for name in TUTORIAL_OPTIMIZERS}
    optimizers = {name: make() for name, (_, make) in TUTORIAL_OPTIMIZERS.items()}
    losses = np.zeros((len(networks), iterations))
    start = time.perf_counter()
    for iteration in range(iterations):
        batch = rng.choice(len(images), BATCH_SIZE)  # the tutorial's draw, with replacement
        x, t = images[batch], data.train_labels[batch]
        for row, (name, network) in enumerate(networks.items()):
            optimizers[name].update(network.params, network.gradient(x, t))
            losses[row, iteration] = network.loss(x, t)
    return time.perf_counter() - start, losses[:, -1]


# --------------------------------------------------------------------------- run


def run(
    quick: bool = False,
    data_dir: str | None = None,
    *,
    random_data: bool = False,
    iterations: int | None = None,
    numpy_iterations: int | None = None,
    repeats: int | None = None,
    sweep_networks: int | None = None,
    sweep_iterations: int | None = None,
    one_by_one_sample: int | None = None,
    sweep_chunk_size: int | None = None,
    on_part: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Time the comparison and the sweep; return rows and headline ratios.

    Keyword overrides size it for a device: ``sweep_networks`` (even: half as
    many learning rates, log-spaced in [1e-4, 1e-2], times seeds 0 and 1),
    ``one_by_one_sample`` networks of the grid (spread over it) trained one at
    a time, their mean time scaled to the whole grid (default: every network),
    ``sweep_chunk_size`` networks per compiled call (default all). ``on_part``
    gets the result so far after the comparison.
    """
    if sweep_networks is not None and (sweep_networks < 2 or sweep_networks % 2):
        raise ValueError(f"sweep_networks: want an even count >= 2, got {sweep_networks}")
    if one_by_one_sample is not None and one_by_one_sample < 1:
        raise ValueError(f"one_by_one_sample: want at least 1, got {one_by_one_sample}")
    data, data_source = load_data(data_dir, random=random_data)
    iterations = iterations or (200 if quick else 2000)
    numpy_iterations = numpy_iterations or (20 if quick else 100)
    repeats = repeats or (1 if quick else 3)
    started = time.perf_counter()
    optimizers = {name: make() for name, (make, _) in TUTORIAL_OPTIMIZERS.items()}
    rows = []

    results = [
        jaxopt_lab.mnist.compare(optimizers, data, iterations, BATCH_SIZE) for _ in range(repeats)
    ]
    lab_seconds = statistics.median(result.run_seconds for result in results)
    compile_seconds = statistics.median(result.compile_seconds for result in results)
    rows.append(
        {
            "case": "lab compare (one compiled scan, 4 optimizers)",
            "iterations": iterations,
            "iterations_timed": iterations,
            "seconds": lab_seconds,
            "compile_seconds": compile_seconds,
            "iterations_per_second": iterations / lab_seconds,
            "final_mean_loss": dict(
                zip(
                    results[0].names, results[0].losses[:, -100:].mean(axis=1).tolist(), strict=True
                )
            ),
        }
    )
    numpy_seconds = {}
    for dtype in (np.float64, np.float32):
        timed = [numpy_comparison(data, numpy_iterations, dtype)[0] for _ in range(repeats)]
        scaled = statistics.median(timed) * iterations / numpy_iterations
        numpy_seconds[np.dtype(dtype).name] = scaled
        rows.append(
            {
                "case": f"NumPy reference, {np.dtype(dtype).name}"
                + (" (the tutorial as written)" if dtype == np.float64 else ""),
                "iterations": iterations,
                "iterations_timed": numpy_iterations,
                "seconds": scaled,
                "compile_seconds": 0.0,
                "iterations_per_second": iterations / scaled,
            }
        )

    summary: dict[str, Any] = {
        "speedup_vs_tutorial_numpy_float64": numpy_seconds["float64"] / lab_seconds,
        "speedup_vs_numpy_float32": numpy_seconds["float32"] / lab_seconds,
        "lab_compile_seconds": compile_seconds,
    }
    result = {
        "benchmark": NAME,
        "machine": timing.machine(),
        "data": data_source,
        "quick": quick,
        "rows": rows,
        "summary": summary,
    }
    if on_part is not None:
        on_part(result)

    sweep_iterations = sweep_iterations or (100 if quick else 500)
    seeds = [0, 1]
    if sweep_networks is None:
        learning_rates = [1e-3, 3e-3] if quick else [3e-4, 1e-3, 3e-3, 1e-2]
    else:
        learning_rates = np.geomspace(1e-4, 1e-2, sweep_networks // 2).tolist()
    points = [(rate, seed) for rate in learning_rates for seed in seeds]  # the grid's order
    networks = len(points)
    together = jaxopt_lab.mnist.sweep(
        jaxopt_lab.adam,
        {"learning_rate": learning_rates},
        data,
        sweep_iterations,
        BATCH_SIZE,
        seeds=seeds,
        chunk_size=sweep_chunk_size,
    )
    sample = networks if one_by_one_sample is None else min(one_by_one_sample, networks)
    picked = np.unique(np.linspace(0, networks - 1, sample).round().astype(int))
    one_by_one_run = one_by_one_compile = 0.0
    for index in picked:
        learning_rate, seed = points[index]
        single = jaxopt_lab.mnist.sweep(
            jaxopt_lab.adam, {"learning_rate": [learning_rate]}, data, sweep_iterations,
            BATCH_SIZE, seeds=[seed],
        )  # fmt: skip
        one_by_one_run += single.run_seconds
        one_by_one_compile += single.compile_seconds
    scale = networks / len(picked)
    one_by_one_case = f"sweep: the same {networks} networks one by one"
    if len(picked) < networks:
        one_by_one_case += f" (timed on {len(picked)}, scaled)"
    for case, seconds, compiled in [
        (f"sweep: {networks} Adam networks at once (vmap)", together.run_seconds,
         together.compile_seconds),
        (one_by_one_case, one_by_one_run * scale, one_by_one_compile * scale),
    ]:  # fmt: skip
        rows.append(
            {
                "case": case,
                "iterations": sweep_iterations,
                "iterations_timed": sweep_iterations,
                "seconds": seconds,
                "compile_seconds": compiled,
                "networks_per_second": networks / seconds,
            }
        )
    summary.update(
        sweep_networks=networks,
        sweep_chunk_count=together.chunk_count,
        sweep_one_by_one_timed=len(picked),
        sweep_speedup_vs_one_by_one=one_by_one_run * scale / together.run_seconds,
        sweep_networks_per_second=networks / together.run_seconds,
        sweep_diverged=int(np.sum(~np.isfinite(together.final_loss))),
        wall_s=time.perf_counter() - started,
    )
    return result


def markdown(result: dict[str, Any]) -> str:
    rows = []
    for row in result["rows"]:
        speed = row.get("iterations_per_second") or row.get("networks_per_second")
        rows.append(
            [
                row["case"],
                f"{row['iterations']} ({row['iterations_timed']})",
                f"{row['seconds']:.2f}",
                f"{row['compile_seconds']:.2f}",
                f"{speed:.2f}",
            ]
        )
    headers = ["case", "iterations (timed)", "seconds", "compile s", "it/s or networks/s"]
    lines = [markdown_table(rows, headers, align=["left"] + ["right"] * 4)]
    summary = result["summary"]
    lines += [
        "",
        f"Data: {result['data']}. Device: {result['machine']['device']} "
        f"({result['machine']['platform']}).",
        "Lab vs the tutorial's NumPy (float64): "
        f"{summary['speedup_vs_tutorial_numpy_float64']:.1f}x; "
        f"vs NumPy float32: {summary['speedup_vs_numpy_float32']:.1f}x "
        f"(compile {summary['lab_compile_seconds']:.1f} s, not included).",
        f"Sweep: {summary['sweep_networks_per_second']:.2f} networks/s, "
        f"{summary['sweep_speedup_vs_one_by_one']:.1f}x training them one by one.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations, one repeat")
    parser.add_argument("--out", type=Path, help="write the JSON result here")
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files")
    args = parser.parse_args()
    result = run(quick=args.quick, data_dir=args.data_dir)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(markdown(result))


if __name__ == "__main__":
    main()
