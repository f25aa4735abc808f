"""``python -m benchmarks``: the benchmark suite (:mod:`jaxopt_lab.bench.suite`).

``python -m benchmarks --device-run [...]`` is the accelerator run instead
(:mod:`benchmarks.device.session`, what ``benchmarks/gpu.sh`` runs).
"""

import sys

if "--device-run" in sys.argv[1:]:
    from benchmarks.device.session import main

    sys.exit(main([arg for arg in sys.argv[1:] if arg != "--device-run"]))

from jaxopt_lab.bench.suite import main

sys.exit(main())
