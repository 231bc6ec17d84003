"""Invariants of the bars on generated trades (hypothesis)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import snapshot
from tests.helpers import Trade, write_raw_csv
from vcdwh.build import build_warehouse
from vcdwh.config import Settings

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


def _build(trades: list[Trade]) -> tuple[Settings, duckdb.DuckDBPyConnection, str]:
    folder = Path(tempfile.mkdtemp(prefix="vcdwh-prop-"))
    path = write_raw_csv(folder / "t.csv", trades)
    settings = Settings(folder, folder / "w.duckdb")
    build_warehouse(settings, [path])
    return settings, duckdb.connect(str(settings.db_path), read_only=True), str(path)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trade_lists)
def test_bar_totals_equal_trade_totals(trades):
    _, con, _ = _build(trades)
    try:
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
            assert row[0] == buy - sell
            assert row[1] == buy + sell + unknown
            assert row[2] == unknown
            assert row[3] == (buy - sell if mine else None)
            assert row[4] == len(mine)
        broken = con.execute(
            "select count(*) from bars_1min where volume <> buy_volume + sell_volume + unknown_volume"
        ).fetchone()[0]
        assert broken == 0
    finally:
        con.close()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trade_lists)
def test_5min_bars_equal_the_aggregation_of_1min_bars(trades):
    _, con, _ = _build(trades)
    try:
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
    finally:
        con.close()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trade_lists)
def test_building_twice_changes_nothing(trades):
    settings_, con, path = _build(trades)
    con.close()
    before = snapshot(settings_.db_path)
    build_warehouse(settings_, [path])
    after = snapshot(settings_.db_path)
    before.pop("bar_intervals"), after.pop("bar_intervals")
    assert before == after
