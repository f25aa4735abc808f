"""Benchmark: one optimizer step, against the device's copy bandwidth.

For each lab optimizer, on params of 10^4 to 10^7 float32 elements (to 10^9
on a GPU with the memory for it) held in a few large leaves (20) and in many
small ones (1,000), times one step ``(params, state, grads) -> (params,
state)`` on four sides:

- ``pytree``: the lab optimizer on the tree, jitted, params and state donated;
- ``flat``: the same optimizer on one flat buffer (``jaxopt_lab.flat``);
- ``optax``: optax's optimizer with the same formula, jitted and donated;
- ``numpy``: the tutorial's NumPy class (its own defaults) on dicts of float32 arrays.

For each: the median time of a step, the compile time, the effective bandwidth
(the bytes the update must read and write: params, grads and each moment read,
params and each moment written, 28 B/param for float32 Adam, divided by the
time) and its ratio to the copy bandwidth of the same device measured in the
same run at the same size (a donated, jitted ``x + 1``: read and write 8 B per
element). The sides are timed in interleaved rounds, so that a load that comes
and goes on a shared machine hits them all alike; ratios between sides are the
figures to trust, absolute times less so.

    python -m jaxopt_lab.bench.update_speed [--quick] [--out results.json]
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab import crosscheck, equivalences, flat
from jaxopt_lab.bench import timing
from jaxopt_lab.bench.update_summary import markdown, summarize, targets  # noqa: F401
from jaxopt_lab.reference import REFERENCES

NAME = "update"
FEW_LEAVES = 20
MANY_LEAVES = 1000
NUMPY_MAX_SIZE = 10**7
CHECK_MAX_SIZE = 10**7


@dataclass(frozen=True)
class Pair:
    """A lab optimizer, the optax optimizer with the same formula, and the tutorial's class."""

    lab: Callable[[], optax.GradientTransformation]
    optax: Callable[[], optax.GradientTransformation]
    moments: int
    reference: Callable[[], Any] | None
    note: str = ""


BENCHMARKED = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
"""The optimizers this benchmark times (each with its optax row of the equivalence table)."""


def _moments(optimizer: optax.GradientTransformation) -> int:
    """How many arrays per param the optimizer's state keeps."""
    state = optimizer.init(jnp.zeros(1, jnp.float32))
    return sum(1 for leaf in jax.tree.leaves(state) if jnp.shape(leaf) == (1,))


def _pair(name: str) -> Pair:
    """The lab and optax sides of ``name``'s defaults row against optax, from the table."""
    row = next(
        row
        for row in equivalences.EQUIVALENCES
        if row.optimizer == name
        and row.library == "optax"
        and row.label == "defaults"
        and row.agrees
    )

    def other() -> optax.GradientTransformation:
        return equivalences.resolve(row.other)(**row.other_settings)

    lab = functools.partial(equivalences.build_lab, row)
    return Pair(lab, other, _moments(lab()), REFERENCES.get(name), row.note)


PAIRS: dict[str, Pair] = {name: _pair(name) for name in BENCHMARKED}


def bytes_per_param(moments: int, itemsize: int = 4) -> int:
    """Bytes a step must move per param: read p, g and each moment; write p and each moment."""
    return (3 + 2 * moments) * itemsize


# --------------------------------------------------------------------------- plan


def free_memory_bytes(device: Any = None) -> int:
    """Memory free for arrays on ``device``: the allocator's limit on a GPU, RAM on a CPU."""
    device = device or jax.devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 8 * 2**30


def plan(quick: bool, platform: str | None = None, free_bytes: int | None = None) -> dict:
    """The sizes, layouts and optimizers to run on this platform.

    CPU: 10^4..10^7 (quick: 10^4, 10^5). Accelerators: 10^4..10^9, keeping the
    sizes whose largest case fits in 80% of the free memory (Adam, with the
    three jitted sides alive at once for interleaved timing: three copies of
    params and moments, tree and flat grads: 44 B/param, 48 counted). On the
    many-leaf layout, where compiling 1,000 leaves (5-15 s a side on a CPU)
    costs far more than the steps, Adam runs at every size and the other
    optimizers at 10^6 only; quick runs Adam only.
    Accelerator runs stop starting new cases after ``budget_s`` seconds (the
    many-leaf ones come last), so the suite ends well inside 10 minutes.
    """
    platform = platform or jax.devices()[0].platform
    free_bytes = free_memory_bytes() if free_bytes is None else free_bytes
    if quick:
        sizes = [10**4, 10**5]
    elif platform == "cpu":
        sizes = [10**4, 10**5, 10**6, 10**7]
    else:
        candidates = (10**4, 10**5, 10**6, 10**7, 10**8, 10**9)
        sizes = [n for n in candidates if 48 * n <= 0.8 * free_bytes] or [10**4]
    everything = list(PAIRS)
    if quick:
        many = {n: ["adam"] for n in sizes}
    else:
        many = {n: everything if n == 10**6 else ["adam"] for n in sizes}
    return {
        "sizes": sizes,
        "layouts": {
            "few": {"leaves": FEW_LEAVES, "optimizers": {n: everything for n in sizes}},
            "many": {"leaves": MANY_LEAVES, "optimizers": many},
        },
        "repeats": 5 if quick else 9,
        "budget_s": None if platform == "cpu" else 360.0,
    }


host_cpu = timing.host_cpu


# --------------------------------------------------------------------------- inputs


def leaf_sizes(total: int, leaves: int) -> list[int]:
    """``total`` elements split into ``leaves`` nearly equal leaves (the first takes the rest)."""
    leaves = min(leaves, total)
    base = total // leaves
    return [base + total - base * leaves] + [base] * (leaves - 1)


def make_tree(sizes: list[int], seed: int) -> dict[str, jax.Array]:
    """A dict of 1-D float32 leaves drawn from a normal distribution, on the device."""
    keys = jax.random.split(jax.random.key(seed), len(sizes))
    return {
        f"leaf{i:04d}": jax.random.normal(key, (n,), jnp.float32)
        for i, (key, n) in enumerate(zip(keys, sizes, strict=True))
    }


def copy_tree(tree: Any) -> Any:
    return jax.tree.map(jnp.copy, tree)


# --------------------------------------------------------------------------- sides


def xla_bytes_accessed(compiled: Any) -> float | None:
    """The bytes XLA's cost model says the compiled program reads and writes, if it says."""
    try:
        cost = compiled.cost_analysis()
    except Exception:  # not every backend has a cost model
        return None
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else None
    return float(cost["bytes accessed"]) if cost and "bytes accessed" in cost else None


class JaxSide:
    """A jitted, donated step ``(params, state, grads) -> (params, state)`` and its carry."""

    def __init__(self, optimizer: optax.GradientTransformation, params: Any, grads: Any):
        def step(params, state, grads):
            updates, state = optimizer.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        self.grads = grads
        state = optimizer.init(params)
        self.compile_s, self.compiled = timing.compile_seconds(
            jax.jit(step, donate_argnums=(0, 1)), params, state, grads
        )
        self.params, self.state = params, state
        self.xla_bytes = xla_bytes_accessed(self.compiled)

    def __call__(self) -> Any:
        self.params, self.state = self.compiled(self.params, self.state, self.grads)
        return self.params

    def delete(self) -> None:
        for leaf in jax.tree.leaves((self.params, self.state)):
            leaf.delete()


class NumpySide:
    """The tutorial's NumPy class updating a dict of float32 arrays in place."""

    compile_s = None
    xla_bytes = None

    def __init__(self, reference: Callable[[], Any], params: Any, grads: Any):
        self.optimizer = reference()
        self.params = {key: np.array(value) for key, value in params.items()}
        self.grads = {key: np.asarray(value) for key, value in grads.items()}

    def __call__(self) -> Any:
        self.optimizer.update(self.params, self.grads)
        return None

    def delete(self) -> None:
        self.params = self.grads = None


def interleaved_medians(sides: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds of each side, timed in ``repeats`` rounds that visit every side once."""
    for run in sides.values():
        timing.block(run())
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeats):
        for name, run in sides.items():
            start = time.perf_counter()
            timing.block(run())
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def ulp_distance(a: Any, b: Any) -> int:
    """Largest elementwise ulp distance between two arrays of one dtype."""
    return int(np.max(crosscheck.ulp_distance(a, b), initial=0))


def copy_seconds(size: int, repeats: int) -> float:
    """Median seconds of a donated, jitted ``x + 1`` on ``size`` float32 elements."""
    carry = [jnp.zeros((size,), jnp.float32)]
    _, compiled = timing.compile_seconds(jax.jit(lambda x: x + 1.0, donate_argnums=0), carry[0])

    def run():
        carry[0] = compiled(carry[0])
        return carry[0]

    seconds = timing.median_seconds(run, repeats=max(repeats, 9), warmup=2)
    carry[0].delete()
    return seconds


def measure_case(name: str, leaves: int, size: int, repeats: int, seed: int = 0) -> list[dict]:
    """All sides of one optimizer on one layout and size: a row per side."""
    pair = PAIRS[name]
    tree = make_tree(leaf_sizes(size, leaves), seed)
    grads = make_tree(leaf_sizes(size, leaves), seed + 1)
    flat_params, _ = flat.ravel(tree)
    flat_grads, _ = flat.ravel(grads)

    sides: dict[str, Any] = {
        "pytree": JaxSide(pair.lab(), tree, grads),
        "flat": JaxSide(pair.lab(), flat_params, flat_grads),
        "optax": JaxSide(pair.optax(), copy_tree(tree), grads),
    }
    if pair.reference is not None and size <= NUMPY_MAX_SIZE:
        sides["numpy"] = NumpySide(pair.reference, tree, grads)

    checks: dict[str, dict] = {}
    if size <= CHECK_MAX_SIZE:
        after = {side: np.asarray(flat.ravel(sides[side]())[0]) for side in ("pytree", "flat")}
        after["optax"] = np.asarray(flat.ravel(sides["optax"]())[0])
        checks["flat"] = {"max_ulp_vs_pytree": ulp_distance(after["flat"], after["pytree"])}
        checks["optax"] = {
            "max_abs_diff_vs_pytree": float(np.max(np.abs(after["optax"] - after["pytree"])))
        }
    medians = interleaved_medians(sides, repeats)

    moved = bytes_per_param(pair.moments) * size
    rows = []
    for side, runner in sides.items():
        rows.append(
            {
                "optimizer": name,
                "leaves": min(leaves, size),
                "size": size,
                "side": side,
                "median_s": medians[side],
                "compile_s": runner.compile_s,
                "bytes": moved,
                "gbps": moved / medians[side] / 1e9,
                "xla_bytes_per_param": None
                if runner.xla_bytes is None
                else runner.xla_bytes / size,
                **checks.get(side, {}),
            }
        )
        runner.delete()
    for leaf in jax.tree.leaves((grads, flat_grads)):
        leaf.delete()
    return rows


# --------------------------------------------------------------------------- run


def case_priority(case: tuple[str, str, int]) -> tuple:
    """The order cases run in, so that a time budget cuts the least wanted: Adam up to
    10^8 params (few leaves, then many), Adam above, then the other optimizers."""
    layout, name, size = case
    return (name != "adam", size > 10**8, layout == "many", size)


def out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is XLA's out-of-memory error (``RESOURCE_EXHAUSTED``)."""
    text = str(error)
    return "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower()


def run(
    quick: bool = False,
    *,
    sizes: list[int] | None = None,
    optimizers: list[str] | None = None,
    many_leaves: int | None = None,
    repeats: int | None = None,
    many: dict[int, list[str]] | None = None,
    budget_s: float | None = None,
    on_case: Callable[[list[dict]], None] | None = None,
) -> dict:
    """Run the benchmark; keyword overrides shrink it (for tests) or focus it.

    ``many`` gives the many-leaf layout's optimizers by size (its sizes need not
    be in ``sizes``); ``budget_s`` stops starting new cases after that many
    seconds (Adam's cases come first); ``on_case(rows)`` is called after each
    case with the rows so far (to save partial results). A case that runs out
    of device memory is listed in ``summary["failed_cases"]`` and the others run.

    Returns ``{"benchmark", "machine", "plan", "copy", "rows", "summary"}``:
    ``copy[size]`` the copy bandwidth in GB/s, a row per (optimizer, layout,
    size, side) with ``median_s``, ``compile_s`` (``None`` for NumPy),
    ``bytes``, ``gbps`` and ``fraction_of_copy``.
    """
    the_plan = plan(quick)
    if sizes is not None:
        the_plan["sizes"] = list(sizes)
        for layout in the_plan["layouts"].values():
            layout["optimizers"] = {n: list(PAIRS) for n in sizes}
        if quick:
            the_plan["layouts"]["many"]["optimizers"] = {n: ["adam"] for n in sizes}
    if optimizers is not None:
        unknown = sorted(set(optimizers) - set(PAIRS))
        if unknown:
            raise ValueError(f"optimizers: unknown {unknown}; choose from {sorted(PAIRS)}")
        for layout in the_plan["layouts"].values():
            layout["optimizers"] = {
                n: [o for o in names if o in optimizers]
                for n, names in layout["optimizers"].items()
            }
    if many_leaves is not None:
        the_plan["layouts"]["many"]["leaves"] = many_leaves
    if repeats is not None:
        the_plan["repeats"] = repeats
    if many is not None:
        unknown = sorted({o for names in many.values() for o in names} - set(PAIRS))
        if unknown:
            raise ValueError(f"many: unknown optimizers {unknown}; choose from {sorted(PAIRS)}")
        if optimizers is not None:
            many = {n: [o for o in names if o in optimizers] for n, names in many.items()}
        the_plan["layouts"]["many"]["optimizers"] = {n: list(names) for n, names in many.items()}
    if budget_s is not None:
        the_plan["budget_s"] = budget_s

    started = time.perf_counter()
    cases = [
        (layout_name, name, size)
        for layout_name, layout in the_plan["layouts"].items()
        for size, names in layout["optimizers"].items()
        for name in names
    ]
    cases.sort(key=case_priority)
    all_sizes = sorted({size for _, _, size in cases} | set(the_plan["sizes"]))
    copy_gbps = {
        size: 8 * size / copy_seconds(size, the_plan["repeats"]) / 1e9 for size in all_sizes
    }
    rows: list[dict] = []
    not_run, failed = [], []
    for layout_name, name, size in cases:
        label = f"{name}/{layout_name}/{size:.0e}"
        budget = the_plan.get("budget_s")
        if budget is not None and time.perf_counter() - started > budget:
            not_run.append(label)
            continue
        leaves = the_plan["layouts"][layout_name]["leaves"]
        try:
            case_rows = measure_case(name, leaves, size, the_plan["repeats"])
        except Exception as error:  # jax raises XlaRuntimeError; only memory is survivable
            if not out_of_memory(error):
                raise
            failed.append({"case": label, "error": str(error).strip().splitlines()[0][:300]})
            gc.collect()
            continue
        for row in case_rows:
            row["layout"] = layout_name
            row["copy_gbps"] = copy_gbps[size]
            row["fraction_of_copy"] = row["gbps"] / copy_gbps[size]
            rows.append(row)
        if on_case is not None:
            on_case(rows)
    summary = summarize(rows, the_plan["sizes"], jax.devices()[0].platform)
    summary["not_run_for_time"] = not_run
    summary["failed_cases"] = failed
    summary["wall_s"] = time.perf_counter() - started
    return {
        "benchmark": NAME,
        "machine": {**timing.machine(), "host_cpu": host_cpu()},
        "plan": {
            "sizes": the_plan["sizes"],
            "layouts": {
                name: {
                    "leaves": layout["leaves"],
                    "optimizers": {str(n): names for n, names in layout["optimizers"].items()},
                }
                for name, layout in the_plan["layouts"].items()
            },
            "budget_s": the_plan.get("budget_s"),
            "repeats": the_plan["repeats"],
            "notes": {name: pair.note for name, pair in PAIRS.items() if pair.note},
        },
        "copy": {str(size): gbps for size, gbps in copy_gbps.items()},
        "rows": rows,
        "summary": summary,
    }


# --------------------------------------------------------------------------- present


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, Adam only on 1,000 leaves"
    )
    parser.add_argument("--out", help="write the JSON result here")
    parser.add_argument("--plot", help="write the time-against-size figure (PNG) here")
    args = parser.parse_args(argv)
    result = run(quick=args.quick)
    if args.out:
        with open(args.out, "w") as file:
            json.dump(result, file, indent=1)
    if args.plot:
        from jaxopt_lab.bench.benchmark_figures import plot_update

        plot_update(result, args.plot)
    print(markdown(result))
    print()
    print(json.dumps(result["summary"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
