"""``python benchmarks/port_hostile.py [--out FILE]``: time and memory of hostile port inputs.

Each case of ``tests/port/test_port_hostile.py`` (and the 5,000-group and 10**12-step ones of
issue 19) runs as ``jaxopt-lab port ...`` in a fresh process; the baseline is the same
command refused at once (``port --steps 0``: the imports, the parser, nothing else).
Printed per case: exit status, wall seconds, peak RSS and peak RSS above the baseline.
The issue's bound: exit 2 (0 for the huge OneCycleLR asked for 5 steps), under 10 s and
300 MB above the baseline; the two cases that run (exit 0) are to be read against the
second baseline, a plain 5-step port of the same optimizer (torch and a compiled step).
Wall times include the imports (jax, and torch where the case gets that far), so they
move with the machine's load; RSS does not.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CHILD = (
    "import resource, sys\n"
    "from jaxopt_lab import cli\n"
    "try:\n"
    "    status = cli.main(sys.argv[1:])\n"
    "except SystemExit as exit_info:\n"
    "    status = exit_info.code\n"
    "print('RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(status)\n"
)

CASES = {
    "baseline (port --steps 0)": ["SGD(lr=0.1)", "--steps", "0"],
    "100,000 unary minuses": ["SGD(lr=" + "-" * 100_000 + "1)"],
    "20,000 nots": ["SGD(lr=" + "not " * 20_000 + "1)"],
    "30,000-term sum": ["SGD(lr=" + "+".join(["1"] * 30_000) + ")"],
    "3,900 unary minuses": ["SGD(lr=" + "-" * 3900 + "1)"],
    "100,000-digit number": ["SGD(lr=" + "9" * 100_000 + ")"],
    "betas=(0.9,)": ["Adam(betas=(0.9,))"],
    "StepLR(step_size=0)": ["SGD(lr=0.1)", "--scheduler", "StepLR(step_size=0)"],
    "CosineAnnealingLR(T_max=0)": ["SGD(lr=0.1)", "--scheduler", "CosineAnnealingLR(T_max=0)"],
    "CyclicLR(step_size_up=0)": [
        "SGD(lr=0.1)",
        "--scheduler",
        "CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=0)",
    ],
    "5,000 param groups": ["SGD([" + ", ".join(["{}"] * 5000) + "], lr=0.1)"],
    "65 param groups": ["SGD([" + ", ".join(["{}"] * 65) + "], lr=0.1)"],
    "scheduler 'partial'": ["SGD(lr=0.1)", "--scheduler", "partial(StepLR, 3)"],
    "scheduler '__class__'": ["SGD(lr=0.1)", "--scheduler", "__class__()"],
    "OneCycleLR(total_steps=10**12) --steps 5": [
        "SGD(lr=0.1, momentum=0.9)",
        "--scheduler",
        "OneCycleLR(max_lr=1.0, total_steps=10**12)",
        "--steps",
        "5",
    ],
    "baseline run (SGD momentum, 5 steps)": ["SGD(lr=0.1, momentum=0.9)", "--steps", "5"],
    "64 param groups, 5 steps (the cap, a full run)": [
        "SGD([" + ", ".join(["{}"] * 64) + "], lr=0.1)",
        "--steps",
        "5",
    ],
}


def measure(argv: list[str]) -> dict:
    start = time.perf_counter()
    process = subprocess.run(
        [sys.executable, "-c", CHILD, "port", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    seconds = time.perf_counter() - start
    rss_kb = next(
        int(line.split()[1]) for line in process.stderr.splitlines() if line.startswith("RSS_KB")
    )
    errors = [line for line in process.stderr.splitlines() if line.startswith("jaxopt-lab")]
    return {
        "status": process.returncode,
        "seconds": round(seconds, 2),
        "rss_mb": round(rss_kb / 1024),
        "error": errors[-1][:160] if errors else "",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    results = {}
    for name, case in CASES.items():
        results[name] = measure(case)
    baseline = results["baseline (port --steps 0)"]["rss_mb"]
    print("| case | exit | s | peak RSS MB | above baseline MB |")
    print("|---|---|---|---|---|")
    for name, result in results.items():
        result["above_baseline_mb"] = result["rss_mb"] - baseline
        print(
            f"| {name} | {result['status']} | {result['seconds']} | {result['rss_mb']} | "
            f"{result['above_baseline_mb']} |"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
