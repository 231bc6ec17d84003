"""Sweeps: every combination stored as a normal run, equal to running them one by one."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.conftest import ESH4_DERIVED
from vcdwh.backtest.params import BacktestParams
from vcdwh.backtest.run import run_backtest
from vcdwh.backtest.sweep import SweepSpec, parse_thresholds, run_sweep
from vcdwh.cli import cli
from vcdwh.errors import BacktestError

# Every stored column but the ids and timestamps of the run.
RUN_COLUMNS = (
    "symbol, frequency, reset, threshold, position_size, initial_capital, data_start,"
    " data_end, bar_count, mode, side, contracts, commission, slippage_ticks,"
    " flat_at_session_end, tick_size, multiplier, spec_source"
)


def stored(query, run_ids):
    """Everything stored for the runs, keyed by their order, without run ids."""
    out = []
    for run_id in run_ids:
        out.append(
            (
                query(f"select {RUN_COLUMNS} from backtest_runs where run_id = $r", {"r": run_id}),
                query(
                    "select * exclude (run_id) from backtest_trades where run_id = $r"
                    " order by trade_no",
                    {"r": run_id},
                ),
                query(
                    "select * exclude (run_id) from backtest_equity where run_id = $r"
                    " order by bar_start",
                    {"r": run_id},
                ),
                query(
                    "select * exclude (run_id) from backtest_metrics where run_id = $r",
                    {"r": run_id},
                ),
            )
        )
    return out


@pytest.fixture(name="esh4")
def fixture_esh4(shared, build, settings):
    build([shared / "derived" / f"{ESH4_DERIVED}.dbn.zst"])
    return settings


@pytest.mark.slow
@pytest.mark.parametrize(
    "base",
    [
        BacktestParams(),
        BacktestParams(contracts=2, slippage_ticks=1, side="both", flat_at_session_end=True),
    ],
    ids=["seed", "futures"],
)
def test_sweep_given_a_grid_equals_running_each_backtest_one_by_one(esh4, query, base):
    thresholds = (0.0, 100.0, 300.0, 500.0)
    result = run_sweep(
        esh4, SweepSpec(thresholds, ("1min", "5min"), ("none", "session"), base=base)
    )
    assert result.runs == 16
    swept = {(r["frequency"], r["reset"], r["threshold"]): r["run_id"] for r in result.rows}
    assert len(swept) == 16
    one_by_one = {}
    for frequency, reset, threshold in swept:
        params = BacktestParams(
            base.symbol,
            frequency,
            threshold,
            base.position_size,
            base.initial_capital,
            reset,
            contracts=base.contracts,
            commission=base.commission,
            slippage_ticks=base.slippage_ticks,
            side=base.side,
            flat_at_session_end=base.flat_at_session_end,
        )
        one_by_one[(frequency, reset, threshold)] = run_backtest(esh4, params).run_id
    keys = sorted(swept)
    assert stored(query, [swept[k] for k in keys]) == stored(query, [one_by_one[k] for k in keys])
    # The sweep did trade (not an empty comparison), and its runs carry its id.
    assert (
        query(
            "select sum(total_trades) from backtest_metrics m join backtest_runs r"
            " using (run_id) where r.sweep_id = $s",
            {"s": result.sweep_id},
        )[0][0]
        > 0
    )
    assert query("select count(*) from backtest_runs where sweep_id = 'sweep-1'") == [(16,)]


def test_sweep_ranks_by_the_chosen_metric(esh4):
    result = run_sweep(esh4, SweepSpec((0.0, 200.0, 400.0, 600.0), by="total_trades"))
    counts = [row["metrics"]["total_trades"] for row in result.rows]
    assert counts == sorted(counts, reverse=True)


def test_sweep_with_split_runs_in_and_out_of_sample_on_the_two_parts(esh4, query):
    result = run_sweep(esh4, SweepSpec((100.0, 300.0), split=0.7))
    assert result.runs == 4
    rows = query(
        "select segment, bar_count, data_start::varchar, data_end::varchar"
        " from backtest_runs where threshold = 100 order by run_id"
    )
    assert rows == [
        ("in_sample", 42, "2023-12-25 23:00:00", "2023-12-25 23:41:00"),
        ("out_of_sample", 18, "2023-12-25 23:42:00", "2023-12-25 23:59:00"),
    ]
    assert all("out_of_sample" in row for row in result.rows)


def test_sweep_cli_prints_the_top_rows_and_json(esh4):
    runner = CliRunner()
    base = ["--data-dir", str(esh4.data_dir), "sweep"]
    out = runner.invoke(
        cli, [*base, "--threshold", "100:500:200", "--frequency", "1min,5min", "--top", "2"]
    )
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("sweep-1: 6 run(s) on ESH4 in ")
    assert lines[0].endswith("; top 2 by net_pnl")
    assert lines[1].split() == [
        "rank",
        "run",
        "frequency",
        "reset",
        "threshold",
        "trades",
        "net_pnl",
        "win%",
        "pf",
        "sharpe",
        "max_dd",
    ]
    assert len(lines) == 5
    assert lines[4] == (
        "n/a: sharpe, sortino and calmar are annualised (per session, x√252) and need 20 "
        "sessions; runs here span 1 session(s)"
    )
    data = json.loads(runner.invoke(cli, [*base, "-t", "100,200", "--json"]).output)
    assert data["sweep_id"] == "sweep-2" and len(data["rows"]) == 2


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("100:500:200", (100.0, 300.0, 500.0)),
        ("100:2000:100", tuple(float(v) for v in range(100, 2001, 100))),
        ("0.5:1.5:0.5", (0.5, 1.0, 1.5)),
        ("300,100,300", (300.0, 100.0)),
    ],
)
def test_parse_thresholds_given_range_or_list(text, values):
    assert parse_thresholds(text) == values


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "100:50:10",
            "--threshold '100:50:10' is not a range or list; use START:STOP:STEP "
            "(e.g. 100:2000:100) or a list like 100,200,500",
        ),
        (
            "a,b",
            "--threshold 'a,b' is not a range or list; use START:STOP:STEP "
            "(e.g. 100:2000:100) or a list like 100,200,500",
        ),
        (
            "-5",
            "--threshold '-5': thresholds must be numbers ≥ 0; use START:STOP:STEP "
            "(e.g. 100:2000:100) or a list like 100,200,500",
        ),
    ],
)
def test_parse_thresholds_given_bad_text_names_the_option(text, message):
    with pytest.raises(BacktestError) as info:
        parse_thresholds(text)
    assert str(info.value) == message


def test_sweep_given_bad_options_changes_nothing(esh4, query):
    runner = CliRunner()
    base = ["--data-dir", str(esh4.data_dir), "sweep"]
    bad_by = runner.invoke(cli, [*base, "--by", "luck"])
    assert bad_by.exit_code == 1
    assert bad_by.output.startswith("Error: --by 'luck' must be one of: net_pnl, sharpe, ")
    unbuilt = runner.invoke(cli, [*base, "-f", "1min,30s"])
    assert (
        unbuilt.output == "Error: bars_30s is not built; run `vcdwh build --frequency 30s` first\n"
    )
    split = runner.invoke(cli, [*base, "--split", "1.5"])
    assert split.output == "Error: --split 1.5 must be a fraction in (0, 1), e.g. 0.7\n"
    assert query("select count(*) from backtest_runs") == [(0,)]
