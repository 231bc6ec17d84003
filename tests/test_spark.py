"""The bar SQL on Apache Spark: transpiled with sqlglot, run with PySpark local[2], and equal to
DuckDB's bars from the same Parquet export, row for row."""

from __future__ import annotations

from decimal import Decimal

import pytest
from click.testing import CliRunner

from tests.bi_helpers import build_sample_warehouse
from tests.conftest import ESH4_DERIVED
from tests.helpers import Trade, ns, write_raw_csv
from vcdwh.cli import cli
from vcdwh.errors import ConfigError
from vcdwh.export import export_parquet
from vcdwh.marts.frequency import parse_frequency
from vcdwh.spark import (
    duckdb_bars_from_parquet,
    spark_bar_grain_sql,
    spark_bars_sql,
    spark_trade_flow_sql,
    validate_master,
)


@pytest.fixture(name="parquet", scope="module")
def fixture_parquet(tmp_path_factory):
    """The sample week exported as Parquet."""
    settings = build_sample_warehouse(tmp_path_factory.mktemp("spark"))
    out = tmp_path_factory.mktemp("spark_pq") / "pq"
    export_parquet(settings, out)
    return out


@pytest.fixture(name="spark", scope="module")
def fixture_spark():
    """One local[2] Spark session for the module (skip when pyspark is not installed)."""
    pytest.importorskip("pyspark", reason="pyspark not installed: pip install -e '.[spark]'")
    pytest.importorskip("sqlglot", reason="sqlglot not installed: pip install -e '.[spark]'")
    from vcdwh.spark import _session

    session = _session("local[2]", "vcdwh-tests", shuffle_partitions=4)
    yield session
    session.stop()


def _spark_rows(spark, parquet, frequency: str) -> list[tuple]:
    from vcdwh.spark import spark_bars_frame

    frame = spark_bars_frame(spark, parquet, parse_frequency(frequency))
    # Spark timestamps are microseconds since the epoch: compare bar starts as integers.
    frame = frame.selectExpr("unix_micros(bar_start) as bar_start_us", "*").drop("bar_start")
    return sorted(tuple(r) for r in frame.collect())


def _duckdb_rows(parquet, frequency: str) -> list[tuple]:
    relation = duckdb_bars_from_parquet(parquet, parse_frequency(frequency))
    rows = relation.query(
        "bars", "select epoch_us(bar_start) as bar_start_us, * exclude (bar_start) from bars"
    ).fetchall()
    return sorted(rows)


def test_spark_bars_sql_given_1min_has_no_duckdb_only_constructs():
    pytest.importorskip("sqlglot")
    bars = spark_bars_sql(parse_frequency("1min")).upper()
    grain = spark_bar_grain_sql(parse_frequency("1min")).upper()
    flow = spark_trade_flow_sql().upper()
    for sql in (bars, grain, flow):
        for construct in ("ASOF", "EPOCH_NS", "MAKE_TIMESTAMP_NS", "LIST_REDUCE", "::"):
            assert construct not in sql
    assert "60000000000" in bars and "60000000000" in grain
    assert "TIMESTAMP_MICROS(BAR_NS DIV 1000) AS BAR_START" in bars
    assert "TRADES.TS_RECV AS TS_NS" in flow
    assert "TRADES.SESSION_DATE = SESSIONS.SESSION_DATE" in flow
    # The grain's signed sizes are folded in trade order: sorted structs, then aggregate().
    assert (
        "AGGREGATE(\n      TRANSFORM(\n        ARRAY_SORT(\n          COLLECT_LIST(STRUCT(TS_NS AS K0,"
        " SEQUENCE AS K1, POSITION AS K2, SIGNED_SIZE AS V))" in grain
    )
    assert "MIN_BY(PRICE, STRUCT(TS_NS, SEQUENCE, POSITION)) AS OPEN" in grain


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.parametrize("frequency", ["1min", "5min", "30s"])
def test_spark_bars_given_sample_parquet_equal_duckdb_bars(spark, parquet, frequency):
    expected = _duckdb_rows(parquet, frequency)
    assert len(expected) > 1000
    assert _spark_rows(spark, parquet, frequency) == expected


@pytest.mark.slow
@pytest.mark.spark
def test_spark_bars_given_real_repeated_fills_equal_duckdb_bars(
    spark, shared, build, settings, tmp_path
):
    """The ESH4 session: identical rows that are separate fills, sweeps sharing ts_recv."""
    build([shared / "derived" / f"{ESH4_DERIVED}.dbn.zst"], ["1min"])
    out = tmp_path / "pq"
    export_parquet(settings, out)
    expected = _duckdb_rows(out, "1min")
    assert len(expected) == 60  # one hour of the session
    assert _spark_rows(spark, out, "1min") == expected


def test_spark_bars_cli_given_show_sql_prints_spark_sql(parquet):
    pytest.importorskip("sqlglot")
    result = CliRunner().invoke(cli, ["spark-bars", str(parquet), "--show-sql"])
    assert result.exit_code == 0, result.output
    assert "TIMESTAMP_MICROS(bar_ns DIV 1000) AS bar_start" in result.output
    assert "create or replace temporary view int_bar_grain as" in result.output


def test_spark_bars_cli_given_folder_without_export_exits_1(tmp_path):
    result = CliRunner().invoke(cli, ["spark-bars", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {tmp_path}: no trades/ folder; write it with `vcdwh export --format parquet`\n"
    )


@pytest.mark.parametrize("master", ["local", "local[2]", "local[*]", "spark://h1:7077", "yarn"])
def test_validate_master_given_master_url_accepts(master):
    assert validate_master(master) == master


@pytest.mark.parametrize("master", ["local[2]; rm -rf /", "", "http://x", "local[two]"])
def test_validate_master_given_other_text_raises(master):
    with pytest.raises(ConfigError, match="is not a Spark master URL"):
        validate_master(master)


@pytest.mark.slow
@pytest.mark.spark
def test_spark_bars_given_file_order_not_time_order_equal_duckdb_bars(
    spark, build, settings, tmp_path
):
    """Trade order is (ts_recv, sequence, position): a file written out of time order, and two
    fills sharing ts_recv whose sequence disagrees with their position, must not fool either side."""
    trades = [
        Trade(ns("2024-03-05 15:00:10"), 5000.00, 1, "B", sequence=7),
        Trade(ns("2024-03-05 15:00:05"), 5001.00, 2, "A", sequence=9),
        Trade(ns("2024-03-05 15:00:05"), 5000.50, 3, "B", sequence=8),
        Trade(ns("2024-03-05 15:00:20"), 4999.75, 4, "A", sequence=3),
    ]
    build([write_raw_csv(settings.data_dir / "trades_ESH4_x.csv", trades)], ["1min"])
    out = tmp_path / "pq"
    export_parquet(settings, out)
    expected = _duckdb_rows(out, "1min")
    # open: 15:00:05 sequence 8 (5000.50); close: 15:00:20 (4999.75); delta 1 - 2 + 3 - 4.
    assert [(r[4], r[7], r[12]) for r in expected] == [(Decimal("5000.5"), Decimal("4999.75"), -2)]
    assert _spark_rows(spark, out, "1min") == expected


@pytest.mark.slow
@pytest.mark.spark
def test_spark_bars_cli_given_output_writes_parquet(spark, parquet, tmp_path):
    # The CLI stops the Spark session when done (the shared one too): keep this test last.
    result = CliRunner().invoke(
        cli,
        [
            "spark-bars",
            str(parquet),
            "--frequency",
            "5min",
            "--master",
            "local[2]",
            "--output",
            str(tmp_path / "bars"),
        ],
    )
    assert result.exit_code == 0, result.output
    expected = len(_duckdb_rows(parquet, "5min"))
    assert result.output.startswith(f"bars_5min: {expected:,} bars with Spark local[2] in ")
    assert list((tmp_path / "bars").glob("session_date=*/*.parquet"))
