"""Figures of the benchmark results (matplotlib, written to files; nothing shown)."""

from __future__ import annotations

from pathlib import Path

SIDE_STYLES = {
    "pytree": {"color": "tab:blue", "marker": "o"},
    "flat": {"color": "tab:green", "marker": "s"},
    "optax": {"color": "tab:orange", "marker": "^"},
    "numpy": {"color": "tab:gray", "marker": "x"},
}
LAYOUT_STYLES = {"few": "-", "many": "--"}


def plot_update(result: dict, path: str | Path, optimizer: str = "adam") -> Path:
    """Step time against params for one optimizer, every side and layout, with the limit.

    The limit is the time the copy bandwidth measured in the same run allows
    for the bytes the update must move: ``bytes / copy_bandwidth``. A side on
    that line runs at the device's copy speed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row for row in result["rows"] if row["optimizer"] == optimizer]
    if not rows:
        raise ValueError(f"optimizer: no rows for {optimizer!r} in this result")
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for layout, line_style in LAYOUT_STYLES.items():
        for side, style in SIDE_STYLES.items():
            points = sorted(
                (row["size"], row["median_s"], row["leaves"])
                for row in rows
                if row["side"] == side and row["layout"] == layout
            )
            if points:
                leaves = max(point[2] for point in points)
                axis.plot(
                    [p[0] for p in points],
                    [p[1] for p in points],
                    line_style,
                    label=f"{side}, {leaves} leaves",
                    **style,
                )
    limit = sorted({(row["size"], row["bytes"] / (row["copy_gbps"] * 1e9)) for row in rows})
    axis.plot(
        [p[0] for p in limit],
        [p[1] for p in limit],
        ":",
        color="black",
        linewidth=2,
        label="copy-bandwidth limit",
    )
    machine = result.get("machine", {})
    axis.set(
        xscale="log",
        yscale="log",
        xlabel="parameters (float32)",
        ylabel="seconds per step (median)",
        title=f"{optimizer} step on {machine.get('device', '?')} ({machine.get('platform', '?')})",
    )
    axis.grid(True, which="major", alpha=0.3)
    axis.legend(fontsize=8, ncol=2)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_sweep_widths(result: dict, path: str | Path) -> Path:
    """Seconds of one 2-D sweep against its width: the lab on the device, NumPy on the host.

    NumPy times scaled from a smaller width (not measured) are drawn hollow.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    if not rows:
        raise ValueError("result: no rows to plot")
    figure, axis = plt.subplots(figsize=(7, 4.5))
    axis.plot(
        [row["points"] for row in rows],
        [row["lab_seconds"] for row in rows],
        "-o",
        color="tab:blue",
        label="lab: one sweep() call (outputs back on the host)",
    )
    for measured, style in ((True, {}), (False, {"markerfacecolor": "none"})):
        points = [
            (row["points"], row["numpy_seconds"])
            for row in rows
            if "numpy_seconds" in row and (row["numpy_note"] == "measured") == measured
        ]
        if points:
            axis.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                "s" if not measured else "-s",
                color="tab:gray",
                label="NumPy vectorised, host" + ("" if measured else " (scaled)"),
                **style,
            )
    machine = result.get("machine", {})
    axis.set(
        xscale="log",
        yscale="log",
        xlabel="learning rates swept (Adam, 30 steps, float32)",
        ylabel="seconds (median)",
        title=f"2-D sweep on {machine.get('device', '?')} ({machine.get('platform', '?')})",
    )
    axis.grid(True, which="major", alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_mnist_sweep(result: dict, path: str | Path) -> Path:
    """Networks trained per second: the vmapped sweep against one by one (bars, each labelled)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row for row in result["rows"] if "networks_per_second" in row]
    if not rows:
        raise ValueError("result: no sweep rows to plot")
    figure, axis = plt.subplots(figsize=(7, 3.2))
    labels = [row["case"].removeprefix("sweep: ").replace(" (", "\n(") for row in rows]
    speeds = [row["networks_per_second"] for row in rows]
    bars = axis.barh(labels, speeds, color=["tab:blue", "tab:gray"][: len(rows)])
    axis.bar_label(bars, labels=[f"{speed:.3g}/s" for speed in speeds], padding=3, fontsize=8)
    machine = result.get("machine", {})
    ratio = result.get("summary", {}).get("sweep_speedup_vs_one_by_one")
    axis.set(
        xlabel="networks trained per second (compile apart)",
        title=f"MNIST sweep on {machine.get('device', '?')} ({machine.get('platform', '?')})"
        + (f": {ratio:.1f}x" if ratio else ""),
        xlim=(0, max(speeds) * 1.2),
    )
    axis.invert_yaxis()
    axis.tick_params(axis="y", labelsize=8)
    axis.grid(True, axis="x", alpha=0.3)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
