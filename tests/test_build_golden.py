"""Golden tests on real Databento data: bars reconcile with Databento's own ohlcv-1m bars."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import ESH4_DERIVED, ESU4_OHLCV, ESU4_TRADES

BAR_COLUMNS = (
    "bar_start::varchar, instrument_id, session_date::varchar, open, high, low, close, volume, "
    "buy_volume, sell_volume, unknown_volume, delta, cumulative_delta, session_cumulative_delta, "
    "trades"
)

# The golden table of ../shared/data/README.md (ESU4, 2024-07-01/02).
ESU4_GOLDEN = [
    ("2024-07-01 23:58:00", "5528.75", "5528.75", "5528.50", "5528.75", 18, 14, 4, 10, 10, 13),
    ("2024-07-01 23:59:00", "5528.50", "5528.75", "5528.50", "5528.75", 23, 12, 11, 1, 11, 15),
    ("2024-07-02 00:00:00", "5529.00", "5529.50", "5528.75", "5529.50", 175, 103, 72, 31, 42, 68),
    ("2024-07-02 00:01:00", "5529.25", "5529.50", "5529.25", "5529.25", 37, 13, 24, -11, 31, 24),
]


def esu4_sources(shared: Path) -> dict[str, Path]:
    return {
        "pretty": shared / "csv" / f"{ESU4_TRADES}.pretty.csv",
        "raw": shared / "csv" / f"{ESU4_TRADES}.raw.csv",
        "dbn": shared / "dbn" / f"{ESU4_TRADES}.dbn.zst",
    }


@pytest.mark.parametrize("layout", ["pretty", "raw", "dbn"])
def test_build_given_esu4_trades_matches_golden_table(shared, build, query, layout):
    # Arrange / Act
    build([esu4_sources(shared)[layout]])
    # Assert
    rows = query(
        "select bar_start::varchar, open, high, low, close, volume, buy_volume, sell_volume, delta,"
        " cumulative_delta, trades from bars_1min order by bar_start"
    )
    expected = [
        (t, Decimal(o), Decimal(h), Decimal(lo), Decimal(c), *rest)
        for t, o, h, lo, c, *rest in ESU4_GOLDEN
    ]
    assert rows == expected
    assert query("select distinct instrument_id, session_date::varchar from bars_1min") == [
        (118, "2024-07-02")
    ]


def test_build_given_three_layouts_gives_identical_bars(shared, tmp_path):
    import duckdb

    from vcdwh.build import build_warehouse
    from vcdwh.config import Settings

    results = {}
    for layout, path in esu4_sources(shared).items():
        settings = Settings(tmp_path / layout, tmp_path / layout / "w.duckdb")
        build_warehouse(settings, [path])
        con = duckdb.connect(str(settings.db_path), read_only=True)
        results[layout] = {
            rel: con.execute(f"select {BAR_COLUMNS} from {rel} order by bar_start").fetchall()
            for rel in ("bars_1min", "bars_5min")
        }
        con.close()
    assert results["pretty"] == results["raw"] == results["dbn"]


def test_build_given_pretty_and_dbn_names_symbol_esu4(shared, build, query):
    build([esu4_sources(shared)["dbn"]])
    assert query("select distinct symbol from bars_1min") == [("ESU4",)]


def test_build_given_raw_csv_learns_symbol_from_ohlcv_file(shared, build, query):
    # A raw CSV has no symbol column; a later file naming instrument 118 fills it in.
    build([esu4_sources(shared)["raw"]])
    assert query("select distinct symbol from bars_1min") == [("118",)]
    build([shared / "csv" / f"{ESU4_OHLCV}.pretty.csv"])
    assert query("select distinct symbol from bars_1min") == [("ESU4",)]


def test_build_given_raw_csv_then_same_trades_with_symbols_learns_symbol(shared, build, query):
    # The pretty CSV holds exactly the raw file's trades: none is added, but its symbol is learned.
    build([esu4_sources(shared)["raw"]])
    trades = query("select count(*) from trades")
    build([esu4_sources(shared)["pretty"]])
    assert query("select count(*) from trades") == trades
    assert query("select rows_added from loaded_files order by file_id") == [(trades[0][0],), (0,)]
    assert query("select distinct symbol from trades") == [("ESU4",)]
    assert query("select distinct symbol from bars_1min") == [("ESU4",)]


@pytest.mark.parametrize("ohlcv_layout", ["pretty.csv", "raw.csv", "dbn.zst"])
def test_bars_1min_equal_databento_ohlcv_1m_for_the_same_minutes(
    shared, build, query, ohlcv_layout
):
    folder = "dbn" if ohlcv_layout.startswith("dbn") else "csv"
    build([esu4_sources(shared)["pretty"], shared / folder / f"{ESU4_OHLCV}.{ohlcv_layout}"])
    mismatches = query(
        """
        select b.bar_start, b.open, o.open, b.close, o.close, b.volume, o.volume
        from bars_1min b
        join ohlcv_1m o on o.instrument_id = b.instrument_id and o.ts_event = b.bar_start
        where (b.open, b.high, b.low, b.close, b.volume) <> (o.open, o.high, o.low, o.close, o.volume)
        """
    )
    matched = query(
        "select count(*) from bars_1min b join ohlcv_1m o "
        "on o.instrument_id = b.instrument_id and o.ts_event = b.bar_start"
    )
    assert mismatches == []
    assert matched == [(4,)]


def test_build_given_esh4_session_counts_side_n_as_unknown(shared, build, query):
    build([shared / "derived" / f"{ESH4_DERIVED}.dbn.zst"])
    totals = query(
        "select count(*), sum(volume), sum(buy_volume), sum(sell_volume), sum(unknown_volume),"
        " sum(delta), max_by(cumulative_delta, bar_start), max_by(session_cumulative_delta,"
        " bar_start), min(delta), max(delta) from bars_1min"
    )
    assert totals == [(60, 9892, 5322, 4526, 44, 796, 796, 796, -143, 253)]
    first = query(
        "select bar_start::varchar, open, high, low, close, volume, buy_volume, sell_volume, delta"
        " from bars_1min order by bar_start limit 3"
    )
    assert first[0] == (
        "2023-12-25 23:00:00",
        Decimal("4800.25"),
        Decimal("4805"),
        Decimal("4800.25"),
        Decimal("4804.75"),
        600,
        329,
        227,
        102,
    )
    assert first[1][5:] == (482, 314, 168, 146)
    assert first[2][5:] == (179, 67, 112, -45)
    # Christmas: Globex reopened 17:00 CT on the 25th, which is the 2023-12-26 session.
    assert query("select distinct session_date::varchar from bars_1min") == [("2023-12-26",)]


def test_build_given_esh4_pretty_and_raw_csv_equal_dbn(shared, tmp_path):
    import duckdb

    from vcdwh.build import build_warehouse
    from vcdwh.config import Settings

    results = []
    for name in (
        f"csv/{ESH4_DERIVED}.pretty.csv",
        f"csv/{ESH4_DERIVED}.raw.csv",
        f"derived/{ESH4_DERIVED}.dbn.zst",
    ):
        settings = Settings(
            tmp_path / name.replace("/", "_"), tmp_path / (name.replace("/", "_") + ".duckdb")
        )
        build_warehouse(settings, [shared / name])
        con = duckdb.connect(str(settings.db_path), read_only=True)
        results.append(con.execute(f"select {BAR_COLUMNS} from bars_1min order by 1").fetchall())
        con.close()
    assert results[0] == results[1] == results[2]


def test_build_keeps_nanosecond_timestamps_and_exact_prices(shared, build, query):
    build([esu4_sources(shared)["raw"]])
    first = query(
        "select epoch_ns(ts_recv), epoch_ns(ts_event), price, size from trades order by position limit 1"
    )
    assert first == [(1719878281218485389, 1719878281218218853, Decimal("5528.75"), 2)]
