"""vcdwh check: trades vs ohlcv_1m per minute and the CME calendar, per instrument and session."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import ESH4_DERIVED, ESU4_OHLCV, ESU4_TRADES
from tests.helpers import Trade, ns, write_pretty_csv
from vcdwh.build import build_warehouse
from vcdwh.check import check_warehouse, format_check
from vcdwh.cli import cli
from vcdwh.config import Settings

OHLCV_HEADER = "ts_event,rtype,publisher_id,instrument_id,open,high,low,close,volume,symbol"


def _bar(stamp: str, o: float, h: float, low: float, c: float, v: int) -> str:
    return f"{stamp.replace(' ', 'T')}.000000000Z,33,1,1,{o:.9f},{h:.9f},{low:.9f},{c:.9f},{v},ESU4"


def _crafted(folder: Path) -> list[Path]:
    """ESU4 trades and bars with one gap of each kind, and an ESH4 trade on Christmas Day."""
    trades = [
        Trade(ns("2024-07-02 14:00:10"), 5500.00, 2, "B", 1, 1),
        Trade(ns("2024-07-02 14:00:20"), 5500.25, 1, "A", 1, 2),
        Trade(ns("2024-07-02 14:00:50"), 5499.75, 3, "B", 1, 3),
        Trade(ns("2024-07-02 14:01:05"), 5500.00, 1, "B", 1, 4),
        Trade(ns("2024-07-02 14:03:00"), 5501.00, 1, "B", 1, 5),
        # 16:30 CT: the daily maintenance break, after the 07-02 close and before the next open
        Trade(ns("2024-07-02 21:30:00"), 5502.00, 1, "B", 1, 6),
        Trade(ns("2024-07-05 14:00:00"), 5505.00, 1, "B", 1, 7),
        # Christmas Day 2023, 06:00 CT: the CME was closed
        Trade(ns("2023-12-25 12:00:00"), 4800.00, 1, "B", 2, 8),
    ]
    trades_csv = write_pretty_csv(
        folder / "trades_ES_2023-12-25_2024-07-05.csv", trades, {1: "ESU4", 2: "ESH4"}
    )
    bars = [
        _bar("2024-07-02 14:00:00", 5500.00, 5500.25, 5499.75, 5499.75, 6),  # reconciles
        _bar("2024-07-02 14:01:00", 5500.00, 5500.25, 5500.00, 5500.25, 1),  # high/close differ
        _bar("2024-07-02 14:02:00", 5500.25, 5500.25, 5500.25, 5500.25, 5),  # no trade
        _bar("2024-07-02 14:05:00", 5501.00, 5501.00, 5501.00, 5501.00, 2),  # no trade
    ]
    ohlcv_csv = folder / "ohlcv_1m_ESU4_2024-07-02_2024-07-02.csv"
    ohlcv_csv.write_text("\n".join([OHLCV_HEADER, *bars]) + "\n")
    return [trades_csv, ohlcv_csv]


@pytest.fixture(name="crafted", scope="module")
def fixture_crafted(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("check")
    settings = Settings(data_dir=folder, db_path=folder / "vcdwh.duckdb")
    build_warehouse(settings, _crafted(folder), ["1min"])
    return settings


def _session(report, symbol: str, day: date) -> dict:
    [row] = [r for r in report.sessions if r["symbol"] == symbol and r["session_date"] == day]
    return row


def test_check_given_crafted_gaps_counts_each_kind_in_its_session(crafted):
    report = check_warehouse(crafted)

    row = _session(report, "ESU4", date(2024, 7, 2))
    assert {k: row[k] for k in ("trades", "ohlcv_bars", "compared_minutes")} == {
        "trades": 6,
        "ohlcv_bars": 4,
        "compared_minutes": 2,
    }
    assert {
        k: row[k]
        for k in (
            "mismatched_minutes",
            "ohlcv_without_trades",
            "trades_without_ohlcv",
            "trades_outside_hours",
            "trades_on_holiday",
        )
    } == {
        "mismatched_minutes": 1,
        "ohlcv_without_trades": 2,
        "trades_without_ohlcv": 1,
        "trades_outside_hours": 1,
        "trades_on_holiday": 0,
    }


def test_check_given_sessions_without_data_that_the_calendar_traded_lists_them_missing(crafted):
    report = check_warehouse(crafted)

    missing = [(r["symbol"], r["session_date"]) for r in report.sessions if r["missing"]]
    # 07-03 (early close) and 07-04 (Independence Day, an abbreviated Globex session) traded.
    assert missing == [("ESU4", date(2024, 7, 3)), ("ESU4", date(2024, 7, 4))]
    assert _session(report, "ESU4", date(2024, 7, 5))["discrepancies"] == 0


def test_check_given_a_trade_on_christmas_day_counts_it_on_a_holiday(crafted):
    row = _session(check_warehouse(crafted), "ESH4", date(2023, 12, 25))

    assert (row["holiday"], row["trades_on_holiday"], row["trades_outside_hours"]) == (True, 1, 0)


def test_check_given_crafted_gaps_names_the_problem_minutes_and_sums_up(crafted):
    report = check_warehouse(crafted)
    text = format_check(report)

    assert [(str(m["minute"]), m["problem"]) for m in report.problem_minutes] == [
        ("2024-07-02 14:01:00", "mismatch"),
        ("2024-07-02 14:02:00", "ohlcv_without_trades"),
        ("2024-07-02 14:03:00", "trades_without_ohlcv"),
        ("2024-07-02 14:05:00", "ohlcv_without_trades"),
    ]
    assert report.discrepancies == 8
    assert (
        "ESU4 2024-07-02 14:01:00 mismatch: trades 5500/5500/5500/5500 1  ohlcv 5500/5500.25/5500/5500.25 1"
        in text
    )
    assert text.endswith(
        "2 instrument(s), 5 session(s), 2 minute(s) compared: 8 discrepancy(ies) (mismatched "
        "minutes 1, ohlcv without trades 2, trades without ohlcv 1, trades on holiday 1, trades "
        "outside hours 1, missing sessions 2)"
    )


def test_check_command_given_discrepancies_exits_0_and_1_with_strict(crafted):
    runner = CliRunner()
    plain = runner.invoke(cli, ["--db", str(crafted.db_path), "check"])
    strict = runner.invoke(cli, ["--db", str(crafted.db_path), "check", "--strict"])

    assert plain.exit_code == 0
    assert "MISSING: the calendar says it traded, no data" in plain.output
    assert strict.exit_code == 1
    assert strict.output == plain.output


def test_check_command_given_no_warehouse_fails_with_the_fix(tmp_path):
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "none.duckdb"), "check"])

    assert result.exit_code == 1
    assert (
        result.output
        == f"Error: no warehouse at {tmp_path / 'none.duckdb'}; build one with `vcdwh build`\n"
    )


def test_check_given_the_real_esu4_and_esh4_samples_reconciles_strictly(shared, settings):
    files = [
        shared / "dbn" / f"{ESU4_TRADES}.dbn.zst",
        shared / "dbn" / f"{ESU4_OHLCV}.dbn.zst",
        shared / "derived" / f"{ESH4_DERIVED}.dbn.zst",
    ]
    build_warehouse(settings, files, ["1min"])

    report = check_warehouse(settings)
    result = CliRunner().invoke(cli, ["--db", str(settings.db_path), "check", "--strict"])

    assert report.discrepancies == 0
    assert _session(report, "ESU4", date(2024, 7, 2))["compared_minutes"] == 4
    assert _session(report, "ESH4", date(2023, 12, 26))["trades"] == 2973
    assert result.exit_code == 0
    assert result.output.endswith("everything reconciles\n")


def test_check_given_the_four_record_esh1_stub_reports_its_partial_minute(shared, settings):
    # The databento-python test stub holds the first 4 trades of a minute whose bar has 306 lots.
    stem = "glbx-mdp3_ESH1_{}_2020-12-28_4rec_dbnv3.dbn.zst"
    build_warehouse(
        settings, [shared / "dbn" / stem.format("trades"), shared / "dbn" / stem.format("ohlcv-1m")]
    )

    report = check_warehouse(settings)

    [minute] = report.problem_minutes
    assert (minute["problem"], minute["volume"], minute["ohlcv_volume"]) == ("mismatch", 4, 306)
