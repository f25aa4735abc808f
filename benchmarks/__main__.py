"""``python -m benchmarks``: the benchmark suite (:mod:`jaxopt_lab.bench.suite`)."""

import sys

from jaxopt_lab.bench.suite import main

sys.exit(main())
