"""Regular trading hours in the bar tables: is_rth and the RTH cumulative delta and its candle."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from tests.helpers import Trade, ns, write_pretty_csv
from vcdwh.backtest.params import BacktestParams
from vcdwh.backtest.run import run_backtest
from vcdwh.build import build_warehouse
from vcdwh.cli import cli
from vcdwh.config import Settings

# ES RTH is 08:30-15:15 CT = 13:30-20:15 UTC in July (CDT).
TRADES = [
    Trade(ns("2024-07-02 13:29:10"), 5500.00, 4, "B", 1, 1),  # 08:29 CT: before RTH
    Trade(ns("2024-07-02 13:30:05"), 5500.25, 3, "B", 1, 2),  # 08:30 CT: the RTH open
    Trade(ns("2024-07-02 13:30:30"), 5500.00, 5, "A", 1, 3),
    Trade(ns("2024-07-02 13:31:00"), 5500.25, 2, "B", 1, 4),
    Trade(ns("2024-07-02 20:14:00"), 5501.00, 6, "B", 1, 5),  # 15:14 CT: last RTH minute
    Trade(ns("2024-07-02 20:15:00"), 5501.25, 1, "A", 1, 6),  # 15:15 CT: RTH is over
    Trade(ns("2024-07-03 13:30:00"), 5502.00, 7, "A", 1, 7),  # next session's RTH open
]


@pytest.fixture(name="warehouse", scope="module")
def fixture_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder: Path = tmp_path_factory.mktemp("rth")
    settings = Settings(data_dir=folder, db_path=folder / "vcdwh.duckdb")
    write_pretty_csv(folder / "trades_ESU4_2024-07-02_2024-07-03.csv", TRADES, {1: "ESU4"})
    build_warehouse(settings, [], ["1min"])
    return settings


def _query(settings: Settings, sql: str, params: dict | None = None) -> list[tuple]:
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        return con.execute(sql, params or {}).fetchall()
    finally:
        con.close()


@pytest.fixture(name="bars", scope="module")
def fixture_bars(warehouse: Settings) -> list[tuple]:
    con = duckdb.connect(str(warehouse.db_path), read_only=True)
    try:
        return con.execute(
            "select strftime(bar_start, '%m-%d %H:%M'), is_rth, delta, rth_cumulative_delta, "
            "rth_delta_open, rth_delta_high, rth_delta_low, rth_delta_close "
            "from bars_1min order by bar_start"
        ).fetchall()
    finally:
        con.close()


def test_bars_given_rth_hours_flag_only_bars_from_the_rth_open_to_before_its_end(bars):
    assert [(b[0], b[1]) for b in bars] == [
        ("07-02 13:29", False),
        ("07-02 13:30", True),
        ("07-02 13:31", True),
        ("07-02 20:14", True),
        ("07-02 20:15", False),
        ("07-03 13:30", True),
    ]


def test_bars_given_rth_restart_the_rth_cumulative_delta_at_each_rth_open(bars):
    # 13:30 bar: +3 then -5 -> delta -2, path 0 -> 3 -> -2; 13:31: +2; 20:14: +6.
    assert [b[2:] for b in bars] == [
        (4, None, None, None, None, None),
        (-2, -2, 0, 3, -2, -2),
        (2, 0, -2, 0, -2, 0),
        (6, 6, 0, 6, 0, 6),
        (-1, None, None, None, None, None),
        (-7, -7, 0, 0, -7, -7),
    ]


@pytest.mark.parametrize(
    ("reset", "expected"),
    [
        # rth: no signal before 08:30 CT; -2 at 13:30 (flat, nothing to exit), +6 at 20:14 buys,
        # -7 at the next RTH open sells.
        ("rth", [("07-02 20:14", 5501.0, "07-03 13:30", 5502.0, "signal")]),
        # none: +4 already at 13:29 buys, and the running delta never falls below -1.
        ("none", [("07-02 13:29", 5500.0, "07-03 13:30", 5502.0, "end_of_data")]),
    ],
)
def test_backtest_given_reset_rth_trades_the_rth_cumulative_delta(warehouse, reset, expected):
    result = run_backtest(warehouse, BacktestParams(symbol="ESU4", threshold=1, reset=reset))

    trades = _query(
        warehouse,
        "select strftime(entry_time, '%m-%d %H:%M'), entry_price, strftime(exit_time, "
        "'%m-%d %H:%M'), exit_price, exit_reason from backtest_trades where run_id = $r "
        "order by trade_no",
        {"r": result.run_id},
    )
    assert trades == expected


def _trades_of(settings: Settings, run_id: int) -> list[tuple]:
    return _query(
        settings,
        "select strftime(entry_time, '%m-%d %H:%M'), entry_price, strftime(exit_time, "
        "'%m-%d %H:%M'), exit_price, exit_reason from backtest_trades where run_id = $r "
        "order by trade_no",
        {"r": run_id},
    )


@pytest.mark.parametrize(
    ("threshold", "hours", "entry"),
    [
        # The running delta is 4, 2, 4, 10, 9, 2 (bars at 08:29, 08:30, 08:31, 15:14, 15:15 CT
        # and the next 08:30): above 1 from the 08:29 bar (not RTH), above 5 from 15:14 (RTH).
        (1, "all", ("07-02 13:29", 5500.0)),
        (1, "rth", ("07-02 13:30", 5500.0)),
        (1, "eth", ("07-02 13:29", 5500.0)),
        (5, "all", ("07-02 20:14", 5501.0)),
        (5, "rth", ("07-02 20:14", 5501.0)),
        (5, "eth", ("07-02 20:15", 5501.25)),
    ],
)
def test_backtest_given_hours_opens_positions_only_on_those_bars(
    warehouse, threshold, hours, entry
):
    result = run_backtest(
        warehouse, BacktestParams(symbol="ESU4", threshold=threshold, hours=hours)
    )

    [trade] = _trades_of(warehouse, result.run_id)
    assert trade[:2] == entry


def test_backtest_given_flat_at_rth_end_closes_at_the_last_rth_bar(warehouse):
    # Long from the RTH open, closed at the 15:14 CT bar; the 07-03 RTH open is the last bar.
    result = run_backtest(
        warehouse,
        BacktestParams(symbol="ESU4", threshold=1, contracts=1, hours="rth", flat_at_rth_end=True),
    )

    assert _trades_of(warehouse, result.run_id) == [
        ("07-02 13:30", 5500.0, "07-02 20:14", 5501.0, "session_end")
    ]
    assert _query(
        warehouse,
        "select hours, flat_at_rth_end, flat_at_session_end from backtest_runs where run_id = $r",
        {"r": result.run_id},
    ) == [("rth", True, False)]


def test_cli_backtest_given_flat_at_session_end_rth_and_hours_stores_them(warehouse):
    runner = CliRunner()
    args = ["--db", str(warehouse.db_path), "backtest", "--symbol", "ESU4", "--threshold", "1"]

    rth = runner.invoke(
        cli, [*args, "--contracts", "1", "--hours", "rth", "--flat-at-session-end", "rth"]
    )
    session = runner.invoke(cli, [*args, "--contracts", "1", "--flat-at-session-end"])

    assert rth.exit_code == 0, rth.output
    assert session.exit_code == 0, session.output
    assert _query(
        warehouse,
        "select hours, flat_at_rth_end, flat_at_session_end from backtest_runs "
        "order by run_id desc limit 2",
    ) == [("all", False, True), ("rth", True, False)]


def test_build_given_bars_made_before_the_rth_columns_rebuilds_them_in_full(tmp_path):
    settings = Settings(data_dir=tmp_path, db_path=tmp_path / "vcdwh.duckdb")
    write_pretty_csv(tmp_path / "trades_ESU4_2024-07-02_2024-07-02.csv", TRADES[:3], {1: "ESU4"})
    build_warehouse(settings, [], ["1min"])
    con = duckdb.connect(str(settings.db_path))
    try:  # what an older vcdwh left
        con.execute("alter table bars_1min drop column is_rth")
    finally:
        con.close()
    write_pretty_csv(tmp_path / "trades_ESU4_2024-07-03_2024-07-03.csv", TRADES[6:], {1: "ESU4"})

    report = build_warehouse(settings, [], ["1min"])

    assert report.bars_mode == "full"
    assert _query(settings, "select count(*), count(is_rth) from bars_1min") == [(3, 3)]
