"""The Spark engine: data to Parquet once, splits, ALS / MostPopular / ItemKNN and full-ranking
top-K lists computed in Spark; metrics by the local definitions on the collected lists.

Importing this package imports pyspark (and needs Java 17): only the worker does, when a Spark
run starts. The names below load on first use: every Python worker Spark starts imports this
package (the ranking code it runs lives here), and it needs neither the run stage nor the
registry of models, which took it a second of CPU more per worker.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recsys_core.engines.spark.data import export_interactions, read_interactions
    from recsys_core.engines.spark.session import spark_session
    from recsys_core.engines.spark.splits import spark_split
    from recsys_core.engines.spark.stage import spark_stage

__all__ = [
    "export_interactions",
    "read_interactions",
    "spark_session",
    "spark_split",
    "spark_stage",
]
_HOME = {
    "export_interactions": "data",
    "read_interactions": "data",
    "spark_session": "session",
    "spark_split": "splits",
    "spark_stage": "stage",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
