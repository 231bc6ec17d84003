"""Session boundaries: 17:00 America/Chicago, correct across daylight-saving changes."""

from __future__ import annotations

from tests.helpers import Trade, ns, write_raw_csv


def test_session_cumulative_delta_resets_at_17_ct_across_dst(tmp_path, build, query):
    # Arrange: US DST began Sunday 2024-03-10. Before it the session opens 23:00 UTC (17:00 CST),
    # after it 22:00 UTC (17:00 CDT).
    trades = [
        Trade(ns("2024-03-07 22:30:00"), 5100.00, 5, "B"),  # Thu winter, still the 03-07 session
        Trade(ns("2024-03-07 23:00:00"), 5100.25, 7, "A"),  # 17:00 CST: the 03-08 session opens
        Trade(ns("2024-03-08 21:59:00"), 5100.50, 3, "B"),  # Fri 15:59 CST, session 03-08
        Trade(ns("2024-03-10 22:00:00"), 5101.00, 4, "B"),  # Sun 17:00 CDT: session 03-11 opens
        Trade(ns("2024-03-11 21:59:00"), 5101.25, 2, "A"),  # Mon 16:59 CDT: still 03-11
        Trade(ns("2024-03-11 22:00:00"), 5101.50, 6, "B"),  # Mon 17:00 CDT: session 03-12 opens
    ]
    build([write_raw_csv(tmp_path / "dst.csv", trades)])
    # Act
    rows = query(
        "select bar_start::varchar, session_date::varchar, delta, cumulative_delta,"
        " session_cumulative_delta from bars_1min order by bar_start"
    )
    # Assert
    assert rows == [
        ("2024-03-07 22:30:00", "2024-03-07", 5, 5, 5),
        ("2024-03-07 23:00:00", "2024-03-08", -7, -2, -7),
        ("2024-03-08 21:59:00", "2024-03-08", 3, 1, -4),
        ("2024-03-10 22:00:00", "2024-03-11", 4, 5, 4),
        ("2024-03-11 21:59:00", "2024-03-11", -2, 3, 2),
        ("2024-03-11 22:00:00", "2024-03-12", 6, 9, 6),
    ]
    opens = query(
        "select session_date::varchar, session_start::varchar from sessions"
        " where session_date in ('2024-03-08', '2024-03-11', '2024-11-04')"
        " order by session_date"
    )
    assert opens == [("2024-03-08", "2024-03-07 23:00:00"), ("2024-03-11", "2024-03-10 22:00:00")]


def test_hour_bars_are_anchored_at_the_session_open(tmp_path, build, query):
    trades = [
        Trade(ns("2024-03-07 23:10:00"), 5100.00, 1, "B"),
        Trade(ns("2024-03-08 02:59:59"), 5100.25, 1, "A"),
        Trade(ns("2024-03-08 03:00:00"), 5100.50, 1, "B"),
    ]
    build([write_raw_csv(tmp_path / "h.csv", trades)])
    build(frequencies=["4h", "90s"])
    assert query("select bar_start::varchar, volume from bars_4h order by 1") == [
        ("2024-03-07 23:00:00", 2),
        ("2024-03-08 03:00:00", 1),
    ]
    assert query("select bar_start::varchar from bars_90s order by 1") == [
        ("2024-03-07 23:09:00",),
        ("2024-03-08 02:58:30",),
        ("2024-03-08 03:00:00",),
    ]
    # Intervals built before are refreshed on every build.
    assert query("select name from bar_intervals order by seconds") == [
        ("1min",),
        ("90s",),
        ("5min",),
        ("4h",),
    ]
