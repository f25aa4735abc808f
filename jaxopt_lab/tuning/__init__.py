"""Tuning: search spaces, studies in one compiled program, successive halving inside it."""

from jaxopt_lab.tuning.halving import RungPlan as RungPlan  # tuning-core
from jaxopt_lab.tuning.halving import rung_plan as rung_plan  # tuning-core
from jaxopt_lab.tuning.study import StudyError as StudyError  # tuning-core
from jaxopt_lab.tuning.study import StudyResult as StudyResult  # tuning-core
from jaxopt_lab.tuning.study import study as study  # tuning-core
