"""A version's interactions read by the executors straight from PostgreSQL over JDBC.

The alternative to the Parquet export where no path is shared by every node: each executor
reads its own range of ``seq`` from the store's ``interactions`` table. Stored codes become
the indices ``load_interactions`` gives (users and items numbered by their code's rank among
the codes the version uses), so the rows equal the Parquet export's, column for column.
Needs PostgreSQL's JDBC driver on Spark's class path (``RECSYS_SPARK_JARS``, e.g. Debian's
``/usr/share/java/postgresql.jar``).
"""

from __future__ import annotations

from urllib.parse import quote

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from sqlalchemy.engine import make_url

from recsys_core.engines.spark.data import ROWS_PER_FILE

_QUERY = (
    "(SELECT seq AS row, user_code, item_code, CAST(value AS REAL) AS value, ts, is_test "
    "FROM interactions WHERE version_id = {version}) AS v"
)


def jdbc_url(store_url: str) -> str:
    """The JDBC form of a store's SQLAlchemy PostgreSQL URL (user and password as query
    parameters), e.g. for ``RECSYS_SPARK_JDBC_URL``."""
    url = make_url(store_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"JDBC reads need a PostgreSQL store; got {url.get_backend_name()}.")
    query = {"user": url.username, "password": url.password}
    params = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in query.items() if v)
    where = f"{url.host or 'localhost'}:{url.port or 5432}/{url.database}"
    return f"jdbc:postgresql://{where}" + (f"?{params}" if params else "")


def read_jdbc(
    spark: SparkSession,
    url: str,
    version_id: int,
    n_rows: int,
    *,
    timestamps: bool,
    is_test: bool,
) -> DataFrame:
    """The version's rows as :func:`.data.read_interactions` gives them.

    Args:
        url: ``jdbc:postgresql://host:port/db?user=...&password=...``.
        version_id: the store's ``dataset_versions.id``.
        n_rows: the version's interactions (bounds of the ``seq`` ranges, one per ~1M rows).
        timestamps, is_test: keep those columns (the Parquet export has them only when the
            version does, and the splits look for them by name).
    """
    raw = spark.read.jdbc(
        url,
        _QUERY.format(version=int(version_id)),
        column="row",
        lowerBound=0,
        upperBound=max(n_rows, 1),
        numPartitions=max(1, -(-n_rows // ROWS_PER_FILE)),
        properties={"driver": "org.postgresql.Driver", "fetchsize": "10000"},
    )
    out = raw.join(_ranks(raw, "user_code", "user"), "user_code").join(
        _ranks(raw, "item_code", "item"), "item_code"
    )
    columns = [F.col("row"), F.col("user"), F.col("item"), F.col("value")]
    if timestamps:
        columns.append(F.col("ts"))
    if is_test:
        columns.append(F.col("is_test"))
    return out.select(*columns)


def _ranks(raw: DataFrame, code: str, index: str) -> DataFrame:
    """(code, index): each distinct code's 0-based rank, as ``np.unique``'s inverse numbers
    them (a distributed sort, then each partition's offset)."""
    codes = raw.select(code).distinct().orderBy(code)
    ranked = codes.rdd.map(lambda r: r[0]).zipWithIndex()
    return ranked.toDF([code, index]).select(code, F.col(index).cast("int").alias(index))
