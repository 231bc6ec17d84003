"""The backtest engine on crafted trade tapes: exits on the tape, fills, ruin, signals.

Every tape is written here as a Databento pretty CSV of ESH4 trades (tick 0.25, $50 a point),
built, and backtested through the CLI's library path. Side ``N`` prints move the price without
moving the cumulative delta, so the default signal (cumulative delta beyond ±5) opens a long
at the close of the first bar (a buy of 10) and nothing else happens unless a test says so.
Expected values are worked out by hand in each test.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from vcdwh.backtest.params import BacktestParams
from vcdwh.backtest.run import run_backtest
from vcdwh.build import build_warehouse
from vcdwh.cli import cli
from vcdwh.config import Settings
from vcdwh.errors import BacktestError

HEADER = (
    "ts_recv,ts_event,rtype,publisher_id,instrument_id,action,side,depth,price,size,flags,"
    "ts_in_delta,sequence,symbol"
)
OPEN = datetime(2024, 1, 8, 14, 30)  # 08:30 Chicago, inside the session of 2024-01-08


def _ts(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def write_tape(
    folder: Path,
    prints: list[tuple[int, float, str, float, int] | tuple[int, float, str, float, int, int]],
    symbol: str = "ESH4",
    instrument_id: int = 1,
    name: str | None = None,
) -> Path:
    """Write trades: (bar, second in the bar, side, price, size[, sequence]) each."""
    lines = [HEADER]
    for number, item in enumerate(prints, start=1):
        bar, second, side, price, size = item[:5]
        sequence = item[5] if len(item) > 5 else number  # type: ignore[misc]
        when = OPEN + timedelta(minutes=bar, seconds=second)
        lines.append(
            f"{_ts(when)},{_ts(when)},0,1,{instrument_id},T,{side},0,{price:.2f},{size},0,0,"
            f"{sequence},{symbol}"
        )
    path = folder / (name or f"trades_{symbol}_2024-01-08_2024-01-09.csv")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(name="tape")
def fixture_tape(tmp_path: Path):
    """Build a warehouse from crafted prints; return its settings."""

    def make(prints, **kwargs) -> Settings:
        settings = Settings(tmp_path / "Data", tmp_path / "Data" / "vcdwh.duckdb")
        settings.data_dir.mkdir(exist_ok=True)
        write_tape(settings.data_dir, prints, **kwargs)
        build_warehouse(settings, frequencies=["1min"])
        return settings

    return make


BASE = BacktestParams("ESH4", threshold=5, contracts=1, commission=0.0)
ENTRY = [(0, 10, "B", 4800.00, 10)]  # bar 0: cumulative delta 10 > 5: long at its close 4800


def trades_of(settings: Settings, run_id: int) -> list[tuple]:
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        return con.execute(
            "select direction, entry_time, entry_price, exit_time, exit_price, pnl,"
            " exit_reason, bars_held from backtest_trades where run_id = $id order by trade_no",
            {"id": run_id},
        ).fetchall()
    finally:
        con.close()


def at(bar: int, second: float) -> datetime:
    return OPEN + timedelta(minutes=bar, seconds=second)


# --------------------------------------------------------------------------- stops and targets


def test_engine_given_stop_hit_exits_at_the_stop_on_the_triggering_trade(tape):
    # Long at 4800.00; stop 4 ticks = 4799.00. Bar 1 prints 4799.50, then 4799.00 (the first
    # trade at the stop: it fills there), then 4798.00. P&L: -1.00 x $50 = -$50.
    settings = tape(
        [
            *ENTRY,
            (1, 5, "N", 4799.50, 1),
            (1, 20, "N", 4799.00, 1),
            (1, 40, "N", 4798.00, 1),
            (2, 5, "N", 4798.50, 1),
        ]
    )
    result = run_backtest(settings, replace(BASE, stop_ticks=4))
    # The signal still says long at bar 1's close: a new position opens there (4798.00).
    assert trades_of(settings, result.run_id) == [
        ("long", at(0, 0), 4800.0, at(1, 20), 4799.0, -50.0, "stop", 1),
        ("long", at(1, 0), 4798.0, at(2, 0), 4798.5, 25.0, "end_of_data", 1),
    ]


def test_engine_given_gap_through_the_stop_fills_at_the_first_trade_beyond_it(tape):
    # Stop 4799.00; the market gaps from 4799.50 to 4797.50: the fill is 4797.50 (-$125).
    settings = tape([*ENTRY, (1, 5, "N", 4799.50, 1), (1, 10, "N", 4797.50, 1)])
    result = run_backtest(settings, replace(BASE, stop_ticks=4))
    [trade] = trades_of(settings, result.run_id)
    assert trade[3:7] == (at(1, 10), 4797.5, -125.0, "stop")


def test_engine_given_slippage_a_stop_fills_worse_and_a_target_does_not(tape):
    # One tick of slippage: entry 4800.25; the stop 4 ticks from the fill is 4799.25, hit by the
    # 4799.00 print: fill 4799.00 less a tick = 4798.75. Net -1.50 x $50 = -$75.
    prints = [*ENTRY, (1, 5, "N", 4799.00, 1)]
    settings = tape(prints)
    result = run_backtest(settings, replace(BASE, stop_ticks=4, slippage_ticks=1))
    [trade] = trades_of(settings, result.run_id)
    assert trade[2:7] == (4800.25, at(1, 5), 4798.75, -75.0, "stop")


def test_engine_given_target_through_fills_at_the_target_when_a_trade_prints_beyond(tape):
    # Target 4 ticks = 4801.00: the 4801.00 print only touches it; 4801.25 prints through.
    prints = [*ENTRY, (1, 5, "N", 4801.00, 1), (1, 30, "N", 4801.25, 1), (2, 5, "N", 4802, 1)]
    settings = tape(prints)
    through = run_backtest(settings, replace(BASE, target_ticks=4))
    touch = run_backtest(settings, replace(BASE, target_ticks=4, target_fill="touch"))
    assert trades_of(settings, through.run_id)[0][3:7] == (at(1, 30), 4801.0, 50.0, "target")
    assert trades_of(settings, touch.run_id)[0][3:7] == (at(1, 5), 4801.0, 50.0, "target")


def test_engine_given_stop_and_target_in_one_aggressive_order_the_stop_wins(tape):
    # One order (same ts_recv and sequence) prints 4801.25 (through the target) then 4798.75
    # (beyond the 4799.00 stop): the stop wins, filled at 4798.75 (the trade beyond it).
    prints = [*ENTRY, (1, 5, "N", 4801.25, 1, 77), (1, 5, "N", 4798.75, 1, 77)]
    settings = tape(prints)
    result = run_backtest(settings, replace(BASE, stop_ticks=4, target_ticks=4))
    [trade] = trades_of(settings, result.run_id)
    assert trade[3:7] == (at(1, 5), 4798.75, -62.5, "stop")


def test_engine_given_target_before_stop_in_separate_orders_the_target_wins(tape):
    prints = [*ENTRY, (1, 5, "N", 4801.25, 1, 77), (1, 6, "N", 4798.75, 1, 78)]
    settings = tape(prints)
    result = run_backtest(settings, replace(BASE, stop_ticks=4, target_ticks=4))
    [trade] = trades_of(settings, result.run_id)
    assert trade[3:7] == (at(1, 5), 4801.0, 50.0, "target")


def test_engine_given_trailing_stop_follows_the_best_price(tape):
    # Trail 4 ticks: the best price 4802.00 moves the stop to 4801.00; 4801.50 leaves it; 4800.75
    # is beyond it: fill at 4800.75 (+$37.50).
    prints = [
        *ENTRY,
        (1, 5, "N", 4802.00, 1),
        (1, 10, "N", 4801.50, 1),
        (1, 15, "N", 4800.75, 1),
        (2, 5, "N", 4805.00, 1),
    ]
    settings = tape(prints)
    result = run_backtest(settings, replace(BASE, trail_ticks=4))
    trade = trades_of(settings, result.run_id)[0]
    assert trade[3:7] == (at(1, 15), 4800.75, 37.5, "trail")


def test_engine_given_max_bars_closes_at_the_close_of_that_bar(tape):
    # Long at bar 0's close; --max-bars 2: closed at bar 2's close, 4803.00 (+$150).
    prints = [*ENTRY, *[(b, 5, "N", 4800.0 + b * 1.5, 1) for b in (1, 2, 3, 4)]]
    prints[-3] = (2, 5, "N", 4803.00, 1)
    settings = tape(prints)
    result = run_backtest(settings, replace(BASE, max_bars=2))
    assert trades_of(settings, result.run_id)[0] == (
        "long",
        at(0, 0),
        4800.0,
        at(2, 0),
        4803.0,
        150.0,
        "time",
        2,
    )


def test_engine_given_next_open_entry_can_stop_out_inside_the_entry_bar(tape):
    # The signal at bar 0's close fills at bar 1's open, 4800.50; the stop 4 ticks below it is
    # 4799.50; bar 1 prints 4799.25 later: the exit is inside the entry bar (-$62.50).
    prints = [*ENTRY, (1, 1, "N", 4800.50, 1), (1, 30, "N", 4799.25, 1), (2, 5, "N", 4800, 1)]
    settings = tape(prints)
    result = run_backtest(settings, replace(BASE, entry="next-open", stop_ticks=4))
    assert trades_of(settings, result.run_id)[0] == (
        "long",
        at(1, 0),
        4800.5,
        at(1, 30),
        4799.25,
        -62.5,
        "stop",
        0,
    )


def test_engine_given_next_open_without_exits_enters_at_the_next_bars_open(tape):
    prints = [*ENTRY, (1, 1, "N", 4800.50, 1), (1, 30, "N", 4801.00, 1), (2, 5, "N", 4802, 1)]
    settings = tape(prints)
    result = run_backtest(settings, replace(BASE, entry="next-open"))
    assert trades_of(settings, result.run_id) == [
        ("long", at(1, 0), 4800.5, at(2, 0), 4802.0, 75.0, "end_of_data", 1)
    ]


def test_engine_given_excursions_reads_them_from_the_trades_lived_through(tape):
    prints = [
        *ENTRY,
        (1, 5, "N", 4801.75, 1),
        (1, 10, "N", 4799.25, 1),
        (1, 15, "N", 4802.50, 1),
        (1, 20, "N", 4798.75, 1),
    ]
    settings = tape(prints)
    result = run_backtest(settings, replace(BASE, stop_ticks=4))
    [trade] = result.trades
    # Lived through 4801.75, 4799.25, 4802.50 and the stop print 4798.75.
    assert (trade["mae"], trade["mfe"]) == (-1.25 * 50, 2.5 * 50)
    assert trade["exit_reason"] == "stop" and trade["exit_price"] == 4798.75


# --------------------------------------------------------------------------- ruin


def test_engine_given_equity_reaching_zero_stops_trading_with_reason_ruin(tape):
    # $100 of capital, one ES long at 4800: bar 1 closes at 4797 (-$150): ruin at bar 1's close.
    # Later signals open nothing.
    prints = [*ENTRY, (1, 5, "N", 4797.00, 1), (2, 5, "A", 4796.0, 30), (3, 5, "B", 4797, 60)]
    settings = tape(prints)
    result = run_backtest(settings, replace(BASE, initial_capital=100, side="both"))
    assert trades_of(settings, result.run_id) == [
        ("long", at(0, 0), 4800.0, at(1, 0), 4797.0, -150.0, "ruin", 1)
    ]
    assert result.metrics["ruined"] is True and result.metrics["final_capital"] == -50.0


def test_engine_given_seed_sizing_without_ruin_says_not_ruined(tape):
    settings = tape([*ENTRY, (1, 5, "N", 4797.00, 1)])
    result = run_backtest(settings, BacktestParams("ESH4", threshold=5))
    assert result.metrics["ruined"] is False and result.metrics["ruin_time"] is None


# --------------------------------------------------------------------------- a root across a roll


def test_engine_given_root_closes_at_the_roll_and_reads_only_its_contracts_tape(tmp_path):
    # Session of 2024-01-08: ESH4 trades most; session of 2024-01-09: ESM4. A long in ESH4 with
    # a 4-tick stop is closed at the roll (its last bar), although ESM4 prints far below the
    # stop on the next session: the stop reads ESH4's tape only.
    settings = Settings(tmp_path / "Data", tmp_path / "Data" / "vcdwh.duckdb")
    settings.data_dir.mkdir()
    write_tape(settings.data_dir, [*ENTRY, (1, 5, "N", 4800.50, 50)], "ESH4", 1)
    next_day = [(24 * 60 + b, 5, "N", 4700.0, 100) for b in (0, 1)]
    write_tape(settings.data_dir, next_day, "ESM4", 2, name="trades_ESM4_2024-01-09_2024-01-10.csv")
    build_warehouse(settings, frequencies=["1min"])
    result = run_backtest(
        settings, BacktestParams("ES", threshold=5, contracts=1, commission=0, stop_ticks=4)
    )
    rows = trades_of(settings, result.run_id)
    assert rows[0] == ("long", at(0, 0), 4800.0, at(1, 0), 4800.5, 25.0, "roll", 1)
    # The next long is in ESM4, on its own tape.
    assert all(row[1] >= at(24 * 60, 0) for row in rows[1:])


# --------------------------------------------------------------------------- sizing and output


def test_backtest_cli_given_known_root_trades_one_contract_in_dollars(tape):
    settings = tape([*ENTRY, (1, 5, "N", 4801.00, 1)])
    result = CliRunner().invoke(
        cli, ["--data-dir", str(settings.data_dir), "backtest", "-t", "5", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["params"]["sizing"] == "contracts" and data["params"]["contracts"] == 1
    # 1.00 point x $50 less $2.50 a side.
    assert data["trades"][0]["pnl"] == 45.0
    text = CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), "backtest", "-t", "5"])
    assert "sizing: 1 contract(s) long" in text.output.splitlines()[0]


def test_backtest_cli_given_position_size_says_seed_sizing_in_the_first_line(tape):
    settings = tape([*ENTRY, (1, 5, "N", 4801.00, 1)])
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(settings.data_dir), "backtest", "-t", "5", "--position-size", "0.2"],
    )
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert "sizing: seed, 0.2 of capital per position, long only" in first
    assert "PERFORMANCE METRICS" in result.output and "FUTURES" not in result.output


def test_backtest_cli_given_both_sizings_is_a_usage_error(tape):
    settings = tape(ENTRY)
    result = CliRunner().invoke(
        cli,
        [
            "--data-dir",
            str(settings.data_dir),
            "backtest",
            "--position-size",
            "0.1",
            "--contracts",
            "1",
        ],
    )
    assert result.exit_code == 2
    assert "give --position-size (the seed's sizing) or --contracts, not both" in result.output


# --------------------------------------------------------------------------- signals


LEAD = """-- a signal that reads the next bar: look-ahead
select bar_start, instrument_id,
       case when lead(close) over (order by bar_start) > close then 1 else -1 end as signal
from bars
"""


def rising(bars: int = 12) -> list:
    return [(b, 5, "B" if b % 2 else "A", 4800.0 + b, 1) for b in range(bars)]


def test_check_lookahead_given_a_lead_signal_refuses_it_naming_the_bar(tape, tmp_path):
    settings = tape(rising())
    path = tmp_path / "peek.sql"
    path.write_text(LEAD)
    with pytest.raises(
        BacktestError,
        match=r"signal .*peek.sql looks ahead: its value at the bar of 2024-01-08 14:3\d:00",
    ):
        run_backtest(settings, replace(BASE, signal=str(path)), check_lookahead=True)


def test_check_lookahead_given_the_same_signal_without_lead_accepts_it(tape, tmp_path):
    settings = tape(rising())
    path = tmp_path / "fine.sql"
    path.write_text(LEAD.replace("lead(close)", "lag(close)").replace("> close", "< close"))
    result = run_backtest(settings, replace(BASE, signal=str(path)), check_lookahead=True)
    assert result.run_id == 1


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("select bar_start, 1 as signal from bars", "missing: instrument_id (or root)"),
        ("select bar_start, instrument_id, 1 as sig from bars", "missing: signal"),
        (
            "select bar_start, instrument_id, 2 as signal from bars",
            "must be 1, -1, 0 or NULL; it returned 2",
        ),
        ("select bar_start, instrument_id, 'BUY' as signal from bars", "must be a number"),
        ("select * from read_csv('/etc/passwd')", "failed: Permission Error"),
        (
            "select bars.bar_start, bars.instrument_id, 1 as signal from bars, bars as b2",
            "bar_start twice",
        ),
        ("select nope from bars", "failed: Binder Error"),
    ],
)
def test_user_signal_given_a_bad_query_names_the_file_and_the_problem(tape, tmp_path, sql, message):
    settings = tape(rising())
    path = tmp_path / "mine.sql"
    path.write_text(sql)
    with pytest.raises(BacktestError) as caught:
        run_backtest(settings, replace(BASE, signal=str(path)))
    text = str(caught.value)
    assert str(path) in text and message in text and "\n" not in text


def test_user_signal_given_unknown_param_names_its_parameters(tape):
    settings = tape(rising())
    with pytest.raises(
        BacktestError,
        match=r"--param k is not a parameter of signal cumulative_delta \(its parameters: threshold\)",
    ):
        run_backtest(settings, replace(BASE, signal_params=(("k", 2),)))


def test_signal_given_unknown_name_lists_the_built_ins(tape):
    settings = tape(rising())
    with pytest.raises(
        BacktestError,
        match="cumulative_delta, cvd_divergence, delta_zscore, session_delta, stacked_imbalance",
    ):
        run_backtest(settings, replace(BASE, signal="nope"))


def test_run_stores_the_signal_sql_and_its_parameters(tape, tmp_path):
    settings = tape(rising())
    path = tmp_path / "mine.sql"
    path.write_text(
        "-- params: level=3\nselect bar_start, instrument_id,"
        " case when close > 4800 + $level then 1 end as signal from bars"
    )
    result = run_backtest(settings, replace(BASE, signal=str(path), signal_params=(("level", 5),)))
    con = duckdb.connect(str(settings.db_path), read_only=True)
    row = con.execute(
        "select signal, signal_sql, signal_params, sizing from backtest_runs where run_id = $id",
        {"id": result.run_id},
    ).fetchone()
    con.close()
    assert row == (str(path), path.read_text(), '{"level": 5}', "contracts")
    # The first close above 4805 is bar 6's (4806): the long opens there.
    assert result.trades[0]["entry_time"] == "2024-01-08 14:36:00"


def test_engine_given_trades_stored_out_of_time_order_reads_them_in_trade_order(tmp_path):
    # File a_ (loaded first) holds a 4798.00 print at 14:31:10 and a later minute; file b_ (loaded
    # second) the entry and 4799.50 at 14:31:05. In trade order the 4798.00 print is the first
    # beyond the 4799.00 stop: the fill is 4798.00 at 14:31:10 (-$100).
    settings = Settings(tmp_path / "Data", tmp_path / "Data" / "vcdwh.duckdb")
    settings.data_dir.mkdir()
    later = [(1, 10, "N", 4798.00, 1), (2, 5, "N", 4790.00, 1)]
    write_tape(settings.data_dir, later, name="trades_ESH4_2024-01-08_2024-01-09.csv")
    build_warehouse(settings, frequencies=["1min"])
    first = [*ENTRY, (1, 5, "N", 4799.50, 1), (1, 20, "N", 4799.00, 1)]
    write_tape(settings.data_dir, first, name="trades_ESH4_2024-01-07_2024-01-09.csv")
    build_warehouse(settings, frequencies=["1min"])
    result = run_backtest(settings, replace(BASE, stop_ticks=4))
    assert trades_of(settings, result.run_id)[0][3:7] == (at(1, 10), 4798.0, -100.0, "stop")
