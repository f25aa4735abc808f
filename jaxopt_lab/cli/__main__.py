"""``python -m jaxopt_lab.cli``: the ``jaxopt-lab`` command."""

import sys

from jaxopt_lab.cli import main

if __name__ == "__main__":  # importing it (the docs do) runs nothing
    sys.exit(main())
