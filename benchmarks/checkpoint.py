"""``python benchmarks/checkpoint.py``: runs :mod:`jaxopt_lab.bench.checkpoint`."""

import sys

from jaxopt_lab.bench.checkpoint import main

if __name__ == "__main__":
    sys.exit(main())
