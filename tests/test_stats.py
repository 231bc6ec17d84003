"""Backtest statistics: one sign convention and one rule for every annualised ratio."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcdwh.backtest.stats import (
    ANNUALISED,
    MIN_SESSIONS,
    annualised_ratios,
    compute_stats,
    compute_trade_stats,
)
from vcdwh.backtest.text import METRIC_LABELS, format_metric, metric_rows
from vcdwh.backtest.walk import walk_futures

DAY = 86_400 * 10**9


def alternating_sessions(sessions: int, capital: float = 10_000.0) -> np.ndarray:
    """One bar per session; the sessions return +1 %, -0.5 %, +1 %, -0.5 %, …"""
    steps = np.where(np.arange(sessions) % 2 == 0, 1.01, 0.995)
    return capital * np.cumprod(steps)


def stats_of(equity: np.ndarray, pnls=(100.0, -50.0, 25.0, -30.0)) -> dict:
    n = len(equity)
    return compute_stats(
        pnls=list(pnls),
        bars_held=[1] * len(pnls),
        equity=equity,
        closes=np.linspace(100, 110, n),
        session_dates=np.arange(n),
        in_position=np.ones(n, bool),
        initial_capital=10_000,
    )


def test_annualised_ratios_given_twenty_alternating_sessions_match_the_hand_computation():
    # Returns: ten of +0.01 and ten of -0.005. Mean 0.0025; every return is 0.0075 from it.
    stats = stats_of(alternating_sessions(20))
    assert stats["sessions"] == 20
    # Sharpe: 0.0025 / (0.0075 x sqrt(20/19)) x sqrt(252) = sqrt(19 x 252 / 20) / 3.
    assert stats["sharpe"] == pytest.approx(math.sqrt(19 * 252 / 20) / 3, rel=1e-9)
    # Sortino: downside deviation sqrt(10 x 0.005² / 20) = 0.005 / sqrt(2); 0.0025 / it = 1/√2.
    assert stats["sortino"] == pytest.approx(math.sqrt(252 / 2), rel=1e-9)
    # Calmar: the equity grows 1.01 x 0.995 = 1.00495 per two sessions: 1.00495^10 over 20
    # sessions, annualised ^(252/20) = 1.00495^126; the worst fall is one -0.5 % session.
    assert stats["max_drawdown_pct"] == pytest.approx(-0.5, rel=1e-9)
    assert stats["calmar"] == pytest.approx((1.00495**126 - 1) / 0.005, rel=1e-9)


def test_loss_figures_given_crafted_trades_are_negative_and_hand_computed():
    stats = stats_of(alternating_sessions(20))
    assert stats["avg_win"] == pytest.approx(62.5)
    assert stats["avg_loss"] == pytest.approx(-40.0)
    assert stats["largest_win"] == 100 and stats["largest_loss"] == -50
    assert stats["profit_factor"] == pytest.approx(125 / 80)
    assert stats["expectancy"] == pytest.approx(11.25)
    # In money the last fall is the largest: -0.5 % of the peak after 9 pairs and one +1 %.
    assert stats["max_drawdown"] == pytest.approx(-10_000 * 1.00495**9 * 1.01 * 0.005)


def test_annualised_ratios_given_one_session_fewer_than_the_minimum_are_all_none():
    below = stats_of(alternating_sessions(MIN_SESSIONS - 1))
    at = stats_of(alternating_sessions(MIN_SESSIONS))
    assert below["sessions"] == MIN_SESSIONS - 1
    assert [below[name] for name in ANNUALISED] == [None, None, None]
    assert all(at[name] is not None for name in ANNUALISED)
    reason = f"n/a ({MIN_SESSIONS - 1} session(s); annualised ratios need {MIN_SESSIONS})"
    assert [format_metric(name, below) for name in ANNUALISED] == [reason] * 3


def test_annualised_ratios_given_enough_sessions_say_what_each_lacks():
    # 20 sessions without a trade: no variation, no losing session, no drawdown.
    flat = annualised_ratios(np.full(20, 10_000.0), np.arange(20), 10_000)
    assert (flat["sharpe"], flat["sortino"], flat["calmar"]) == (None, None, None)
    assert [format_metric(name, flat) for name in ANNUALISED] == [
        "n/a (session returns do not vary)",
        "n/a (no losing session)",
        "n/a (no drawdown)",
    ]


def test_annualised_ratios_take_one_return_per_session_whatever_the_bars():
    # Three bars a session: only each session's last bar counts.
    daily = alternating_sessions(20)
    intraday = np.repeat(daily, 3)
    intraday[0::3] = daily * 0.5  # an intraday fall that recovers by the session's close
    ratios = annualised_ratios(intraday, np.repeat(np.arange(20), 3), 10_000)
    reference = annualised_ratios(daily, np.arange(20), 10_000)
    assert ratios["sessions"] == 20
    assert ratios["sharpe"] == pytest.approx(reference["sharpe"])
    assert ratios["sortino"] == pytest.approx(reference["sortino"])
    # Calmar's drawdown is the worst fall at any bar, not only at session closes.
    assert ratios["calmar"] < reference["calmar"]


def test_calmar_given_a_ruined_account_annualises_a_total_loss():
    equity = np.concatenate([alternating_sessions(19), [0.0]])
    ratios = annualised_ratios(equity, np.arange(20), 10_000)
    assert ratios["calmar"] == pytest.approx(-1.0)


def test_format_metric_prints_money_with_the_sign_first_and_durations_like_the_cli():
    metrics = {"avg_loss": -40.0, "largest_win": 100.0, "avg_trade_duration_s": 7_500.0}
    assert format_metric("avg_loss", metrics) == "-$40.00"
    assert format_metric("largest_win", metrics) == "$100.00"
    assert format_metric("avg_trade_duration_s", metrics) == "2h 05m"
    assert format_metric("avg_trade_duration_s", {"avg_trade_duration_s": 97_200.0}) == (
        "1d 03h 00m"
    )


def test_metric_rows_label_every_stored_metric():
    stats = stats_of(alternating_sessions(20))
    stats.update(
        compute_trade_stats(
            [100.0, -50.0],
            [105.0, -45.0],
            [2.5, 2.5],
            [0.0, 0.0],
            np.array([0, DAY]),
            np.array([DAY // 2, 2 * DAY]),
            alternating_sessions(20),
            np.arange(20) * DAY,
            10_000,
            pnl_ticks=[8.0, -4.0],
            mae=[-10.0, -60.0],
            mfe=[120.0, 5.0],
        )
    )
    stats.update(ruined=False, ruin_time=None)
    assert set(stats) == set(METRIC_LABELS)
    rows = dict(metric_rows(stats))
    assert rows["Average Loss"] == "-$40.00"
    assert rows["Avg Loss (ticks)"] == "-4.0 ticks"
    assert rows["Avg Trade Duration"] == "18h 00m"
    assert rows["Sessions"] == "20"


trade_pnls = st.lists(st.floats(-5_000, 5_000, allow_nan=False), max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pnls=trade_pnls,
    steps=st.lists(st.floats(-0.05, 0.05, allow_nan=False), min_size=1, max_size=60),
    per_session=st.integers(1, 4),
)
def test_loss_figures_are_never_positive_and_ratios_need_the_minimum_sessions(
    pnls, steps, per_session
):
    equity = 10_000 * np.cumprod(1 + np.asarray(steps))
    sessions = np.arange(len(equity)) // per_session
    stats = stats_of(equity, pnls)
    assert stats["avg_loss"] <= 0 and stats["largest_loss"] <= 0
    assert stats["max_drawdown"] <= 0 and stats["max_drawdown_pct"] <= 0
    assert stats["avg_win"] >= 0 and stats["largest_win"] >= 0
    ratios = annualised_ratios(equity, sessions, 10_000)
    assert ratios["sessions"] == sessions[-1] + 1
    if ratios["sessions"] < MIN_SESSIONS:
        assert [ratios[name] for name in ANNUALISED] == [None, None, None]
    if ratios["sharpe"] is not None and ratios["sortino"] is not None:
        # Both scale the same mean return with the same factor: their signs agree.
        assert math.copysign(1, ratios["sharpe"]) == math.copysign(1, ratios["sortino"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    moves=st.lists(st.integers(-40, 40), min_size=2, max_size=80),
    signals=st.lists(st.sampled_from([-1, 0, 1]), min_size=80, max_size=80),
    side=st.sampled_from(["long", "short", "both"]),
    slippage=st.sampled_from([0.0, 1.0]),
)
def test_a_futures_walk_gives_negative_losses_and_positive_costs(moves, signals, side, slippage):
    close = 5_000 + 0.25 * np.cumsum(moves)
    n = len(close)
    sessions = np.arange(n) // 3
    w = walk_futures(
        close,
        close + 0.5,
        close - 0.5,
        np.asarray(signals[:n], np.int8),
        sessions,
        side=side,
        tick_size=0.25,
        multiplier=50.0,
        slippage_ticks=slippage,
        commission=2.5,
    )
    stats = compute_stats(w.pnl, w.bars_held, w.equity, close, sessions, w.in_position, 10_000)
    stats.update(
        compute_trade_stats(
            w.pnl,
            w.gross_pnl,
            w.commission,
            w.slippage,
            w.entry_ns,
            w.exit_ns,
            w.equity,
            np.arange(n) * 60 * 10**9,
            10_000,
            pnl_ticks=w.pnl_ticks,
            mae=w.mae,
            mfe=w.mfe,
        )
    )
    for name in ("avg_loss", "largest_loss", "max_drawdown", "max_drawdown_pct"):
        assert stats[name] <= 0, name
    for name in ("avg_loss_ticks", "avg_mae", "worst_mae"):
        assert stats[name] <= 0, name
    for name in ("avg_win", "largest_win", "avg_win_ticks", "avg_mfe", "best_mfe"):
        assert stats[name] >= 0, name
    assert stats["commissions_paid"] >= 0 and stats["slippage_paid"] >= 0
    assert stats["net_pnl"] == pytest.approx(
        stats["gross_pnl"] - stats["commissions_paid"] - stats["slippage_paid"], abs=1e-6
    )
    assert not any(
        format_metric(name, stats).startswith("$-") for name in METRIC_LABELS if name in stats
    )


def test_a_stored_run_from_before_the_sign_convention_gets_negative_losses(tmp_path):
    from vcdwh.warehouse.db import ensure_tables

    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    try:
        ensure_tables(con)
        columns = [
            name
            for (name, nullable) in con.execute(
                "select column_name, is_nullable from duckdb_columns()"
                " where table_name = 'backtest_metrics' and column_name <> 'run_id'"
            ).fetchall()
            if nullable is False
        ]
        values = ", ".join(f"1 as {c}" for c in columns)
        con.execute(f"insert into backtest_metrics by name select 7 as run_id, {values}")
        con.execute(
            "update backtest_metrics set avg_loss = 40, avg_loss_ticks = 4, sessions = null"
        )
        ensure_tables(con)
        assert con.execute("select avg_loss, avg_loss_ticks from backtest_metrics").fetchall() == [
            (-40.0, -4.0)
        ]
    finally:
        con.close()


def test_walkforward_given_an_annualised_metric_and_short_training_windows_refuses():
    from vcdwh.backtest.params import BacktestParams
    from vcdwh.backtest.sweep import SweepSpec
    from vcdwh.backtest.walkforward import WalkForwardSpec
    from vcdwh.errors import BacktestError

    grid = SweepSpec(thresholds=(100.0,), base=BacktestParams(contracts=1))
    for metric in ANNUALISED:
        with pytest.raises(BacktestError) as caught:
            WalkForwardSpec(grid, MIN_SESSIONS - 1, 1, metric=metric).validated()
        assert str(caught.value) == (
            f"--metric {metric} is annualised and n/a below {MIN_SESSIONS} sessions; "
            f"use --train-sessions {MIN_SESSIONS} or more, or another --metric"
        )
        assert WalkForwardSpec(grid, MIN_SESSIONS, 1, metric=metric).validated().metric == metric
