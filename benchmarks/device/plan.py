"""The device run's plan: what each stage runs, sized from the device, and its time cap.

The probe describes the machine (platform, the device allocator's memory limit,
the host's free memory); :func:`plan_stages` turns that and a mode (``device``,
``cpu``, ``smoke``) into each stage's settings and cap, a JSON dict that travels
to the stages' processes; :func:`stage_caps` gives a stage what the budget has
left, keeping the later stages' minimums. Plain Python: nothing here touches a
device.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

STAGES = ("probe", "tests", "update", "sweep", "train")
MODES = ("device", "cpu", "smoke")

DEVICE_BUDGET_S = 450.0
"""The device run's whole budget: under the 8 minutes a lent machine allows, with room for
Python to start."""

CAPS = {  # stage -> (cap, least worth starting with), seconds, by mode
    "device": {"probe": (45, 15), "tests": (130, 40), "update": (110, 40), "sweep": (60, 20),
               "train": (90, 35)},
    "cpu": {"probe": (60, 15), "tests": (150, 40), "update": (150, 40), "sweep": (90, 20),
            "train": (150, 35)},
    "smoke": {"probe": (60, 15), "tests": (60, 15), "update": (90, 15), "sweep": (60, 15),
              "train": (120, 15)},
}  # fmt: skip
BUDGETS = {"device": DEVICE_BUDGET_S, "cpu": 600.0, "smoke": 400.0}

TEST_FILES = (
    "tests/optimizers/test_optimizers.py",
    "tests/optimizers/test_plumbing.py",
    "tests/test_flat.py",
    "tests/checkpoint/test_checkpoint.py",
    "tests/test_two_d.py",
    "tests/test_grid.py",
    "tests/test_mnist.py",
    "tests/test_problems.py",
    *(
        f"tests/optimizers/test_{family}.py"
        for family in ("adafactor", "lamb", "lion", "muon", "nadam", "rprop", "schedule_free")
    ),
    "tests/crosscheck/test_*.py",
    "tests/optimizers/test_properties.py",
    "tests/equivalences/test_equivalences.py",
)
"""The device-relevant tests, most wanted first (a deadline cuts the end of the list)."""

DESELECTED = {
    "tests/optimizers/test_plumbing.py::test_state_keeps_the_params_sharding_on_four_devices":
        "forces 4 CPU devices in a subprocess",
    "tests/test_two_d.py::test_sharded_sweep_over_four_cpu_devices_equals_the_unsharded_one":
        "forces 4 CPU devices in a subprocess",
    "tests/test_mnist.py::test_sweep_sharded_over_four_devices_equals_one_device":
        "forces 4 CPU devices in a subprocess",
    "tests/test_grid.py::test_two_processes_return_what_one_process_returns":
        "two CPU processes joined by gloo",
}  # fmt: skip
"""Tests that run on forced CPU devices in subprocesses: the ordinary suite's, not the device's."""

SMOKE_TEST_FILES = ("tests/test_problems.py",)

ADAM_BYTES_PER_PARAM_PEAK = 48
"""Device memory one Adam case of the update benchmark holds per param (its plan's figure)."""
MNIST_NETWORK_BYTES = 8 * 2**20
"""A generous estimate of one MNIST network's working memory in a sweep (params, Adam's
moments, gradients, a batch's activations, the scan's double buffers): about 3 MB used."""
SWEEP_HOST_BYTES_PER_POINT = 64
"""Host memory a 2-D sweep point takes on its way back (learning rates, outputs, copies)."""


def repo_root() -> Path:
    """The checkout this module runs from (its tests and the default results folder)."""
    return Path(__file__).resolve().parents[2]


def test_files(root: Path, patterns: Sequence[str] = TEST_FILES) -> list[str]:
    """The test files of ``patterns`` that exist under ``root``, in order, each once."""
    found: list[str] = []
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            name = path.relative_to(root).as_posix()
            if name not in found:
                found.append(name)
    return found


def update_sizes(memory_bytes: float | None, platform: str) -> list[int]:
    """10^4..10^9 params, keeping those whose Adam case fits in 80% of the device's memory."""
    if platform == "cpu" or not memory_bytes:
        return [10**4, 10**5, 10**6]
    candidates = [10**k for k in range(4, 10)]
    return [n for n in candidates if ADAM_BYTES_PER_PARAM_PEAK * n <= 0.8 * memory_bytes] or [10**4]


def plan_stages(
    machine: dict[str, Any],
    mode: str,
    *,
    stages: Sequence[str] = STAGES,
    budget_s: float | None = None,
    root: Path | None = None,
) -> dict[str, Any]:
    """What each stage runs in this mode on this machine, and its time cap.

    ``machine`` is the probe's: ``platform``, ``memory_bytes_limit`` (the device
    allocator's limit; ``None`` on a CPU), ``host_memory_available_bytes``.
    ``mode``: ``device`` (an accelerator's full sizes), ``cpu`` (small sizes, a
    few minutes on a CPU), ``smoke`` (tiny: this module's tests).
    """
    if mode not in MODES:
        raise ValueError(f"mode: unknown {mode!r}; choose from {', '.join(MODES)}")
    unknown = [name for name in stages if name not in STAGES]
    if unknown:
        raise ValueError(f"stages: unknown {unknown}; choose from {', '.join(STAGES)}")
    budget = BUDGETS[mode] if budget_s is None else float(budget_s)
    if budget <= 0:
        raise ValueError(f"budget_s: want a positive number of seconds, got {budget_s}")
    root = root or repo_root()
    platform = machine.get("platform", "cpu")
    memory = machine.get("memory_bytes_limit")
    host_memory = machine.get("host_memory_available_bytes") or 8 * 2**30
    caps = CAPS[mode]
    plan: dict[str, Any] = {"mode": mode, "budget_s": budget, "platform": platform, "stages": {}}

    def stage(name: str, **settings: Any) -> None:
        if name in stages:
            cap, least = caps[name]
            plan["stages"][name] = {"cap_s": float(cap), "min_s": float(least), **settings}

    stage("probe")
    files = test_files(root, SMOKE_TEST_FILES if mode == "smoke" else TEST_FILES)
    stage(
        "tests",
        files=files,
        deselect=[nodeid for nodeid in DESELECTED if nodeid.split("::")[0] in files],
        deadline_s=float(caps["tests"][0] - 25),
        rerun_failures=True,
    )

    if mode == "device":
        sizes = update_sizes(memory, platform)
        many_adam = [n for n in (10**6, 10**7, 10**8) if n in sizes]
        many = {n: ["adam"] for n in many_adam}
        if 10**6 in many:
            many[10**6] = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]
        update = {"sizes": sizes, "many": many, "many_leaves": 1000, "repeats": 9}
        widths = [10**k for k in range(4, 9)]
        widths = [w for w in widths if SWEEP_HOST_BYTES_PER_POINT * w <= 0.5 * host_memory]
        sweep = {"widths": widths, "numpy_max_points": 10**7}
        train = {"iterations": 2000, "numpy_iterations": 100, "repeats": 2,
                 "sweep_networks": 256, "sweep_iterations": 500,
                 # Each network trained alone compiles its own program (seconds on a
                 # GPU); its run time per network is the same for any of them.
                 "one_by_one_sample": 4}  # fmt: skip
    elif mode == "cpu":
        update = {"sizes": [10**4, 10**5, 10**6], "many": {10**4: ["adam"], 10**6: ["adam"]},
                  "many_leaves": 1000, "repeats": 5}  # fmt: skip
        sweep = {"widths": [10**4, 10**5, 10**6], "numpy_max_points": 10**6}
        train = {"iterations": 200, "numpy_iterations": 20, "repeats": 1,
                 "sweep_networks": 16, "sweep_iterations": 100, "one_by_one_sample": 2}  # fmt: skip
    else:
        update = {"sizes": [2000], "many": {2000: ["adam"]}, "many_leaves": 40, "repeats": 2,
                  "optimizers": ["sgd", "adam"]}  # fmt: skip
        sweep = {"widths": [100, 1000], "numpy_max_points": 100}
        train = {"iterations": 20, "numpy_iterations": 2, "repeats": 1,
                 "sweep_networks": 4, "sweep_iterations": 10, "one_by_one_sample": 1}  # fmt: skip
    if memory:
        # Networks per compiled call: a quarter of the device's memory, as the grid map does.
        per_call = max(1, int(memory // 4 // MNIST_NETWORK_BYTES))
        train["sweep_chunk_size"] = min(per_call, train["sweep_networks"])
    update["many"] = {str(n): names for n, names in update["many"].items()}  # JSON keys
    stage("update", budget_s=float(caps["update"][0] - 40), **update)
    stage("sweep", budget_s=float(caps["sweep"][0] - 25), **sweep)
    stage("train", **train)
    return plan


def stage_caps(plan: dict[str, Any], elapsed_s: float, name: str) -> float:
    """Seconds ``name`` may run now: its cap, less what the later stages' minimums need."""
    names = list(plan["stages"])
    later = names[names.index(name) + 1 :]
    reserve = sum(plan["stages"][n]["min_s"] for n in later)
    return min(plan["stages"][name]["cap_s"], plan["budget_s"] - elapsed_s - reserve)
