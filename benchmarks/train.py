"""``python benchmarks/train.py``: runs :mod:`jaxopt_lab.bench.train` (see its options)."""

import sys

from jaxopt_lab.bench.train import main

if __name__ == "__main__":
    sys.exit(main())
