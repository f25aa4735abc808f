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
