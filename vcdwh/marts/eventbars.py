"""Tick, volume and range bars (``bars_<N>t``, ``bars_<N>v``, ``bars_<R>r``) and their footprints.

Tick bars are cut in SQL (every N trade records of an instrument's session in trade order).
Volume and range bars need a sequential pass over each session's trades: a bar's end depends
on where the previous one ended. That pass is numpy here (:func:`volume_bar_starts`,
:func:`range_bar_starts`: one vectorised search per bar, not a Python step per trade); it
writes each trade's bar number back (``event_bar_numbers``, in the flow's order), and SQL does
the rest: ``int_event_trades`` numbers every trade's bar, then the same ``int_bar_grain``,
``int_level_grain``, ``bars.sql`` and ``footprint.sql`` as the time bars aggregate them, one
grain per bar.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from vcdwh.errors import ConfigError
from vcdwh.instruments import SPECS, contract_root
from vcdwh.marts.barsets import developing_value_area, write_bar_set
from vcdwh.marts.frequency import EventBars, parse_event_bars
from vcdwh.marts.orderflow import FlowOptions
from vcdwh.warehouse.pieces import EPOCH, fill_by_ranges
from vcdwh.warehouse.settings import read_settings, write_settings
from vcdwh.warehouse.sqlrender import identifier, render

if TYPE_CHECKING:
    import duckdb

SETTINGS_KEY = "event_bars"


def volume_bar_starts(sizes: np.ndarray, size: int) -> np.ndarray:
    """The 0-based index of each volume bar's first trade in one session's trades.

    A bar closes with the trade that brings its volume to ≥ ``size`` (prints are never split).
    """
    cumulative = np.cumsum(sizes, dtype=np.int64)
    starts = [0]
    base = 0
    count = len(sizes)
    while True:
        last = int(np.searchsorted(cumulative, base + size, side="left"))
        if last >= count - 1:
            break
        starts.append(last + 1)
        base = int(cumulative[last])
    return np.asarray(starts, dtype=np.int64)


def range_bar_starts(prices: np.ndarray, limit: int) -> np.ndarray:
    """The 0-based index of each range bar's first trade in one session's trades.

    ``prices`` and ``limit`` are in the same integer units: a trade that would make the bar's
    high - low exceed ``limit`` opens the next bar.
    """
    starts = [0]
    first = 0
    count = len(prices)
    while first < count:
        window = 64
        opener = -1
        while True:
            part = prices[first : first + window]
            spread = np.maximum.accumulate(part) - np.minimum.accumulate(part)
            over = np.flatnonzero(spread > limit)
            if over.size:
                opener = first + int(over[0])
                break
            if first + window >= count:
                break
            window *= 4
        if opener < 0:
            break
        starts.append(opener)
        first = opener
    return np.asarray(starts, dtype=np.int64)


def _tick_nanos(symbol: str, prices: np.ndarray) -> int:
    """The root's tick in nano units, else the smallest gap between the session's prices."""
    root = contract_root(symbol)
    if root in SPECS:
        return int(Decimal(str(SPECS[root].tick_size)) * 1_000_000_000)
    gaps = np.diff(np.unique(prices))
    return int(gaps.min()) if gaps.size else 1


@dataclass(frozen=True)
class _Sessions:
    """Every session of ``int_event_flow`` as numpy arrays, in the flow's order: the sizes and
    nano-unit prices of its trades between ``edges[i]`` and ``edges[i + 1]``, its symbol."""

    sizes: np.ndarray
    prices: np.ndarray
    edges: list[int]
    symbols: list[str]


def _read_sessions(con: duckdb.DuckDBPyConnection) -> _Sessions:
    """Read ``int_event_flow`` once for the sequential passes of every volume and range set."""
    # the flow is written session by session in trade order: each session starts at trade_no 1
    # from a relation (con.execute would copy the rows first)
    table = con.sql(render("queries/event_flow_passes.sql")).to_arrow_table()
    trade_no = table.column("trade_no").to_numpy()
    symbols = [
        str(symbol)
        for (symbol,) in con.execute(
            "select symbol from int_event_flow where trade_no = 1 order by rowid"
        ).fetchall()
    ]
    return _Sessions(
        sizes=np.asarray(table.column("size").to_numpy(), dtype=np.int64),
        prices=decimal_units(table.column("price"), scale=9),
        edges=[*np.flatnonzero(trade_no == 1).tolist(), len(trade_no)],
        symbols=symbols,
    )


def decimal_units(column: pa.ChunkedArray, scale: int) -> np.ndarray:
    """A non-null Arrow DECIMAL column of at most 18 digits and that ``scale`` as its unscaled
    integers (a price of scale 9 in nano units), exactly: each value's 64-bit word, or of a
    128-bit value the low word, which holds all of a value of 18 digits in two's complement."""
    kind = column.type
    # decimal128, or the decimal64 of newer pyarrow (DuckDB with arrow_output_version 1.5)
    width = kind.byte_width if pa.types.is_decimal(kind) else 0
    wide = width == 16
    if not (
        width in (8, 16) and kind.precision <= 18 and kind.scale == scale and not column.null_count
    ):
        raise ValueError(f"expected non-null DECIMAL(18, {scale}) values, got {kind}")
    # the words of a 128-bit value are in the machine's byte order: the low one first on x86
    step, low = (2, 0 if sys.byteorder == "little" else 1) if wide else (1, 0)
    parts = [
        np.frombuffer(chunk.buffers()[1], dtype=np.int64)[
            step * chunk.offset + low : step * (chunk.offset + len(chunk)) : step
        ]
        for chunk in column.chunks
        if len(chunk)
    ]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def _write_bar_numbers(con: duckdb.DuckDBPyConnection, bars: EventBars, flow: _Sessions) -> None:
    """Run the sequential pass of every session: each trade's bar number in its session,
    written to ``event_bar_numbers`` one row per trade in the flow's order."""
    numbers = np.empty(len(flow.sizes), dtype=np.int64)
    for session, (lo, hi) in enumerate(itertools.pairwise(flow.edges)):
        if bars.kind == "v":
            starts = volume_bar_starts(flow.sizes[lo:hi], bars.size)
        else:
            tick = _tick_nanos(flow.symbols[session], flow.prices[lo:hi])
            starts = range_bar_starts(flow.prices[lo:hi], bars.size * tick)
        numbers[lo:hi] = np.searchsorted(starts, np.arange(hi - lo), side="right")
    frame = pd.DataFrame({"bar_index": numbers})
    con.register("event_bar_numbers_frame", frame)
    try:
        con.execute(
            "create or replace temp table event_bar_numbers as "
            "select bar_index from event_bar_numbers_frame"
        )
    finally:
        con.unregister("event_bar_numbers_frame")


def fill_event_flow(
    con: duckdb.DuckDBPyConnection,
    sets: Sequence[EventBars],
    options: FlowOptions,
    partial: bool,
) -> None:
    """Fill the temporary ``int_event_flow``: every trade to aggregate, numbered in trade order
    within its instrument's session, which the tick, volume and range bars are cut from (and the
    time grains of the same build aggregated from, ``vcdwh.marts.bars``).

    In an incremental build (``partial``, with the ``affected`` table) each affected
    instrument's trades from the open of the session its new trades start in: whole sessions,
    as these bars restart at every session open.
    """
    # As for the time bars: a statement per session, which it places the trades in, unless the
    # tick rule or the large-lot filter needs windows over an instrument's whole history.
    whole_history = options.whole_history
    flow = render(
        "intermediate/int_event_flow.sql",
        tick_rule=options.unknown_side == "tick-rule",
        large_lot=options.large_lot,
        partial=partial,
        one_session=not whole_history,
        # only the sequential pass of volume and range bars reads the flow back in order
        in_order=any(bars.kind != "t" for bars in sets),
    )
    if whole_history:
        con.execute(f"create or replace temp table int_event_flow as {flow}")
        return
    sessions = con.execute(
        render("intermediate/int_session_pieces.sql", partial=partial)
    ).fetchall()
    pieces = [
        {"from_ts": start, "to_ts": end, "session_date": day, "session_start_ns": start_ns}
        for start, end, day, start_ns in sessions
    ]
    placeholders = {"session_date": EPOCH.date(), "session_start_ns": 0}
    fill_by_ranges(con, "int_event_flow", flow, pieces, placeholders=placeholders)


def build_event_bars(
    con: duckdb.DuckDBPyConnection,
    sets: Sequence[EventBars],
    options: FlowOptions,
    partial: bool,
    footprint_params: dict[str, Any],
) -> list[tuple[str, str]]:
    """Refresh ``bars_<set>`` and ``footprint_<set>`` of each tick, volume or range bar set,
    from the ``int_event_flow`` that :func:`fill_event_flow` filled for the same ``sets``.

    Returns
    -------
    list of (relation, kind)
        The relations written, for the caller's contract checks.
    """
    if not sets:
        return []
    grain: dict[str, Any] = {
        "event": True,
        "grain_ns": 1,
        "session_bounds": False,
        "one_session": False,
        "tick_rule": False,
        "partial": partial,
    }
    checked: list[tuple[str, str]] = []
    flow_sessions: _Sessions | None = None
    for bars in sorted(set(sets)):
        if bars.kind != "t":
            flow_sessions = flow_sessions or _read_sessions(con)
            _write_bar_numbers(con, bars, flow_sessions)
        trades = render("intermediate/int_event_trades.sql", kind=bars.kind, size=bars.size)
        # a view: read once by each grain below, never written out
        con.execute(f"create or replace temp view int_event_trades as {trades}")
        level_grain = render(
            "intermediate/int_level_grain.sql",
            large_lot=options.large_lot,
            has_max_size=options.max_size is not None,
            **grain,
        )
        con.execute(
            f"create or replace temp table int_level_grain as {level_grain}",
            options.large_lot_params,
        )
        # rolled up from the level grains
        bar_grain = render(
            "intermediate/int_bar_grain.sql", large_lot=options.large_lot, analytics=True, **grain
        )
        con.execute(f"create or replace temp table int_bar_grain as {bar_grain}")
        # the developing value area as of each bar's last trade: the bars are the grains
        developing_value_area(con, options.value_area_pct)
        relation = identifier(bars.bars_relation)
        footprint = identifier(bars.footprint_relation)
        bars_sql = render(
            "marts/bars.sql",
            interval_ns=1,
            large_lot=options.large_lot,
            partial=partial,
            footprint=footprint,
            analytics=True,
            event=True,
        )
        footprint_sql = render(
            "marts/footprint.sql",
            interval_ns=1,
            ticks_per_level=options.ticks_per_level,
            event=True,
        )
        write_bar_set(con, relation, footprint, bars_sql, footprint_sql, footprint_params, partial)
        checked += [(relation, "bars"), (footprint, "footprint")]
    con.execute("drop view if exists int_event_trades")
    for temporary in ("int_event_flow", "event_bar_numbers"):
        con.execute(f"drop table if exists {temporary}")
    return checked


def stored_event_bars(con: duckdb.DuckDBPyConnection) -> list[EventBars]:
    """The tick, volume and range bar sets built before (kept in ``build_settings``).

    Raises
    ------
    ConfigError
        If the stored value cannot be read back.
    """
    value = read_settings(con).get(SETTINGS_KEY)
    if not value:
        return []
    try:
        return [parse_event_bars(item) for item in value.split(",")]
    except ConfigError as exc:
        raise ConfigError(
            f"build_settings holds an unreadable event_bars value ({exc}); "
            "pass --tick-bars/--volume-bars/--range-bars to `vcdwh build` again"
        ) from exc


def store_event_bars(con: duckdb.DuckDBPyConnection, sets: Sequence[EventBars]) -> None:
    """Keep the bar sets in ``build_settings`` so later builds refresh them too."""
    value = ",".join(b.name for b in sorted(set(sets)))
    if read_settings(con).get(SETTINGS_KEY, "") != value:
        write_settings(con, {SETTINGS_KEY: value})
