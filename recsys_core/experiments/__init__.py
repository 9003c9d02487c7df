"""Online experiments: import an A/B log, analyse it (SRM, lifts, CUPED, Holm, mSPRT, power),
and set online lifts beside the offline metrics of the runs the variants shipped.

Storage and the offline link live in ``stored`` and ``offline`` (they need the store); the
statistics take numpy arrays and know nothing of files or databases.
"""

from recsys_core.experiments.analysis import (
    AnalysisSpec,
    ExperimentResult,
    analyze,
    parse_ratio,
    parse_split,
)
from recsys_core.experiments.log import (
    ExperimentLog,
    ExperimentMapping,
    infer_log_mapping,
    validate_log,
)
from recsys_core.experiments.power import PowerPlan, achieved_power, sample_size
from recsys_core.experiments.synth import synthetic_log

__all__ = [
    "AnalysisSpec",
    "ExperimentLog",
    "ExperimentMapping",
    "ExperimentResult",
    "PowerPlan",
    "achieved_power",
    "analyze",
    "infer_log_mapping",
    "parse_ratio",
    "parse_split",
    "sample_size",
    "synthetic_log",
    "validate_log",
]
