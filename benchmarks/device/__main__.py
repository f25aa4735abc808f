"""``python -m benchmarks.device [...]``: the accelerator run (what ``benchmarks/gpu.sh`` runs)."""

import sys

from benchmarks.device.session import main

sys.exit(main())
