"""One local[2] Spark session for the whole test session (starting one costs ~10 s)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from recsys_core.data.interactions import Interactions
from recsys_core.data.samples import load_movielens_small

pytest.importorskip("pyspark")

#: Debian's libpostgresql-jdbc-java (.ci/run installs it).
JDBC_JAR = Path("/usr/share/java/postgresql.jar")


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """Small shuffles, no UI, a modest driver: the suite's Spark time stays in minutes."""
    os.environ["RECSYS_SPARK_SHUFFLE_PARTITIONS"] = "2"
    os.environ["RECSYS_SPARK_DRIVER_MEMORY"] = "1g"
    if JDBC_JAR.exists():  # PostgreSQL's driver, for the JDBC reads (Debian's package)
        os.environ["RECSYS_SPARK_JARS"] = str(JDBC_JAR)
    from recsys_core.engines.spark import spark_session

    session = spark_session("local[2]")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def movielens() -> Interactions:
    return Interactions.from_frame(load_movielens_small().interactions)
