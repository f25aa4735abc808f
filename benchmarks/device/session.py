"""The accelerator run: the device-relevant tests, then the benchmarks sized for the device.

    bash benchmarks/gpu.sh [--quick] [--stages tests,update] [--plan]      (writes to $OUT)
    python -m benchmarks --device-run [...]                                 (the same)

Made for a machine lent for minutes: one command that ends in under
8 minutes and needs only jax, jaxlib, optax, numpy, matplotlib and pytest (no
TFDS, torch, Keras, tabulate, tqdm, pyarrow or hypothesis). Each stage runs in
its own process, under a time cap, so that a crash or a slow stage costs only
itself and each stage has the device's memory to itself:

* ``probe``: the device, its memory, the versions, JAX's settings (x64, the
  default dtype, the matmul precision measured: a float32 product against
  float64), whether donation frees buffers;
* ``tests``: the device-relevant test files, most wanted first, with a
  deadline (tests not started are counted); failures are run again with
  ``JAX_DEFAULT_MATMUL_PRECISION=highest`` (and, on a GPU, deterministic ops)
  to tell a precision default from a bug;
* ``update``: one optimizer step up to >= 10^8 params in 20 and in 1,000
  leaves (the lab's pytree and flat paths, optax, NumPy to 10^7), against the
  copy bandwidth measured in the same run;
* ``sweep``: the 2-D sweep at 10^4..10^8 points against vectorised NumPy on the host;
* ``train``: the MNIST comparison, and an MNIST sweep of 256 networks at once in
  one vmapped program against training them one by one (random data of
  MNIST's shape: timings do not depend on pixel values).

The sizes come from the device: full sizes on an accelerator (from its memory),
small ones on a CPU or with ``--quick``. Results go to ``--out`` (default
``$OUT``, else ``benchmarks/results/<device>/device-run/``): ``device_run.json``
(everything), ``SUMMARY.md`` (each speed target met or not, with its
number), one JSON per stage, ``update.png``, ``sweep.png``, ``mnist_sweep.png``
and ``logs/<stage>.log``.

This module is the orchestrator (one child process per stage, the tests stage,
the summary's files) and the command line; the plan is
:mod:`~benchmarks.device.plan`, what runs inside a stage's process
:mod:`~benchmarks.device.stages` (started here as ``python -m
benchmarks.device.session --stage NAME``), and the targets and SUMMARY.md
:mod:`~benchmarks.device.summary`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.device.plan import (
    CAPS,
    DESELECTED,
    MODES,
    STAGES,
    plan_stages,
    repo_root,
    stage_caps,
)
from benchmarks.device.stages import STAGE_FUNCTIONS, probe, run_stage, write_json
from benchmarks.device.summary import draw_figures, evaluate_targets, markdown_summary

ENVIRONMENT_REMOVED = {
    "CI": "under CI=true the suite turns every skip into a failure, and a bare device machine "
    "skips the torch, Keras, TFDS and real-MNIST tests",
    "JAX_ENABLE_X64": "the lab measures float32, JAX's default, as users run it",
}


# --------------------------------------------------------------------------- the orchestrator


def stage_environment(
    name: str, base: dict[str, str], root: Path
) -> tuple[dict[str, str], list[str]]:
    """The environment a stage runs in, and what was taken out of the caller's (and why)."""
    environment = dict(base)
    removed = []
    for key, why in ENVIRONMENT_REMOVED.items():
        if key in environment:
            removed.append(f"{key}={environment.pop(key)} removed: {why}")
    paths = [str(root)] + [p for p in environment.get("PYTHONPATH", "").split(os.pathsep) if p]
    environment["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    environment["PYTHONUNBUFFERED"] = "1"
    environment["MPLBACKEND"] = "Agg"
    if name in ("probe", "tests"):
        # The tests start processes of their own, which need device memory too; the
        # benchmarks keep JAX's preallocating allocator, each stage alone on the device.
        environment["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    return environment, removed


def run_child(
    command: list[str], environment: dict[str, str], cap_s: float, log: Path, cwd: Path
) -> dict[str, Any]:
    """Run ``command`` with output to ``log``, killing its process group after ``cap_s``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    timed_out = False
    with open(log, "ab") as output:
        output.write(f"$ {' '.join(command)}\n".encode())
        output.flush()
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=environment, cwd=cwd,
            start_new_session=True,
        )  # fmt: skip
        try:
            returncode = process.wait(timeout=max(cap_s, 1.0))
        except subprocess.TimeoutExpired:
            timed_out = True
            for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
                try:
                    process.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
            returncode = process.returncode
    return {"returncode": returncode, "timed_out": timed_out,
            "wall_s": time.perf_counter() - started}  # fmt: skip


def _log(message: str) -> None:
    print(message, flush=True)


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _python_stage(name: str, plan_path: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "benchmarks.device.session", "--stage", name,
            "--plan-file", str(plan_path), "--out", str(out)]  # fmt: skip


def run_tests(
    settings: dict[str, Any],
    cap_s: float,
    environment: dict[str, str],
    platform: str,
    root: Path,
    out: Path,
) -> dict[str, Any]:
    """The test files under a deadline, then their failures again at the highest precision."""
    log = out / "logs" / "tests.log"
    if not settings["files"]:
        return {"status": "skipped", "note": f"no test files under {root} (not a checkout?)"}
    deadline = min(settings["deadline_s"], max(cap_s - 25, 5))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "-p", "benchmarks.device.pytest_deadline", "--deadline-seconds", f"{deadline:.0f}",
               "--outcomes-json", str(out / "tests.json"), "-o", "addopts=-ra",
               "--continue-on-collection-errors"]  # fmt: skip
    for nodeid in settings["deselect"]:
        command += ["--deselect", nodeid]
    run = run_child(command + settings["files"], environment, cap_s, log, root)
    outcome = _read_json(out / "tests.json") or {}
    status = _status(run, ok=run["returncode"] in (0, 1, 2) and bool(outcome))
    outcome.pop("outcomes", None)  # every test's outcome stays in tests.json only
    report: dict[str, Any] = {
        **run, "status": status, "outcome": outcome, "deadline_s": deadline,
        "deselected": {n: DESELECTED[n] for n in settings["deselect"]},
    }  # fmt: skip
    failed = [f["nodeid"] for f in outcome.get("failures", [])]
    left = cap_s - run["wall_s"]
    if failed and settings.get("rerun_failures") and left > 20:
        rerun_environment = dict(environment, JAX_DEFAULT_MATMUL_PRECISION="highest")
        if platform == "gpu":
            flags = rerun_environment.get("XLA_FLAGS", "")
            rerun_environment["XLA_FLAGS"] = f"{flags} --xla_gpu_deterministic_ops=true".strip()
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "-p", "benchmarks.device.pytest_deadline", "--deadline-seconds",
                   f"{max(left - 15, 5):.0f}", "--outcomes-json", str(out / "tests_rerun.json"),
                   "-o", "addopts=-ra"]  # fmt: skip
        rerun = run_child(command + failed[:50], rerun_environment, left - 5, log, root)
        rerun_outcome = _read_json(out / "tests_rerun.json") or {}
        still = {f["nodeid"] for f in rerun_outcome.get("failures", [])}
        report["rerun"] = {
            **rerun,
            "settings": "JAX_DEFAULT_MATMUL_PRECISION=highest"
            + (", --xla_gpu_deterministic_ops=true" if platform == "gpu" else ""),
            "passed_at_highest_precision": [
                n for n in failed[:50] if rerun_outcome.get("outcomes", {}).get(n) == "passed"
            ],
            "still_failing": sorted(still),
        }  # fmt: skip
    return report


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _status(run: dict[str, Any], ok: bool) -> str:
    if run["timed_out"]:
        return "timed out"
    return "ok" if ok else "failed"


def run_benchmark_stage(
    name: str, cap_s: float, environment: dict[str, str], plan_path: Path, root: Path, out: Path
) -> dict[str, Any]:
    """One benchmark stage in a child process; its result, or its partial result if cut short."""
    log = out / "logs" / f"{name}.log"
    for stale in (out / f"{name}.json", out / f"{name}.partial.json"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    run = run_child(_python_stage(name, plan_path, out), environment, cap_s, log, root)
    result = _read_json(out / f"{name}.json")
    partial = result is None and (out / f"{name}.partial.json").exists()
    if partial:
        result = _read_json(out / f"{name}.partial.json")
    report = {**run, "status": _status(run, ok=run["returncode"] == 0 and result is not None)}
    if partial:
        report["partial"] = True
    if report["status"] != "ok":
        report["log_tail"] = log_tail(log)
    return {"report": report, "result": result}


def _machine_summary(probe_result: dict[str, Any]) -> dict[str, Any]:
    machine = probe_result["machine"]
    return {
        key: machine.get(key)
        for key in ("platform", "device", "device_count", "memory_bytes_limit",
                    "host_memory_available_bytes")
    }  # fmt: skip


def default_out(machine: dict[str, Any], root: Path) -> Path:
    from jaxopt_lab.bench.suite import device_slug

    return root / "benchmarks" / "results" / device_slug(machine) / "device-run"


def orchestrate(args: argparse.Namespace) -> int:
    """Probe, plan, run the stages, write the summary; the exit status says whether all ran."""
    base_environment = dict(os.environ)
    root = repo_root()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        probe_out = Path(scratch)
        probe_environment, _ = stage_environment("probe", base_environment, root)
        probe_run = run_child(
            _python_stage("probe", Path("-"), probe_out), probe_environment,
            CAPS["device"]["probe"][0], probe_out / "probe.log", root,
        )  # fmt: skip
        probe_result = _read_json(probe_out / "probe.json")
        probe_log = log_tail(probe_out / "probe.log", 60)
    if probe_result is None:
        print(f"device run: the probe failed ({probe_run}); its log:\n{probe_log}", file=sys.stderr)
        return 2
    machine = probe_result["machine"]
    platform = machine["platform"]
    if platform == "cpu" and probe_result["nvidia_present"] and not args.allow_cpu:
        print(
            "device run: this host has an NVIDIA GPU (nvidia-smi or /dev/nvidia0) but JAX sees "
            "only the CPU: install jax with its CUDA plugin (pip install 'jax[cuda12]'), check "
            "JAX_PLATFORMS and CUDA_VISIBLE_DEVICES; --allow-cpu runs the CPU sizes anyway.\n"
            + (probe_result.get("environment_info") or ""),
            file=sys.stderr,
        )
        return 3
    mode = args.mode or ("cpu" if args.quick or platform == "cpu" else "device")
    stages = ["probe"] + [name for name in args.stages if name != "probe"]
    plan = plan_stages(
        _machine_summary(probe_result), mode, stages=stages, budget_s=args.budget, root=root
    )
    plan["machine"] = _machine_summary(probe_result)
    if args.plan:
        print(json.dumps(plan, indent=1))
        return 0

    out = Path(args.out or os.environ.get("OUT") or default_out(machine, root)).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(exist_ok=True)
    write_json(out / "probe.json", probe_result)
    plan_path = out / "plan.json"
    write_json(plan_path, plan)
    _log(f"device run: {machine['device']} ({platform}), {mode} mode, budget "
         f"{plan['budget_s']:.0f} s, writing to {out}")  # fmt: skip

    reports: dict[str, Any] = {"probe": {**probe_run, "status": "ok"}}
    results: dict[str, Any] = {}
    removed_notes: list[str] = []
    for name in plan["stages"]:
        if name == "probe":
            continue
        elapsed = time.perf_counter() - started
        cap = stage_caps(plan, elapsed, name)
        if cap < plan["stages"][name]["min_s"]:
            reports[name] = {"status": "skipped", "note": f"{cap:.0f} s left for it"}
            continue
        environment, removed = stage_environment(name, base_environment, root)
        removed_notes = removed
        _log(f"device run: {name} (cap {cap:.0f} s) ...")
        if name == "tests":
            reports[name] = run_tests(plan["stages"][name], cap, environment, platform, root, out)
        else:
            stage = run_benchmark_stage(name, cap, environment, plan_path, root, out)
            reports[name], results[name] = stage["report"], stage["result"]
        _log(f"device run: {name} {reports[name]['status']} "
             f"in {reports[name].get('wall_s', 0):.0f} s")  # fmt: skip

    figures = draw_figures(results, out)
    summary = {
        "mode": mode,
        "machine": machine,
        "probe": probe_result,
        "plan": plan,
        "environment_removed": removed_notes,
        "stages": reports,
        "results": results,
        "targets": evaluate_targets(results, platform),
        "figures": figures,
        "wall_s": time.perf_counter() - started,
    }
    write_json(out / "device_run.json", summary)
    text = markdown_summary(summary)
    (out / "SUMMARY.md").write_text(text + "\n")
    print(markdown_summary(summary, tables=False))
    print(f"\nwrote {out}/SUMMARY.md, device_run.json and the stages' files")
    failed = [n for n, r in reports.items() if r["status"] not in ("ok", "skipped")]
    test_failures = reports.get("tests", {}).get("outcome", {}).get("counts", {}).get("failed", 0)
    return 1 if failed or test_failures else 0


# --------------------------------------------------------------------------- command line


def _stage_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in STAGES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown stage {unknown[0]!r}; valid: {', '.join(STAGES)}"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/gpu.sh",
        description="The lab on an accelerator: device-relevant tests, then the benchmarks "
        "sized for the device, in under 8 minutes.",
    )
    parser.add_argument("--out", help="results folder (default: $OUT, else "
                        "benchmarks/results/<device>/device-run/)")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="the small (CPU) sizes even on an accelerator")  # fmt: skip
    parser.add_argument("--stages", type=_stage_names, default=list(STAGES),
                        metavar="NAME[,NAME...]",
                        help=f"stages to run, in order (default: {','.join(STAGES)}; "
                        "the probe always runs)")  # fmt: skip
    parser.add_argument(
        "--budget", type=float, help="seconds for the whole run (default: 450 on an accelerator)"
    )
    parser.add_argument(
        "--plan",
        action="store_true",
        help="print what each stage would run on this machine, and stop",
    )
    parser.add_argument("--allow-cpu", action="store_true",
                        help="run the CPU sizes even where an NVIDIA GPU is present "
                        "but JAX does not see it")  # fmt: skip
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--stage", choices=("probe",) + tuple(STAGE_FUNCTIONS),
                        help=argparse.SUPPRESS)  # fmt: skip
    parser.add_argument("--plan-file", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.stage is not None:  # a child: one stage in this process
        out = Path(args.out)
        if args.stage == "probe":
            write_json(out / "probe.json", probe())
            return 0
        plan = json.loads(Path(args.plan_file).read_text())
        run_stage(args.stage, plan, out)
        return 0
    # The orchestrator computes nothing on the device: keep its JAX (imported with the
    # package) off the accelerator, whose memory belongs to the stages.
    import jax

    jax.config.update("jax_platforms", "cpu")
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
