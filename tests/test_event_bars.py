"""Tick, volume and range bars: crafted tapes, an independent recomputation, incremental builds."""

from __future__ import annotations

import collections
import itertools
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import (
    Trade,
    mart_differences,
    ns,
    profile_tick,
    reference_value_area,
    sample_week_parts,
    write_pretty_csv,
)
from vcdwh.backtest.engine import simulate
from vcdwh.backtest.inputs import load_inputs
from vcdwh.backtest.params import BacktestParams
from vcdwh.backtest.run import run_backtest
from vcdwh.backtest.sweep import SweepSpec, run_sweep
from vcdwh.build import build_warehouse
from vcdwh.cli import cli
from vcdwh.config import Settings
from vcdwh.errors import BacktestError, ConfigError
from vcdwh.marts.eventbars import (
    bar_numbers,
    decimal_units,
    flow_sessions,
    numbered_flow,
    range_bar_starts,
    trade_order,
    volume_bar_starts,
)
from vcdwh.marts.frequency import EventBars, parse_bar_set, parse_event_bars, parse_frequency
from vcdwh.marts.orderflow import FlowOverrides
from vcdwh.sample import generate_sample

OPEN_A = ns("2024-03-06 23:00:00")  # opens the session of 2024-03-07 (17:00 CT)
OPEN_B = ns("2024-03-07 23:00:00")  # opens the session of 2024-03-08
SECOND = 1_000_000_000
CORE = (
    "session_date, bar_index, bar_start, bar_end, complete, open, high, low, close, volume, "
    "buy_volume, sell_volume, unknown_volume, delta, cumulative_delta, session_cumulative_delta, "
    "trades, max_delta, min_delta, buy_trades, sell_trades"
)


def _build(settings: Settings, tmp_path: Path, trades: list[Trade], *sets: str) -> None:
    path = write_pretty_csv(tmp_path / "tape.csv", trades, {1: "ESH4"})
    build_warehouse(settings, [path], ["1min"], event_bars=list(sets))


def _rows(query, relation: str, columns: str) -> list[tuple]:
    return query(f"select {columns} from {relation} order by session_date, bar_index")


def _d(text: str) -> Decimal:
    return Decimal(text).quantize(Decimal("0.000000001"))


def test_tick_bars_given_two_sessions_restart_and_mark_the_short_last_bar(
    settings, tmp_path, query
):
    # Arrange: 5 trades in one session, 3 in the next; 2 trades a bar.
    trades = [
        Trade(OPEN_A + 1 * SECOND, 100.00, 1, "B"),
        Trade(OPEN_A + 2 * SECOND, 100.25, 2, "A"),
        Trade(OPEN_A + 2 * SECOND, 100.50, 3, "B", sequence=1),
        Trade(OPEN_A + 3 * SECOND, 100.25, 4, "N"),
        Trade(OPEN_A + 4 * SECOND, 100.00, 5, "A"),
        Trade(OPEN_B + 1 * SECOND, 101.00, 1, "B"),
        Trade(OPEN_B + 2 * SECOND, 101.25, 1, "B"),
        Trade(OPEN_B + 3 * SECOND, 101.50, 1, "A"),
    ]
    # Act
    _build(settings, tmp_path, trades, "2t")
    rows = _rows(
        query,
        "bars_2t",
        "session_date, bar_index, complete, trades, open, close, volume, delta, "
        "cumulative_delta, session_cumulative_delta, epoch_ns(bar_start), epoch_ns(bar_end)",
    )
    # Assert
    day_a, day_b = date(2024, 3, 7), date(2024, 3, 8)
    assert rows == [
        (day_a, 1, True, 2, _d("100"), _d("100.25"), 3, -1, -1, -1, OPEN_A + SECOND,
         OPEN_A + 2 * SECOND),
        (day_a, 2, True, 2, _d("100.5"), _d("100.25"), 7, 3, 2, 2, OPEN_A + 2 * SECOND,
         OPEN_A + 3 * SECOND),
        (day_a, 3, False, 1, _d("100"), _d("100"), 5, -5, -3, -3, OPEN_A + 4 * SECOND,
         OPEN_A + 4 * SECOND),
        (day_b, 1, True, 2, _d("101"), _d("101.25"), 2, 2, -1, 2, OPEN_B + SECOND,
         OPEN_B + 2 * SECOND),
        (day_b, 2, False, 1, _d("101.5"), _d("101.5"), 1, -1, -2, 1, OPEN_B + 3 * SECOND,
         OPEN_B + 3 * SECOND),
    ]  # fmt: skip
    # The footprint holds the same bars, level by level.
    assert query(
        "select bar_index, price, bid_volume, ask_volume, unknown_volume from footprint_2t "
        "where session_date = '2024-03-07' order by bar_index, price"
    ) == [
        (1, _d("100"), 0, 1, 0),
        (1, _d("100.25"), 2, 0, 0),
        (2, _d("100.25"), 0, 0, 4),
        (2, _d("100.5"), 0, 3, 0),
        (3, _d("100"), 5, 0, 0),
    ]


def test_volume_bars_given_prints_never_split_close_at_or_beyond_n(settings, tmp_path, query):
    # Arrange: N = 5 contracts; sizes 2, 2, 7 | 9 | 1, 4 | 1.
    sizes = [2, 2, 7, 9, 1, 4, 1]
    trades = [Trade(OPEN_A + (i + 1) * SECOND, 100.0, s, "B") for i, s in enumerate(sizes)]
    # Act
    _build(settings, tmp_path, trades, "5v")
    # Assert: a bar closes with the trade that brings it to >= 5, however far beyond.
    assert _rows(query, "bars_5v", "bar_index, volume, trades, complete") == [
        (1, 11, 3, True),  # 2 + 2 + 7: the third print takes it from 4 to 11
        (2, 9, 1, True),  # one print of 9 is a bar on its own
        (3, 5, 2, True),  # exactly N
        (4, 1, 1, False),  # the session's last, short
    ]


def test_range_bars_given_exactly_r_ticks_stay_and_r_plus_one_opens_the_next(
    settings, tmp_path, query
):
    # Arrange: R = 2 ticks of ES (0.50).
    prices = [100.00, 100.25, 100.50, 100.75, 100.50, 100.25, 100.00]
    trades = [Trade(OPEN_A + (i + 1) * SECOND, p, 1, "A") for i, p in enumerate(prices)]
    # Act
    _build(settings, tmp_path, trades, "2r")
    # Assert
    assert _rows(query, "bars_2r", "bar_index, open, high, low, close, trades, complete") == [
        # 100.00 .. 100.50 is exactly 2 ticks: one bar; 100.75 would make it 3
        (1, _d("100"), _d("100.5"), _d("100"), _d("100.5"), 3, True),
        # 100.75 .. 100.25 is 2 ticks; 100.00 would make it 3
        (2, _d("100.75"), _d("100.75"), _d("100.25"), _d("100.25"), 3, True),
        (3, _d("100"), _d("100"), _d("100"), _d("100"), 1, False),
    ]


def test_tick_bars_given_the_large_lot_filter_carry_the_large_lot_columns(
    settings, tmp_path, query
):
    # Arrange: large lots are aggressor events of at least 5 contracts.
    trades = [
        Trade(OPEN_A + 1 * SECOND, 100.00, 6, "B"),
        Trade(OPEN_A + 2 * SECOND, 100.25, 2, "A"),
        Trade(OPEN_A + 3 * SECOND, 100.50, 7, "A"),
        Trade(OPEN_A + 4 * SECOND, 100.25, 1, "B"),
    ]
    path = write_pretty_csv(tmp_path / "tape.csv", trades, {1: "ESH4"})
    # Act
    build_warehouse(settings, [path], ["1min"], flow=FlowOverrides(min_size=5), event_bars=["2t"])
    # Assert
    assert _rows(
        query, "bars_2t", "bar_index, large_buy_volume, large_sell_volume, large_cumulative_delta"
    ) == [(1, 6, 0, 6), (2, 0, 7, -1)]


def test_event_bar_passes_given_arrays_cut_where_the_rules_say():
    assert volume_bar_starts(np.array([2, 2, 7, 9, 1, 4, 1]), 5).tolist() == [0, 3, 4, 6]
    assert volume_bar_starts(np.array([5]), 5).tolist() == [0]
    assert range_bar_starts(np.array([0, 1, 2, 3, 2, 1, 0]), 2).tolist() == [0, 3, 6]
    long_walk = np.arange(1000)
    assert range_bar_starts(long_walk, 500).tolist() == [0, 501]


def _session_flows(*fields: st.SearchStrategy[int], most: int) -> dict[str, Any]:
    """Hypothesis strategies for a session's flow: ``trades``, each an instrument and ``fields``;
    whether its rows come shuffled (``shuffle``, ``shuffled_rows``) or in trade order, as DuckDB
    usually reads them from a table; and where its two chunks meet (``cut``)."""
    # two instruments sharing an id under different symbols are two sessions
    instruments = st.sampled_from([(1, "ESH4"), (2, "ESM4"), (2, "ESU4")])
    return {
        "trades": st.lists(st.tuples(instruments, *fields), max_size=most),
        "shuffle": st.randoms(use_true_random=False),
        "shuffled_rows": st.booleans(),
        "cut": st.integers(0, most),
    }


def _walked_bar_numbers(trades: list[tuple[int, Decimal]], kind: str, size: int) -> list[int]:
    """Each trade's bar number, one trade at a time: the rules as docs/order-flow.md words them
    (an ES tick is 0.25)."""
    numbers, bar, volume, high, low = [], 1, 0, None, None
    for trade_size, price in trades:
        if kind == "v":
            numbers.append(bar)
            volume += trade_size
            if volume >= size:
                bar, volume = bar + 1, 0
        else:
            if high is not None and max(high, price) - min(low, price) > size * Decimal("0.25"):
                bar, high, low = bar + 1, None, None
            high = price if high is None else max(high, price)
            low = price if low is None else min(low, price)
            numbers.append(bar)
    return numbers


@given(**_session_flows(st.integers(1, 40), st.integers(-12, 12), most=80))
def test_bar_numbers_given_a_flow_in_any_row_order_follow_each_instruments_trade_order(
    trades, shuffle, shuffled_rows, cut
):
    # Arrange: the trades of one session in trade order, numbered per instrument; the trade
    # order is (ts_ns, sequence, position), with ties on the first two
    rows, counts = [], collections.Counter()
    for i, ((instrument_id, symbol), trade_size, ticks) in enumerate(trades):
        counts[instrument_id, symbol] += 1
        price = Decimal("5000") + ticks * Decimal("0.25")
        order = (i // 7, i // 3, i)
        rows.append(
            (instrument_id, symbol, counts[instrument_id, symbol], trade_size, price, order)
        )
    shuffled = shuffle.sample(rows, len(rows)) if shuffled_rows else rows
    flow = pa.table(
        {
            "instrument_id": pa.array([r[0] for r in shuffled], pa.uint32()),
            "symbol": pa.array([r[1] for r in shuffled], pa.string()),
            "ts_ns": pa.array([r[5][0] for r in shuffled], pa.int64()),
            "sequence": pa.array([r[5][1] for r in shuffled], pa.uint32()),
            "position": pa.array([r[5][2] for r in shuffled], pa.int64()),
            "size": pa.array([r[3] for r in shuffled], pa.int64()),
            "price": pa.array([r[4] for r in shuffled], pa.decimal128(18, 9)),
        }
    )
    # in two chunks, as DuckDB hands a result over in batches
    flow = pa.concat_tables([flow.slice(0, cut), flow.slice(cut)])
    for kind, size in (("v", 60), ("r", 4)):
        # Act
        numbers = bar_numbers(EventBars(kind, size), flow_sessions(flow, trade_order(flow)))
        # Assert
        expected = {}
        for key in counts:
            in_order = [r for r in rows if (r[0], r[1]) == key]
            walked = _walked_bar_numbers([(r[3], r[4]) for r in in_order], kind, size)
            expected |= {(key, r[2]): n for r, n in zip(in_order, walked, strict=True)}
        got = {((r[0], r[1]), r[2]): int(n) for r, n in zip(shuffled, numbers, strict=True)}
        assert got == expected


# the trade order: (ts_ns, sequence), ties broken by position (the list's order)
@given(**_session_flows(st.integers(0, 5), st.integers(0, 2), st.integers(-30, 30), most=60))
def test_numbered_flow_given_rows_in_any_order_numbers_each_instruments_trades_in_trade_order(
    trades, shuffle, shuffled_rows, cut
):
    # Arrange: a session's flow in file order, then shuffled or sorted on the trade order
    rows = [
        (instrument_id, symbol, ts_ns, sequence, position, signed)
        for position, ((instrument_id, symbol), ts_ns, sequence, signed) in enumerate(trades)
    ]
    if shuffled_rows:
        rows = shuffle.sample(rows, len(rows))
    else:
        rows = sorted(rows, key=lambda r: r[2:5])
    columns = ["instrument_id", "symbol", "ts_ns", "sequence", "position", "signed_size"]
    types = [pa.uint32(), pa.string(), pa.int64(), pa.uint32(), pa.int64(), pa.int64()]
    flow = pa.table(
        {
            name: pa.array([r[i] for r in rows], kind)
            for i, (name, kind) in enumerate(zip(columns, types, strict=True))
        }
    )
    flow = pa.concat_tables([flow.slice(0, cut), flow.slice(cut)])
    # Act
    numbered = numbered_flow(flow, trade_order(flow))
    # Assert: each instrument's trades walked in trade order, one by one
    expected = {}
    for key in {(r[0], r[1]) for r in rows}:
        running = 0
        in_order = sorted((r for r in rows if (r[0], r[1]) == key), key=lambda r: r[2:5])
        for number, r in enumerate(in_order, start=1):
            running += r[5]
            expected[r[4]] = (number, running)
    got = numbered.to_pydict()
    assert "sequence" not in got and "position" not in got
    assert {
        r[4]: (no, run)
        for r, no, run in zip(rows, got["trade_no"], got["session_running"], strict=True)
    } == expected


def test_numbered_flow_given_sequences_past_the_signed_range_orders_them_unsigned():
    flow = pa.table(
        {
            "instrument_id": pa.array([1, 1, 1], pa.uint32()),
            "symbol": ["ESH4", "ESH4", "ESH4"],
            "ts_ns": pa.array([5, 5, 5], pa.int64()),
            "sequence": pa.array([2**63 + 1, 7, 2**64 - 1], pa.uint64()),
            "position": pa.array([0, 1, 2], pa.int64()),
            "signed_size": pa.array([1, 2, -4], pa.int64()),
        }
    )

    numbered = numbered_flow(flow, trade_order(flow)).to_pydict()

    assert numbered["trade_no"] == [2, 1, 3]
    assert numbered["session_running"] == [3, 2, -1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1000t", EventBars("t", 1000)), ("500V", EventBars("v", 500)), (" 8r ", EventBars("r", 8))],
)
def test_parse_event_bars_given_sets_names_their_relations(text, expected):
    parsed = parse_event_bars(text)
    assert parsed == expected
    assert parsed.bars_relation == f"bars_{expected.name}"
    assert parse_bar_set(text) == expected
    assert parse_bar_set("5min") == parse_frequency("5min")


def test_parse_frequency_given_t_no_longer_reads_minutes():
    with pytest.raises(ConfigError, match="not a bar interval"):
        parse_frequency("5t")
    with pytest.raises(ConfigError, match="bar size must be from 1"):
        parse_event_bars("0v")


def test_build_given_bad_bar_size_is_a_usage_error(settings):
    result = CliRunner().invoke(
        cli, ["--data-dir", str(settings.data_dir), "build", "--volume-bars", "0"]
    )
    assert result.exit_code == 2
    assert "--volume-bars" in result.output


# ----------------------------------------------------------------- independent recomputation


def _python_bars(trades: pd.DataFrame, kind: str, size: int) -> pd.DataFrame:
    """Tick, volume or range bars, trade by trade in plain Python (no numpy pass, no SQL).

    The tick is ES's 0.25 for an outright, the smallest gap between a session's prices for a
    calendar spread.
    """
    rows = []
    cumulative: dict[str, int] = {}
    for (_, symbol, session_date), group in trades.groupby(
        ["instrument_id", "symbol", "session_date"], sort=True
    ):
        prices_seen = sorted(set(group["price"]))
        gaps = [b - a for a, b in itertools.pairwise(prices_seen)]
        tick = 0.25 if "-" not in symbol else (min(gaps) if gaps else 1.0)
        session_delta = 0
        bars: list[list[dict]] = []
        current: list[dict] = []
        for trade in group.to_dict("records"):
            if current:
                if kind == "t":
                    opens = len(current) >= size
                elif kind == "v":
                    opens = sum(t["size"] for t in current) >= size
                else:
                    prices = [t["price"] for t in current] + [trade["price"]]
                    opens = round((max(prices) - min(prices)) / tick) > size
                if opens:
                    bars.append(current)
                    current = []
            current.append(trade)
        bars.append(current)
        for index, bar in enumerate(bars, start=1):
            signed = [t["size"] if t["side"] == "B" else -t["size"] if t["side"] == "A" else 0
                      for t in bar]  # fmt: skip
            running = np.cumsum(signed)
            delta = int(running[-1])
            prices = [t["price"] for t in bar]
            cumulative[symbol] = cumulative.get(symbol, 0) + delta
            session_delta += delta
            rows.append(
                {
                    "session_date": session_date,
                    "bar_index": index,
                    "bar_start": bar[0]["ts_ns"],
                    "bar_end": bar[-1]["ts_ns"],
                    "complete": index < len(bars),
                    "open": bar[0]["price"],
                    "high": max(t["price"] for t in bar),
                    "low": min(t["price"] for t in bar),
                    "close": bar[-1]["price"],
                    "volume": sum(t["size"] for t in bar),
                    "delta": delta,
                    "cumulative_delta": cumulative[symbol],
                    "session_cumulative_delta": session_delta,
                    "trades": len(bar),
                    "max_delta": int(running.max()),
                    "min_delta": int(running.min()),
                    # the delta after the trade that first printed the bar's high / low
                    "delta_since_high": delta - int(running[prices.index(max(prices))]),
                    "delta_since_low": delta - int(running[prices.index(min(prices))]),
                }
            )
    return pd.DataFrame(rows)


# the loaded trades placed in their sessions, in trade order
SESSION_TRADES = (
    "from trades t asof join sessions s on t.ts_recv >= s.session_start"
    " order by t.instrument_id, t.symbol, s.session_date, t.ts_recv, t.sequence, t.position"
)


def _read(settings: Settings, *queries: str) -> list[tuple[list[tuple], list[str]]]:
    """Each query's rows and column names, read from the warehouse read-only."""
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        results = []
        for sql in queries:
            cursor = con.execute(sql)
            results.append((cursor.fetchall(), [d[0] for d in cursor.description]))
        return results
    finally:
        con.close()


@pytest.fixture(name="sample_week", scope="module")
def fixture_sample_week(tmp_path_factory) -> Settings:
    folder = tmp_path_factory.mktemp("week")
    generate_sample(folder, days=5, start=date(2024, 3, 4), seed=11, trades_per_day=1500)
    settings = Settings(folder, folder / "w.duckdb")
    build_warehouse(settings, [], ["1min"], event_bars=["50t", "200v", "6r", "500v"])
    return settings


@pytest.mark.parametrize(("kind", "size"), [("t", 50), ("v", 200), ("r", 6)])
def test_event_bars_given_the_sample_week_match_a_python_recomputation_row_by_row(
    sample_week, kind, size
):
    # Arrange: the loaded trades, placed in their sessions, in trade order.
    columns = CORE.replace("bar_start,", "epoch_ns(bar_start) as bar_start,").replace(
        "bar_end,", "epoch_ns(bar_end) as bar_end,"
    )
    trades, built = (
        pd.DataFrame(rows, columns=names)
        for rows, names in _read(
            sample_week,
            "select t.instrument_id, t.symbol, s.session_date, epoch_ns(t.ts_recv) as ts_ns,"
            " t.sequence, t.position, t.price::double as price, t.size, t.side"
            f" {SESSION_TRADES}",
            f"select {columns}, delta_since_high, delta_since_low, symbol, instrument_id"
            f" from bars_{size}{kind} order by instrument_id, symbol, session_date, bar_index",
        )
    )
    assert trades["symbol"].str.startswith("ES").all()
    # Act
    expected = _python_bars(trades, kind, size)
    # Assert: every row, every core column.
    assert len(built) == len(expected)
    for column in expected.columns:
        got = built[column].to_numpy()
        want = expected[column].to_numpy()
        if column in ("open", "high", "low", "close"):
            assert np.array_equal(got.astype(float), want.astype(float)), column
        elif column == "session_date":
            assert [pd.Timestamp(x).date() for x in got] == [pd.Timestamp(x).date() for x in want]
        else:
            assert np.array_equal(got.astype("int64"), want.astype("int64")), column
    assert (built["buy_trades"] + built["sell_trades"] <= built["trades"]).all()


@pytest.mark.parametrize(("kind", "size"), [("t", 50), ("v", 200), ("r", 6)])
def test_event_bar_developing_levels_given_the_sample_week_are_those_of_the_trades_up_to_the_bar(
    sample_week, kind, size
):
    # Arrange: each session's trades in trade order, and its bars with their trade counts.
    (trades, _), (bars, _) = _read(
        sample_week,
        f"select t.instrument_id, t.symbol, s.session_date, t.price, t.size {SESSION_TRADES}",
        "select instrument_id, symbol, session_date, trades, session_poc, session_vah,"
        f" session_val from bars_{size}{kind}"
        " order by instrument_id, symbol, session_date, bar_index",
    )
    sessions: dict[tuple, list[tuple[Decimal, int]]] = {}
    for instrument, symbol, day, price, traded in trades:
        sessions.setdefault((instrument, symbol, day), []).append((price, traded))
    # Act / Assert: bar by bar, the profile of the session's trades up to the bar's last trade.
    seen: dict[tuple, int] = {}
    for instrument, symbol, day, count, poc, vah, val in bars:
        key = (instrument, symbol, day)
        seen[key] = end = seen.get(key, 0) + count
        levels: dict[Decimal, int] = {}
        for price, traded in sessions[key][:end]:
            levels[price] = levels.get(price, 0) + traded
        want = reference_value_area(levels, profile_tick(symbol, list(levels)), 70)[:3]
        assert (poc, vah, val) == want, (symbol, day, end)
    assert len(bars) > 100


# ----------------------------------------------------------------- backtests


def test_backtest_given_volume_bars_walks_bars_500v(sample_week):
    # Act
    result = run_backtest(
        sample_week, BacktestParams(frequency="500v", threshold=20, reset="session")
    )
    # Assert: the run walked every 500v bar of its instrument and entered at their starts.
    con = duckdb.connect(str(sample_week.db_path), read_only=True)
    try:
        starts = {
            pd.Timestamp(start)
            for (start,) in con.execute(
                "select bar_start from bars_500v where symbol = $symbol", {"symbol": result.symbol}
            ).fetchall()
        }
        [(relation,)] = con.execute(
            "select bars_relation from backtest_runs where run_id = $id", {"id": result.run_id}
        ).fetchall()
    finally:
        con.close()
    assert relation == "bars_500v"
    assert result.bar_count == len(starts) > 0
    assert result.trades
    # (the run's trade times are shown to the second)
    seconds = {start.floor("s") for start in starts}
    assert {pd.Timestamp(t["entry_time"]) for t in result.trades} <= seconds
    assert {pd.Timestamp(t["exit_time"]) for t in result.trades} <= seconds


def _run_trades(db: Path, run_id: int, columns: str) -> list[tuple]:
    """``columns`` of a stored run's trades, in order."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            f"select {columns} from backtest_trades where run_id = $id order by trade_no",
            {"id": run_id},
        ).fetchall()
    finally:
        con.close()


def _split_order_tape() -> list[Trade]:
    """3-trade bars where bar 2 opens inside a timestamp: bar 1 ends with the first of two orders
    at 3 s (a buy at 5000.50), bar 2 opens with the second (a sell at 4999.25)."""
    at = [OPEN_A + k * SECOND for k in range(9)]
    return [
        Trade(at[1], 5000.00, 10, "B", sequence=1),
        Trade(at[2], 5000.25, 10, "B", sequence=2),
        Trade(at[3], 5000.50, 10, "B", sequence=3),  # bar 1's close: a long opens here
        Trade(at[3], 4999.25, 1, "A", sequence=4),  # bar 2's open: 5 ticks below the fill
        Trade(at[4], 4999.00, 1, "A", sequence=5),
        Trade(at[5], 5000.00, 1, "B", sequence=6),
        Trade(at[6], 5000.25, 1, "B", sequence=7),  # bar 3
        Trade(at[7], 5000.50, 1, "B", sequence=8),
        Trade(at[8], 5000.75, 1, "B", sequence=9),
    ]


def test_backtest_given_tick_bars_and_a_stop_reads_the_tape_from_the_trade_after_the_entry_bar(
    settings, tmp_path
):
    # Arrange: long at bar 1's close (5000.50) with a 4-tick stop (4999.50); the first trade
    # after bar 1 shares its timestamp and prints 4999.25.
    _build(settings, tmp_path, _split_order_tape(), "3t")
    params = BacktestParams(frequency="3t", symbol="ESH4", threshold=20, stop_ticks=4)
    # Act
    result = run_backtest(settings, params)
    # Assert: stopped by that very trade (gapped through the stop), inside bar 2.
    rows = _run_trades(
        settings.db_path,
        result.run_id,
        "epoch_ns(entry_time), entry_price, epoch_ns(exit_time), exit_price, exit_reason",
    )
    assert rows[0] == (OPEN_A + SECOND, 5000.50, OPEN_A + 3 * SECOND, 4999.25, "stop")


def test_walk_given_a_stop_on_a_bars_last_trade_exits_in_that_bar_not_the_next_one(
    settings, tmp_path
):
    # Arrange: 3-trade bars; a long opens at bar 2's open (next-open, 5000.50) with a 1-tick stop
    # (5000.25), hit by bar 2's last trade at 6 s, whose timestamp bar 3 opens at too.
    at = [OPEN_A + k * SECOND for k in range(9)]
    trades = [
        Trade(at[1], 5000.00, 10, "B", sequence=1),
        Trade(at[2], 5000.25, 10, "B", sequence=2),
        Trade(at[3], 5000.50, 10, "B", sequence=3),
        Trade(at[4], 5000.50, 1, "B", sequence=4),  # bar 2
        Trade(at[5], 5000.75, 1, "B", sequence=5),
        Trade(at[6], 5000.25, 1, "A", sequence=6),  # the stop
        Trade(at[6], 5000.25, 1, "A", sequence=7),  # bar 3
        Trade(at[7], 5000.00, 1, "A", sequence=8),
        Trade(at[8], 5000.00, 1, "A", sequence=9),
    ]
    _build(settings, tmp_path, trades, "3t")
    params = BacktestParams(
        frequency="3t", symbol="ESH4", threshold=20, stop_ticks=1, entry="next-open"
    )
    # Act
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        inputs = load_inputs(con, params)
        walked = simulate(inputs).walk
    finally:
        con.close()
    # Assert: bar 3 starts one trade into 6 s, where bar 2 ends; the stop closes bar 2's position.
    bounds = inputs.bars.bounds
    assert bounds is not None
    assert bounds.start_rank.tolist() == [0, 0, 1]
    assert (int(bounds.end_ns[1]), int(bounds.end_rank[1])) == (at[6], 1)
    assert walked.entries[0] == 1 and walked.exits[0] == 1
    assert walked.exit_reason[0] == "stop"
    assert walked.exit_price[0] == 5000.25 and walked.exit_ns[0] == at[6]
    # bar 2's close is free again, and its long signal opens the next position at bar 3's open
    assert walked.entries.tolist() == [1, 2]


def test_backtest_given_stops_on_bars_whose_trades_changed_since_the_build_asks_for_a_build(
    settings, tmp_path
):
    # Arrange: a trade is deleted after the build (by hand, as another program could).
    _build(settings, tmp_path, _split_order_tape(), "3t")
    con = duckdb.connect(str(settings.db_path))
    con.execute("delete from trades where sequence = 5")
    con.close()
    params = BacktestParams(frequency="3t", symbol="ESH4", threshold=20, stop_ticks=4)
    # Act / Assert
    with pytest.raises(BacktestError, match=r"bars_3t of ESH4 do not cut .* run `vcdwh build`"):
        run_backtest(settings, params)


def test_backtest_given_stops_on_an_instrument_traded_under_two_symbols_names_them(
    settings, tmp_path
):
    # Arrange: instrument 1 is ESH4 in one file and ESZ4 in another, their trades interleaved
    # in one session: its tape holds both, each symbol's bars one.
    a = [
        Trade(OPEN_A + k * SECOND, 5000.0 + 0.25 * (k % 3), 1, "B", sequence=k)
        for k in range(1, 20, 2)
    ]
    b = [
        Trade(OPEN_A + k * SECOND, 5000.0 + 0.25 * (k % 3), 1, "A", sequence=k)
        for k in range(2, 20, 2)
    ]
    files = [
        write_pretty_csv(tmp_path / "a.csv", a, {1: "ESH4"}),
        write_pretty_csv(tmp_path / "b.csv", b, {1: "ESZ4"}),
    ]
    build_warehouse(settings, files, ["1min"], event_bars=["3t"])
    params = BacktestParams(frequency="3t", symbol="ESH4", threshold=0, stop_ticks=4)
    # Act / Assert
    with pytest.raises(BacktestError, match=r"instrument 1 carry 2 symbols \(ESH4, ESZ4\)"):
        run_backtest(settings, params)


def test_tape_exits_on_volume_bars_agree_with_an_independent_scan_of_the_trades(sample_week):
    # Every exit is re-derived from the trades table numbered in trade order: the bars of the
    # instrument cut that sequence (their `trades` in bar order), so a close fill's tape starts
    # after its bar's last trade number; a stop or target exit is the first trade beyond its
    # level from there; a bar exit saw no such trade up to its bar's last trade.
    params = BacktestParams(
        frequency="500v", threshold=20, contracts=1, side="both", stop_ticks=6, target_ticks=10
    )
    result = run_backtest(sample_week, params)
    con = duckdb.connect(str(sample_week.db_path), read_only=True)
    [(instrument,)] = con.execute(
        "select distinct instrument_id from bars_500v where symbol = $s", {"s": result.symbol}
    ).fetchall()
    tape = con.execute(
        "select epoch_ns(ts_recv), price::double from trades where instrument_id = $i"
        " order by ts_recv, sequence, position",
        {"i": instrument},
    ).fetchall()
    bars = con.execute(
        "select epoch_ns(bar_start), trades from bars_500v where instrument_id = $i"
        " order by bar_start",
        {"i": instrument},
    ).fetchall()
    con.close()
    rows = _run_trades(
        sample_week.db_path,
        result.run_id,
        "direction, epoch_ns(entry_time), entry_price, epoch_ns(exit_time), exit_price, "
        "exit_reason",
    )
    ends = list(itertools.accumulate(count for _, count in bars))
    last_trade = {start: end for (start, _), end in zip(bars, ends, strict=True)}
    assert sum(b[1] for b in bars) == len(tape)
    # the set has bars that open inside a timestamp, so the check reaches them
    firsts = [end - count for end, (_, count) in zip(ends, bars, strict=True)]
    assert any(tape[i][0] == tape[i - 1][0] for i in firsts if i > 0)
    reasons = set()
    for direction, entry_ns, entry, exit_ns, exit_price, reason in rows:
        sign = 1 if direction == "long" else -1
        stop, target = entry - sign * 6 * 0.25, entry + sign * 10 * 0.25
        after = tape[last_trade[entry_ns] :]
        hit_stop = next((t for t in after if sign * (t[1] - stop) <= 0), None)
        hit_target = next((t for t in after if sign * (t[1] - target) > 0), None)
        reasons.add(reason)
        if reason == "stop":
            assert hit_stop is not None and hit_stop[0] == exit_ns
            assert hit_target is None or hit_target[0] >= exit_ns
            assert exit_price == (min if sign > 0 else max)(stop, hit_stop[1])
        elif reason == "target":
            assert hit_target is not None and hit_target[0] == exit_ns and exit_price == target
            assert hit_stop is None or hit_stop[0] > exit_ns
        else:
            seen = tape[last_trade[entry_ns] : last_trade[exit_ns]]
            assert all(sign * (t[1] - stop) > 0 and sign * (t[1] - target) <= 0 for t in seen)
    assert {"stop", "target"} <= reasons


def test_sweep_on_volume_bars_with_stops_gives_each_run_the_single_backtests_trades(
    sample_week, tmp_path
):
    # Arrange: a copy of the week; a sweep over two thresholds with a stop and a target.
    db = tmp_path / "w.duckdb"
    db.write_bytes(sample_week.db_path.read_bytes())
    settings = Settings(sample_week.data_dir, db)
    base = BacktestParams(frequency="500v", contracts=1, stop_ticks=6, target_ticks=10)
    # Act
    sweep = run_sweep(
        settings, SweepSpec(thresholds=(20.0, 40.0), frequencies=("500v",), base=base)
    )
    singles = {t: run_backtest(settings, replace(base, threshold=t)).run_id for t in (20.0, 40.0)}
    # Assert
    assert sweep.runs == 2
    for row in sweep.rows:
        swept = _run_trades(db, row["run_id"], "* exclude (run_id)")
        assert swept == _run_trades(db, singles[row["threshold"]], "* exclude (run_id)")
        assert swept


def test_backtest_cli_given_frequency_500v_runs_on_the_volume_bars(sample_week):
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(sample_week.data_dir), "--db", str(sample_week.db_path), "backtest",
         "--frequency", "500v", "--threshold", "20"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "500v bars" in result.output


def test_sweep_given_a_volume_bar_set_accepts_it():
    spec = SweepSpec(thresholds=(10.0,), frequencies=("500V", "1min")).validated()
    assert spec.frequencies == ("500v", "1min")


# ----------------------------------------------------------------- incremental == full


def test_incremental_builds_of_event_bars_equal_one_full_build(tmp_path):
    # Arrange: a sample week cut in three files mid-session.
    parts = sample_week_parts(tmp_path)
    sets = ["40t", "150v", "5r"]
    step = Settings(tmp_path / "step", tmp_path / "step" / "w.duckdb")
    step.data_dir.mkdir()
    full = Settings(tmp_path / "full", tmp_path / "full" / "w.duckdb")
    full.data_dir.mkdir()
    # Act: the sets are kept, so later builds refresh them without the options.
    modes = [build_warehouse(step, [parts[0]], event_bars=sets).bars_mode]
    modes += [build_warehouse(step, [part]).bars_mode for part in parts[1:]]
    build_warehouse(full, parts, event_bars=sets)
    # Assert
    assert modes == ["full", "incremental", "incremental"]
    marts = [f"{kind}_{name}" for name in sets for kind in ("bars", "footprint")]
    assert mart_differences(step.db_path, full.db_path, marts) == dict.fromkeys(marts, 0)
    held = _read(step, *(f"select count(*) from {mart}" for mart in marts))
    assert all(rows[0][0] > 0 for rows, _ in held)


@pytest.mark.parametrize(
    ("flow", "files_per_build"),
    [
        # a first build, then incremental ones that refresh the kept sets
        (FlowOverrides(), 1),
        # the large-lot filter: windows over an instrument's whole history, built incrementally
        (FlowOverrides(min_size=5), 1),
        # the tick rule: every build is a full one, so all files go to one
        (FlowOverrides(unknown_side="tick-rule", min_size=5), 3),
    ],
    ids=["incremental", "large-lot-incremental", "tick-rule"],
)
def test_time_bars_given_event_bar_sets_equal_those_built_without(tmp_path, flow, files_per_build):
    # Arrange: with bar sets the time grains are aggregated from the numbered flow of those sets.
    parts = sample_week_parts(tmp_path)
    with_sets = Settings(tmp_path / "sets", tmp_path / "sets" / "w.duckdb")
    with_sets.data_dir.mkdir()
    without = Settings(tmp_path / "none", tmp_path / "none" / "w.duckdb")
    without.data_dir.mkdir()
    # Act
    first, later = parts[:files_per_build], parts[files_per_build:]
    build_warehouse(with_sets, first, ["1min", "5min"], flow=flow, event_bars=["40t", "150v"])
    modes = [build_warehouse(with_sets, [part]).bars_mode for part in later]
    build_warehouse(without, parts, ["1min", "5min"], flow=flow)
    # Assert
    assert modes == ["incremental"] * len(later)
    marts = [
        f"{kind}_{interval}" for interval in ("1min", "5min") for kind in ("bars", "footprint")
    ] + ["bars_1min_continuous", "profile_session", "profile_session_summary"]
    assert mart_differences(with_sets.db_path, without.db_path, marts) == dict.fromkeys(marts, 0)
    unknown = _read(without, "select count(*) from trades where side = 'N'")[0][0][0][0]
    assert unknown > 0  # the tick rule has sides to classify


def test_backtest_given_tick_bars_inside_one_timestamp_explains_that_bars_need_distinct_starts(
    settings, tmp_path
):
    # Ten fills of one aggressive order share ts_recv: 2-trade bars start at the same timestamp.
    trades = [Trade(OPEN_A + SECOND, 5000.0, 1, "B", sequence=7) for _ in range(10)]
    trades.append(Trade(OPEN_A + 2 * SECOND, 5000.25, 1, "A", sequence=8))
    _build(settings, tmp_path, trades, "2t")
    params = BacktestParams(frequency="2t", symbol="ESH4")
    with pytest.raises(BacktestError, match="bars_2t: 4 bar\\(s\\) of ESH4 start at the same"):
        run_backtest(settings, params)


@given(
    units=st.lists(st.integers(-(10**18) + 1, 10**18 - 1), max_size=40),
    cut=st.integers(0, 40),
    skip=st.integers(0, 3),
)
def test_decimal_units_given_any_18_digit_prices_reads_their_exact_nano_units(units, cut, skip):
    # Arrange: DECIMAL(18, 9) prices as DuckDB hands them over, in two chunks, the second a
    # slice that starts inside its buffer
    prices = [Decimal(unit).scaleb(-9) for unit in units]
    kind = pa.decimal128(18, 9)
    head = pa.array(prices[:cut], type=kind)
    tail = pa.array([Decimal(0)] * skip + prices[cut:], type=kind).slice(skip)
    column = pa.chunked_array([head, tail], type=kind)
    # Act
    read = decimal_units(column, scale=9)
    # Assert
    assert read.dtype == np.int64
    assert read.tolist() == units


def test_decimal_units_given_a_null_a_wider_decimal_or_another_scale_refuses_it():
    refused = [
        pa.array([Decimal("1.5"), None], pa.decimal128(18, 9)),
        pa.array([Decimal("1.5")], pa.decimal128(38, 9)),
        pa.array([Decimal("1.5")], pa.decimal128(18, 2)),
    ]
    for values in refused:
        with pytest.raises(ValueError, match=r"expected non-null DECIMAL\(18, 9\) values"):
            decimal_units(pa.chunked_array([values]), scale=9)


def test_decimal_units_given_decimal64_or_empty_chunks_reads_the_same_units():
    # Arrow's 64-bit decimals (DuckDB hands them over with arrow_output_version 1.5), and a
    # column whose chunks include empty ones
    prices = [Decimal("5123.250000000"), Decimal("-0.000000001"), Decimal("999999999.999999999")]
    narrow = pa.chunked_array(
        [pa.array([], pa.decimal64(18, 9)), pa.array(prices, pa.decimal64(18, 9))]
    )
    wide = pa.chunked_array(
        [pa.array(prices, pa.decimal128(18, 9)), pa.array([], pa.decimal128(18, 9))]
    )
    expected = [5123250000000, -1, 999999999999999999]
    assert decimal_units(narrow, scale=9).tolist() == expected
    assert decimal_units(wide, scale=9).tolist() == expected
