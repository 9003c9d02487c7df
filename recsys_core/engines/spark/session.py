"""One SparkSession per process, configured from the environment."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from db.engine import default_home

#: Where Spark runs when RECSYS_SPARK_MASTER is unset.
DEFAULT_MASTER = "local[2]"
#: JVM options of the driver and the executors when RECSYS_SPARK_JAVA_OPTIONS is unset: the
#: throughput collector, whatever the core count. Left to itself the JVM picks Serial GC on one
#: CPU and G1 on two or more, whose concurrent marking and refinement threads and write
#: barriers cost local[2] about 3 CPU seconds more than Serial cost local[1] per 1.5M-row bench
#: pass (ALS and ranking are batch work: pauses do not matter, CPU does).
DEFAULT_JAVA_OPTIONS = "-XX:+UseParallelGC"


def spark_session(master: str | None = None) -> SparkSession:
    """The process's session (created on first use, then shared).

    ``RECSYS_SPARK_MASTER`` (``spark://host:7077``, ``yarn``, ``local[*]``) picks the cluster;
    ``RECSYS_SPARK_SHUFFLE_PARTITIONS`` and ``RECSYS_SPARK_DRIVER_MEMORY`` size it (defaults
    suit one machine: 8 partitions, 2 GB); ``RECSYS_SPARK_JAVA_OPTIONS`` replaces the JVM
    options (:data:`DEFAULT_JAVA_OPTIONS`; they apply when this call starts the JVM, not to a
    session already running); ``RECSYS_SPARK_CHECKPOINTS`` says where long
    lineages are cut; ``RECSYS_SPARK_JARS`` adds jars (PostgreSQL's JDBC driver). The UI is
    off: a worker serves no pages.
    """
    # executors must run this interpreter (the venv with numpy and the workbench)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    env = os.environ.get
    java = env("RECSYS_SPARK_JAVA_OPTIONS", DEFAULT_JAVA_OPTIONS)
    builder = SparkSession.builder
    if env("RECSYS_SPARK_JARS"):
        builder = builder.config("spark.jars", env("RECSYS_SPARK_JARS"))
    spark = (
        builder.master(master or env("RECSYS_SPARK_MASTER") or DEFAULT_MASTER)
        .appName("recsys-workbench")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", env("RECSYS_SPARK_SHUFFLE_PARTITIONS", "8"))
        .config("spark.driver.memory", env("RECSYS_SPARK_DRIVER_MEMORY", "2g"))
        .config("spark.driver.extraJavaOptions", java)
        .config("spark.executor.extraJavaOptions", java)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    # Without checkpoints an ALS of many sweeps grows a lineage so deep that the scheduler's
    # recursion overflows its stack, and Spark exits the driver's JVM: ALS checkpoints every
    # 10 sweeps into this folder (on a cluster, a path every node reaches, e.g. HDFS).
    checkpoints = env("RECSYS_SPARK_CHECKPOINTS") or str(default_home() / "spark" / "checkpoints")
    spark.sparkContext.setCheckpointDir(checkpoints)
    return spark
