"""Invariants of the bars on generated trades (hypothesis)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import snapshot
from tests.helpers import Trade, write_raw_csv
from vcdwh.build import build_warehouse
from vcdwh.config import Settings

pytestmark = pytest.mark.slow

START = 1_709_852_400_000_000_000  # 2024-03-07 23:00:00 UTC, a session open

trade_lists = st.lists(
    st.builds(
        Trade,
        ts_ns=st.integers(0, 3 * 3600 * 10**9).map(lambda offset: START + offset),
        price=st.integers(20_000, 20_100).map(lambda q: q / 4),
        size=st.integers(1, 500),
        side=st.sampled_from("BBAAN"),
        instrument_id=st.sampled_from([1, 2]),
        sequence=st.integers(0, 2**32 - 1),
    ),
    min_size=1,
    max_size=60,
).map(lambda ts: sorted(ts, key=lambda t: (t.ts_ns, t.sequence)))


@contextlib.contextmanager
def _built(trades: list[Trade]) -> Iterator[tuple[Settings, str]]:
    """A warehouse built from the trades, in a folder removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="vcdwh-prop-") as name:
        folder = Path(name)
        path = write_raw_csv(folder / "t.csv", trades)
        settings = Settings(folder, folder / "w.duckdb")
        build_warehouse(settings, [path])
        yield settings, str(path)


def _bar_totals_equal_trade_totals(con: duckdb.DuckDBPyConnection, trades: list[Trade]) -> None:
    for instrument in (1, 2):
        mine = [t for t in trades if t.instrument_id == instrument]
        buy = sum(t.size for t in mine if t.side == "B")
        sell = sum(t.size for t in mine if t.side == "A")
        unknown = sum(t.size for t in mine if t.side == "N")
        row = con.execute(
            "select coalesce(sum(delta), 0), coalesce(sum(volume), 0),"
            " coalesce(sum(unknown_volume), 0), max_by(cumulative_delta, bar_start),"
            " coalesce(sum(trades), 0) from bars_1min where instrument_id = $i",
            {"i": instrument},
        ).fetchone()
        assert row is not None
        assert row[0] == buy - sell
        assert row[1] == buy + sell + unknown
        assert row[2] == unknown
        assert row[3] == (buy - sell if mine else None)
        assert row[4] == len(mine)
    broken = con.execute(
        "select count(*) from bars_1min where volume <> buy_volume + sell_volume + unknown_volume"
    ).fetchone()
    assert broken == (0,)


def _5min_bars_equal_the_aggregation_of_1min_bars(con: duckdb.DuckDBPyConnection) -> None:
    rolled = con.execute(
        """
        select instrument_id, time_bucket(interval 5 minute, bar_start::timestamp) as b,
               arg_min(open, bar_start), max(high), min(low), arg_max(close, bar_start),
               sum(volume)::bigint, sum(buy_volume)::bigint, sum(sell_volume)::bigint,
               sum(unknown_volume)::bigint, sum(delta)::bigint, max_by(cumulative_delta, bar_start),
               sum(trades)::bigint
        from bars_1min group by all order by 1, 2
        """
    ).fetchall()
    five = con.execute(
        "select instrument_id, bar_start::timestamp, open, high, low, close, volume, buy_volume,"
        " sell_volume, unknown_volume, delta, cumulative_delta, trades from bars_5min order by 1, 2"
    ).fetchall()
    assert rolled == five


# One build per example checks both: bar totals equal trade totals, and 5min bars are the
# aggregation of the 1min bars.
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trade_lists)
def test_bars_total_the_trades_and_5min_bars_aggregate_the_1min_bars(trades):
    with _built(trades) as (settings_, _):
        con = duckdb.connect(str(settings_.db_path), read_only=True)
        try:
            _bar_totals_equal_trade_totals(con, trades)
            _5min_bars_equal_the_aggregation_of_1min_bars(con)
        finally:
            con.close()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trade_lists)
def test_building_twice_changes_nothing(trades):
    with _built(trades) as (settings_, path):
        before = snapshot(settings_.db_path)
        build_warehouse(settings_, [path])
        after = snapshot(settings_.db_path)
    before.pop("bar_intervals"), after.pop("bar_intervals")
    assert before == after


# --------------------------------------------------------------------------- order flow

SYMBOLS = {1: "ESH4", 2: "ESM4", 3: "ESH4-ESM4"}
flow_trades = st.lists(
    st.builds(
        Trade,
        ts_ns=st.integers(0, 30 * 3600 * 10**9).map(lambda offset: START + offset),
        price=st.integers(20_000, 20_040).map(lambda q: q / 4),
        size=st.integers(1, 50),
        side=st.sampled_from("BBAAN"),
        instrument_id=st.sampled_from([1, 2, 3]),
        sequence=st.integers(0, 3),
    ),
    min_size=1,
    max_size=80,
).map(lambda ts: sorted(ts, key=lambda t: (t.ts_ns, t.sequence)))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_trades, st.sampled_from(["exclude", "tick-rule"]), st.sampled_from([None, 20]))
def test_order_flow_invariants(trades, unknown_side, min_size):
    from tests.helpers import write_pretty_csv
    from vcdwh.marts.orderflow import FlowOverrides

    with tempfile.TemporaryDirectory(prefix="vcdwh-flow-") as name:
        folder = Path(name)
        path = write_pretty_csv(folder / "t.csv", trades, SYMBOLS)
        store = Settings(folder, folder / "w.duckdb")
        build_warehouse(
            store,
            [path],
            ["1min", "1h"],
            flow=FlowOverrides(unknown_side=unknown_side, min_size=min_size or 0),
        )
        con = duckdb.connect(str(store.db_path), read_only=True)
        try:
            for interval in ("1min", "1h"):
                bars, fp = f"bars_{interval}", f"footprint_{interval}"
                # delta_low <= min(open, close) <= max(open, close) <= delta_high, both reset modes
                assert con.execute(f"""
                    select count(*) from {bars}
                    where not (delta_low <= least(delta_open, delta_close)
                               and greatest(delta_open, delta_close) <= delta_high
                               and session_delta_low <= least(session_delta_open, session_delta_close)
                               and greatest(session_delta_open, session_delta_close)
                                   <= session_delta_high
                               and min_delta <= delta and delta <= max_delta)
                """).fetchone() == (0,)
                # footprint totals == bar totals, one POC per bar
                assert con.execute(f"""
                    select count(*) from {bars} b full join (
                        select instrument_id, symbol, bar_start, sum(ask_volume) ask,
                               sum(bid_volume) bid, sum(unknown_volume) unk, sum(volume) vol,
                               count(*) filter (where poc) pocs
                        from {fp} group by all
                    ) f using (instrument_id, symbol, bar_start)
                    where f.ask is distinct from b.buy_volume or f.bid is distinct from b.sell_volume
                       or f.unk is distinct from b.unknown_volume or f.vol is distinct from b.volume
                       or f.pocs <> 1
                """).fetchone() == (0,)
                # continuous bars are a subset of the instrument bars (same bar, same contract)
                assert con.execute(f"""
                    select count(*) from {bars}_continuous c
                    where not exists (
                        select 1 from {bars} b
                        where b.symbol = c.contract and b.instrument_id = c.instrument_id
                          and b.bar_start = c.bar_start and b.volume = c.volume
                          and b.delta = c.delta and b.close = c.close)
                       or c.contract like '%-%'
                """).fetchone() == (0,)
                if min_size:
                    assert con.execute(f"""
                        select count(*) from {bars}
                        where large_buy_volume > buy_volume or large_sell_volume > sell_volume
                    """).fetchone() == (0,)
            # the tick rule only ever moves side-N volume into buy/sell
            total = sum(t.size for t in trades)
            assert con.execute("select sum(volume) from bars_1min").fetchone() == (total,)
            if unknown_side == "exclude":
                unknown = sum(t.size for t in trades if t.side == "N")
                assert con.execute("select sum(unknown_volume) from bars_1min").fetchone() == (
                    unknown,
                )
        finally:
            con.close()
