"""Sphinx configuration of the jaxopt_lab docs.

Build (warnings are errors, every cross-reference must resolve)::

    pip install -e '.[docs]'
    sphinx-build -W --keep-going -n -b html docs docs/_build/html

The pages are MyST Markdown. The API reference is autosummary over the whole package
(``api.md``). The tables of measured numbers are generated at build time by
``_ext/generated.py`` from the recorded results (``docs/results/``,
``benchmarks/results/``), never typed into a page.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))  # the checkout's jaxopt_lab, not an installed copy

project = "jaxopt_lab"
author = "the jaxopt_lab authors"
copyright = "the jaxopt_lab authors"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "generated",  # _ext/generated.py: the tables from the records, the report page
    "resolve",  # _ext/resolve.py: a short name in a docstring finds its one target
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "_generated", "results", "README.md", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]
html_theme = "furo"
html_title = "jaxopt_lab"
html_favicon = "_static/favicon.svg"  # else a browser asks the server for /favicon.ico
html_extra_path = ["_generated/extra"]  # the interactive report page, copied as is
(DOCS / "_generated" / "extra").mkdir(parents=True, exist_ok=True)  # filled at builder-inited

myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

nitpicky = True
# Offline build: no intersphinx inventories are fetched, so names from other packages
# (jax, optax, numpy, torch, the standard library) cannot resolve and are listed here.
# Every name of the lab itself must resolve.
_EXTERNAL = (
    r"(_pytest|pytest|pd|jax|jaxlib|jnp|optax|numpy|np|ml_dtypes|torch|keras|tensorflow|tfds|pandas|pyarrow|"
    r"matplotlib|tqdm|tabulate|selenium|contourpy|scipy|pathlib|typing|typing_extensions|"
    r"collections|argparse|os|io|enum|dataclasses|functools|types|concurrent|threading|ast|"
    r"contextlib|zipfile|hashlib|json|re|subprocess|signal|datetime|importlib|abc)(\..+)?"
)
_BUILTINS = (
    r"(int|float|complex|str|bool|bytes|object|None|NoneType|dict|list|tuple|set|frozenset|"
    r"type|slice|range|Ellipsis|Exception|ValueError|TypeError|KeyError|RuntimeError|OSError|"
    r"KeyboardInterrupt|NotImplementedError|ImportError|AssertionError|MemoryError|"
    r"Any|Callable|Iterable|Iterator|Sequence|Mapping|NamedTuple|Protocol|Path|PathLike|"
    r"ArrayLike|Array|ArrayTree|DTypeLike|PyTree|ndarray|dtype|Literal|Optional|Union|TextIO|"
    r"GradientTransformation|GradientTransformationExtraArgs|Params|Updates|OptState|"
    r"ScalarOrSchedule|Schedule|Figure|Axes|Mesh|PartitionSpec|Sharding|Device)"
)
nitpick_ignore_regex = [
    (r"py:.*", _EXTERNAL),
    (r"py:.*", _BUILTINS),
    (r"py:.*", r".*\._\w+"),  # a private helper named in a signature
    (r"py:class", r"tuple\[.*"),  # a signature's tuple[str, ...], split at its comma
]

autosummary_generate = True


def _shadowed_modules() -> list[str]:
    """Submodules hidden behind a function of the same name (``jaxopt_lab.optimizers.adam``
    is the function): autosummary would document the function in the module's place, so the
    package page documents these modules itself (``_templates/autosummary/module.rst``)."""
    import importlib
    import pkgutil

    import jaxopt_lab

    shadowed = []
    for info in pkgutil.walk_packages(jaxopt_lab.__path__, "jaxopt_lab."):
        parent, _, short = info.name.rpartition(".")
        if short == "__main__":
            continue  # running it is the command line
        module = importlib.import_module(info.name)
        if getattr(importlib.import_module(parent), short, module) is not module:
            shadowed.append(info.name)
    return shadowed


autosummary_context = {"shadowed": _shadowed_modules()}
autodoc_default_options = {"member-order": "bysource", "undoc-members": True}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
add_module_names = False
suppress_warnings = []
napoleon_use_ivar = True
