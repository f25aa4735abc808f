"""Set the workloads' targets as AlgoPerf does: the best well-tuned baseline, larger budget.

    PYTHONPATH=. python benchmarks/targets.py [--workloads NAME ...] [--out FILE]

For each workload, AlgoPerf's baselines (AdamW, NAdamW, Nesterov; their default
spaces, warmup + cosine) are tuned with a larger tuning budget than a leaderboard
study (27 trials instead of 5, one study, seed 0) at the workload's step budget.
The target is the best final validation metric among them, rounded to two
significant digits towards the easier side (so that the best baseline reaches it).
The output (``benchmarks/results/cpu/targets.json``) holds, per workload, the command, every
baseline's best metric and the proposed target; ``jaxopt_lab/workloads/targets.py``
copies the targets from it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from jaxopt_lab import files
from jaxopt_lab.tuning import default_space, study
from jaxopt_lab.workloads import WORKLOADS, get_workload

BASELINES = ("adamw", "nadamw", "nesterov")
TRIALS = 27


def easier(value: float, direction: str) -> float:
    """``value`` rounded to two significant digits, towards the easier side."""
    if value == 0 or not math.isfinite(value):
        return value
    scale = 10 ** (math.floor(math.log10(abs(value))) - 1)
    rounding = math.floor if direction == "maximize" else math.ceil
    return rounding(value / scale) * scale


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/cpu/targets.json"))
    args = parser.parse_args(argv)
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    command = " ".join(["PYTHONPATH=. python benchmarks/targets.py", *sys.argv[1:]])
    output = {
              "rule": " ".join(__doc__.split("\n\n")[2].split()),
              "workloads": previous.get("workloads", {})}  # fmt: skip
    for name in args.workloads:
        workload = get_workload(name)
        best = {}
        for optimizer in BASELINES:
            result = study(optimizer, default_space(optimizer), workload, trials=TRIALS)
            row = result.best_trials().iloc[0]
            best[optimizer] = float(row["validation_metric"])
            print(name, optimizer, best[optimizer], flush=True)
        finite = [v for v in best.values() if math.isfinite(v)]
        top = max(finite) if workload.direction == "maximize" else min(finite)
        output["workloads"][name] = {
            "steps": workload.steps, "direction": workload.direction, "baselines": best,
            "best": top, "target": easier(top, workload.direction), "command": command,
        }  # fmt: skip
        files.write_json(args.out, output)  # strict JSON: a diverged baseline is null
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
