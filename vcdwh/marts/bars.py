"""The marts: sessions, grains, every ``bars_<interval>`` and ``footprint_<interval>``, rolls and
continuous series, with their contracts checked."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from vcdwh.marts.barsets import developing_value_area, root_ticks, write_bar_set
from vcdwh.marts.continuous import (
    ContinuousOptions,
    check_expirations,
    check_ratio_prices,
)
from vcdwh.marts.eventbars import build_event_bars, fill_flow_grains
from vcdwh.marts.exchange_calendar import write_calendar
from vcdwh.marts.frequency import EventBars, Frequency
from vcdwh.marts.orderflow import FlowOptions, stored_options
from vcdwh.warehouse.pieces import EPOCH, fill_by_ranges, sized_ranges
from vcdwh.warehouse.schema import check_relation, contract_for, load_contracts
from vcdwh.warehouse.sqlrender import identifier, render

if TYPE_CHECKING:
    import duckdb


def build_bars(
    con: duckdb.DuckDBPyConnection,
    frequencies: Iterable[Frequency],
    options: FlowOptions | None = None,
    since_file_id: int | None = None,
    rebuild: bool = True,
    continuous_options: ContinuousOptions | None = None,
    event_bars: Sequence[EventBars] = (),
) -> list[str]:
    """Refresh the session calendar, the per-interval marts and rolls; check their contracts.

    Every trade is placed in its session and given its effective side (``int_trade_flow``);
    each session's trades are aggregated once into the finest bars and price levels the
    intervals share (``int_bar_grain``, ``int_level_grain``: the greatest common divisor of
    the intervals); each interval's ``bars_<interval>`` and ``footprint_<interval>`` roll
    those up; ``rolls`` and ``bars_<interval>_continuous`` are built from the bars.

    Parameters
    ----------
    con
        An open connection inside the build's transaction.
    frequencies
        The bar intervals to build.
    options
        Unknown-side policy, large-lot filter and imbalance ratio (default: those stored in
        ``build_settings``, or the defaults).
    since_file_id
        Incremental: the trades of files from this id on are new. Only the instruments they
        touch are recomputed, from the session where their new trades start, continuing the
        running sums of the bars before it (``sql/intermediate/int_affected.sql``).
    rebuild
        False when no trade changed: the marts are kept as they are.
    continuous_options
        Roll rule and back-adjustment of the continuous series (default: volume, none).
    event_bars
        Tick, volume and range bar sets to build too (``vcdwh.marts.eventbars``).

    Returns
    -------
    list of str
        The ``bars_<interval>`` relations.
    """
    if options is None:
        options = stored_options(con)
    ordered = sorted(set(frequencies))
    write_calendar(con)
    con.execute(f"create or replace table sessions as {render('marts/sessions.sql')}")
    con.execute(f"create or replace table session_hours as {render('marts/session_hours.sql')}")
    contracts = load_contracts()
    for relation in ("sessions", "session_hours"):
        check_relation(con, relation, contracts[relation])
    if not rebuild:
        return [f.bars_relation for f in ordered]
    partial = since_file_id is not None
    if partial:
        affected = render(
            "intermediate/int_affected.sql",
            bars=identifier(ordered[0].bars_relation),
            large_lot=options.large_lot,
        )
        con.execute(
            f"create or replace temp table affected as {affected}",
            {"since_file_id": since_file_id},
        )
    _build_grains(con, ordered, options, partial, event_bars)
    checked: list[tuple[str, str]] = []
    footprint_params = root_ticks() | {
        "imbalance_ratio": options.imbalance_ratio,
        "imbalance_min_volume": options.imbalance_min_volume,
    }
    checked += _build_profiles(con, options.value_area_pct, partial)
    built = []
    for frequency in ordered:
        relation = identifier(frequency.bars_relation)
        footprint = identifier(frequency.footprint_relation)
        bars_sql = render(
            "marts/bars.sql",
            interval_ns=frequency.nanoseconds,
            large_lot=options.large_lot,
            partial=partial,
            footprint=footprint,
            analytics=True,
        )
        footprint_sql = render(
            "marts/footprint.sql",
            interval_ns=frequency.nanoseconds,
            ticks_per_level=options.ticks_per_level,
        )
        write_bar_set(con, relation, footprint, bars_sql, footprint_sql, footprint_params, partial)
        con.execute(
            "insert or replace into bar_intervals "
            "values ($name, $seconds, $relation, now()::timestamp)",
            {"name": frequency.name, "seconds": frequency.seconds, "relation": relation},
        )
        built.append(relation)
        checked += [(relation, "bars"), (footprint, "footprint")]
    checked += build_event_bars(con, event_bars, options, partial, footprint_params)
    for temporary in ("int_bar_grain", "int_level_grain", "int_value_area_grain"):
        con.execute(f"drop table if exists {temporary}")
    series = (continuous_options or ContinuousOptions()).validated()
    check_expirations(con, built[0], series)
    rolls = render("marts/rolls.sql", bars=identifier(built[0]), expiry_days=series.expiry_days)
    con.execute(f"create or replace table rolls as {rolls}")
    check_ratio_prices(con, built[0], series)
    checked.append(("rolls", "rolls"))
    for frequency in ordered:
        relation = identifier(frequency.bars_relation)
        continuous = identifier(frequency.continuous_relation)
        sql = render(
            "marts/bars_continuous.sql",
            bars=relation,
            large_lot=options.large_lot,
            adjust=series.adjust,
        )
        con.execute(f"create or replace table {continuous} as {sql}")
        checked.append((continuous, "continuous"))
    for relation, kind in checked:
        # an incremental build checks the bars and footprints it wrote
        written_only = partial and kind in ("bars", "footprint")
        contract = contract_for(relation, contracts)
        if contract is not None:
            check_relation(con, relation, contract, written_only)
        if options.large_lot and kind in ("bars", "continuous"):
            check_relation(
                con,
                relation,
                contracts["large_lot"].renamed(relation),
                written_only and kind == "bars",
            )
    con.execute("drop table if exists affected")
    return built


def _build_profiles(
    con: duckdb.DuckDBPyConnection, value_area_pct: float, partial: bool
) -> list[tuple[str, str]]:
    """Fill the temporary ``int_value_area_grain`` and refresh ``profile_session`` and
    ``profile_session_summary`` (in an incremental build, the affected sessions only)."""
    developing_value_area(con, value_area_pct)
    summary_params = {"value_area_pct": value_area_pct}
    for relation, sql_params in (
        ("profile_session", {}),
        ("profile_session_summary", summary_params),
    ):
        sql = render(f"marts/{relation}.sql")
        if partial:
            con.execute(
                f"delete from {relation} using affected, sessions"
                " where sessions.session_start = affected.from_start"
                f" and {relation}.instrument_id = affected.instrument_id"
                f" and {relation}.symbol = affected.symbol"
                f" and {relation}.session_date >= sessions.session_date"
            )
            con.execute(f"insert into {relation} {sql}", sql_params)
        else:
            con.execute(f"create or replace table {relation} as {sql}", sql_params)
    return [("profile_session", "profile"), ("profile_session_summary", "profile")]


def grain_nanoseconds(frequencies: Iterable[Frequency]) -> int:
    """The finest grain every interval is a whole number of: their greatest common divisor."""
    return math.gcd(*(f.nanoseconds for f in frequencies))


def _build_grains(
    con: duckdb.DuckDBPyConnection,
    frequencies: Sequence[Frequency],
    options: FlowOptions,
    partial: bool,
    event_bars: Sequence[EventBars] = (),
) -> None:
    """Fill the temporary ``int_bar_grain`` and ``int_level_grain``.

    With ``event_bars`` (tick, volume or range bar sets), whose trades are numbered in trade
    order a session at a time (``int_event_flow``), the level grains are aggregated from those
    numbered trades by plain aggregates, whose state is one row per grain and price, with
    nothing to sort, together with each set's (:func:`fill_flow_grains`); the bar grains are
    rolled up from them. Otherwise ``int_trade_flow`` is a view over the trades, unless the
    tick rule or the large-lot filter needs windows over an instrument's whole history: then
    it is a temporary table. Each piece of a session (whole grains, about ``RANGE_ROWS``
    trades) is aggregated by its own statement, so a build sorts a bounded number of trades at
    once and its memory does not grow with the history loaded.
    """
    from_flow = bool(event_bars)
    whole_history = options.whole_history and not from_flow
    if whole_history:
        flow = render(
            "intermediate/int_trade_flow.sql",
            tick_rule=options.unknown_side == "tick-rule",
            large_lot=options.large_lot,
            partial=partial,
            one_session=False,
        )
        con.execute(f"create or replace temp table int_trade_flow as {flow}")
    grain = {
        "grain_ns": grain_nanoseconds(frequencies),
        "from_flow": from_flow,
        "session_bounds": not from_flow,
        "one_session": not whole_history and not from_flow,
        "tick_rule": False,
        "partial": partial,
    }
    bar_grain = render(
        "intermediate/int_bar_grain.sql",
        large_lot=options.large_lot,
        has_max_size=options.max_size is not None,
        analytics=True,
        **grain,
    )
    level_grain = render(
        "intermediate/int_level_grain.sql",
        large_lot=options.large_lot,
        has_max_size=options.max_size is not None,
        **grain,
    )
    if from_flow:
        # the level grains of the time bars and of every set, a session at a time; the bar
        # grains are rolled up from the level grains (int_bar_grain)
        fill_flow_grains(con, event_bars, options, partial, level_grain)
        con.execute(f"create or replace temp table int_bar_grain as {bar_grain}")
        return
    sessions = con.execute(
        render("intermediate/int_session_pieces.sql", partial=partial)
    ).fetchall()
    # Pieces of sessions that are whole grains, so no grain is split between two statements.
    cut = sized_ranges(con, "trades", sessions, step_seconds=grain["grain_ns"] // 10**9)
    pieces = [
        {"from_ts": start, "to_ts": end}
        | ({"session_date": day, "session_start_ns": start_ns} if not whole_history else {})
        for start, end, day, start_ns in cut
    ]
    # A piece of one session names the session, which its statement places the trades in.
    session = {} if whole_history else {"session_date": EPOCH.date(), "session_start_ns": 0}
    fill_by_ranges(con, "int_bar_grain", bar_grain, pieces, options.large_lot_params, session)
    fill_by_ranges(con, "int_level_grain", level_grain, pieces, placeholders=session)
    if whole_history:
        con.execute("drop table int_trade_flow")


def known_frequencies(con: duckdb.DuckDBPyConnection) -> list[Frequency]:
    return [
        Frequency(int(s)) for (s,) in con.execute("select seconds from bar_intervals").fetchall()
    ]
