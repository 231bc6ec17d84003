"""Tick, volume and range bars (``bars_<N>t``, ``bars_<N>v``, ``bars_<R>r``) and their footprints.

Tick bars are cut in SQL (every N trade records of an instrument's session in trade order).
Volume and range bars need a sequential pass over each session's trades: a bar's end depends
on where the previous one ended. That pass is numpy here (:func:`volume_bar_starts`,
:func:`range_bar_starts`: one vectorised search per bar, not a Python step per trade); it
appends each trade's bar number to the session's flow (``event_flow_numbered``), and SQL does
the rest: ``int_event_trades`` numbers every trade's bar, then the same ``int_bar_grain``,
``int_level_grain``, ``bars.sql`` and ``footprint.sql`` as the time bars aggregate them, one
grain per bar.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vcdwh.errors import ConfigError
from vcdwh.instruments import SPECS, contract_root
from vcdwh.marts.barsets import developing_value_area, write_bar_set
from vcdwh.marts.frequency import EventBars, parse_event_bars
from vcdwh.marts.orderflow import FlowOptions
from vcdwh.warehouse.pieces import EPOCH, write_piece
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
class TradeOrder:
    """The trade order of one session's flow (``int_event_flow``), whose rows come in no
    promised order: ``order`` lists the flow's rows instrument by instrument, each in trade order
    (``ts_ns``, ``sequence``, ``position``); each instrument's trades run from ``edges[i]`` to
    ``edges[i + 1]`` of it."""

    order: np.ndarray
    edges: list[int]


def trade_order(flow: pa.Table) -> TradeOrder:
    """The trade order of a flow of one session. An instrument here is an ``instrument_id``
    under one ``symbol``; instruments come in the order they first appear.

    A flow read from ``trades`` in stored order is usually in trade order already: grouping its
    rows by instrument (a stable sort of small integers) and checking costs a fraction of a
    sort on the trade order, which runs only when the check fails.
    """
    symbols = pc.dictionary_encode(flow.column("symbol")).combine_chunks()
    instrument = flow.column("instrument_id").to_numpy().astype(np.int64)
    key = instrument * (len(symbols.dictionary) + 1) + symbols.indices.to_numpy()
    codes, uniques = pd.factorize(key)
    # numpy sorts 16-bit integers stably by radix, in linear time
    group = codes.astype(np.int16) if len(uniques) <= np.iinfo(np.int16).max else codes
    order = np.argsort(group, kind="stable")
    # in their own types: a sequence is unsigned 64-bit
    ts_ns, sequence, position = (
        flow.column(name).to_numpy() for name in ("ts_ns", "sequence", "position")
    )
    if not _ascending(group[order], ts_ns[order], sequence[order], position[order]):
        order = np.lexsort((position, sequence, ts_ns, group))
    counts = np.bincount(codes, minlength=len(uniques))
    return TradeOrder(order=order, edges=[0, *np.cumsum(counts).tolist()])


def _ascending(group: np.ndarray, *keys: np.ndarray) -> bool:
    """Whether each group's rows are in ascending order of ``keys`` (compared in turn)."""
    if len(group) < 2:
        return True
    later = np.zeros(len(group) - 1, dtype=bool)
    tied = np.ones(len(group) - 1, dtype=bool)
    for key in keys:
        later |= tied & (key[1:] > key[:-1])
        tied &= key[1:] == key[:-1]
    return bool(np.all(later | tied | (group[1:] != group[:-1])))


def numbered_flow(flow: pa.Table, trades: TradeOrder) -> pa.Table:
    """The flow with each trade's number in trade order within its instrument's session
    (``trade_no``, from 1) and the session's running delta after it (``session_running``), in
    place of the ``sequence`` and ``position`` that gave the order (``ts_ns`` stays: the time
    grains bucket it)."""
    count = len(trades.order)
    edges = np.asarray(trades.edges, dtype=np.int64)
    starts, counts = edges[:-1], edges[1:] - edges[:-1]
    numbers = np.empty(count, dtype=np.int64)
    numbers[trades.order] = np.arange(1, count + 1) - np.repeat(starts, counts)
    running = np.cumsum(
        np.asarray(flow.column("signed_size").to_numpy(), dtype=np.int64)[trades.order]
    )
    # each instrument's running delta starts again from its first trade
    before = np.concatenate((np.zeros(1, dtype=np.int64), running))[starts]
    in_rows = np.empty(count, dtype=np.int64)
    in_rows[trades.order] = running - np.repeat(before, counts)
    return (
        flow.drop_columns(["sequence", "position"])
        .append_column("trade_no", pa.array(numbers))
        .append_column("session_running", pa.array(in_rows))
    )


@dataclass(frozen=True)
class FlowSessions:
    """What the sequential passes read of one session's flow: the sizes and nano-unit prices of
    its rows in :class:`TradeOrder` (``order``), each instrument's from ``edges[i]`` to
    ``edges[i + 1]``, under ``symbols[i]``."""

    order: np.ndarray
    sizes: np.ndarray
    prices: np.ndarray
    edges: list[int]
    symbols: list[str]


def flow_sessions(flow: pa.Table, trades: TradeOrder) -> FlowSessions:
    """The instruments' sessions of a flow of one session in trade order, for the sequential
    passes of every volume and range set."""
    order = trades.order
    firsts = order[np.asarray(trades.edges[:-1], dtype=np.int64)]
    return FlowSessions(
        order=order,
        sizes=np.asarray(flow.column("size").to_numpy(), dtype=np.int64)[order],
        prices=decimal_units(flow.column("price"), scale=9)[order],
        edges=trades.edges,
        symbols=[str(symbol) for symbol in flow.column("symbol").take(firsts).to_pylist()],
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


def bar_numbers(bars: EventBars, flow: FlowSessions) -> np.ndarray:
    """Run the sequential pass of every instrument's session: each trade's bar number in its
    session (from 1), one per row of the flow, in the flow's row order."""
    numbers = np.empty(len(flow.sizes), dtype=np.int64)
    for session, (lo, hi) in enumerate(itertools.pairwise(flow.edges)):
        if bars.kind == "v":
            starts = volume_bar_starts(flow.sizes[lo:hi], bars.size)
        else:
            tick = _tick_nanos(flow.symbols[session], flow.prices[lo:hi])
            starts = range_bar_starts(flow.prices[lo:hi], bars.size * tick)
        numbers[lo:hi] = np.searchsorted(starts, np.arange(hi - lo), side="right")
    in_rows = np.empty_like(numbers)
    in_rows[flow.order] = numbers
    return in_rows


def _event_grain(options: FlowOptions, partial: bool) -> dict[str, Any]:
    """What ``int_level_grain.sql`` and ``int_bar_grain.sql`` are rendered with for a set: the
    grain is the bar."""
    return {
        "event": True,
        "grain_ns": 1,
        "session_bounds": False,
        "one_session": False,
        "tick_rule": False,
        "partial": partial,
        "large_lot": options.large_lot,
        "has_max_size": options.max_size is not None,
    }


def _level_table(bars: EventBars) -> str:
    """The temporary table of a set's level grains until its bars are built."""
    return identifier(f"int_level_grain_{bars.name}")


def fill_flow_grains(
    con: duckdb.DuckDBPyConnection,
    sets: Sequence[EventBars],
    options: FlowOptions,
    partial: bool,
    time_levels: str,
) -> None:
    """Fill the temporary level grains of the time bars (``int_level_grain``, from
    ``time_levels``: ``int_level_grain.sql`` rendered ``from_flow``) and of each tick, volume or
    range bar set (``int_level_grain_<set>``) from the trades numbered in trade order within
    their instrument's session (``int_event_flow`` and :func:`numbered_flow`).

    A session at a time: its trades are read into Arrow, numbered, and aggregated into the
    time grains and every set's (after the sequential pass of the volume and range sets, which
    appends each trade's bar number, ``event_flow_numbered``), then let go, so a build holds
    one session's numbered trades, not the whole history's. When the tick rule or the
    large-lot filter needs windows over an instrument's whole history, the flow of every
    session is written at once (``event_flow_history``) and read a session at a time. In an
    incremental build (``partial``, with the ``affected`` table) each affected instrument's
    trades from the open of the session its new trades start in: whole sessions, as these bars
    restart at every open.
    """
    ordered = sorted(set(sets))
    sequential = any(bars.kind != "t" for bars in ordered)
    whole_history = options.whole_history
    flow = render(
        "intermediate/int_event_flow.sql",
        tick_rule=options.unknown_side == "tick-rule",
        large_lot=options.large_lot,
        partial=partial,
        one_session=not whole_history,
    )
    set_levels = render("intermediate/int_level_grain.sql", **_event_grain(options, partial))
    # each target's level grains, and for a set the trades with their bar numbers they read
    targets: list[tuple[str, str, EventBars | None, str]] = [
        ("int_level_grain", time_levels, None, "")
    ]
    targets += [
        (
            _level_table(bars),
            set_levels,
            bars,
            render("intermediate/int_event_trades.sql", kind=bars.kind, size=bars.size),
        )
        for bars in ordered
    ]
    if whole_history:
        con.execute(f"create or replace temp table event_flow_history as {flow}")
        flow = render("queries/event_flow_session.sql")
    sessions = con.execute(
        render("intermediate/int_session_pieces.sql", partial=partial)
    ).fetchall()
    # an empty range when there is nothing to aggregate: the tables exist, empty
    nothing = [(EPOCH, EPOCH, EPOCH.date(), 0)]
    registered: set[str] = set()
    for i, (start, end, day, start_ns) in enumerate(sessions or nothing):
        piece = {"session_start_ns": start_ns}
        if not whole_history:
            piece |= {"from_ts": start, "to_ts": end, "session_date": day}
        read = con.sql(flow, params=piece).to_arrow_table()
        order = trade_order(read)
        passes = flow_sessions(read, order) if sequential else None
        session = numbered_flow(read, order)
        del read
        for target, levels, bars, trades in targets:
            if bars is None or bars.kind == "t":
                name, table = "int_event_flow", session
            else:
                assert passes is not None
                numbers = pa.array(bar_numbers(bars, passes))
                name, table = "event_flow_numbered", session.append_column("bar_index", numbers)
            _register_once(con, name, table)
            registered.add(name)
            if bars is not None:
                # a view, read once by the level grains (made once its tables are registered:
                # DuckDB resolves a view's names when it is created, and again when it is read)
                con.execute(f"create or replace temp view int_event_trades as {trades}")
            write_piece(con, target, levels, options.large_lot_params, first=i == 0)
    con.execute("drop view if exists int_event_trades")
    for name in registered:
        con.unregister(name)
    con.execute("drop table if exists event_flow_history")


def _register_once(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    """Make ``table`` readable as ``name`` by one scan, which lets go of each batch as it reads
    it. A session's numbered trades are Arrow outside the build's transaction, so each is freed
    once aggregated: a temporary table, or a registered view that holds them, is kept by the
    transaction until the commit (every session's at once)."""
    batches = table.to_batches()

    def handed_over() -> Iterator[pa.RecordBatch]:
        while batches:
            yield batches.pop(0)

    con.register(name, pa.RecordBatchReader.from_batches(table.schema, handed_over()))


def build_event_bars(
    con: duckdb.DuckDBPyConnection,
    sets: Sequence[EventBars],
    options: FlowOptions,
    partial: bool,
    footprint_params: dict[str, Any],
) -> list[tuple[str, str]]:
    """Refresh ``bars_<set>`` and ``footprint_<set>`` of each tick, volume or range bar set,
    from the level grains that :func:`fill_flow_grains` filled for the same ``sets`` (once
    the time bars, which read ``int_level_grain`` before, are built).

    Returns
    -------
    list of (relation, kind)
        The relations written, for the caller's contract checks.
    """
    checked: list[tuple[str, str]] = []
    for bars in sorted(set(sets)):
        # the set's level grains become int_level_grain, which the SQL below reads
        con.execute("drop table if exists int_level_grain")
        con.execute(f"alter table {_level_table(bars)} rename to int_level_grain")
        # the bar grains, rolled up from the level grains
        bar_grain = render(
            "intermediate/int_bar_grain.sql", analytics=True, **_event_grain(options, partial)
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
