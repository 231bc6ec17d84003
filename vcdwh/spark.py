"""``vcdwh spark-bars``: the warehouse's bar SQL on Apache Spark, over the Parquet export.

The bar definition is not written twice. :func:`spark_trade_flow_sql`,
:func:`spark_bar_grain_sql` and :func:`spark_bars_sql` render
``sql/intermediate/int_trade_flow.sql`` (every trade with its session and side),
``sql/intermediate/int_bar_grain.sql`` (with the interval itself as the grain) and
``sql/marts/bars.sql`` (the templates ``vcdwh build`` runs, with a plain build's options: side N
stays unknown, no large-lot columns), parse them with sqlglot as DuckDB SQL and write them as
Spark SQL. sqlglot translates most of it (``//`` → ``div``, ``arg_min/arg_max`` →
``min_by/max_by``, ``filter (where …)``, window frames, struct literals and lambdas); five
DuckDB constructs have no Spark translation and are rewritten explicitly on the syntax tree,
each to the same meaning:

``asof join sessions on trades.ts_recv >= sessions.session_start``
    Spark SQL has no as-of join. The export already gave every trade the ``session_date`` of
    exactly that as-of rule (the last session open at or before ``ts_recv``), so the join
    becomes an equi-join on ``session_date`` that keeps the original condition:
    ``join sessions on trades.session_date = sessions.session_date and trades.ts_recv >=
    sessions.session_start`` (an equi-join scales on a cluster; a range join would not).
``epoch_ns(ts)``
    Spark timestamps have microseconds only. The session reads Parquet nanosecond timestamps as
    their raw ``bigint`` nanoseconds (``spark.sql.legacy.parquet.nanosAsLong``), so
    ``epoch_ns(ts)`` is ``ts`` itself and bucketing stays exact to the nanosecond.
``make_timestamp_ns(bar_ns)``
    Becomes ``timestamp_micros(bar_ns div 1000)``: bar starts are whole seconds (session opens
    are whole hours, intervals whole seconds), so no precision is lost.
``list(x order by a, b, c)`` (a grain's signed sizes in trade order)
    Spark's ``collect_list`` keeps no order: ``transform(array_sort(collect_list(struct(a, b,
    c, x))), e -> e.x)`` sorts the collected structs, which order lexicographically, i.e. by
    (ts_ns, sequence, position).
``list_reduce(items, lambda, start)``
    Spark's ``aggregate(items, start, lambda)``: the same left fold, arguments reordered.

Bars come out with the warehouse's columns and values; ``bar_start`` is a Spark ``TIMESTAMP``.
Only pip packages (``pyspark``, ``sqlglot``: the ``[spark]`` extra) and Java 17 are needed;
``local[2]`` runs on this machine, a cluster is the same code with another ``--master``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vcdwh.errors import ConfigError, SparkError, VcdwhError, error_line
from vcdwh.marts.frequency import Frequency, parse_frequency
from vcdwh.warehouse.sqlrender import render

if TYPE_CHECKING:
    import duckdb

_MASTER = re.compile(
    r"^(local(\[(\d+|\*)\])?|spark://[A-Za-z0-9.\-]+(:\d+)?(,[A-Za-z0-9.\-]+(:\d+)?)*|yarn"
    r"|k8s://https?://[A-Za-z0-9.\-]+(:\d+)?)$"
)
SPARK_CONF = {
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.sql.ansi.enabled": "true",
}


@dataclass
class SparkBarsReport:
    """What one ``spark-bars`` run did."""

    frequency: str
    master: str
    rows: int
    seconds: float
    output: Path | None


def validate_master(master: str) -> str:
    """Check a Spark master URL (``local[2]``, ``spark://host:7077``, ``yarn``, ``k8s://…``)."""
    if not _MASTER.match(master):
        raise ConfigError(
            f"--master {master!r} is not a Spark master URL; use local[2], local[*], "
            "spark://HOST:PORT, yarn or k8s://https://HOST:PORT"
        )
    return master


# The build options the Spark path reproduces: Databento's own aggressor sides (N stays unknown)
# and no large-lot columns, i.e. a plain `vcdwh build`.
FLOW_CONTEXT = {"tick_rule": False, "large_lot": False, "partial": False, "one_session": False}
GRAIN_CONTEXT = {
    "large_lot": False,
    "has_max_size": False,
    "session_bounds": False,
    "one_session": False,
    "analytics": False,
}
# The profile, VWAP and footprint columns of the bars are the warehouse's only.
BARS_CONTEXT = {"large_lot": False, "partial": False, "analytics": False}


def _to_spark(template: str, **context: Any) -> str:
    """Render one template, parse it as DuckDB SQL and write it as Spark SQL (see module doc)."""
    try:
        import sqlglot
        from sqlglot import exp
    except ImportError as exc:
        raise SparkError(
            "sqlglot is not installed; from the checkout: pip install -e '.[spark]'"
        ) from exc

    tree = sqlglot.parse_one(render(template, **context), "duckdb")

    def rewrite(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Join) and str(node.args.get("method") or "").upper() == "ASOF":
            condition = exp.and_(
                exp.condition("trades.session_date = sessions.session_date"),
                node.args["on"].copy(),
            )
            return exp.Join(this=node.this.copy(), on=condition)
        if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order):
            # list(x order by a, b, c): collect (a, b, c, x), sort, keep x.
            value = node.this.this.sql("spark")
            keys = [o.this.sql("spark") for o in node.this.expressions]
            fields = ", ".join(f"{k} as k{i}" for i, k in enumerate(keys))
            return sqlglot.parse_one(
                f"transform(array_sort(collect_list(struct({fields}, {value} as v))), e -> e.v)",
                "spark",
            )
        if isinstance(node, exp.Anonymous) and node.name.lower() == "list_reduce":
            items, merge, start = node.expressions
            return exp.Anonymous(
                this="aggregate", expressions=[items.transform(rewrite), start, merge]
            )
        if isinstance(node, exp.Tuple) and isinstance(node.parent, (exp.ArgMin, exp.ArgMax)):
            # arg_min(x, (a, b, c)): the key is a row; Spark spells it struct(a, b, c).
            return exp.Struct(expressions=[e.copy() for e in node.expressions])
        if isinstance(node, exp.Anonymous) and node.name.lower() == "epoch_ns":
            return node.expressions[0].copy()
        if isinstance(node, exp.Anonymous) and node.name.lower() == "make_timestamp_ns":
            inner = node.expressions[0].sql("spark")
            return sqlglot.parse_one(f"timestamp_micros({inner} div 1000)", "spark")
        return node

    sql = tree.transform(rewrite).sql("spark", pretty=True)
    for construct in ("ASOF", "EPOCH_NS", "MAKE_TIMESTAMP_NS", "LIST_REDUCE"):
        if construct in sql.upper():
            raise SparkError(f"the Spark SQL of {template} still holds {construct}; this is a bug")
    return sql


def spark_trade_flow_sql() -> str:
    """``sql/intermediate/int_trade_flow.sql`` (each trade's session and side) as Spark SQL."""
    return _to_spark("intermediate/int_trade_flow.sql", **FLOW_CONTEXT)


def spark_bar_grain_sql(frequency: Frequency) -> str:
    """``sql/intermediate/int_bar_grain.sql`` with the interval as its grain, as Spark SQL."""
    return _to_spark(
        "intermediate/int_bar_grain.sql", grain_ns=frequency.nanoseconds, **GRAIN_CONTEXT
    )


def spark_bars_sql(frequency: Frequency) -> str:
    """``sql/marts/bars.sql`` for one interval as Spark SQL (reads ``int_bar_grain``)."""
    return _to_spark("marts/bars.sql", interval_ns=frequency.nanoseconds, **BARS_CONTEXT)


def spark_job_sql(frequency: Frequency) -> str:
    """The whole Spark job as SQL: the two temporary views, then the bars query."""
    return (
        f"create or replace temporary view int_trade_flow as\n{spark_trade_flow_sql()};\n\n"
        f"create or replace temporary view int_bar_grain as\n{spark_bar_grain_sql(frequency)};"
        f"\n\n{spark_bars_sql(frequency)};"
    )


def _session(master: str, app_name: str = "vcdwh", shuffle_partitions: int = 8) -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkError(
            "pyspark is not installed; from the checkout: pip install -e '.[spark]' (needs Java 17)"
        ) from exc
    builder = SparkSession.builder.master(validate_master(master)).appName(app_name)
    conf = {**SPARK_CONF, "spark.sql.shuffle.partitions": str(shuffle_partitions)}
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:
        first_line = error_line(exc)
        raise SparkError(
            f"cannot start Spark ({master}): {first_line}; is Java 17 installed?"
        ) from exc


def _parquet_dir(parquet_dir: str | Path) -> Path:
    root = Path(parquet_dir)
    for part in ("trades", "sessions", "session_hours"):
        if not (root / part).is_dir():
            raise ConfigError(
                f"{parquet_dir}: no {part}/ folder; write it with `vcdwh export --format parquet`"
            )
    return root


def spark_bars_frame(spark: Any, parquet_dir: str | Path, frequency: Frequency) -> Any:
    """Register the exported ``trades`` and ``sessions`` and return the bars as a DataFrame."""
    root = _parquet_dir(parquet_dir)
    spark.read.parquet(str(root / "trades")).createOrReplaceTempView("trades")
    spark.read.parquet(str(root / "sessions")).createOrReplaceTempView("sessions")
    spark.read.parquet(str(root / "session_hours")).createOrReplaceTempView("session_hours")
    spark.sql(spark_trade_flow_sql()).createOrReplaceTempView("int_trade_flow")
    spark.sql(spark_bar_grain_sql(frequency)).createOrReplaceTempView("int_bar_grain")
    return spark.sql(spark_bars_sql(frequency))


def run_spark_bars(
    parquet_dir: str | Path,
    frequency: Frequency,
    master: str = "local[2]",
    output: str | Path | None = None,
) -> SparkBarsReport:
    """Build bars with Spark from a Parquet export; write them as Parquet when ``output`` is set.

    Raises
    ------
    ConfigError
        Bad master URL, or the folder is not a vcdwh Parquet export.
    SparkError
        pyspark/sqlglot missing, Spark cannot start, or the job failed.
    """
    validate_master(master)
    _parquet_dir(parquet_dir)
    target = None
    if output is not None:
        from vcdwh.export import validate_export_dir

        target = validate_export_dir(output)
    started = time.perf_counter()
    spark = _session(master)
    try:
        frame = spark_bars_frame(spark, parquet_dir, frequency)
        if target is not None:
            frame.write.mode("overwrite").partitionBy("session_date").parquet(str(target))
            rows = spark.read.parquet(str(target)).count()
        else:
            rows = frame.count()
    except VcdwhError:
        raise
    except Exception as exc:
        first_line = error_line(exc)
        raise SparkError(f"spark-bars failed: {first_line}") from exc
    finally:
        spark.stop()
    return SparkBarsReport(frequency.name, master, rows, time.perf_counter() - started, target)


def duckdb_bars_from_parquet(
    parquet_dir: str | Path, frequency: Frequency, con: duckdb.DuckDBPyConnection | None = None
) -> duckdb.DuckDBPyRelation:
    """The same bars from the same Parquet with DuckDB: the build's templates unchanged.

    ``trades``, ``sessions`` and ``session_hours`` become views over the export in an in-memory
    database.
    """
    import duckdb

    root = _parquet_dir(parquet_dir)
    if con is None:
        con = duckdb.connect()
        con.execute("set enable_progress_bar = false")
    # The relation API takes the paths as values (a view definition cannot bind parameters).
    trades = con.read_parquet(str(root / "trades" / "**" / "*.parquet"), hive_partitioning=True)
    trades.create_view("trades", replace=True)
    con.read_parquet(str(root / "sessions" / "*.parquet")).create_view("sessions", replace=True)
    con.read_parquet(str(root / "session_hours" / "*.parquet")).create_view(
        "session_hours", replace=True
    )
    flow = render("intermediate/int_trade_flow.sql", **FLOW_CONTEXT)
    con.execute(f"create or replace temp view int_trade_flow as {flow}")
    grain = render(
        "intermediate/int_bar_grain.sql", grain_ns=frequency.nanoseconds, **GRAIN_CONTEXT
    )
    con.execute(f"create or replace temp view int_bar_grain as {grain}")
    return con.sql(render("marts/bars.sql", interval_ns=frequency.nanoseconds, **BARS_CONTEXT))


def format_spark_bars(report: SparkBarsReport) -> str:
    """What ``vcdwh spark-bars`` prints: the bars built, where, how fast."""
    where = f"; written to {report.output}" if report.output else ""
    return (
        f"{parse_frequency(report.frequency).bars_relation}: {report.rows:,} bars with Spark "
        f"{report.master} "
        f"in {report.seconds:.2f} s{where}"
    )
