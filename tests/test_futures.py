"""Futures mode: hand-computed P&L (long, short, roll), an independent cross-check, stored runs,
contract specifications from the instruments table and Databento definition records."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.conftest import ESU4_TRADES
from tests.helpers import Trade, write_raw_csv
from vcdwh.backtest.params import BacktestParams
from vcdwh.backtest.run import run_backtest
from vcdwh.backtest.walk import walk_futures
from vcdwh.cli import cli
from vcdwh.errors import BacktestError

B, S, _ = 1, -1, 0
ES = {"tick_size": 0.25, "multiplier": 50.0}
DEFINITION = "glbx-mdp3_ESU4-NQU4_definition_2024-07-01.dbn.zst"


def fwalk(closes, signals, highs=None, lows=None, dates=None, **options):
    closes = np.array(closes, float)
    return walk_futures(
        closes,
        np.array(highs if highs is not None else closes, float),
        np.array(lows if lows is not None else closes, float),
        np.array(signals, np.int8),
        np.array(dates if dates is not None else ["d"] * len(closes)),
        **{**ES, **options},
    )


# ----------------------------------------------------------------- hand-computed cases


def test_walk_futures_given_one_es_long_with_commission_and_one_tick_slippage_pins_the_pnl():
    # BUY at 5000.00 → fill 5000.25 (1 tick against); SELL at 5012.00 → fill 5011.75.
    # Net: (5011.75 - 5000.25) x $50 x 1 - 2 sides x $2.50 = 575 - 5 = $570.
    w = fwalk(
        [5000.0, 5010.25, 5012.0],
        [B, _, S],
        highs=[5001, 5013, 5014],
        lows=[4999, 4998, 5010],
        contracts=1,
        slippage_ticks=1,
        commission=2.5,
    )
    assert list(w.entries) == [0] and list(w.exits) == [2] and w.exit_reason == ["signal"]
    assert (w.entry_price[0], w.exit_price[0]) == (5000.25, 5011.75)
    assert w.gross_pnl[0] == 600.0  # 12 points x $50 at the closes
    assert w.slippage[0] == 25.0 and w.commission[0] == 5.0
    assert w.pnl[0] == 570.0
    assert w.pnl_ticks[0] == pytest.approx(570 / 12.5)
    # Marked at each close: entry bar pays 1 tick and one commission; then open P&L.
    assert list(w.equity) == [10_000 - 12.5 - 2.5, 10_000 + 10 * 50 - 2.5, 10_570.0]
    assert list(w.in_position) == [False, True, True]
    # MAE/MFE over the held bars 1-2 from the 5000.25 fill: low 4998, high 5014.
    assert (w.mae[0], w.mae_ticks[0]) == (-2.25 * 50, -9.0)
    assert (w.mfe[0], w.mfe_ticks[0]) == (13.75 * 50, 55.0)


def test_walk_futures_given_a_short_pins_the_pnl():
    # NQ-like: 2 contracts x $20, 2 ticks slippage, $1 per contract per side.
    # SELL at 4000 → fill 3999.50; BUY at 3995.50 → fill 3996.00: 3.5 points x 40 - 4 = $136.
    w = fwalk(
        [4000.0, 3990.0, 3995.5],
        [S, _, B],
        side="short",
        contracts=2,
        tick_size=0.25,
        multiplier=20.0,
        slippage_ticks=2,
        commission=1.0,
    )
    assert w.exit_reason == ["signal"] and list(w.direction) == [-1]
    assert (w.entry_price[0], w.exit_price[0]) == (3999.5, 3996.0)
    assert w.gross_pnl[0] == 180.0 and w.slippage[0] == 40.0 and w.commission[0] == 4.0
    assert w.pnl[0] == 136.0
    assert w.equity[-1] == 10_136.0


def test_walk_futures_given_a_contract_change_exits_at_the_old_contracts_last_bar():
    # ESH4 → ESM4 between bars 1 and 2; the BUY persists. Long 100 → 101 (roll), flat on the
    # new contract's first BUY bar re-enters at 110, closed at the last bar 111.
    w = fwalk(
        [100.0, 101.0, 110.0, 111.0],
        [B, B, B, _],
        contracts=1,
        commission=2.5,
        contract=np.array(["ESH4", "ESH4", "ESM4", "ESM4"], dtype=object),
    )
    assert list(w.entries) == [0, 2] and list(w.exits) == [1, 3]
    assert w.exit_reason == ["roll", "end_of_data"]
    assert list(w.pnl) == [45.0, 45.0]  # 1 point x $50 - $5 each
    # The 9-point gap between the contracts is never booked.
    assert w.equity[-1] == 10_090.0
    without = fwalk([100.0, 101.0, 110.0, 111.0], [B, B, B, _], contracts=1, commission=2.5)
    assert list(without.pnl) == [11 * 50 - 5.0]


def test_walk_futures_given_buy_on_a_roll_bar_opens_nothing_there():
    w = fwalk(
        [100.0, 101.0, 110.0],
        [_, B, _],
        contracts=1,
        contract=np.array(["H", "H", "M"], dtype=object),
    )
    assert len(w.entries) == 0


def test_walk_futures_given_side_both_closes_then_opens_the_other_way_on_a_later_bar():
    w = fwalk(
        [100.0, 102.0, 101.0, 99.0, 100.0],
        [B, S, S, B, _],
        side="both",
        contracts=1,
        commission=0.0,
    )
    assert list(w.entries) == [0, 2] and list(w.exits) == [1, 3]
    assert list(w.direction) == [1, -1]
    assert list(w.pnl) == [100.0, 100.0]


def test_walk_futures_given_side_long_never_shorts_and_short_never_longs():
    assert len(fwalk([100.0, 99.0, 98.0], [S, S, _], contracts=1).entries) == 0
    assert len(fwalk([100.0, 101.0, 102.0], [B, B, _], side="short", contracts=1).entries) == 0


def test_walk_futures_given_flat_at_session_end_closes_at_each_sessions_last_bar():
    w = fwalk(
        [100.0, 101.0, 102.0, 103.0],
        [B, B, B, _],
        dates=["d1", "d1", "d2", "d2"],
        contracts=1,
        commission=0.0,
        flat_at_session_end=True,
    )
    assert list(w.entries) == [0, 2] and list(w.exits) == [1, 3]
    assert w.exit_reason == ["session_end", "end_of_data"]


def test_walk_futures_given_no_signal_keeps_capital():
    w = fwalk([100.0, 101.0], [_, _], contracts=3)
    assert len(w.pnl) == 0 and list(w.equity) == [10_000.0, 10_000.0]


# ----------------------------------------------------------------- independent cross-check


def reference_walk(
    closes,
    signals,
    contracts,
    side,
    slip_ticks,
    commission,
    session_end,
    contract,
    tick=0.25,
    mult=50.0,
):
    """A plain bar-by-bar loop written from the documented rules, sharing no engine code.

    Ruin: the first bar whose close leaves the equity at or below 0 closes the position there
    (reason ``ruin``, also for an exit that bar would have made anyway) and nothing opens after.
    """

    def run(ruin_bar=None):
        trades, position, entry, entry_fill, realized, equity = [], 0, None, None, 0.0, []
        n = len(closes)
        for i in range(n):
            last = i == n - 1
            rolls = contract is not None and not last and contract[i] != contract[i + 1]
            session_over = session_end and not last and i % 3 == 2  # sessions of 3 bars below
            forced = (
                "end_of_data"
                if last
                else "roll"
                if rolls
                else "session_end"
                if session_over
                else None
            )
            if ruin_bar is not None and i > ruin_bar:
                equity.append(equity[-1])
                continue
            s = signals[i]
            if position != 0:
                reason = "signal" if s == -position else forced
                if ruin_bar == i:
                    reason = "ruin"
                if reason:
                    exit_fill = closes[i] - position * slip_ticks * tick
                    net = (
                        position * (exit_fill - entry_fill) * mult * contracts
                        - 2 * commission * contracts
                    )
                    trades.append((entry, i, position, reason, net))
                    realized += net
                    position = 0
            elif forced is None and s != 0 and ruin_bar != i:
                if (s == 1 and side in ("long", "both")) or (s == -1 and side in ("short", "both")):
                    position, entry = s, i
                    entry_fill = closes[i] + s * slip_ticks * tick
            open_pnl = 0.0
            if position != 0:
                open_pnl = (
                    position * (closes[i] - entry_fill) * mult * contracts - commission * contracts
                )
            equity.append(10_000 + realized + open_pnl)
        return trades, equity

    trades, equity = run()
    ruined = [i for i, value in enumerate(equity) if value <= 0]
    if ruined:
        trades, equity = run(ruined[0])
    return trades


@hsettings(max_examples=150, deadline=None)
@example(  # five contracts lose the $10,000 exactly: ruin at the last bar's close
    data=[(1, 16012), (-1, 15960), (1, 16028), (-1, 15960), (1, 16000), (0, 15960)],
    contracts=5,
    side="long",
    slip=0,
    commission=0.0,
    session_end=False,
    roll_at=None,
)
@given(
    data=st.lists(
        st.tuples(st.integers(-1, 1), st.integers(3990 * 4, 4010 * 4)), min_size=1, max_size=40
    ),
    contracts=st.integers(1, 5),
    side=st.sampled_from(["long", "short", "both"]),
    slip=st.integers(0, 3),
    commission=st.sampled_from([0.0, 0.85, 2.5]),
    session_end=st.booleans(),
    roll_at=st.one_of(st.none(), st.integers(0, 40)),
)
def test_walk_futures_agrees_with_an_independent_loop(
    data, contracts, side, slip, commission, session_end, roll_at
):
    signals = [s for s, _ in data]
    closes = [q / 4 for _, q in data]
    contract = None if roll_at is None else ["A" if i < roll_at else "B" for i in range(len(data))]
    dates = [f"d{i // 3}" for i in range(len(data))]
    expected = reference_walk(
        closes, signals, contracts, side, slip, commission, session_end, contract
    )
    w = fwalk(
        closes,
        signals,
        dates=dates,
        contracts=contracts,
        side=side,
        slippage_ticks=slip,
        commission=commission,
        flat_at_session_end=session_end,
        contract=None if contract is None else np.array(contract, dtype=object),
    )
    got = list(
        zip(
            w.entries.tolist(),
            w.exits.tolist(),
            w.direction.tolist(),
            w.exit_reason,
            w.pnl.tolist(),
            strict=True,
        )
    )
    assert [t[:4] for t in got] == [t[:4] for t in expected]
    assert [t[4] for t in got] == pytest.approx([t[4] for t in expected], abs=1e-6)
    assert w.equity[-1] == pytest.approx(10_000 + sum(t[4] for t in expected), abs=1e-6)


# ----------------------------------------------------------------- through the warehouse

MINUTE = 60 * 10**9
T0 = 1_709_852_400_000_000_000  # 2024-03-07 23:00 UTC, a session open


def crafted(data_dir, symbol, deltas_and_closes):
    trades = [
        Trade(T0 + i * MINUTE, close, abs(delta), "B" if delta > 0 else "A")
        for i, (delta, close) in enumerate(deltas_and_closes)
    ]
    return write_raw_csv(data_dir / f"trades_{symbol}_2024-03-07_2024-03-08.csv", trades)


def test_futures_backtest_through_sql_stores_the_hand_computed_trade(build, settings, query):
    # cum delta 600 (BUY @5000), 700, -100, -600 (SELL @5010): 1 ES long, 1 tick, $2.50.
    crafted(
        settings.data_dir,
        "ESH4",
        [(600, 5000.0), (100, 5004.0), (-800, 4995.0), (-500, 5010.0), (600, 5011.0)],
    )
    build()
    result = run_backtest(settings, BacktestParams(threshold=500, contracts=1, slippage_ticks=1))
    assert result.spec == {
        "root": "ES",
        "tick_size": 0.25,
        "multiplier": 50.0,
        "tick_value": 12.5,
        "commission_per_side": 2.5,
        "source": "vcdwh",
    }
    assert query(
        "select direction, contract, entry_price, exit_price, quantity, gross_pnl, commission,"
        " slippage, pnl, pnl_ticks, mae, mfe, bars_held, exit_reason from backtest_trades"
    ) == [
        (
            "long",
            "ESH4",
            5000.25,
            5009.75,
            1.0,
            500.0,
            5.0,
            25.0,
            470.0,
            37.6,
            (4995 - 5000.25) * 50,
            (5010 - 5000.25) * 50,
            3,
            "signal",
        )
    ]
    assert query(
        "select mode, side, contracts, commission, slippage_ticks, tick_size, multiplier,"
        " spec_source from backtest_runs"
    ) == [("futures", "long", 1, 2.5, 1.0, 0.25, 50.0, "vcdwh")]
    net, gross, paid, final = query(
        "select net_pnl, gross_pnl, commissions_paid, final_capital from backtest_metrics"
    )[0]
    assert (net, gross, paid, final) == (470.0, 500.0, 5.0, 10_470.0)


def test_futures_backtest_cli_prints_the_futures_block(build, settings):
    crafted(settings.data_dir, "ESH4", [(600, 5000.0), (-1200, 5001.0), (-1, 5002.0)])
    build()
    result = CliRunner().invoke(
        cli,
        [
            "--data-dir",
            str(settings.data_dir),
            "backtest",
            "--contracts",
            "2",
            "--commission",
            "1.25",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Contract Spec:      ES tick 0.25 x $50 = $12.5/tick (vcdwh)" in result.output
    assert (
        "Sizing / Costs:     2 contract(s), long, $1.25/contract/side, 0 tick(s) slippage"
        in result.output
    )
    # 1 point x $50 x 2 - 2 x 2 x $1.25 = $95; per contract 4 ticks - $2.50 / $12.50 = 3.8 ticks
    assert "Net P&L:            $95.00 (3.8 ticks per contract)" in result.output


def test_futures_backtest_given_unknown_root_names_the_fix(tmp_path, build, settings):
    crafted(settings.data_dir, "ZZH4", [(600, 100.0), (-1200, 101.0)])
    build()
    with pytest.raises(BacktestError) as info:
        run_backtest(settings, BacktestParams(contracts=1))
    assert str(info.value) == (
        "no contract specification for 'ZZH4': load its Databento definition file with "
        "`vcdwh build`, or add its root to the instruments table (root, tick_size, multiplier, "
        "commission_per_side, exchange, source)"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"side": "short"},
            "--side needs --contracts N (futures mode); without it the seed's "
            "long-only fractional-notional walk runs",
        ),
        (
            {"slippage_ticks": 1},
            "--slippage-ticks needs --contracts N (futures mode); without it the "
            "seed's long-only fractional-notional walk runs",
        ),
        ({"contracts": 0}, "--contracts 0 must be a whole number ≥ 1"),
        ({"contracts": 1, "commission": -1}, "--commission -1 must be a number ≥ 0"),
        ({"contracts": 1, "side": "up"}, "--side 'up' must be one of: long, short, both"),
    ],
)
def test_backtest_params_given_bad_futures_option_names_it(options, message):
    with pytest.raises(BacktestError) as info:
        BacktestParams(**options).validated()
    assert str(info.value) == message


def test_build_loads_definition_records_and_they_override_the_root_spec(
    shared, build, settings, query
):
    report = build([shared / "dbn" / DEFINITION, shared / "csv" / f"{ESU4_TRADES}.pretty.csv"])
    assert [(f.path.name, f.status, f.rows) for f in report.files][:1] == [
        (DEFINITION, "loaded", 2)
    ]
    assert query(
        "select symbol, root, tick_size::double, multiplier::double, expiration::varchar"
        " from instrument_definitions order by symbol"
    ) == [
        ("ESU4", "ES", 0.25, 50.0, "2024-09-20 13:30:00"),
        ("NQU4", "NQ", 0.25, 20.0, "2024-09-20 13:30:00"),
    ]
    again = build([shared / "dbn" / DEFINITION])
    assert again.files[0].reason.startswith("already loaded")
    # A definition beats the root row, even when the root row is edited.
    con = duckdb.connect(str(settings.db_path))
    con.execute("update instruments set multiplier = 1 where root = 'ES'")
    con.close()
    result = run_backtest(settings, BacktestParams(threshold=20, contracts=1))
    assert result.spec["source"] == "definition" and result.spec["multiplier"] == 50.0
    # 23:58 +10, 23:59 +11, 00:00 +42 (BUY @5529.50), 00:01 +31 → closed at 5529.25.
    assert [(t["entry_price"], t["exit_price"], t["pnl"]) for t in result.trades] == [
        (5529.5, 5529.25, -0.25 * 50 - 5.0)
    ]


def test_instruments_table_holds_the_issue_roots(build, settings, query, tmp_path):
    crafted(settings.data_dir, "ESH4", [(1, 100.0)])
    build()
    assert query(
        "select root, tick_size::double, multiplier::double, commission_per_side"
        " from instruments order by root"
    ) == [
        ("CL", 0.01, 1000.0, 2.5),
        ("ES", 0.25, 50.0, 2.5),
        ("GC", 0.1, 100.0, 2.5),
        ("MES", 0.25, 5.0, 0.85),
        ("MNQ", 0.25, 2.0, 0.85),
        ("NQ", 0.25, 20.0, 2.5),
        ("RTY", 0.1, 50.0, 2.5),
        ("YM", 1.0, 5.0, 2.5),
    ]


def test_a_warehouse_without_the_new_columns_gains_them_and_runs(build, settings, query):
    crafted(settings.data_dir, "ESH4", [(600, 5000.0), (-1200, 5001.0)])
    build()
    con = duckdb.connect(str(settings.db_path))
    for table, column in (
        ("backtest_runs", "mode"),
        ("backtest_trades", "mae"),
        ("backtest_metrics", "sortino"),
    ):
        con.execute(f"alter table {table} drop column {column}")
    con.close()
    run_backtest(settings, BacktestParams(contracts=1))
    assert query(
        "select t.mae, r.mode from backtest_trades t join backtest_runs r using (run_id)"
    ) == [(0.0, "futures")]


def test_calmar_is_none_on_fewer_than_twenty_sessions_and_computed_on_more():
    from vcdwh.backtest.stats import annualised_ratios

    def stats(days):
        equity = 10_000 + np.concatenate([np.arange(days - 1) * 10.0, [(days - 2) * 10.0 - 50]])
        return annualised_ratios(equity, np.arange(days), 10_000)

    assert stats(19)["calmar"] is None
    long_run = stats(30)
    assert long_run["calmar"] is not None and long_run["calmar"] > 0
