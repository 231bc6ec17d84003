"""Rolls and continuous front-month bars on `vcdwh sample` data; backtests across a roll."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pytest

from vcdwh.backtest.params import BacktestParams
from vcdwh.backtest.run import run_backtest
from vcdwh.backtest.walk import walk_signals
from vcdwh.build import build_warehouse
from vcdwh.config import Settings
from vcdwh.sample import generate_sample

SHARED_COLUMNS = (
    "bar_start, instrument_id, session_date, open, high, low, close, volume, buy_volume, "
    "sell_volume, unknown_volume, delta, session_cumulative_delta, trades, session_delta_open, "
    "session_delta_high, session_delta_low, session_delta_close, max_delta, min_delta, delta_pct, "
    "session_vwap, session_vwap_sd, session_poc, session_vah, session_val"
)


@pytest.fixture(name="week", scope="module")
def fixture_week(tmp_path_factory):
    """The default synthetic ES.FUT week (small), built once with 1min and 5min bars."""
    folder = tmp_path_factory.mktemp("week")
    settings = Settings(folder, folder / "vcdwh.duckdb")
    generate_sample(
        folder, symbol="ES.FUT", days=7, start=date(2024, 3, 3), seed=42, trades_per_day=3000
    )
    build_warehouse(settings)
    return settings


def _query(settings, sql, params=None):
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        return con.execute(sql, params or {}).fetchall()
    finally:
        con.close()


def test_rolls_given_sample_week_switch_once_at_the_roll_session(week):
    rows = _query(
        week,
        "select session_date::varchar, contract, rolled from rolls"
        " where root = 'ES' order by session_date",
    )
    assert rows == [
        ("2024-03-04", "ESH4", False),
        ("2024-03-05", "ESH4", False),
        ("2024-03-06", "ESH4", False),
        ("2024-03-07", "ESM4", True),
        ("2024-03-08", "ESM4", False),
    ]


def test_rolls_given_sample_week_pick_the_outright_with_most_volume_never_the_spread(week):
    # Independently: per session, the symbol without '-' with the most traded size.
    expected = _query(
        week,
        """
        select s.session_date, arg_max(v.symbol, v.volume)
        from sessions s join (
            select s2.session_date, t.symbol, sum(t.size) volume
            from trades t join sessions s2
              on t.ts_recv >= s2.session_start and t.ts_recv < s2.next_session_start
            where t.symbol not like '%-%'
            group by all
        ) v using (session_date)
        group by s.session_date order by 1
    """,
    )
    assert _query(week, "select session_date, contract from rolls order by 1") == expected
    assert _query(week, "select count(*) from rolls where contract like '%-%'") == [(0,)]
    # The spread does trade in every session, so it was a candidate that never won.
    assert _query(
        week, "select count(distinct session_date) from bars_1min where symbol = 'ESH4-ESM4'"
    ) == [(5,)]


@pytest.mark.parametrize("interval", ["1min", "5min"])
def test_continuous_bars_given_sample_week_equal_the_chosen_outrights(week, interval):
    bars, continuous = f"bars_{interval}", f"bars_{interval}_continuous"
    mine = _query(week, f"select contract, {SHARED_COLUMNS} from {continuous} order by bar_start")
    theirs = _query(
        week,
        f"""
        select b.symbol, {", ".join("b." + c.strip() for c in SHARED_COLUMNS.split(","))}
        from {bars} b join rolls r
          on r.session_date = b.session_date and r.contract = b.symbol
         and r.instrument_id = b.instrument_id
        order by b.bar_start""",
    )
    assert mine == theirs and len(mine) > 0
    assert {row[0] for row in mine} == {"ESH4", "ESM4"}


def test_continuous_cumulative_delta_given_roll_continues_and_session_resets(week):
    rows = _query(
        week,
        "select contract, session_date, delta, cumulative_delta,"
        " session_cumulative_delta, delta_open, delta_close"
        " from bars_1min_continuous order by bar_start",
    )
    running, previous_session, session_running, previous_close = 0, None, 0, 0
    for contract, session, delta, cumulative, session_cumulative, d_open, d_close in rows:
        running += delta
        session_running = delta + (session_running if session == previous_session else 0)
        assert (cumulative, session_cumulative) == (running, session_running), (contract, session)
        assert (d_open, d_close) == (previous_close, cumulative)
        previous_session, previous_close = session, cumulative
    # At the roll the series keeps running: ESM4's first bar opens at ESH4's last close,
    # not at ESM4's own cumulative delta.
    first_esm4 = _query(
        week,
        "select delta_open, cumulative_delta - delta from bars_1min_continuous"
        " where contract = 'ESM4' order by bar_start limit 1",
    )[0]
    last_esh4 = _query(
        week,
        "select cumulative_delta from bars_1min_continuous"
        " where contract = 'ESH4' order by bar_start desc limit 1",
    )[0][0]
    assert first_esm4 == (last_esh4, last_esh4)
    own = _query(
        week,
        "select cumulative_delta - delta from bars_1min where symbol = 'ESM4'"
        " and session_date = '2024-03-07' order by bar_start limit 1",
    )[0][0]
    assert own != last_esh4


def test_backtest_given_root_runs_on_continuous_series_and_never_spans_a_roll(week):
    result = run_backtest(week, BacktestParams(symbol="ES", threshold=50))
    runs = _query(
        week,
        "select symbol, bars_relation from backtest_runs where run_id = $r",
        {"r": result.run_id},
    )
    assert runs == [("ES", "bars_1min_continuous")]
    assert result.bar_count == _query(week, "select count(*) from bars_1min_continuous")[0][0]
    spans = _query(
        week,
        """
        select t.exit_reason, e.contract, x.contract
        from backtest_trades t
        join bars_1min_continuous e on e.bar_start = t.entry_time
        join bars_1min_continuous x on x.bar_start = t.exit_time
        where t.run_id = $r order by t.trade_no""",
        {"r": result.run_id},
    )
    assert spans and all(entry == exit_ for _, entry, exit_ in spans)
    # The last ESH4 bar closes any position held into the roll.
    last_esh4 = _query(
        week, "select max(bar_start) from bars_1min_continuous where contract = 'ESH4'"
    )[0][0]
    assert all(
        (reason == "roll") == (exit_time == last_esh4)
        for reason, exit_time in _query(
            week,
            "select exit_reason, exit_time from backtest_trades where run_id = $r",
            {"r": result.run_id},
        )
    )


def test_futures_backtest_given_root_trades_contracts_and_exits_at_the_roll(week):
    result = run_backtest(week, BacktestParams(symbol="ES", threshold=50, contracts=1, side="both"))
    assert _query(
        week,
        "select symbol, bars_relation, mode from backtest_runs where run_id = $r",
        {"r": result.run_id},
    ) == [("ES", "bars_1min_continuous", "futures")]
    trades = _query(
        week,
        """
        select t.contract, e.contract, x.contract, t.exit_reason
        from backtest_trades t
        join bars_1min_continuous e on e.bar_start = t.entry_time
        join bars_1min_continuous x on x.bar_start = t.exit_time
        where t.run_id = $r order by t.trade_no""",
        {"r": result.run_id},
    )
    assert trades and all(c == entry == exit_ for c, entry, exit_, _ in trades)
    assert {c for c, *_ in trades} == {"ESH4", "ESM4"}
    assert "roll" in {reason for *_, reason in trades}


def test_report_of_a_root_run_draws_the_continuous_series(week, tmp_path):
    pytest.importorskip("plotly")
    from vcdwh.report import write_report

    result = run_backtest(week, BacktestParams(symbol="ES", threshold=50, reset="session"))
    written = write_report(week, tmp_path / "es.html", run_id=result.run_id)
    bars = _query(week, "select count(*) from bars_1min_continuous")[0][0]
    assert written.summary.startswith(f"run {result.run_id}, {bars:,} bars, ")


# --------------------------------------------------------------------------- walk across a roll

CLOSES = np.array([100.0, 101.0, 102.0, 103.0, 104.0, 105.0])
OLD_NEW = np.array(["ESH4", "ESH4", "ESH4", "ESM4", "ESM4", "ESM4"], dtype=object)


def test_walk_given_position_open_at_roll_exits_at_last_bar_of_old_contract():
    walk = walk_signals(CLOSES, np.array([1, 0, 0, 0, 0, 0]), 0.1, 10_000, OLD_NEW)
    assert walk.entries.tolist() == [0] and walk.exits.tolist() == [2]
    assert walk.exit_reason == ["roll"]


def test_walk_given_buy_on_first_bar_of_new_contract_re_enters_there():
    walk = walk_signals(CLOSES, np.array([1, 1, 1, 1, 1, 1]), 0.1, 10_000, OLD_NEW)
    assert list(zip(walk.entries.tolist(), walk.exits.tolist(), strict=True)) == [(0, 2), (3, 5)]
    assert walk.exit_reason == ["roll", "end_of_data"]


def test_walk_given_buy_on_last_bar_of_old_contract_opens_nothing():
    walk = walk_signals(CLOSES, np.array([0, 0, 1, 0, 0, 0]), 0.1, 10_000, OLD_NEW)
    assert len(walk.entries) == 0 and walk.exit_reason == []
    # ... and the standing BUY does not carry over into the new contract.
    assert not walk.in_position.any()


def test_walk_given_sell_before_roll_exits_on_signal():
    walk = walk_signals(CLOSES, np.array([1, -1, 0, 1, 0, -1]), 0.1, 10_000, OLD_NEW)
    assert list(zip(walk.entries.tolist(), walk.exits.tolist(), strict=True)) == [(0, 1), (3, 5)]
    assert walk.exit_reason == ["signal", "signal"]


def test_walk_given_one_contract_is_unchanged_by_the_contract_column():
    signal = np.array([1, 0, -1, 1, 0, 0])
    plain = walk_signals(CLOSES, signal, 0.1, 10_000)
    same = walk_signals(CLOSES, signal, 0.1, 10_000, np.full(6, "ESH4", dtype=object))
    assert plain.exit_reason == same.exit_reason == ["signal", "end_of_data"]
    assert np.array_equal(plain.equity, same.equity)
