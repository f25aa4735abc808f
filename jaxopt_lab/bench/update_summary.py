"""The ``update`` benchmark's figures: the targets, the summary, the Markdown tables."""

from __future__ import annotations

from typing import Any

from jaxopt_lab.report.tables import markdown_table


def _find(rows: list[dict], **where: Any) -> dict | None:
    for row in rows:
        if all(row.get(key) == value for key, value in where.items()):
            return row
    return None


def targets(summary: dict, platform: str) -> dict:
    """The issue's targets: each ``{"value", "target", "met"}``, ``met`` None where the run's
    sizes do not reach the target's (1,000 leaves holding 10^6 params; 10^7 params in 20
    leaves, 10^8 or more on an accelerator)."""
    many_applies = summary.get("adam_many_leaves_size") == 10**6
    few_size = summary.get("adam_few_leaves_size", 0)
    few_applies = few_size >= (10**7 if platform == "cpu" else 10**8)
    checks = {
        "adam_many_leaves_flat_step_speedup_vs_optax": (">=", 10, many_applies),
        "adam_many_leaves_flat_compile_speedup_vs_optax": (">=", 50, many_applies),
        "adam_few_leaves_flat_speedup_vs_optax": (">=", 1.2, few_applies),
        "adam_few_leaves_flat_fraction_of_copy": (
            ">=",
            0.6 if platform == "cpu" else 0.8,
            few_applies,
        ),
        "pytree_worst_slowdown_vs_optax": ("<=", 0.05, True),
    }
    result = {}
    for key, (operator, bound, applies) in checks.items():
        value = summary.get(key)
        if isinstance(value, dict):
            value = value["slowdown"]
        met = None
        if applies and value is not None:
            met = value >= bound if operator == ">=" else value <= bound
        result[key] = {"value": value, "target": f"{operator} {bound}", "met": met}
    return result


def summarize(rows: list[dict], sizes: list[int], platform: str = "cpu") -> dict:
    """The headline ratios, each with its target from the issue, where the rows have them."""
    summary: dict[str, Any] = {}
    many = [n for n in sizes if n <= 10**6] or sizes
    size_many = max(many)
    flat_row = _find(rows, optimizer="adam", layout="many", size=size_many, side="flat")
    optax_row = _find(rows, optimizer="adam", layout="many", size=size_many, side="optax")
    if flat_row and optax_row:
        summary["adam_many_leaves_size"] = size_many
        summary["adam_many_leaves_flat_step_speedup_vs_optax"] = (
            optax_row["median_s"] / flat_row["median_s"]
        )
        summary["adam_many_leaves_flat_compile_speedup_vs_optax"] = (
            optax_row["compile_s"] / flat_row["compile_s"]
        )
    largest = max(sizes)
    few = {
        side: _find(rows, optimizer="adam", layout="few", size=largest, side=side)
        for side in ("pytree", "flat", "optax")
    }
    if all(few.values()):
        summary["adam_few_leaves_size"] = largest
        for side in ("pytree", "flat"):
            summary[f"adam_few_leaves_{side}_speedup_vs_optax"] = (
                few["optax"]["median_s"] / few[side]["median_s"]
            )
            summary[f"adam_few_leaves_{side}_fraction_of_copy"] = few[side]["fraction_of_copy"]
    slowdowns, slowdowns_above_ms = {}, {}
    for row in rows:
        if row["side"] == "pytree":
            optax_row = _find(
                rows,
                optimizer=row["optimizer"],
                layout=row["layout"],
                size=row["size"],
                side="optax",
            )
            key = f"{row['optimizer']}/{row['leaves']} leaves/{row['size']:.0e}"
            slowdowns[key] = row["median_s"] / optax_row["median_s"] - 1
            if optax_row["median_s"] >= 1e-3:
                slowdowns_above_ms[key] = slowdowns[key]
    # Steps under a millisecond are dispatch-bound and at the mercy of the
    # scheduler on a shared machine: the target is judged on the others.
    for label, table in (("", slowdowns_above_ms), ("_all", slowdowns)):
        if table:
            worst = max(table, key=table.get)
            summary[f"pytree_worst_slowdown_vs_optax{label}"] = {
                "case": worst,
                "slowdown": table[worst],
            }
    flat_ulps = [row["max_ulp_vs_pytree"] for row in rows if "max_ulp_vs_pytree" in row]
    if flat_ulps:
        summary["flat_max_ulp_vs_pytree"] = max(flat_ulps)
    summary["targets"] = targets(summary, platform)
    return summary


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1e3:.2f} ms"
    return f"{value:.2f} s"


def markdown(result: dict) -> str:
    """One line per (optimizer, layout, size): each side's median step, compile time, bandwidth."""
    rows = result["rows"]
    order = list(dict.fromkeys(r["optimizer"] for r in rows))  # as measured: PAIRS' order
    keys = sorted(
        {(r["optimizer"], r["layout"], r["leaves"], r["size"]) for r in rows},
        key=lambda k: (order.index(k[0]), k[1], k[3]),
    )
    headers = [
        "optimizer",
        "leaves",
        "params",
        "pytree",
        "flat",
        "optax",
        "numpy",
        "compile pytree / flat / optax",
        "flat GB/s (of copy)",
        "B/param: needed / XLA",
    ]
    table = []
    for optimizer, layout, leaves, size in keys:
        side = {
            r["side"]: r
            for r in rows
            if (r["optimizer"], r["layout"], r["size"]) == (optimizer, layout, size)
        }

        def get(name, field="median_s", side=side):
            return side[name][field] if name in side else None

        compile_text = " / ".join(
            _seconds(get(s, "compile_s")) for s in ("pytree", "flat", "optax")
        )
        flat_bw = f"{get('flat', 'gbps'):.1f} ({get('flat', 'fraction_of_copy'):.2f})"
        xla_bytes = get("flat", "xla_bytes_per_param")
        traffic = f"{get('flat', 'bytes') / size:.0f} / " + (
            "-" if xla_bytes is None else f"{xla_bytes:.0f}"
        )
        table.append([optimizer, leaves, f"{size:.0e}", _seconds(get("pytree")),
                      _seconds(get("flat")), _seconds(get("optax")), _seconds(get("numpy")),
                      compile_text, flat_bw, traffic])  # fmt: skip
    lines = [markdown_table(table, headers, align=["left"] + ["right"] * 9)]
    copy = ", ".join(f"{int(size):.0e}: {gbps:.1f}" for size, gbps in result["copy"].items())
    lines.append("")
    lines.append(f"Copy bandwidth (GB/s, donated jitted x + 1, by size): {copy}.")
    target_rows = result["summary"].get("targets", {})
    if target_rows:
        targets = []
        for key, target in target_rows.items():
            value = "-" if target["value"] is None else f"{target['value']:.3g}"
            met = {True: "yes", False: "**no**", None: "n/a"}[target["met"]]
            targets.append([key, value, target["target"], met])
        lines += ["", markdown_table(targets, ["target", "value", "bound", "met"],
                                     align=["left", "right", "right", "left"])]  # fmt: skip
    return "\n".join(lines)
