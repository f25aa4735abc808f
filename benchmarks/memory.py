"""``python benchmarks/memory.py``: runs :mod:`jaxopt_lab.bench.memory` (see its options)."""

import sys

from jaxopt_lab.bench.memory import main

if __name__ == "__main__":
    sys.exit(main())
