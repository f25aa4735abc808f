"""Tuning: AlgoPerf search spaces, schedules and default spaces; studies in one compiled
program, with successive halving inside it (``study.py``, ``halving.py``); the leaderboard's
cells, time tables and scores (``leaderboard.py``).

The folders that ``jaxopt-lab tune`` and ``jaxopt-lab leaderboard`` write are written by
:mod:`jaxopt_lab.runs.tune_folder` and :mod:`jaxopt_lab.runs.leaderboard_folder`, with every
other result folder.
"""

from jaxopt_lab.tuning.default_spaces import (
    DEFAULT_SPACES,
    check_space,
    default_space,
    optimizer_settings,
    tunable_names,
)
from jaxopt_lab.tuning.halving import RungPlan, rung_plan  # tuning-core
from jaxopt_lab.tuning.leaderboard import LeaderboardConfig
from jaxopt_lab.tuning.schedules import constant, warmup_constant, warmup_cosine
from jaxopt_lab.tuning.search_space import (
    SearchSpaceError,
    load_search_space,
    parse_search_space,
    search_points,
)
from jaxopt_lab.tuning.study import StudyError, StudyResult, study  # tuning-core

__all__ = [
    "DEFAULT_SPACES",
    "LeaderboardConfig",
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
    "RungPlan",  # tuning-core
    "StudyError",  # tuning-core
    "StudyResult",  # tuning-core
    "rung_plan",  # tuning-core
    "study",  # tuning-core
]
