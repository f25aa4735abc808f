"""The accelerator run (``benchmarks/gpu.sh``): its plan, targets, deadline plugin and a smoke run.

No accelerator is needed: the plan is checked for an H200-like machine described
as the probe describes it, the targets against hand-made results on both sides
of each bound, the pytest plugin on a throwaway test file, and the whole
orchestration end to end at tiny sizes on this machine's CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.device import plan as device_plan
from benchmarks.device import session as device_run
from benchmarks.device import summary as device_summary

REPO = Path(__file__).resolve().parents[2]
H200 = {
    "platform": "gpu",
    "memory_bytes_limit": 0.75 * 141e9,  # JAX's allocator takes 75% of the device by default
    "host_memory_available_bytes": 120e9,
}


# --------------------------------------------------------------------------- the plan


def test_plan_on_an_h200_reaches_every_size_of_the_issue_within_8_minutes():
    plan = device_plan.plan_stages(H200, "device", root=REPO)
    stages = plan["stages"]
    assert list(stages) == list(device_plan.STAGES)
    update = stages["update"]
    assert 10**8 in update["sizes"] and 10**9 in update["sizes"]  # 48 GB fits in 106 GB
    assert update["many"]["100000000"] == ["adam"] and update["many"]["10000000"] == ["adam"]
    assert update["many_leaves"] == 1000
    assert stages["sweep"]["widths"] == [10**4, 10**5, 10**6, 10**7, 10**8]
    train = stages["train"]
    assert train["sweep_networks"] >= 256 and train["sweep_chunk_size"] == 256
    # Every stage's cap together stays under the budget, and the budget under 8 minutes.
    assert sum(stage["cap_s"] for stage in stages.values()) <= plan["budget_s"] < 480
    for name in ("update", "sweep"):
        assert 0 < stages[name]["budget_s"] < stages[name]["cap_s"]
    assert 0 < stages["tests"]["deadline_s"] < stages["tests"]["cap_s"]
    assert "tests/optimizers/test_optimizers.py" == stages["tests"]["files"][0]
    assert set(stages["tests"]["deselect"]) == set(device_plan.DESELECTED)
    json.dumps(plan)  # the plan travels to the stages as JSON


def test_plan_sizes_follow_the_device_memory():
    small = dict(H200, memory_bytes_limit=4e9)  # 10^8 Adam params need 4.8 GB
    plan = device_plan.plan_stages(small, "device", root=REPO)["stages"]
    assert plan["update"]["sizes"][-1] == 10**7
    assert "100000000" not in plan["update"]["many"]
    tiny = dict(H200, memory_bytes_limit=1e9)  # a quarter of 1 GB holds 29 networks of 8 MiB
    assert (
        device_plan.plan_stages(tiny, "device", root=REPO)["stages"]["train"]["sweep_chunk_size"]
        == 29
    )
    little_host = dict(H200, host_memory_available_bytes=8e9)  # 10^8 points need 6.4 GB
    widths = device_plan.plan_stages(little_host, "device", root=REPO)["stages"]["sweep"]["widths"]
    assert widths[-1] == 10**7


def test_plan_on_a_cpu_is_small_and_refuses_bad_arguments():
    cpu = {"platform": "cpu", "memory_bytes_limit": None, "host_memory_available_bytes": 8e9}
    plan = device_plan.plan_stages(cpu, "cpu", root=REPO)
    assert max(plan["stages"]["update"]["sizes"]) == 10**6
    assert "sweep_chunk_size" not in plan["stages"]["train"]
    only = device_plan.plan_stages(cpu, "cpu", stages=["probe", "sweep"], root=REPO)
    assert list(only["stages"]) == ["probe", "sweep"]
    with pytest.raises(ValueError, match="mode: unknown 'tpu'"):
        device_plan.plan_stages(cpu, "tpu")
    with pytest.raises(ValueError, match=r"stages: unknown \['bench'\]"):
        device_plan.plan_stages(cpu, "cpu", stages=["bench"])
    with pytest.raises(ValueError, match="budget_s: want a positive"):
        device_plan.plan_stages(cpu, "cpu", budget_s=0)


def test_stage_caps_keep_the_later_stages_minimum():
    plan = device_plan.plan_stages(H200, "device", root=REPO)
    stages = plan["stages"]
    # On time: the full cap.
    assert device_plan.stage_caps(plan, 0.0, "tests") == stages["tests"]["cap_s"]
    # Late: what is left after the update, sweep and train minimums.
    late = plan["budget_s"] - 200
    reserve = sum(stages[n]["min_s"] for n in ("update", "sweep", "train"))
    assert device_plan.stage_caps(plan, late, "tests") == pytest.approx(200 - reserve)
    assert device_plan.stage_caps(plan, plan["budget_s"], "train") == 0


def test_stage_environment_drops_ci_and_x64_and_reaches_the_checkout():
    base = {"CI": "true", "JAX_ENABLE_X64": "1", "PYTHONPATH": "/elsewhere", "HOME": "/root"}
    environment, removed = device_run.stage_environment("tests", base, REPO)
    assert "CI" not in environment and "JAX_ENABLE_X64" not in environment
    assert [note.split(" ")[0] for note in removed] == ["CI=true", "JAX_ENABLE_X64=1"]
    assert environment["PYTHONPATH"].split(os.pathsep) == [str(REPO), "/elsewhere"]
    assert environment["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"  # tests start processes
    benchmark, _ = device_run.stage_environment("update", base, REPO)
    assert "XLA_PYTHON_CLIENT_PREALLOCATE" not in benchmark
    assert base["CI"] == "true"  # the caller's environment is left alone


# --------------------------------------------------------------------------- the targets


def _update_row(layout, size, side, median_s, fraction=0.5, optimizer="adam"):
    return {"optimizer": optimizer, "layout": layout, "size": size, "side": side,
            "median_s": median_s, "fraction_of_copy": fraction, "copy_gbps": 4000.0}  # fmt: skip


def _results(fraction=0.85, few_ratio=1.1, many_ratio=12.0, sweep=60.0, mnist=40.0,
             networks=256, largest=10**8):  # fmt: skip
    rows = [
        _update_row("few", largest, "flat", 1.0, fraction),
        _update_row("few", largest, "pytree", 1.0, 0.7),
        _update_row("few", largest, "optax", 1.0, 0.7),
        _update_row("few", 10**7, "flat", 1.0),
        _update_row("few", 10**7, "optax", few_ratio),
        _update_row("many", 10**7, "flat", 1.0),
        _update_row("many", 10**7, "optax", many_ratio),
    ]
    sweep_rows = [{"points": 10**6, "speedup_vs_numpy_vectorised": sweep},
                  {"points": 10**4, "speedup_vs_numpy_vectorised": 3.0}]  # fmt: skip
    train = {
        "rows": [{"iterations": 2000}],
        "summary": {"sweep_networks": networks, "sweep_speedup_vs_one_by_one": mnist,
                    "sweep_networks_per_second": 100.0, "sweep_one_by_one_timed": 8,
                    "speedup_vs_tutorial_numpy_float64": 7.0},
    }  # fmt: skip
    return {"update": {"rows": rows}, "sweep": {"rows": sweep_rows}, "train": train}


def test_targets_say_met_or_not_with_the_measured_number():
    targets = {t["name"]: t for t in device_summary.evaluate_targets(_results(), "gpu")}
    copy = targets["adam_fraction_of_copy_bandwidth"]
    assert copy["met"] is True and copy["value"] == 0.85 and "flat path" in copy["detail"]
    assert targets["flat_vs_optax_20_leaves"]["met"] is False  # 1.1x < 1.2x
    assert targets["flat_vs_optax_20_leaves"]["value"] == pytest.approx(1.1)
    assert targets["flat_vs_optax_1000_leaves"]["met"] is True  # 12x >= 10x
    assert targets["sweep_1e6_vs_numpy"]["met"] is True
    assert targets["mnist_sweep_vs_one_by_one"]["met"] is False  # 40x < 50x
    assert (
        targets["sweep_1e4_vs_numpy"]["met"] is False
        and targets["mnist_compare_vs_numpy"]["met"] is True
    )
    # The pytree path is the lab's too: the better of the two is judged.
    results = _results(fraction=0.5)
    judged = device_summary.evaluate_targets(results, "gpu")[0]
    assert judged["met"] is False and judged["value"] == 0.7 and "pytree path" in judged["detail"]


def test_targets_out_of_reach_are_not_applicable_but_keep_the_nearest_figure():
    results = _results(largest=10**6, networks=16)
    targets = {t["name"]: t for t in device_summary.evaluate_targets(results, "cpu")}
    assert targets["adam_fraction_of_copy_bandwidth"]["met"] is None
    # The nearest figure: the largest Adam size measured (10^7 in these results).
    assert targets["adam_fraction_of_copy_bandwidth"]["detail"].startswith("1e+07 params")
    assert targets["mnist_sweep_vs_one_by_one"]["met"] is None
    assert targets["mnist_sweep_vs_one_by_one"]["value"] == 40.0
    empty = device_summary.evaluate_targets({}, "gpu")
    assert [t["met"] for t in empty] == [None] * len(empty)


# --------------------------------------------------------------------------- the pytest plugin


def _pytest(tmp_path: Path, *arguments: str) -> tuple[subprocess.CompletedProcess, dict]:
    outcomes = tmp_path / "outcomes.json"
    environment = dict(os.environ, PYTHONPATH=str(REPO))
    environment.pop("CI", None)
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-p", "benchmarks.device.pytest_deadline", "--outcomes-json", str(outcomes),
         *arguments],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return completed, json.loads(outcomes.read_text())


def test_deadline_plugin_records_outcomes_and_stops_at_the_deadline(tmp_path):
    (tmp_path / "test_sample.py").write_text(
        "import pytest, time\n"
        "def test_passes(): time.sleep(0.2)\n"
        "def test_fails(): assert 1 == 2, 'one is not two'\n"
        "def test_skips(): pytest.skip('no torch here')\n"
        "def test_last(): pass\n"
    )
    completed, outcome = _pytest(tmp_path, "test_sample.py")
    assert completed.returncode == 1, completed.stdout
    assert outcome["finished"] and outcome["collected"] == 4 and outcome["not_run"] == 0
    assert outcome["counts"] == {"passed": 2, "failed": 1, "skipped": 1}
    assert outcome["failures"][0]["nodeid"] == "test_sample.py::test_fails"
    assert "one is not two" in outcome["failures"][0]["message"]
    assert outcome["skip_reasons"] == {"no torch here": 1}
    assert outcome["outcomes"]["test_sample.py::test_last"] == "passed"

    completed, outcome = _pytest(tmp_path, "--deadline-seconds", "0.1", "test_sample.py")
    assert outcome["stopped_for_time"] and outcome["counts"] == {"passed": 1}
    assert outcome["not_run"] == 3 and outcome["not_run_by_file"] == {"test_sample.py": 3}
    assert "deadline" in completed.stdout


def test_failures_are_run_again_at_the_highest_precision(tmp_path):
    (tmp_path / "test_precision.py").write_text(
        "import os\n"
        "def test_needs_highest():\n"
        "    assert os.environ.get('JAX_DEFAULT_MATMUL_PRECISION') == 'highest'\n"
        "def test_always_fails(): assert False\n"
        "def test_passes(): pass\n"
    )
    settings = {"files": ["test_precision.py"], "deselect": [], "deadline_s": 60,
                "rerun_failures": True}  # fmt: skip
    environment = dict(os.environ, PYTHONPATH=str(REPO))
    environment.pop("CI", None)
    environment.pop("JAX_DEFAULT_MATMUL_PRECISION", None)
    report = device_run.run_tests(settings, 120, environment, "cpu", tmp_path, tmp_path / "out")
    assert report["status"] == "ok" and report["outcome"]["counts"] == {"passed": 1, "failed": 2}
    assert "outcomes" not in report["outcome"]  # kept in tests.json only
    rerun = report["rerun"]
    assert rerun["settings"] == "JAX_DEFAULT_MATMUL_PRECISION=highest"
    assert rerun["passed_at_highest_precision"] == ["test_precision.py::test_needs_highest"]
    assert rerun["still_failing"] == ["test_precision.py::test_always_fails"]
    lines = device_summary.tests_markdown(report)
    assert any("FAILED `test_precision.py::test_always_fails`" in line for line in lines)
    assert any("passed 1, still failing 1" in line for line in lines)


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_device_run_end_to_end_at_tiny_sizes(tmp_path):
    """The orchestrator on this CPU: probe, two benchmark stages, JSON, Markdown, figures."""
    environment = dict(os.environ, PYTHONPATH=str(REPO), CI="true")  # CI must not reach stages
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--device-run", "--mode", "smoke",
         "--stages", "update,sweep", "--out", str(tmp_path)],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    summary = json.loads((tmp_path / "device_run.json").read_text())
    assert {name: s["status"] for name, s in summary["stages"].items()} == {
        "probe": "ok", "update": "ok", "sweep": "ok"
    }  # fmt: skip
    assert summary["environment_removed"][0].startswith("CI=true removed")
    assert summary["probe"]["jax_settings"]["default_float_dtype"] == "float32"
    assert summary["machine"]["platform"] == "cpu" and summary["machine"]["jax"]
    rows = summary["results"]["update"]["rows"]
    assert {(r["layout"], r["side"]) for r in rows} >= {("few", "flat"), ("many", "optax")}
    assert summary["results"]["sweep"]["summary"]["all_agree_with_numpy"] is True
    assert len(summary["targets"]) == 7
    text = (tmp_path / "SUMMARY.md").read_text()
    assert "## Speed targets on the accelerator" in text and "| update  | ok" in text
    for figure in ("update.png", "sweep.png"):
        assert (tmp_path / figure).read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob("*.partial.json"))


# --------------------------------------------------------------------------- tables
