"""The CME Globex calendar fed to the SQL marts as data: holidays, early closes and RTH overrides.

A build writes the ``calendar`` table from ``pandas_market_calendars`` for the dates loaded
(a week before, five weeks after; kept while it still covers the data and a week either side),
one row per exchange calendar named in ``rth_hours`` and trading day.
The library models CME Globex's own calendars per product group (equity index, crude, gold, …)
with their holidays and early closes and needs no network. ``sessions`` and ``session_hours``
(``sql/marts/``) read that table: no date is written into the SQL text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import date, time, timedelta
from typing import TYPE_CHECKING

from vcdwh.errors import ConfigError
from vcdwh.warehouse.settings import read_settings, write_settings

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pandas_market_calendars as mcal

SPAN_MARGIN_DAYS = 7
"""Calendar days the calendar covers at least either side of the data loaded."""

AHEAD_DAYS = 35
"""Calendar days written after the data when the calendar is rewritten, so the builds that add
the next days of data keep it until the data reaches within :data:`SPAN_MARGIN_DAYS` of its
end."""

SETTINGS_KEY = "calendar_span"
"""The ``build_settings`` key of what the ``calendar`` table was written for."""
EXPIRY_HORIZON_DAYS = 550
"""How far past the data the calendar reaches to the expirations of the contracts loaded (for
``--roll-rule expiry-days:N``)."""

_RTH_RE = re.compile(r"^([A-Z0-9]{1,4})=(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


def parse_rth(item: str) -> tuple[str, time, time]:
    """Parse one ``--rth ROOT=HH:MM-HH:MM`` override (Chicago local time).

    Raises
    ------
    ConfigError
        The text is not of that form, a time is not a clock time, or the end is not after the start.
    """
    match = _RTH_RE.fullmatch(item.strip()) if isinstance(item, str) else None
    fix = "give ROOT=HH:MM-HH:MM in Chicago time, e.g. --rth ES=08:30-15:15"
    if match is None:
        raise ConfigError(f"--rth {item!r} is not ROOT=HH:MM-HH:MM; {fix}")
    root = match.group(1)
    h1, m1, h2, m2 = (int(g) for g in match.groups()[1:])
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ConfigError(f"--rth {item!r}: not a clock time; {fix}")
    start, end = time(h1, m1), time(h2, m2)
    if end <= start:
        raise ConfigError(f"--rth {item!r}: the end must be after the start; {fix}")
    return root, start, end


def apply_rth_overrides(con: duckdb.DuckDBPyConnection, overrides: Sequence[str]) -> None:
    """Set the RTH of the roots named (``--rth ROOT=HH:MM-HH:MM``) in ``rth_hours``.

    The root keeps its exchange calendar; the row's source becomes ``user`` so later builds keep it.

    Raises
    ------
    ConfigError
        An override is malformed or names a root ``rth_hours`` has no row for.
    """
    parsed = [parse_rth(item) for item in overrides]
    known = {r for (r,) in con.execute("select root from rth_hours").fetchall()}
    for root, start, end in parsed:
        if root not in known:
            raise ConfigError(
                f"--rth {root}=…: no exchange calendar for root {root!r}; known roots: "
                f"{', '.join(sorted(known))} (add a row to rth_hours for another root)"
            )
        con.execute(
            "update rth_hours set rth_start = $start, rth_end = $end, source = 'user' "
            "where root = $root",
            {"root": root, "start": start, "end": end},
        )


def data_span(con: duckdb.DuckDBPyConnection) -> tuple[date, date] | None:
    """First and last UTC date of the trades and 1-minute bars loaded, or None when empty.

    The last date reaches to the latest expiration of the definitions loaded, at most
    :data:`EXPIRY_HORIZON_DAYS` past the data.
    """
    [(lo, hi, expiry)] = con.execute(
        "select least(min_trades, min_bars)::date, greatest(max_trades, max_bars)::date,"
        " max_expiry::date from ("
        " select (select min(ts_recv) from trades) as min_trades,"
        " (select max(ts_recv) from trades) as max_trades,"
        " (select min(ts_event) from ohlcv_1m) as min_bars,"
        " (select max(ts_event) from ohlcv_1m) as max_bars,"
        " (select max(expiration) from instrument_definitions) as max_expiry)"
    ).fetchall()
    if lo is None:
        return None
    if expiry is not None and expiry > hi:
        hi = min(expiry, hi + timedelta(days=EXPIRY_HORIZON_DAYS))
    return lo, hi


@functools.cache
def _exchange(name: str) -> mcal.MarketCalendar:
    """The ``pandas_market_calendars`` calendar of that name, one instance per process: it keeps
    the holidays it has computed, so the builds after the first in a process reuse them."""
    import pandas_market_calendars as mcal

    try:
        return mcal.get_calendar(name)
    except (RuntimeError, KeyError, ValueError):
        raise ConfigError(
            f"rth_hours names the exchange calendar {name!r}, which pandas_market_calendars does "
            "not know; set rth_hours.calendar to one of its CME calendars, e.g. "
            "'CME Globex Equity'"
        ) from None


def calendar_frame(name: str, start: date, end: date) -> pd.DataFrame:
    """The trading days of one ``pandas_market_calendars`` calendar between two dates.

    Returns
    -------
    pandas.DataFrame
        Columns ``calendar, session_date, market_open, market_close, early_close``, the
        timestamps naive UTC.

    Raises
    ------
    ConfigError
        The library has no calendar of that name.
    """
    return _schedule(name, start, end).copy()


@functools.lru_cache(maxsize=32)
def _schedule(name: str, start: date, end: date) -> pd.DataFrame:
    """:func:`calendar_frame`, kept per process for the last spans asked for: a process that
    builds many warehouses over the same dates computes each schedule once (callers get copies)."""
    import pandas as pd

    exchange = _exchange(name)
    schedule = exchange.schedule(start.isoformat(), end.isoformat())
    early = exchange.early_closes(schedule).index
    return pd.DataFrame(
        {
            "calendar": name,
            "session_date": schedule.index.date,
            "market_open": schedule["market_open"].dt.tz_convert("UTC").dt.tz_localize(None),
            "market_close": schedule["market_close"].dt.tz_convert("UTC").dt.tz_localize(None),
            "early_close": schedule.index.isin(early),
        }
    ).reset_index(drop=True)


def write_calendar(con: duckdb.DuckDBPyConnection) -> None:
    """Refill the ``calendar`` table for the data loaded, for every calendar in ``rth_hours``.

    The table is kept when it was written by the same ``pandas_market_calendars`` version for the
    same calendars over dates that still cover the data and :data:`SPAN_MARGIN_DAYS` either side
    (what it was written for is in ``build_settings``); otherwise it is rewritten from
    :data:`SPAN_MARGIN_DAYS` before the data to :data:`AHEAD_DAYS` after it.
    """
    import json
    from importlib.metadata import version

    import pandas as pd

    span = data_span(con)
    if span is None:
        con.execute("delete from calendar")
        return
    start = span[0] - timedelta(days=SPAN_MARGIN_DAYS)
    needed_end = span[1] + timedelta(days=SPAN_MARGIN_DAYS)
    names = sorted(n for (n,) in con.execute("select distinct calendar from rth_hours").fetchall())
    written = {"calendars": names, "version": version("pandas_market_calendars")}
    stored = read_settings(con).get(SETTINGS_KEY)
    if stored:
        kept = json.loads(stored)
        if (
            {k: kept.get(k) for k in written} == written
            and kept.get("start", "9999") <= start.isoformat()
            and kept.get("end", "") >= needed_end.isoformat()
        ):
            return
    con.execute("delete from calendar")
    end = span[1] + timedelta(days=AHEAD_DAYS)
    frames = [calendar_frame(name, start, end) for name in names]
    if frames:
        frame = pd.concat(frames, ignore_index=True)
        con.register("calendar_rows", frame)
        try:
            con.execute(f"insert into calendar select {', '.join(_COLUMNS)} from calendar_rows")
        finally:
            con.unregister("calendar_rows")
    written |= {"start": start.isoformat(), "end": end.isoformat()}
    write_settings(con, {SETTINGS_KEY: json.dumps(written)})


_COLUMNS = ("calendar", "session_date", "market_open", "market_close", "early_close")
