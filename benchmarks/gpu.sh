#!/usr/bin/env bash
# The lab on an accelerator lent for minutes: the device-relevant tests, then the benchmarks sized for
# the device, in under 8 minutes; results, Markdown and figures under $OUT.
#
#   OUT=/tmp/gpu-out bash benchmarks/gpu.sh            # on the accelerator machine
#   bash benchmarks/gpu.sh --quick                      # small sizes (what a CPU runs)
#   bash benchmarks/gpu.sh --plan                       # what it would run here, and stop
#   bash benchmarks/gpu.sh --stages update,sweep        # some stages only (the probe always runs)
#
# Needs python with jax, jaxlib, optax, numpy, matplotlib and pytest; runs from a checkout with
# PYTHONPATH set to it (nothing installed). Without $OUT (or --out) it writes to
# benchmarks/results/<device>/device-run/. The code: benchmarks/device/session.py (and its
# device_plan.py, device_stages.py, device_summary.py).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
python="${PYTHON:-$(command -v python || command -v python3)}"
exec "$python" -m benchmarks.device.session "$@"
