"""``python benchmarks/update.py``: runs :mod:`jaxopt_lab.bench.update` (see its options)."""

import sys

from jaxopt_lab.bench.update import main

if __name__ == "__main__":
    sys.exit(main())
