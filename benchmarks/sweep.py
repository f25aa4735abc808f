"""``python benchmarks/sweep.py``: runs :mod:`jaxopt_lab.bench.sweep` (see its options)."""

import sys

from jaxopt_lab.bench.sweep import main

if __name__ == "__main__":
    sys.exit(main())
