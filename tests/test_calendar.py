"""The CME calendar: holidays, early closes and regular trading hours per root, DST-correct."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas_market_calendars as mcal
import pytest
from click.testing import CliRunner

from tests.helpers import Trade, ns, write_pretty_csv
from vcdwh.build import build_warehouse
from vcdwh.cli import cli
from vcdwh.config import Settings
from vcdwh.errors import ConfigError
from vcdwh.marts import exchange_calendar
from vcdwh.marts.exchange_calendar import parse_rth

SYMBOLS = {1: "ESU4", 2: "CLQ4", 3: "GCQ4"}


def _trades(path: Path) -> Path:
    """A few trades of ES, CL and GC from 2023-12-22 to 2024-07-05 (spans DST and holidays)."""
    stamps = [
        "2023-12-22 15:00:00",
        "2024-03-08 15:00:00",
        "2024-03-11 15:00:00",
        "2024-07-05 15:00:00",
    ]
    trades = [
        Trade(ns(stamp), price, 1, "B", instrument_id=iid, sequence=i)
        for i, stamp in enumerate(stamps)
        for iid, price in ((1, 5500.0), (2, 80.0), (3, 2300.0))
    ]
    return write_pretty_csv(path / "trades_mixed.csv", trades, SYMBOLS)


@pytest.fixture(name="built", scope="module")
def fixture_built(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., list[tuple]]:
    """One warehouse of the crafted trades for the module; returns its read-only query."""
    folder = tmp_path_factory.mktemp("calendar")
    settings = Settings(data_dir=folder, db_path=folder / "vcdwh.duckdb")
    build_warehouse(settings, [_trades(folder)], ["1min"])

    def run(sql: str, params: dict | None = None) -> list[tuple]:
        con = duckdb.connect(str(settings.db_path), read_only=True)
        try:
            return con.execute(sql, params or {}).fetchall()
        finally:
            con.close()

    return run


def _hours(query: Callable[..., list[tuple]], root: str, day: str) -> tuple:
    [row] = query(
        "select holiday, early_close, rth_start, rth_end, session_close from session_hours "
        "where root = $root and session_date = $day",
        {"root": root, "day": day},
    )
    return row


def test_sessions_given_christmas_and_new_year_mark_them_holidays(built):
    rows = dict(
        built(
            "select session_date, holiday from sessions "
            "where session_date in ('2023-12-25', '2024-01-01', '2023-12-26')"
        )
    )
    assert rows == {date(2023, 12, 25): True, date(2024, 1, 1): True, date(2023, 12, 26): False}


def test_sessions_given_july_3_and_good_friday_mark_early_closes(built):
    rows = dict(
        built(
            "select session_date, early_close from sessions "
            "where session_date in ('2024-07-03', '2024-03-29', '2024-07-02')"
        )
    )
    assert rows == {date(2024, 7, 3): True, date(2024, 3, 29): True, date(2024, 7, 2): False}


@pytest.mark.parametrize(
    ("root", "before_dst", "after_dst"),
    [
        ("ES", ("14:30", "21:15"), ("13:30", "20:15")),
        ("CL", ("14:00", "19:30"), ("13:00", "18:30")),
        ("GC", ("13:20", "18:30"), ("12:20", "17:30")),
    ],
)
def test_session_hours_given_the_march_dst_change_keep_rth_in_chicago_time(
    built, root, before_dst, after_dst
):
    # Chicago moved to CDT on 2024-03-10: 08:30 CT is 14:30 UTC on the 8th, 13:30 on the 11th.
    for day, (start, end) in (("2024-03-08", before_dst), ("2024-03-11", after_dst)):
        _, _, rth_start, rth_end, _ = _hours(built, root, day)
        assert rth_start == datetime.fromisoformat(f"{day} {start}")
        assert rth_end == datetime.fromisoformat(f"{day} {end}")


def test_session_hours_given_an_early_close_end_rth_at_the_close(built):
    # ES on 2024-07-03 closes at 12:15 CT (17:15 UTC), before its 15:15 RTH end.
    holiday, early, rth_start, rth_end, close = _hours(built, "ES", "2024-07-03")
    assert (holiday, early) == (False, True)
    assert rth_start == datetime(2024, 7, 3, 13, 30)
    assert rth_end == close == datetime(2024, 7, 3, 17, 15)


def test_session_hours_given_good_friday_2024_differ_per_root(built):
    # Equity index traded until 08:15 CT (before its RTH); energy and metals were closed.
    assert _hours(built, "ES", "2024-03-29") == (
        False,
        True,
        None,
        None,
        datetime(2024, 3, 29, 13, 15),
    )
    assert _hours(built, "CL", "2024-03-29") == (True, False, None, None, None)
    assert _hours(built, "GC", "2024-03-29") == (True, False, None, None, None)


def test_calendar_is_written_for_the_dates_loaded_a_week_before_and_five_weeks_after(built):
    [(first, last, calendars)] = built(
        "select min(session_date), max(session_date), count(distinct calendar) from calendar"
    )
    assert date(2023, 12, 15) <= first <= date(2023, 12, 18)
    assert date(2024, 8, 5) <= last <= date(2024, 8, 9)
    [(expected,)] = built("select count(distinct calendar) from rth_hours")
    assert calendars == expected


def test_build_given_rth_override_stores_it_and_later_builds_keep_it(settings, tmp_path, query):
    trades = _trades(tmp_path)
    build_warehouse(settings, [trades], ["1min"], rth=["ES=09:00-15:00"])
    build_warehouse(settings, [], ["1min"])
    [(start, end, source)] = query(
        "select rth_start::varchar, rth_end::varchar, source from rth_hours where root = 'ES'"
    )
    assert (start, end, source) == ("09:00:00", "15:00:00", "user")
    _, _, rth_start, rth_end, _ = _hours(query, "ES", "2024-03-08")
    assert (rth_start, rth_end) == (datetime(2024, 3, 8, 15), datetime(2024, 3, 8, 21))


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("ES 08:30-15:15", "--rth 'ES 08:30-15:15' is not ROOT=HH:MM-HH:MM"),
        ("ES=25:00-26:00", "--rth 'ES=25:00-26:00': not a clock time"),
        ("ES=15:15-08:30", "--rth 'ES=15:15-08:30': the end must be after the start"),
    ],
)
def test_parse_rth_given_bad_text_names_the_option_and_the_fix(item, message):
    with pytest.raises(ConfigError) as caught:
        parse_rth(item)
    assert str(caught.value).startswith(message)
    assert "e.g. --rth ES=08:30-15:15" in str(caught.value)


def test_build_given_rth_for_an_unknown_root_fails_and_changes_nothing(settings, tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "--data-dir",
            str(settings.data_dir),
            "build",
            str(_trades(tmp_path)),
            "--rth",
            "ZZ=08:00-09:00",
        ],
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: --rth ZZ=…: no exchange calendar for root 'ZZ'")
    assert not settings.db_path.exists()


def test_calendar_given_later_builds_within_its_dates_is_kept_and_past_them_is_rewritten(
    settings, tmp_path, query, monkeypatch
):
    # Arrange: a warehouse whose calendar runs five weeks past its last trade (2024-07-05).
    build_warehouse(settings, [_trades(tmp_path)], ["1min"])
    calls: list[tuple] = []
    real = exchange_calendar.calendar_frame
    monkeypatch.setattr(
        exchange_calendar,
        "calendar_frame",
        lambda *args: calls.append(args) or real(*args),
    )
    # Act / Assert: a day of trades four weeks on is within it (and a week's margin): kept.
    near = write_pretty_csv(
        tmp_path / "trades_near.csv", [Trade(ns("2024-08-01 15:00:00"), 5510.0, 1, "B")], SYMBOLS
    )
    build_warehouse(settings, [near], ["1min"])
    assert calls == []
    # a day past it: rewritten, and the new day's session has its calendar
    far = write_pretty_csv(
        tmp_path / "trades_far.csv", [Trade(ns("2024-09-10 15:00:00"), 5520.0, 1, "B")], SYMBOLS
    )
    build_warehouse(settings, [far], ["1min"])
    assert calls
    [(last,)] = query("select max(session_date) from calendar")
    assert last >= date(2024, 10, 14)
    assert _hours(query, "ES", "2024-09-10")[0] is False


def test_calendar_frame_given_the_same_span_again_computes_it_once_and_callers_own_their_copy(
    monkeypatch,
):
    # Arrange: count the schedules computed.
    computed: list[tuple] = []
    real = mcal.MarketCalendar.schedule
    monkeypatch.setattr(
        mcal.MarketCalendar, "schedule", lambda *a, **k: computed.append(a) or real(*a, **k)
    )
    span = ("CME Globex Equity", date(2021, 2, 1), date(2021, 3, 31))
    # Act: a caller changes the frame it was given, then the span is asked for again.
    first = exchange_calendar.calendar_frame(*span)
    computed_for_first = len(computed)
    expected = first.copy()
    first.loc[0, "market_open"] = datetime(2000, 1, 1)
    first["early_close"] = True
    again = exchange_calendar.calendar_frame(*span)
    # Assert
    assert computed_for_first <= 1
    assert len(computed) == computed_for_first
    assert again.equals(expected)
    assert not again["early_close"].all()
