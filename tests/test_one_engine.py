"""One engine: a sweep or walk-forward run is the same run as ``vcdwh backtest``; built-in
signals; walk-forward folds. On the offline sample week (ES, with a roll)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from vcdwh.backtest.params import BacktestParams
from vcdwh.backtest.run import run_backtest
from vcdwh.backtest.signals import builtin_names
from vcdwh.backtest.sweep import SweepSpec, run_sweep
from vcdwh.backtest.walkforward import WalkForwardSpec, run_walkforward
from vcdwh.build import build_warehouse
from vcdwh.cli import cli
from vcdwh.config import Settings
from vcdwh.sample import generate_sample

RUN_COLUMNS = (
    "symbol, instrument_id, frequency, bars_relation, reset, threshold, position_size,"
    " initial_capital, data_start, data_end, bar_count, mode, side, contracts, commission,"
    " slippage_ticks, tick_size, multiplier, sizing, signal, signal_sql, signal_params"
)


@pytest.fixture(name="week", scope="module")
def fixture_week(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The sample ES week (2,000 trades a day, a roll on 2024-03-07), 1min and 5min bars."""
    root = tmp_path_factory.mktemp("week")
    settings = Settings(root / "Data", root / "Data" / "vcdwh.duckdb")
    generate_sample(settings.data_dir, trades_per_day=2000)
    build_warehouse(settings, frequencies=["1min", "5min"])
    return settings


def copy_of(week: Settings, tmp_path: Path) -> Settings:
    target = tmp_path / "vcdwh.duckdb"
    target.write_bytes(week.db_path.read_bytes())
    return Settings(week.data_dir, target)


def stored(settings: Settings, run_id: int) -> tuple:
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        run = con.execute(
            f"select {RUN_COLUMNS} from backtest_runs where run_id = $id", {"id": run_id}
        ).fetchone()
        trades = con.execute(
            "select * exclude (run_id) from backtest_trades where run_id = $id order by trade_no",
            {"id": run_id},
        ).fetchall()
        equity = con.execute(
            "select * exclude (run_id) from backtest_equity where run_id = $id order by bar_start",
            {"id": run_id},
        ).fetchall()
        metrics = con.execute(
            "select * exclude (run_id) from backtest_metrics where run_id = $id", {"id": run_id}
        ).fetchone()
    finally:
        con.close()
    return run, trades, equity, metrics


@pytest.mark.parametrize("symbol", ["ESH4", "ES"])
@pytest.mark.parametrize("sizing", ["seed", "contracts"])
def test_sweep_given_every_mode_each_run_equals_the_single_backtest(week, tmp_path, symbol, sizing):
    # Arrange: one sweep over reset none/session x 1min/5min; the same four runs one by one.
    settings = copy_of(week, tmp_path)
    base = BacktestParams(symbol, threshold=50, sizing=sizing)
    sweep = run_sweep(
        settings,
        SweepSpec(
            thresholds=(50,), frequencies=("1min", "5min"), resets=("none", "session"), base=base
        ),
    )
    # Act
    singles = {
        (f, r): run_backtest(settings, replace(base, frequency=f, reset=r)).run_id
        for f in ("1min", "5min")
        for r in ("none", "session")
    }
    # Assert: trades, equity, metrics and the relation read are the same.
    assert sweep.runs == 4
    for row in sweep.rows:
        single = singles[(row["frequency"], row["reset"])]
        assert stored(settings, row["run_id"]) == stored(settings, single)
    relations = {stored(settings, r["run_id"])[0][3] for r in sweep.rows}
    expected = (
        {"bars_1min_continuous", "bars_5min_continuous"}
        if symbol == "ES"
        else {"bars_1min", "bars_5min"}
    )
    assert relations == expected


def test_sweep_on_a_root_closes_positions_at_the_roll_like_backtest(week, tmp_path):
    # The case a user first meets: `vcdwh sweep --symbol ES --threshold 50` is `vcdwh backtest`.
    settings = copy_of(week, tmp_path)
    runner = CliRunner()
    args = ["--data-dir", str(settings.data_dir), "--db", str(settings.db_path)]
    single = json.loads(
        runner.invoke(cli, [*args, "backtest", "--symbol", "ES", "-t", "50", "--json"]).output
    )
    swept = json.loads(
        runner.invoke(cli, [*args, "sweep", "--symbol", "ES", "-t", "50", "--json"]).output
    )
    [row] = swept["rows"]
    assert row["metrics"]["net_pnl"] == pytest.approx(single["metrics"]["net_pnl"])
    assert row["metrics"]["total_trades"] == single["metrics"]["total_trades"]
    assert "roll" in {t["exit_reason"] for t in single["trades"]}
    run, trades, _, _ = stored(settings, row["run_id"])
    assert run[3] == "bars_1min_continuous" and "roll" in {t[10] for t in trades}


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_signal_given_the_sample_week_passes_the_lookahead_check_and_trades(
    week, tmp_path, name
):
    settings = copy_of(week, tmp_path)
    params = BacktestParams("ESH4", threshold=50, signal=name, side="both", contracts=1)
    if name == "stacked_imbalance":
        params = replace(params, signal_params=(("levels", 2),))
    if name == "delta_zscore":
        params = replace(params, signal_params=(("k", 1.5),))
    result = run_backtest(settings, params, check_lookahead=True)
    assert result.bar_count > 1000
    assert result.metrics["total_trades"] > 0, name


def test_builtin_delta_zscore_matches_an_independent_pandas_computation(week, tmp_path):
    settings = copy_of(week, tmp_path)
    result = run_backtest(
        settings,
        BacktestParams(
            "ESH4",
            signal="delta_zscore",
            signal_params=(("k", 2), ("lookback", 20)),
            contracts=1,
            side="both",
        ),
    )
    con = duckdb.connect(str(settings.db_path), read_only=True)
    bars = con.execute(
        "select bar_start, delta from bars_1min where symbol = 'ESH4' order by bar_start"
    ).df()
    con.close()
    prior = bars["delta"].shift(1).rolling(20)
    z = (bars["delta"] - prior.mean()) / prior.std()
    signal = (z > 2).astype(int) - (z < -2).astype(int)
    first = bars["bar_start"][signal != 0].iloc[0]
    assert result.trades[0]["entry_time"] == str(first)[:19]


def test_walkforward_given_folds_chooses_the_best_in_sample_and_stores_each_fold(week, tmp_path):
    settings = copy_of(week, tmp_path)
    grid = SweepSpec(
        thresholds=(50, 200, 800), base=BacktestParams("ESH4", contracts=1, side="both")
    )
    result = run_walkforward(settings, WalkForwardSpec(grid, train_sessions=2, test_sessions=1))
    # Sessions 2024-03-04 .. 03-08: folds test 03-06, 03-07, 03-08.
    assert [f.test for f in result.folds] == [
        ("2024-03-06", "2024-03-06"),
        ("2024-03-07", "2024-03-07"),
        ("2024-03-08", "2024-03-08"),
    ]
    con = duckdb.connect(str(settings.db_path), read_only=True)
    for fold in result.folds:
        # The chosen threshold has the best in-sample net P&L of a sweep on the same sessions.
        best = max(
            (run_backtest_on(settings, con, threshold, fold.train) for threshold in (50, 200, 800)),
            key=lambda pair: pair[0],
        )
        assert fold.chosen["threshold"] == best[1]
        oos = con.execute(
            "select walkforward_id, fold, segment, data_start from backtest_runs"
            " where run_id = $id",
            {"id": fold.out_of_sample_run_id},
        ).fetchone()
        first_bar = con.execute(
            "select min(bar_start) from bars_1min where symbol = 'ESH4' and session_date = $d",
            {"d": pd_date(fold.test[0])},
        ).fetchone()[0]
        assert oos == (result.walkforward_id, fold.fold, "out_of_sample", first_bar)
    stitched = con.execute(
        "select equity from backtest_walkforward_equity where walkforward_id = $id order by bar_start",
        {"id": result.walkforward_id},
    ).fetchall()
    folds = con.execute(
        "select count(*) from backtest_walkforward_folds where walkforward_id = $id",
        {"id": result.walkforward_id},
    ).fetchone()
    con.close()
    assert folds == (3,)
    assert stitched[-1][0] == pytest.approx(10_000 + result.out_of_sample_net_pnl)


def pd_date(text: str):
    import datetime as dt

    return dt.date.fromisoformat(text)


def run_backtest_on(settings, con, threshold, train):
    """In-sample net P&L of one threshold on the training sessions, computed from a fresh run's
    equity restricted to those sessions (an independent route: the walk from the stored bars)."""
    import numpy as np

    from vcdwh.backtest.engine import simulate
    from vcdwh.backtest.inputs import load_inputs

    inputs = load_inputs(con, BacktestParams("ESH4", threshold=threshold, contracts=1, side="both"))
    dates = np.asarray(inputs.bars.session_date).astype("datetime64[D]").astype(str)
    rows = np.flatnonzero((dates >= train[0]) & (dates <= train[1]))
    part = inputs.slice(int(rows[0]), int(rows[-1]) + 1)
    return simulate(part).record.metrics["net_pnl"], threshold


def test_walkforward_cli_prints_folds_and_the_summary(week, tmp_path):
    settings = copy_of(week, tmp_path)
    result = CliRunner().invoke(
        cli,
        [
            "--data-dir",
            str(settings.data_dir),
            "--db",
            str(settings.db_path),
            "walkforward",
            "--symbol",
            "ES",
            "--train-sessions",
            "3",
            "--test-sessions",
            "1",
            "-t",
            "50,5000",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("wf-1: 2 fold(s) on ES, 2 combination(s) each, chosen by net_pnl")
    assert "walk-forward efficiency" in lines[-1]


def test_walkforward_given_too_few_sessions_says_so(week, tmp_path):
    settings = copy_of(week, tmp_path)
    result = CliRunner().invoke(
        cli,
        [
            "--data-dir",
            str(settings.data_dir),
            "--db",
            str(settings.db_path),
            "walkforward",
            "--train-sessions",
            "9",
            "--test-sessions",
            "1",
            "-t",
            "50",
        ],
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: 5 session(s) of ESH4 leave no fold of 9 training")


def test_walkforward_given_a_fold_whose_best_has_no_trades_says_so(week, tmp_path):
    settings = copy_of(week, tmp_path)
    grid = SweepSpec(thresholds=(10**9,), base=BacktestParams("ESH4", contracts=1))
    result = run_walkforward(settings, WalkForwardSpec(grid, train_sessions=3, test_sessions=1))
    assert all(f.note == "the best combination made no trade in-sample" for f in result.folds)


def test_report_given_a_walkforward_draws_its_folds_and_stitched_equity(week, tmp_path):
    pytest.importorskip("plotly", reason="the report needs the [report] extra (plotly)")
    settings = copy_of(week, tmp_path)
    args = ["--data-dir", str(settings.data_dir), "--db", str(settings.db_path)]
    runner = CliRunner()
    made = runner.invoke(
        cli, [*args, "walkforward", "--train-sessions", "2", "--test-sessions", "1", "-t", "50,500"]
    )
    assert made.exit_code == 0, made.output
    out = tmp_path / "wf.html"
    result = runner.invoke(cli, [*args, "report", "--walkforward", "wf-1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "walk-forward wf-1, 3 fold(s), stitched equity" in result.output
    page = out.read_text()
    assert "stitched out-of-sample equity" in page and page.count("<tr>") >= 4
    assert "<th>Out-of-Sample Metric</th>" in page and "<th>Chosen Parameters</th>" in page
    assert "out_of_sample_metric<" not in page and "train_start<" not in page
    missing = runner.invoke(cli, [*args, "report", "--walkforward", "wf-9", "--out", str(out)])
    assert missing.output == (
        "Error: walk-forward 'wf-9' is not in backtest_walkforwards; choose one of: wf-1\n"
    )


def test_tape_exits_given_the_sample_week_agree_with_an_independent_scan_of_the_trades(
    week, tmp_path
):
    # Every exit is re-derived from the trades table: a stop or target exit is the first trade
    # beyond its level after the entry bar; a bar exit saw no such trade before its bar's close.
    settings = copy_of(week, tmp_path)
    params = BacktestParams(
        "ES", threshold=50, contracts=1, side="both", stop_ticks=6, target_ticks=10
    )
    result = run_backtest(settings, params)
    con = duckdb.connect(str(settings.db_path), read_only=True)
    rows = con.execute(
        "select direction, contract, epoch_ns(entry_time), entry_price, epoch_ns(exit_time),"
        " exit_price, exit_reason from backtest_trades where run_id = $id order by trade_no",
        {"id": result.run_id},
    ).fetchall()
    reasons = set()
    minute = 60_000_000_000
    for direction, contract, entry_ns, entry, exit_ns, exit_price, reason in rows:
        sign = 1 if direction == "long" else -1
        stop, target = entry - sign * 6 * 0.25, entry + sign * 10 * 0.25
        tape = con.execute(
            "select epoch_ns(ts_recv), price::double from trades where symbol = $c"
            " and epoch_ns(ts_recv) >= $start and epoch_ns(ts_recv) < $end"
            " order by ts_recv, sequence, position",
            {"c": contract, "start": entry_ns + minute, "end": exit_ns + minute},
        ).fetchall()
        hit_stop = next((t for t in tape if sign * (t[1] - stop) <= 0), None)
        hit_target = next((t for t in tape if sign * (t[1] - target) > 0), None)
        reasons.add(reason)
        if reason == "stop":
            assert hit_stop is not None and hit_stop[0] == exit_ns
            assert exit_price == (min if sign > 0 else max)(stop, hit_stop[1])
        elif reason == "target":
            assert hit_target is not None and hit_target[0] == exit_ns and exit_price == target
            assert hit_stop is None or hit_stop[0] > exit_ns
        else:
            assert hit_stop is None and hit_target is None, (reason, entry_ns)
    con.close()
    assert {"stop", "target"} <= reasons
