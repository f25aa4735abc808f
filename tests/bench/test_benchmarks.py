"""The benchmark suite's smoke path: structure of its JSON, table and figure, never speed.

The update benchmark is run at a tiny size (a few seconds); what is checked is
what a reader of the results relies on: every side is there, the bytes are
the formula's, the flat side computed what the pytree side computed, and the
suite writes its files and skips absent benchmarks with a reason.
"""

from __future__ import annotations

import functools
import json
import sys

import numpy as np
import pytest

from jaxopt_lab import cli
from jaxopt_lab.bench import suite
from jaxopt_lab.bench import update_speed as update

TINY = {"sizes": [2000], "optimizers": ["sgd", "adam"], "many_leaves": 40, "repeats": 2}


@pytest.fixture(scope="module")
def tiny_result():
    return update.run(**TINY)


def test_bytes_per_param_is_the_formula():
    # float32 Adam: read p, g, m, v and write p, m, v: 7 arrays of 4 bytes.
    assert update.bytes_per_param(2) == 28
    assert update.bytes_per_param(0) == 12
    assert update.bytes_per_param(1, itemsize=2) == 10


def test_leaf_sizes_split_exactly():
    sizes = update.leaf_sizes(10**4 + 7, 1000)
    assert len(sizes) == 1000 and sum(sizes) == 10**4 + 7
    assert update.leaf_sizes(5, 20) == [1] * 5


def test_plan_scales_with_platform_and_memory():
    assert update.plan(quick=False, platform="cpu")["sizes"] == [10**4, 10**5, 10**6, 10**7]
    # 80 GB free: Adam needs 24 B/param within half of it, so 10^9 fits.
    assert update.plan(quick=False, platform="gpu", free_bytes=80e9)["sizes"][-1] == 10**9
    assert update.plan(quick=False, platform="gpu", free_bytes=16e9)["sizes"][-1] == 10**8
    assert update.plan(quick=True, platform="gpu", free_bytes=80e9)["sizes"] == [10**4, 10**5]
    assert update.plan(quick=False, platform="gpu", free_bytes=1e5)["sizes"] == [10**4]


def test_update_rows_cover_every_side_and_layout(tiny_result):
    rows = tiny_result["rows"]
    cases = {(r["optimizer"], r["layout"], r["side"]) for r in rows}
    for optimizer in TINY["optimizers"]:
        for layout in ("few", "many"):
            for side in ("pytree", "flat", "optax", "numpy"):
                assert (optimizer, layout, side) in cases
    for row in rows:
        moments = update.PAIRS[row["optimizer"]].moments
        assert row["bytes"] == update.bytes_per_param(moments) * row["size"]
        assert row["median_s"] > 0
        assert row["gbps"] == pytest.approx(row["bytes"] / row["median_s"] / 1e9)
        assert row["fraction_of_copy"] == pytest.approx(row["gbps"] / row["copy_gbps"])
        assert (row["compile_s"] is None) == (row["side"] == "numpy")
    assert {r["leaves"] for r in rows if r["layout"] == "many"} == {40}


def test_update_checks_flat_and_optax_against_pytree(tiny_result):
    rows = tiny_result["rows"]
    for row in rows:
        if row["side"] == "flat":
            # Same elementwise arithmetic; at most 1 ulp where XLA rewrites a division.
            assert row["max_ulp_vs_pytree"] <= 1
        if row["side"] == "optax":
            # The same formula in float32 after one step of size 1e-3 or 1e-2.
            assert row["max_abs_diff_vs_pytree"] < 1e-6
    assert tiny_result["summary"]["flat_max_ulp_vs_pytree"] <= 1


def test_update_result_is_json_and_markdown(tiny_result):
    decoded = json.loads(json.dumps(tiny_result))
    assert decoded["benchmark"] == "update"
    assert {"platform", "device", "jax", "optax"} <= set(decoded["machine"])
    assert set(decoded["summary"]["targets"]) and "wall_s" in decoded["summary"]
    table = update.markdown(tiny_result)
    main_table, copy_line, target_table = table.split("\n\n")
    lines = [line for line in main_table.splitlines() if line.startswith("| ")]
    assert len(lines) == 1 + 2 * len(TINY["optimizers"])  # header + (optimizer, layout)
    assert all(line.split("|")[-2].strip() in ("12 / 12", "28 / 40") for line in lines[1:])
    assert copy_line.startswith("Copy bandwidth")
    # Tiny sizes reach none of the size-specific targets.
    cells = [[cell.strip() for cell in line.split("|")[1:-1]] for line in target_table.splitlines()]
    met = {row[0]: row[-1] for row in cells}
    adam_targets = [key for key in met if key.startswith("adam_")]
    assert len(adam_targets) == 4
    assert all(met[key] == "n/a" for key in adam_targets)


def test_update_refuses_unknown_optimizer():
    with pytest.raises(ValueError, match="optimizers: unknown"):
        update.run(sizes=[100], optimizers=["lbfgs"])


def test_plot_update_writes_png_and_refuses_missing_optimizer(tiny_result, tmp_path):
    from jaxopt_lab.bench.benchmark_figures import plot_update

    path = plot_update(tiny_result, tmp_path / "update.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="optimizer: no rows for 'rmsprop'"):
        plot_update(tiny_result, tmp_path / "x.png", optimizer="rmsprop")


@pytest.fixture
def tiny_suite(monkeypatch):
    """The suite with ``update.run`` shrunk and the other benchmarks absent."""
    monkeypatch.setattr(update, "run", functools.partial(update.run, **TINY))
    for name in ("sweep", "train", "checkpoint", "memory"):
        monkeypatch.setitem(sys.modules, f"jaxopt_lab.bench.{suite.MODULES[name]}", None)


def test_suite_writes_files_and_skips_absent_benchmarks(tiny_suite, tmp_path):
    result = suite.run_suite(quick=True, out_dir=tmp_path)
    assert set(result["results"]) == {"update"}
    assert set(result["skipped"]) == {"sweep", "train", "checkpoint", "memory"}
    assert "not importable" in result["skipped"]["sweep"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["update.json", "update.png"]
    written = json.loads((tmp_path / "update.json").read_text())
    assert len(written["rows"]) == len(result["results"]["update"]["rows"])
    text = suite.markdown(result)
    assert "## update" in text and "sweep: skipped" in text


def test_suite_refuses_unknown_names():
    with pytest.raises(ValueError, match="names: unknown benchmarks"):
        suite.run_suite(names=("update", "fft"))


def test_cli_bench_runs_the_suite(tiny_suite, tmp_path, capsys):
    status = cli.main(["bench", "--quick", "--only", "update", "--out", str(tmp_path)])
    assert status == 0
    assert (tmp_path / "update.json").exists()
    assert "| adam " in capsys.readouterr().out


def test_generic_table_lists_every_key():
    table = suite.generic_table({"rows": [{"a": 1, "b": 0.5}, {"a": 2, "c": "x"}]})
    assert [c.strip() for c in table.splitlines()[0].split("|")] == ["", "a", "b", "c", ""]
    assert np.array_equal([len(line.split("|")) for line in table.splitlines()], [5] * 4)


def test_targets_apply_only_at_their_sizes():
    summary = {
        "adam_many_leaves_size": 10**6,
        "adam_many_leaves_flat_step_speedup_vs_optax": 24.0,
        "adam_many_leaves_flat_compile_speedup_vs_optax": 40.0,
        "adam_few_leaves_size": 10**5,
        "adam_few_leaves_flat_speedup_vs_optax": 2.0,
        "pytree_worst_slowdown_vs_optax": {"case": "x", "slowdown": 0.01},
    }
    result = update.targets(summary, "cpu")
    assert result["adam_many_leaves_flat_step_speedup_vs_optax"]["met"] is True
    assert result["adam_many_leaves_flat_compile_speedup_vs_optax"]["met"] is False
    assert result["adam_few_leaves_flat_speedup_vs_optax"]["met"] is None  # 10^5 < 10^7
    assert result["adam_few_leaves_flat_fraction_of_copy"]["value"] is None
    assert result["pytree_worst_slowdown_vs_optax"] == {
        "value": 0.01,
        "target": "<= 0.05",
        "met": True,
    }
    gpu = update.targets({**summary, "adam_few_leaves_size": 10**8}, "gpu")
    assert gpu["adam_few_leaves_flat_fraction_of_copy"]["target"] == ">= 0.8"
    assert gpu["adam_few_leaves_flat_speedup_vs_optax"]["met"] is True


def test_cli_bench_runs_from_any_folder_without_path_tricks(tmp_path):
    """An installed ``jaxopt-lab bench`` imports the lab's benchmarks, never ``./benchmarks``."""
    import subprocess

    decoy = tmp_path / "benchmarks"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise SystemExit('imported the decoy')\n")
    (decoy / "suite.py").write_text("raise SystemExit('imported the decoy')\n")
    completed = subprocess.run(
        [sys.executable, "-c", "import sys; from jaxopt_lab.cli import main; "
         "sys.exit(main(['bench', '--only', 'nope']))"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 2
    assert "unknown benchmark 'nope'; valid: update, sweep" in completed.stderr
    assert "decoy" not in completed.stderr and len(completed.stderr.strip().splitlines()) == 2


# --------------------------------------------------------------------------- the device run's knobs


def test_update_runs_adam_first_and_stops_at_its_budget():
    cases = [("few", "sgd", 10**4), ("many", "adam", 10**6), ("few", "adam", 10**9),
             ("few", "adam", 10**4), ("many", "sgd", 10**6)]  # fmt: skip
    assert sorted(cases, key=update.case_priority) == [
        ("few", "adam", 10**4), ("many", "adam", 10**6), ("few", "adam", 10**9),
        ("few", "sgd", 10**4), ("many", "sgd", 10**6),
    ]  # fmt: skip
    seen = []
    result = update.run(sizes=[500], optimizers=["sgd", "adam"], many={800: ["adam"]},
                        many_leaves=10, repeats=1, budget_s=0.0, on_case=seen.append)  # fmt: skip
    # A budget of 0 starts nothing; the copy bandwidth is still measured at every size.
    assert result["rows"] == [] and seen == []
    assert result["summary"]["not_run_for_time"] == ["adam/few/5e+02", "adam/many/8e+02",
                                                     "sgd/few/5e+02"]  # fmt: skip
    assert set(result["copy"]) == {"500", "800"}
    with pytest.raises(ValueError, match=r"many: unknown optimizers \['lbfgs'\]"):
        update.run(sizes=[100], many={100: ["lbfgs"]})


def test_update_many_layout_sizes_and_progress_callback():
    seen = []
    result = update.run(
        sizes=[300],
        optimizers=["adam"],
        many={600: ["adam"]},
        many_leaves=12,
        repeats=1,
        on_case=lambda rows: seen.append(len(rows)),
    )
    layouts = {(r["layout"], r["size"], r["leaves"]) for r in result["rows"]}
    assert layouts == {("few", 300, 20), ("many", 600, 12)}
    assert seen == [4, 8]  # after each case: pytree, flat, optax, numpy rows so far
    assert result["summary"]["failed_cases"] == []


def test_out_of_memory_is_recognised_by_xlas_message():
    assert update.out_of_memory(RuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 4 GB"))
    assert update.out_of_memory(RuntimeError("CUDA_ERROR_OUT_OF_MEMORY: out of memory"))
    assert not update.out_of_memory(ValueError("INVALID_ARGUMENT: shapes differ"))


def test_sweep_widths_against_numpy_measured_then_scaled():
    from jaxopt_lab.bench import sweep_speed as sweep

    seen = []
    result = sweep.run_widths([400, 50], numpy_max_points=100, on_width=seen.append)
    small, large = result["rows"]
    assert (small["points"], large["points"]) == (50, 400)  # sorted
    assert small["numpy_note"] == "measured" and small["agrees_with_numpy"]
    assert small["max_abs_diff_vs_numpy"] < 1e-3
    assert large["numpy_note"] == "timed at 5e+01 points, scaled linearly"
    assert large["numpy_seconds"] == pytest.approx(small["numpy_seconds"] * 8)
    assert large["speedup_vs_numpy_vectorised"] == pytest.approx(
        large["numpy_seconds"] / large["lab_seconds"]
    )
    assert set(result["summary"]["speedup_vs_numpy_vectorised"]) == {"50", "400"}
    table = sweep.markdown_widths(result).splitlines()
    assert len(seen) == 2 and len(table) == 4 and table[2].split("|")[1].strip() == "5e+01"
    with pytest.raises(ValueError, match="widths: want positive"):
        sweep.run_widths([0])


def test_train_refuses_bad_sweep_sizes_before_loading_data():
    from jaxopt_lab.bench import training_speed as train

    with pytest.raises(ValueError, match="sweep_networks: want an even count >= 2, got 3"):
        train.run(sweep_networks=3)
    with pytest.raises(ValueError, match="one_by_one_sample: want at least 1, got 0"):
        train.run(one_by_one_sample=0)
