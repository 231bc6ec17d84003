"""Backtest: hand-computed walks, stored runs, the seed's printed block, the seed's Python API."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import ESH4_DERIVED
from tests.helpers import Trade, write_raw_csv
from vcdwh._version import __version__
from vcdwh.backtest.params import BacktestParams
from vcdwh.backtest.run import run_backtest
from vcdwh.backtest.stats import compute_stats
from vcdwh.backtest.walk import walk_signals
from vcdwh.cli import cli
from vcdwh.errors import BacktestError

B, S, _ = 1, -1, 0


def walk(closes, signals, size=0.1, capital=10_000.0):
    return walk_signals(np.array(closes, float), np.array(signals, np.int8), size, capital)


def test_walk_given_no_signal_makes_no_trade():
    w = walk([100, 101, 102], [_, _, _])
    assert len(w.entries) == 0
    assert list(w.equity) == [10_000, 10_000, 10_000]


def test_walk_given_one_round_trip_books_its_pnl():
    # BUY at 100 with 10% of 10,000 → 10 units; SELL at 110 → +100.
    w = walk([90, 100, 105, 110, 120], [_, B, _, S, _])
    assert list(w.entries) == [1] and list(w.exits) == [3]
    assert w.quantity[0] == pytest.approx(10.0)
    assert w.pnl[0] == pytest.approx(100.0)
    assert w.exit_reason == ["signal"]
    assert list(w.equity) == pytest.approx([10_000, 10_000, 10_050, 10_100, 10_100])
    assert list(w.in_position) == [False, False, True, True, False]


def test_walk_given_position_open_at_end_closes_at_last_close():
    w = walk([100, 100, 90], [B, _, _])
    assert list(w.exits) == [2] and w.exit_reason == ["end_of_data"]
    assert w.pnl[0] == pytest.approx(-100.0)
    assert w.equity[-1] == pytest.approx(9_900.0)


def test_walk_given_buy_on_first_bar_enters_at_first_close():
    w = walk([50, 55, 60], [B, _, S])
    assert list(w.entries) == [0]
    assert w.quantity[0] == pytest.approx(20.0)
    assert w.pnl[0] == pytest.approx(200.0)


def test_walk_given_repeated_buys_does_not_pyramid():
    w = walk([100, 101, 102, 103, 104], [B, B, B, S, B])
    assert list(w.entries) == [0] and list(w.exits) == [3]
    assert len(w.pnl) == 1


def test_walk_given_sell_while_flat_opens_no_short():
    w = walk([100, 99, 98], [S, S, _])
    assert len(w.entries) == 0
    assert w.equity[-1] == 10_000


def test_walk_given_buy_on_last_bar_opens_nothing():
    w = walk([100, 101], [_, B])
    assert len(w.entries) == 0


def test_walk_sizes_each_entry_from_current_capital():
    w = walk([100, 200, 100, 100], [B, S, B, S])
    # 10 units +1000 → capital 11,000; then 11 units at 100, flat exit.
    assert w.quantity[1] == pytest.approx(11.0)
    assert w.equity[-1] == pytest.approx(11_000.0)


def test_compute_stats_on_a_hand_computed_case():
    stats = compute_stats(
        pnls=[100.0, -50.0, 25.0],
        bars_held=[2, 1, 3],
        equity=np.array([10_000, 10_100, 10_050, 10_075.0]),
        closes=np.array([100, 110, 105, 120.0]),
        session_dates=np.array(["d1", "d1", "d2", "d3"]),
        in_position=np.array([False, True, True, False]),
        initial_capital=10_000,
    )
    assert stats["total_trades"] == 3 and stats["winning_trades"] == 2
    assert stats["win_rate_pct"] == pytest.approx(200 / 3)
    assert stats["avg_win"] == pytest.approx(62.5) and stats["avg_loss"] == pytest.approx(-50.0)
    assert stats["profit_factor"] == pytest.approx(2.5)
    assert stats["max_drawdown"] == pytest.approx(-50.0)
    assert stats["max_drawdown_pct"] == pytest.approx(-50 / 10_100 * 100)
    assert stats["expectancy"] == pytest.approx(25.0)
    assert stats["exposure_pct"] == pytest.approx(50.0)
    assert stats["avg_bars_held"] == pytest.approx(2.0)
    assert stats["largest_win"] == 100 and stats["largest_loss"] == -50
    assert stats["buy_hold_return_pct"] == pytest.approx(20.0)
    # Three sessions: too few to annualise (tests/test_stats.py covers the ratios).
    assert stats["sessions"] == 3 and stats["sharpe"] is None


def test_compute_stats_profit_factor_is_inf_without_losses_and_none_without_trades():
    base = dict(
        bars_held=[1],
        equity=np.array([10_010.0]),
        closes=np.array([1.0]),
        session_dates=np.array(["d"]),
        in_position=np.array([True]),
        initial_capital=1e4,
    )
    assert compute_stats(pnls=[10.0], **base)["profit_factor"] == math.inf
    assert compute_stats(pnls=[], **{**base, "bars_held": []})["profit_factor"] is None


# ----------------------------------------------------------------- through the warehouse

MINUTE = 60 * 10**9
T0 = 1_709_852_400_000_000_000  # 2024-03-07 23:00 UTC, a session open


def crafted(tmp_path, deltas_and_closes):
    """One trade per minute per (delta, close): a B trade of size delta or an A of -delta."""
    trades = [
        Trade(T0 + i * MINUTE, close, abs(delta), "B" if delta > 0 else "A")
        for i, (delta, close) in enumerate(deltas_and_closes)
    ]
    return write_raw_csv(tmp_path / "crafted.csv", trades)


def test_backtest_given_cumulative_delta_equal_to_threshold_makes_no_trade(
    tmp_path, build, settings
):
    build([crafted(tmp_path, [(300, 100.0), (200, 101.0), (-100, 102.0)])])  # cum 300, 500, 400
    result = run_backtest(settings, BacktestParams(threshold=500))
    assert result.metrics["total_trades"] == 0
    assert result.metrics["final_capital"] == 10_000


def test_backtest_through_sql_matches_hand_computation(tmp_path, build, settings, query):
    # cum delta: 600 (BUY @100), 700, -100, -600 (SELL @ 90), 0
    build(
        [crafted(tmp_path, [(600, 100.0), (100, 104.0), (-800, 95.0), (-500, 90.0), (600, 99.0)])]
    )
    result = run_backtest(settings, BacktestParams(threshold=500))
    assert result.metrics["total_trades"] == 1
    assert result.metrics["final_capital"] == pytest.approx(10_000 - 10 * 10)
    assert query(
        "select entry_price, exit_price, quantity, pnl, bars_held, exit_reason from backtest_trades"
    ) == [(100.0, 90.0, 10.0, -100.0, 3, "signal")]
    pnl, final, last_equity = query(
        "select (select sum(pnl) from backtest_trades), m.final_capital,"
        " (select max_by(equity, bar_start) from backtest_equity)"
        " from backtest_metrics m"
    )[0]
    assert pnl == pytest.approx(final - 10_000) and last_equity == pytest.approx(final)


def test_backtest_keeps_every_run(tmp_path, build, settings, query):
    build([crafted(tmp_path, [(600, 100.0), (-1200, 99.0)])])
    first = run_backtest(settings, BacktestParams(threshold=500))
    second = run_backtest(settings, BacktestParams(threshold=100, position_size=0.5))
    assert (first.run_id, second.run_id) == (1, 2)
    assert query(
        "select run_id, threshold, position_size, symbol, bar_count, vcdwh_version"
        " from backtest_runs order by run_id"
    ) == [(1, 500.0, 0.1, "1", 2, __version__), (2, 100.0, 0.5, "1", 2, __version__)]
    assert query("select count(*) from backtest_metrics") == [(2,)]


def test_backtest_golden_on_esh4_session(shared, build, settings):
    # Checked by hand from the bars: cumulative delta first exceeds +500 in the 23:22 bar
    # (close 4808.75) and never drops below -500, so the long is closed at the last close.
    build([shared / "derived" / f"{ESH4_DERIVED}.dbn.zst"])
    result = run_backtest(settings, BacktestParams())
    assert result.symbol == "ESH4" and result.bar_count == 60
    assert result.trades == [
        {
            "trade_no": 1,
            "entry_time": "2023-12-25 23:22:00",
            "entry_price": 4808.75,
            "exit_time": "2023-12-25 23:59:00",
            "exit_price": 4810.0,
            "quantity": pytest.approx(1000 / 4808.75, rel=1e-12),
            "pnl": pytest.approx(1.25 * 1000 / 4808.75, rel=1e-12),
            "bars_held": 37,
            "exit_reason": "end_of_data",
        }
    ]
    assert result.metrics["final_capital"] == pytest.approx(10_000 + 1250 / 4808.75, rel=1e-12)
    assert result.metrics["profit_factor"] == math.inf


def test_backtest_cli_given_position_size_prints_the_seed_block(shared, build, settings):
    build([shared / "derived" / f"{ESH4_DERIVED}.dbn.zst"])
    result = CliRunner().invoke(
        cli, ["--data-dir", str(settings.data_dir), "backtest", "--position-size", "0.1"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("run 1: ESH4 (most volume; choose with --symbol), 1min bars")
    assert lines[1:15] == [
        "=" * 60,
        "PERFORMANCE METRICS",
        "=" * 60,
        "Initial Capital:    $10000.00",
        "Final Capital:      $10000.26",
        "Total Return:       0.00%",
        "Total Trades:       1",
        "Winning Trades:     1",
        "Losing Trades:      0",
        "Win Rate:           100.00%",
        "Average Win:        $0.26",
        "Average Loss:       $0.00",
        "Profit Factor:      inf",
        "=" * 60,
    ]
    assert "Buy & Hold Return:" in result.output


def test_backtest_cli_json_and_errors(shared, build, settings):
    build([shared / "derived" / f"{ESH4_DERIVED}.dbn.zst"])
    runner = CliRunner()
    out = runner.invoke(
        cli, ["--data-dir", str(settings.data_dir), "backtest", "--json", "--threshold", "100000"]
    )
    data = json.loads(out.output)
    assert data["symbol"] == "ESH4" and data["metrics"]["total_trades"] == 0
    assert data["metrics"]["profit_factor"] is None
    bad = runner.invoke(cli, ["--data-dir", str(settings.data_dir), "backtest", "--symbol", "NQZ9"])
    assert bad.exit_code == 1
    assert bad.output == (
        "Error: --symbol 'NQZ9' is not loaded; choose one of: ESH4"
        " (or a root for its continuous series: ES)\n"
    )
    missing = runner.invoke(cli, ["--data-dir", str(settings.data_dir), "backtest", "-f", "30s"])
    assert (
        missing.output == "Error: bars_30s is not built; run `vcdwh build --frequency 30s` first\n"
    )


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("threshold", -1, "--threshold -1 must be a number ≥ 0"),
        ("position_size", 1.5, "--position-size 1.5 must be a fraction of capital in (0, 1]"),
        ("initial_capital", 0, "--initial-capital 0 must be positive"),
        ("reset", "weekly", "--reset 'weekly' must be one of: none, session, rth"),
    ],
)
def test_backtest_params_given_bad_value_names_the_option(option, value, message):
    with pytest.raises(BacktestError) as info:
        BacktestParams(**{option: value}).validated()
    assert str(info.value) == message


def test_backtest_without_warehouse_says_build_first(settings):
    result = CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), "backtest"])
    assert result.exit_code == 1
    assert result.output == f"Error: no warehouse at {settings.db_path}; run `vcdwh build` first\n"


def test_seed_api_gives_the_same_bars_and_metrics_as_the_cli(shared, build, settings, query):
    import databento

    from vcdwh import VolumeCalculator, run_full_backtest

    source = shared / "derived" / f"{ESH4_DERIVED}.dbn.zst"
    with warnings.catch_warnings():  # databento's own pandas deprecation warning
        warnings.simplefilter("ignore")
        frame = databento.DBNStore.from_file(source).to_df()
    bars = VolumeCalculator().process_trades_to_bars(frame, frequency="1min")
    assert list(bars.columns[:5]) == [
        "close",
        "buy_volume",
        "sell_volume",
        "delta",
        "cumulative_delta",
    ]
    build([source])
    cli_bars = query(
        "select close::double, buy_volume, sell_volume, delta, cumulative_delta"
        " from bars_1min order by bar_start"
    )
    assert [tuple(r) for r in bars.iloc[:, :5].itertuples(index=False)] == cli_bars
    cli_run = run_backtest(settings, BacktestParams())
    (settings.data_dir / "trades_ESH4_2023-12-25_2023-12-26.csv").write_bytes(
        (shared / "csv" / f"{ESH4_DERIVED}.pretty.csv").read_bytes()
    )
    seed = run_full_backtest(symbols=["ESH4"], data_dir=settings.data_dir, db=settings.db_path)
    assert seed["metrics"] == cli_run.metrics
    assert seed["run_id"] == cli_run.run_id + 1
