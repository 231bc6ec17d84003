"""The notebook API: vcdwh.open() and Warehouse, on a warehouse built from the offline sample."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import vcdwh
from vcdwh import api
from vcdwh.backtest.params import BacktestResult
from vcdwh.build import BuildReport, build_warehouse
from vcdwh.config import Settings
from vcdwh.errors import (
    ConfigError,
    QueryError,
    UnknownIntervalError,
    UnknownSymbolError,
    VcdwhError,
    WarehouseError,
)
from vcdwh.sample import generate_sample

# The same configuration as the Warehouse's own connection: DuckDB shares one database
# instance per file and configuration within a process, so both can be open together.
READ_CONFIG = {"enable_external_access": False}


def _sample(data_dir: Path) -> None:
    generate_sample(data_dir, days=2, trades_per_day=200)


@pytest.fixture(name="built", scope="module")
def fixture_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with the offline sample built into its warehouse (built once)."""
    data = tmp_path_factory.mktemp("api") / "Data"
    _sample(data)
    build_warehouse(Settings.resolve(data))
    return data


@pytest.fixture(name="data_dir")
def fixture_data_dir(built: Path, tmp_path: Path) -> Path:
    """A private copy of the built data folder, for tests that write."""
    return Path(shutil.copytree(built, tmp_path / "Data"))


@pytest.fixture(name="wh")
def fixture_wh(built: Path):
    """The shared built warehouse, opened (read-only use only)."""
    with vcdwh.open(built) as warehouse:
        yield warehouse


def expected(data_dir: Path, sql: str, params: dict | None = None) -> list[tuple]:
    """Rows of an independent query on the warehouse of ``data_dir``."""
    con = duckdb.connect(str(data_dir / "vcdwh.duckdb"), read_only=True, config=READ_CONFIG)
    try:
        return con.execute(sql, params or {}).fetchall()
    finally:
        con.close()


# --------------------------------------------------------------------------------- open


def test_vcdwh_given_lazy_exports_gives_open_and_keeps_seed_names():
    assert vcdwh.open is api.open
    assert vcdwh.Warehouse is api.Warehouse
    assert vcdwh.DatabentoFetcher.__name__ == "DatabentoFetcher"
    assert "open" not in vcdwh.__all__
    with pytest.raises(AttributeError):
        _ = vcdwh.no_such_name


def test_open_given_built_warehouse_bars_returns_relation(wh, built):
    # Arrange
    want = expected(built, "select * from bars_1min where symbol = 'ESH4' order by bar_start")

    # Act
    bars = wh.bars("ESH4")

    # Assert
    assert isinstance(bars, duckdb.DuckDBPyRelation)
    assert len(want) > 50
    assert bars.fetchall() == want


def test_open_given_db_argument_reads_that_file(built, tmp_path):
    # Arrange: the warehouse file alone, somewhere else.
    db = tmp_path / "elsewhere.duckdb"
    shutil.copyfile(built / "vcdwh.duckdb", db)

    # Act
    with vcdwh.open(tmp_path / "no-data", db=db) as wh:
        count = wh.sql("select count(*) from trades").fetchall()

    # Assert
    assert wh.db_path == db
    assert count == expected(built, "select count(*) from trades")


def test_open_given_no_warehouse_raises_warehouse_error_on_first_read(tmp_path):
    wh = vcdwh.open(tmp_path)  # opening reads nothing

    with pytest.raises(WarehouseError) as caught:
        wh.sql("select 1")

    assert (
        str(caught.value) == f"no warehouse at {tmp_path / 'vcdwh.duckdb'}; run `vcdwh build` first"
    )


# --------------------------------------------------------------------------------- bars


def test_bars_given_start_and_end_returns_half_open_window(wh, built):
    # Arrange: a window whose start and end are both bar starts of ESH4.
    starts = [
        row[0]
        for row in expected(
            built, "select bar_start from bars_5min where symbol = 'ESH4' order by 1"
        )
    ]
    start, end = starts[10], starts[20]
    want = expected(
        built,
        "select * from bars_5min where symbol = 'ESH4' and bar_start >= $a and bar_start < $b "
        "order by bar_start",
        {"a": start, "b": end},
    )

    # Act
    rows = wh.bars("ESH4", "5min", start=start.isoformat(), end=end).fetchall()

    # Assert
    assert rows == want
    assert len(rows) == 10
    assert rows[0][0] == start
    assert rows[-1][0] < end


def test_bars_given_aware_datetime_converts_it_to_utc(wh):
    # Arrange: 14:30 UTC is 08:30 in Chicago (CST, UTC-6) on 2024-03-04.
    chicago = timezone(timedelta(hours=-6))

    # Act
    local = wh.bars("ESH4", start=datetime(2024, 3, 4, 8, 30, tzinfo=chicago)).fetchall()
    utc = wh.bars("ESH4", start=datetime(2024, 3, 4, 14, 30, tzinfo=UTC)).fetchall()
    naive = wh.bars("ESH4", start="2024-03-04 14:30").fetchall()

    # Assert
    assert local == utc == naive
    assert local[0][0] >= datetime(2024, 3, 4, 14, 30)


def test_bars_given_root_reads_its_continuous_series(wh, built):
    # Arrange
    want = expected(
        built, "select * from bars_5min_continuous where root = 'ES' order by bar_start"
    )

    # Act
    bars = wh.bars("ES", "5min")

    # Assert
    assert bars.columns[:3] == ["bar_start", "root", "contract"]
    assert bars.fetchall() == want
    assert len(want) > 0


def test_bars_given_interval_alias_reads_canonical_relation(wh, built):
    want = expected(built, "select * from bars_5min where symbol = 'ESM4' order by bar_start")

    assert wh.bars("ESM4", "5m").fetchall() == want


def test_bars_given_unknown_symbol_raises_unknown_symbol_error(wh):
    with pytest.raises(UnknownSymbolError) as caught:
        wh.bars("NQH4")

    assert isinstance(caught.value, VcdwhError)
    assert str(caught.value) == (
        "symbol 'NQH4' has no bars_1min; choose an instrument (ESH4, ESH4-ESM4, ESM4) "
        "or a root (ES)"
    )


def test_bars_given_unbuilt_interval_raises_unknown_interval_error(wh):
    with pytest.raises(UnknownIntervalError) as caught:
        wh.bars("ESH4", "30s")

    assert str(caught.value) == (
        "interval '30s': bars_30s is not built (built: 1min, 5min); build it with "
        "Warehouse.build(frequencies=['30s'])"
    )


@pytest.mark.parametrize("interval", ["7q", "0min", "25h", ""])
def test_bars_given_invalid_interval_raises_unknown_interval_error(wh, interval):
    with pytest.raises(UnknownIntervalError, match="is not a bar interval"):
        wh.bars("ESH4", interval)


@pytest.mark.parametrize("start", ["not a time", "2024-13-01"])
def test_bars_given_bad_start_raises_config_error(wh, start):
    with pytest.raises(ConfigError, match=r"^start=.* is not a timestamp"):
        wh.bars("ESH4", start=start)


def test_bars_given_hostile_symbol_is_bound_not_formatted(wh):
    with pytest.raises(UnknownSymbolError):
        wh.bars("ESH4' or '1'='1")


# --------------------------------------------------------------------------------- trades


def test_trades_given_window_returns_trades_in_trade_order(wh, built):
    # Arrange
    want = expected(
        built,
        "select * from trades where symbol = 'ESH4' and ts_recv >= '2024-03-04 14:00' "
        "and ts_recv < '2024-03-04 16:00' order by ts_recv, sequence, file_id, position",
    )

    # Act
    rows = wh.trades("ESH4", "2024-03-04 14:00", "2024-03-04 16:00").fetchall()

    # Assert
    assert rows == want
    assert len(rows) > 5


def test_trades_given_open_window_returns_every_trade_of_symbol(wh, built):
    want = expected(built, "select count(*) from trades where symbol = 'ESH4-ESM4'")

    assert wh.trades("ESH4-ESM4", None, None).aggregate("count(*)").fetchall() == want


def test_trades_given_root_raises_unknown_symbol_error(wh):
    with pytest.raises(UnknownSymbolError) as caught:
        wh.trades("ES", None, None)

    assert str(caught.value) == "symbol 'ES' has no trades; choose one of: ESH4, ESH4-ESM4, ESM4"


# --------------------------------------------------------------------------------- sql


def test_sql_given_named_and_positional_params_binds_them(wh, built):
    want = expected(built, "select count(*) from trades where symbol = 'ESM4'")

    named = wh.sql("select count(*) from trades where symbol = $s", {"s": "ESM4"}).fetchall()
    positional = wh.sql("select count(*) from trades where symbol = ?", ["ESM4"]).fetchall()

    assert named == positional == want


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("delete from trades", "read-only"),
        ("drop table trades", "read-only"),
        ("insert into trades select * from trades", "read-only"),
        ("create table scratch (a int)", "read-only"),
        ("copy trades to 'out.csv'", "cannot read or write files"),
        ("attach 'other.duckdb' as other", "cannot read or write files"),
        ("select * from read_csv('/etc/passwd')", "cannot read or write files"),
        ("set enable_external_access = true", "cannot read or write files"),
    ],
)
def test_sql_given_write_raises_query_error_and_changes_nothing(data_dir, statement, message):
    # Arrange
    before = expected(data_dir, "select count(*), sum(size) from trades")

    # Act
    with vcdwh.open(data_dir) as wh, pytest.raises(QueryError, match=message):
        wh.sql(statement)

    # Assert
    assert expected(data_dir, "select count(*), sum(size) from trades") == before
    assert not (data_dir / "out.csv").exists()
    assert not (data_dir / "other.duckdb").exists()


def test_sql_given_syntax_error_raises_query_error(wh):
    with pytest.raises(QueryError, match="syntax error"):
        wh.sql("selec 1")


# --------------------------------------------------------------------------------- results


def test_relation_given_df_and_arrow_converts_with_same_rows(wh, built):
    # Arrange
    want = expected(
        built, "select bar_start, delta from bars_1min where symbol = 'ESH4' order by bar_start"
    )
    bars = wh.bars("ESH4").select("bar_start, delta")

    # Act
    frame = bars.df()
    arrow = bars.arrow()
    table = arrow.read_all() if hasattr(arrow, "read_all") else arrow

    # Assert
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.itertuples(index=False, name=None)) == [(pd.Timestamp(s), d) for s, d in want]
    assert table.num_rows == len(want)
    assert table.column("delta").to_pylist() == [d for _, d in want]


def test_relation_given_polars_installed_pl_converts(wh, built):
    pytest.importorskip("polars", reason="polars is not installed (pip install -e '.[bench]')")
    want = expected(built, "select count(*), sum(delta) from bars_1min where symbol = 'ESH4'")

    frame = wh.bars("ESH4").pl()

    assert [(frame.height, frame["delta"].sum())] == want


def test_relation_given_later_calls_stays_readable(wh, built):
    # Arrange
    bars = wh.bars("ESM4", "5min")
    first = bars.fetchall()

    # Act: more reads on the same connection
    wh.bars("ES")
    wh.trades("ESM4", None, None).fetchall()
    wh.runs().fetchall()

    # Assert
    assert bars.fetchall() == first
    assert (
        len(first) == expected(built, "select count(*) from bars_5min where symbol = 'ESM4'")[0][0]
    )


# --------------------------------------------------------------------------------- writes


def test_backtest_given_params_stores_run_and_runs_lists_newest_first(data_dir):
    with vcdwh.open(data_dir) as wh:
        # Arrange
        assert wh.runs().fetchall() == []

        # Act
        first = wh.backtest(symbol="ESH4", threshold=5)
        second = wh.backtest(symbol="ES", frequency="5min", threshold=3, contracts=1)
        runs = wh.runs().project("run_id, symbol, frequency, threshold, mode").fetchall()

    # Assert
    assert isinstance(first, BacktestResult)
    assert (first.run_id, second.run_id) == (1, 2)
    assert runs == [(2, "ES", "5min", 3.0, "futures"), (1, "ESH4", "1min", 5.0, "seed")]
    metrics = expected(data_dir, "select total_trades from backtest_metrics where run_id = 1")
    assert metrics == [(first.metrics["total_trades"],)]


def test_backtest_given_open_relation_closes_it_and_reopens_on_next_read(data_dir):
    with vcdwh.open(data_dir) as wh:
        # Arrange
        before = wh.runs()
        assert before.fetchall() == []

        # Act
        wh.backtest(threshold=5)

        # Assert: the old relation's connection is gone; a new read sees the new file.
        with pytest.raises(duckdb.ConnectionException):
            before.fetchall()
        assert [r[0] for r in wh.runs().fetchall()] == [1]


def test_backtest_given_unknown_parameter_raises_config_error(wh):
    with pytest.raises(ConfigError, match=r"Warehouse\.backtest: .*'thresold'"):
        wh.backtest(thresold=5)


def test_backtest_given_other_open_warehouse_explains_the_clash(data_dir):
    with vcdwh.open(data_dir) as reader, vcdwh.open(data_dir) as writer:
        reader.sql("select 1").fetchall()

        with pytest.raises(WarehouseError, match="close other Warehouse objects"):
            writer.backtest(threshold=5, lock_timeout=0)


def test_build_given_new_interval_makes_its_bars_readable(data_dir):
    with vcdwh.open(data_dir) as wh:
        # Arrange
        with pytest.raises(UnknownIntervalError):
            wh.bars("ESH4", "30s")

        # Act
        report = wh.build(frequencies=["30s"])
        rows = wh.bars("ESH4", "30s").fetchall()

    # Assert
    assert isinstance(report, BuildReport)
    assert set(report.bar_relations) == {"bars_30s", "bars_1min", "bars_5min"}
    assert rows == expected(
        data_dir, "select * from bars_30s where symbol = 'ESH4' order by bar_start"
    )


def test_build_given_folder_without_warehouse_creates_it(tmp_path):
    # Arrange
    data = tmp_path / "Data"
    _sample(data)

    # Act
    with vcdwh.open(data) as wh:
        report = wh.build()
        trades = wh.sql("select count(*) from trades").fetchall()

    # Assert
    assert report.trades == trades[0][0] > 0
    assert (data / "vcdwh.duckdb").exists()


# --------------------------------------------------------------------------------- close


def test_close_given_context_manager_exit_closes_connection(built):
    with vcdwh.open(built) as wh:
        bars = wh.bars("ESH4")
        bars.fetchall()

    with pytest.raises(WarehouseError, match=r"is closed; open it again with vcdwh.open\(\)"):
        wh.sql("select 1")
    with pytest.raises(WarehouseError, match="is closed"):
        wh.backtest()
    with pytest.raises(duckdb.ConnectionException):
        bars.fetchall()
    assert repr(wh) == f"<Warehouse {str(built / 'vcdwh.duckdb')!r} (closed)>"
