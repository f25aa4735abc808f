"""Peak memory of a large ``jaxopt-lab sweep``: streamed to Parquet, in bounded memory.

Each case runs in its own process (peak resident memory is a per-process
figure, read from ``os.wait4``'s ``ru_maxrss``), all from this one harness:

* ``baseline``: ``jaxopt-lab sweep`` of one point: the interpreter, JAX, XLA's
  compiler and matplotlib, which every run pays;
* ``jaxopt-lab sweep``: Adam on the tutorial's bowl, 30 steps, a log grid of
  learning rates, at 10⁶ and 10⁷ points (``--quick``: 10⁴ and 10⁵), writing
  the Parquet file, ``sweep.json`` and ``sweep.png``;
* ``sweep() in memory``: the library call that returns every point's result as
  arrays (no files), for comparison.

Reported: peak RSS, its excess over the baseline and their ratio, wall time,
and the sizes of the outputs.

    jaxopt-lab bench --only memory        python -m jaxopt_lab.bench.sweep_memory [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jaxopt_lab.bench import timing
from jaxopt_lab.report.tables import markdown_table

NAME = "memory"

IN_MEMORY = (
    "import numpy as np, jaxopt_lab; r = jaxopt_lab.sweep(jaxopt_lab.adam, "
    "{{'learning_rate': np.geomspace(1e-4, 10, {points})}}, 'bowl', steps=30); "
    "print(r.final_loss.size)"
)


def _peak(command: list[str]) -> tuple[float, float]:
    """Run ``command``; its peak resident memory (MB) and wall time (s)."""
    begin = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - begin
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise RuntimeError(f"{command} failed ({process.returncode}): {error[-2000:]}")
    return usage.ru_maxrss / 1024, seconds


def _sweep_command(points: int, out: Path) -> list[str]:
    grid = f"learning_rate=1e-4:10:{points}:log"
    return [sys.executable, "-m", "jaxopt_lab.cli", "sweep", "--optimizer", "adam", "--param",
            grid, "--steps", "30", "--out", str(out)]  # fmt: skip


def _sizes(out: Path) -> dict[str, float]:
    parquet = sum(p.stat().st_size for p in out.glob("*.parquet"))
    return {
        "parquet_mb": parquet / 1e6,
        "json_kb": (out / "sweep.json").stat().st_size / 1e3,
        "png_kb": (out / "sweep.png").stat().st_size / 1e3,
    }


def run(quick: bool = False) -> dict[str, Any]:
    sizes = (10**4, 10**5) if quick else (10**6, 10**7)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        base_out = Path(folder) / "baseline"
        baseline_mb, baseline_s = _peak(_sweep_command(1, base_out))
        rows.append(
            {
                "case": "baseline: jaxopt-lab sweep, 1 point",
                "points": 1,
                "peak_mb": baseline_mb,
                "seconds": baseline_s,
                **_sizes(base_out),
            }
        )
        for points in sizes:
            out = Path(folder) / f"sweep_{points}"
            peak_mb, seconds = _peak(_sweep_command(points, out))
            rows.append(
                {
                    "case": "jaxopt-lab sweep (streamed to Parquet)",
                    "points": points,
                    "peak_mb": peak_mb,
                    "seconds": seconds,
                    **_sizes(out),
                }
            )
            code = IN_MEMORY.format(points=points)
            peak_mb, seconds = _peak([sys.executable, "-c", code])
            rows.append(
                {
                    "case": "sweep() in memory, no files",
                    "points": points,
                    "peak_mb": peak_mb,
                    "seconds": seconds,
                }
            )
    for row in rows:
        row["over_baseline_mb"] = row["peak_mb"] - baseline_mb
        row["ratio_to_baseline"] = row["peak_mb"] / baseline_mb
    streamed = {row["points"]: row for row in rows if "Parquet" in row["case"]}
    small, large = sizes
    return {
        "benchmark": NAME,
        "machine": timing.machine(),
        "rows": rows,
        "summary": {
            "baseline_peak_mb": baseline_mb,
            f"streamed_peak_mb_{small}": streamed[small]["peak_mb"],
            f"streamed_peak_mb_{large}": streamed[large]["peak_mb"],
            "peak_ratio_large_to_small": streamed[large]["peak_mb"] / streamed[small]["peak_mb"],
            f"parquet_bytes_per_point_{large}": streamed[large]["parquet_mb"] * 1e6 / large,
        },
    }


def markdown(result: dict[str, Any]) -> str:
    rows = [
        [row["case"], f"{row['points']:,}", f"{row['peak_mb']:.0f}",
         f"{row['over_baseline_mb']:+.0f}", f"{row['ratio_to_baseline']:.2f}",
         f"{row['seconds']:.1f}",
         f"{row['parquet_mb']:.1f}" if "parquet_mb" in row else "-",
         f"{row['json_kb']:.1f}" if "json_kb" in row else "-"]
        for row in result["rows"]
    ]  # fmt: skip
    headers = ["case", "points", "peak MB", "over baseline MB", "x baseline", "wall s",
               "Parquet MB", "sweep.json kB"]  # fmt: skip
    return markdown_table(rows, headers, align=["left"] + ["right"] * 7)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^4 and 10^5 points")
    parser.add_argument("--out", type=Path, help="write the JSON result here")
    args = parser.parse_args(argv)
    result = run(quick=args.quick)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
