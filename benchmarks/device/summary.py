"""The device run's results, read: its figures, the accelerator's speed targets and SUMMARY.md.

:func:`evaluate_targets` judges each target from the stages' results (met, not
met, or not applicable where the run did not reach its size);
:func:`markdown_summary` writes the machine, the targets, the stages, the tests
and each benchmark's tables; :func:`draw_figures` draws what there is. A
partial result (a stage cut short) is summarised as far as it goes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def draw_figures(results: dict[str, Any], out: Path) -> dict[str, str]:
    """The figures of whatever results there are; a figure that fails is noted, not raised."""
    from jaxopt_lab.bench import benchmark_figures as plots

    wanted = {
        "update": ("update.png", plots.plot_update),
        "sweep": ("sweep.png", plots.plot_sweep_widths),
        "train": ("mnist_sweep.png", plots.plot_mnist_sweep),
    }
    figures = {}
    for name, (file_name, draw) in wanted.items():
        result = results.get(name)
        if not result or not result.get("rows"):
            continue
        try:
            figures[name] = str(draw(result, out / file_name).name)
        except Exception as error:  # a figure must not cost the summary
            figures[name] = f"failed: {type(error).__name__}: {error}"
    return figures


def _find(rows: list[dict], **where: Any) -> dict | None:
    for row in rows:
        if all(row.get(key) == value for key, value in where.items()):
            return row
    return None


def _target(name: str, text: str, bound: float, value: float | None, applies: bool,
            detail: str) -> dict[str, Any]:  # fmt: skip
    met = None if value is None or not applies else bool(value >= bound)
    return {"name": name, "target": text, "bound": f">= {bound:g}", "value": value, "met": met,
            "detail": detail}  # fmt: skip


def evaluate_targets(results: dict[str, Any], platform: str) -> list[dict[str, Any]]:
    """The accelerator's speed targets (an Adam step near the copy bandwidth, the flat path
    ahead of optax, sweeps far ahead of NumPy), each ``{"name", "target", "bound", "value",
    "met", "detail"}``.

    ``met`` is ``None`` where the run did not reach the target's size (a CPU
    run's small sizes, a stage cut short); ``value`` is then the nearest figure
    measured, and ``detail`` says which.
    """
    targets = []
    update_rows = (results.get("update") or {}).get("rows", [])

    def ratio(layout: str, size: int) -> float | None:
        flat = _find(update_rows, optimizer="adam", layout=layout, size=size, side="flat")
        optax = _find(update_rows, optimizer="adam", layout=layout, size=size, side="optax")
        return None if not (flat and optax) else optax["median_s"] / flat["median_s"]

    adam_few = sorted({r["size"] for r in update_rows
                       if r["optimizer"] == "adam" and r["layout"] == "few"})  # fmt: skip
    big = [n for n in adam_few if n >= 10**8]
    size = big[0] if big else (adam_few[-1] if adam_few else None)
    value, detail = None, "not measured"
    if size is not None:
        sides = {
            side: row["fraction_of_copy"]
            for side in ("flat", "pytree", "optax")
            if (row := _find(update_rows, optimizer="adam", layout="few", size=size, side=side))
        }
        lab = {side: sides[side] for side in ("flat", "pytree") if side in sides}
        if lab:
            best = max(lab, key=lab.get)
            value = lab[best]
            copy = _find(update_rows, optimizer="adam", layout="few", size=size, side=best)
            detail = (f"{size:.0e} params, 20 leaves, {best} path; fractions: "
                      + ", ".join(f"{s} {v:.2f}" for s, v in sides.items())
                      + f"; copy {copy['copy_gbps']:.0f} GB/s")  # fmt: skip
    targets.append(_target(
        "adam_fraction_of_copy_bandwidth", "Adam step at >= 10^8 params: fraction of the copy "
        "bandwidth measured in the same run", 0.8, value, bool(big), detail))  # fmt: skip

    value = ratio("few", 10**7)
    targets.append(_target(
        "flat_vs_optax_20_leaves", "flat path vs optax, 10^7 params in 20 leaves (step time)",
        1.2, value, value is not None,
        "adam, 10^7 params" if value is not None else "10^7 params not measured"))  # fmt: skip

    many = sorted({r["size"] for r in update_rows
                   if r["optimizer"] == "adam" and r["layout"] == "many"})  # fmt: skip
    judged = 10**7 if 10**7 in many else None
    value = ratio("many", judged) if judged else (ratio("many", many[-1]) if many else None)
    detail = ", ".join(f"{n:.0e}: {ratio('many', n):.1f}x" for n in many if ratio("many", n))
    targets.append(_target(
        "flat_vs_optax_1000_leaves", "flat path vs optax, 1,000 leaves, judged at 10^7 params "
        "(step time)", 10, value, judged is not None, detail or "not measured"))  # fmt: skip

    sweep_rows = (results.get("sweep") or {}).get("rows", [])
    by_width = {r["points"]: r for r in sweep_rows if "speedup_vs_numpy_vectorised" in r}
    row = by_width.get(10**6)
    detail = ", ".join(f"{n:.0e}: {r['speedup_vs_numpy_vectorised']:.1f}x"
                       for n, r in sorted(by_width.items()))  # fmt: skip
    targets.append(_target(
        "sweep_1e6_vs_numpy", "2-D sweep of 10^6 learning rates vs vectorised NumPy on the host",
        50, row and row["speedup_vs_numpy_vectorised"], row is not None,
        detail or "not measured"))  # fmt: skip

    train = results.get("train") or {}
    summary = train.get("summary", {})
    networks = summary.get("sweep_networks")
    value = summary.get("sweep_speedup_vs_one_by_one")
    detail = "not measured" if value is None else (
        f"{networks} networks at once, {summary['sweep_networks_per_second']:.1f} networks/s; "
        f"one by one timed on {summary['sweep_one_by_one_timed']}")  # fmt: skip
    targets.append(_target(
        "mnist_sweep_vs_one_by_one", "MNIST: >= 256 networks at once vs one by one (throughput)",
        50, value, bool(networks and networks >= 256), detail))  # fmt: skip

    # The CPU's own targets, which it could not reach (secondary here).
    row = by_width.get(10**4)
    targets.append(_target(
        "sweep_1e4_vs_numpy", "2-D sweep of 10^4 learning rates vs vectorised NumPy (earlier "
        "target)", 5, row and row["speedup_vs_numpy_vectorised"], row is not None,
        "10^4 points" if row else "not measured"))  # fmt: skip
    value = summary.get("speedup_vs_tutorial_numpy_float64")
    targets.append(
        _target(
            "mnist_compare_vs_numpy",
            "MNIST comparison (4 networks, 2000 iterations) vs the "
            "tutorial's NumPy (earlier target)",
            5,
            value,
            value is not None and train.get("rows", [{}])[0].get("iterations") == 2000,
            "NumPy timed on fewer iterations, scaled" if value is not None else "not measured",
        )
    )
    return targets


# --------------------------------------------------------------------------- the summary


def _gib(value: float | None) -> str:
    return "?" if not value else f"{value / 2**30:.1f} GiB"


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def markdown_summary(summary: dict[str, Any], tables: bool = True) -> str:
    """SUMMARY.md: the machine, the targets, the stages, the tests, each benchmark's tables
    (``tables=False``: without the benchmarks' tables and figures, for a terminal)."""
    from jaxopt_lab.report.tables import markdown_table

    probe_result = summary["probe"]
    machine = summary["machine"]
    settings = probe_result["jax_settings"]
    packages = probe_result["packages"]
    lines = [
        f"# Device run: {machine['device']} ({machine['platform']}, "
        f"{machine['device_count']} device(s)), {summary['mode']} mode",
        "",
        f"Total {summary['wall_s']:.0f} s of a {summary['plan']['budget_s']:.0f} s budget. "
        f"Host: {machine.get('host_cpu')}, {machine.get('cpu_count')} CPUs, "
        f"{_gib(machine.get('host_memory_bytes'))} RAM. Device memory (allocator limit): "
        f"{_gib(machine.get('memory_bytes_limit'))}. Platform: {machine.get('platform_version')}.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in packages.items())
        + f"; Python {machine.get('python')}.",
        "",
        f"JAX: x64 {'on' if settings['x64_enabled'] else 'off'}, default float "
        f"{settings['default_float_dtype']}, matmul precision "
        f"{settings['default_matmul_precision'] or 'default'} (a float32 512x512 product is "
        f"within {settings['float32_matmul_max_relative_error']:.1e} of float64"
        + ("; reduced precision such as TF32" if settings["float32_matmuls_reduced_precision"]
           else "") + "); donation frees the input: "
        + ("yes" if settings["donated_input_deleted"] else "**no**") + ".",
    ]  # fmt: skip
    if summary["environment_removed"]:
        lines += ["", "Stages ran without: " + "; ".join(summary["environment_removed"]) + "."]
    missing = [name for name, present in probe_result["optional_packages"].items() if not present]
    if missing:
        lines += ["", "Not installed here (their tests skip): " + ", ".join(missing) + "."]
    update_result = summary["results"].get("update") or {}
    copy = update_result.get("copy") or {
        str(r["size"]): r["copy_gbps"] for r in update_result.get("rows", [])
    }
    if copy:
        lines += ["", "Copy bandwidth (a donated, jitted x + 1 on float32, GB/s, by size): "
                  + ", ".join(f"{int(n):.0e}: {v:.0f}" for n, v in copy.items()) + "."]  # fmt: skip

    met_text = {True: "yes", False: "**no**", None: "n/a"}
    rows = [[t["target"], _number(t["value"]), t["bound"], met_text[t["met"]], t["detail"]]
            for t in summary["targets"]]  # fmt: skip
    lines += ["", "## Speed targets on the accelerator", "",
              markdown_table(rows, ["target", "measured", "bound", "met", "detail"]),
              "", "n/a: the run did not reach the target's size (the figure is the nearest "
              "measured)."]  # fmt: skip

    rows = []
    for name, report in summary["stages"].items():
        cap = summary["plan"]["stages"].get(name, {}).get("cap_s")
        note = report.get("note", "")
        if report.get("partial"):
            note = "partial results (cut short)"
        if report.get("returncode") not in (None, 0) and name != "tests":
            note = f"exit {report['returncode']}; see logs/{name}.log"
        rows.append([name, report["status"], _number(report.get("wall_s")), _number(cap), note])
    lines += ["", "## Stages", "", markdown_table(rows, ["stage", "status", "wall s", "cap s",
                                                          "note"])]  # fmt: skip
    lines += ["", *tests_markdown(summary["stages"].get("tests"))]
    if not tables:
        return "\n".join(lines)

    from jaxopt_lab.bench import sweep_speed as sweep
    from jaxopt_lab.bench import training_speed as train
    from jaxopt_lab.bench import update_summary as update_report

    renderers = {"update": update_report.markdown, "sweep": sweep.markdown_widths,
                 "train": train.markdown}  # fmt: skip
    for name, render in renderers.items():
        result = summary["results"].get(name)
        if not result or not result.get("rows"):
            continue
        try:
            table = render(result)
        except (KeyError, TypeError, ValueError) as error:  # a partial result
            table = f"(partial result; table not rendered: {error!r})"
        lines += ["", f"## {name}", "", table]
        extra = {
            k: v
            for k, v in result.get("summary", {}).items()
            if k
            in ("not_run_for_time", "failed_cases", "all_agree_with_numpy", "sweep_chunk_count")
        }
        if extra:
            lines += ["", "```", json.dumps(extra, default=str), "```"]
        if result.get("warnings"):
            lines += [
                "",
                "Warnings: " + "; ".join(f"{k} (x{v})" for k, v in result["warnings"].items()),
            ]
    figures = summary.get("figures", {})
    if figures:
        lines += ["", "## Figures", ""]
        lines += [f"![{name}]({path})" if not path.startswith("failed") else f"- {name}: {path}"
                  for name, path in figures.items()]  # fmt: skip
    return "\n".join(lines)


def tests_markdown(report: dict[str, Any] | None) -> list[str]:
    if not report:
        return []
    outcome = report.get("outcome") or {}
    counts = outcome.get("counts", {})
    lines = ["## Tests", ""]
    if report.get("status") == "skipped":
        return lines + [report.get("note", "skipped")]
    lines.append(
        f"{outcome.get('collected', '?')} collected: "
        + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        + f"; {outcome.get('not_run', '?')} not run for time (deadline "
        f"{report.get('deadline_s', 0):.0f} s); {len(report.get('deselected', {}))} deselected "
        "(forced-CPU subprocess tests)."
    )
    if outcome.get("not_run_by_file"):
        lines.append(
            "Not run: " + ", ".join(f"{f} ({n})" for f, n in outcome["not_run_by_file"].items())
        )
    for failure in outcome.get("failures", [])[:30]:
        last = failure["message"].strip().splitlines()[-1:] or [""]
        lines.append(f"- FAILED `{failure['nodeid']}` ({failure['when']}): {last[0][:200]}")
    for error in outcome.get("collection_errors", []):
        last = error["message"].strip().splitlines()[-1:] or [""]
        lines.append(f"- NOT COLLECTED `{error['nodeid']}`: {last[0][:200]}")
    rerun = report.get("rerun")
    if rerun:
        lines.append(
            f"Failures run again with {rerun['settings']}: passed "
            f"{len(rerun['passed_at_highest_precision'])}, still failing "
            f"{len(rerun['still_failing'])}."
        )
    if outcome.get("skip_reasons"):
        lines.append(
            "Skips: "
            + "; ".join(f"{reason} ({n})" for reason, n in outcome["skip_reasons"].items())
        )
    return lines
