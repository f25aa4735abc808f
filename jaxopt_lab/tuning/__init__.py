"""Tuning: AlgoPerf search spaces, schedules and default spaces (studies: ``study.py``)."""

from jaxopt_lab.tuning.default_spaces import (
    DEFAULT_SPACES,
    check_space,
    default_space,
    optimizer_settings,
    tunable_names,
)
from jaxopt_lab.tuning.schedules import constant, warmup_constant, warmup_cosine
from jaxopt_lab.tuning.search_space import (
    SearchSpaceError,
    load_search_space,
    parse_search_space,
    search_points,
)

__all__ = [
    "DEFAULT_SPACES",
    "SearchSpaceError",
    "check_space",
    "constant",
    "default_space",
    "load_search_space",
    "optimizer_settings",
    "parse_search_space",
    "search_points",
    "tunable_names",
    "warmup_constant",
    "warmup_cosine",
]
