"""The Spark engine: data to Parquet once, splits, ALS / MostPopular / ItemKNN and full-ranking
top-K lists computed in Spark; metrics by the local definitions on the collected lists.

Importing this package imports pyspark (and needs Java 17): only the worker does, when a Spark
run starts.
"""

from __future__ import annotations

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
