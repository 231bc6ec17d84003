"""One run from its inputs: rules → walk → pure stats → the rows to store.

:func:`simulate` is what ``vcdwh backtest``, ``vcdwh sweep`` and ``vcdwh walkforward`` all call,
so a combination of a sweep or a fold of a walk-forward is the same run as ``vcdwh backtest``
with the same parameters on the same bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vcdwh.backtest.inputs import Inputs
from vcdwh.backtest.stats import compute_stats, compute_trade_stats
from vcdwh.backtest.store import RunRecord, run_row, ts_text
from vcdwh.backtest.walk import DIRECTIONS, ContractSizing, Rules, SeedSizing, Walk, walk


@dataclass
class Simulated:
    """A run's walk and the record to store."""

    record: RunRecord
    walk: Walk
    commission: float


def rules_for(inputs: Inputs) -> tuple[Rules, float]:
    """The walk's rules for the run's params and contract spec, and the commission per side."""
    params, spec = inputs.params, inputs.spec
    commission = 0.0
    sizing: SeedSizing | ContractSizing
    if params.futures:
        assert spec is not None  # load_inputs refuses contracts without a spec
        commission = spec.commission_per_side if params.commission is None else params.commission
        sizing = ContractSizing(
            params.contracts or 1, spec.multiplier, commission, params.slippage_ticks
        )
    else:
        sizing = SeedSizing(params.position_size)
    rules = Rules(
        sizing,
        side=params.side,
        entry=params.entry,
        flat_at_session_end=params.flat_at_session_end,
        hours=params.hours,
        flat_at_rth_end=params.flat_at_rth_end,
        tick_size=spec.tick_size if spec is not None else 0.0,
        stop_ticks=params.stop_ticks,
        target_ticks=params.target_ticks,
        trail_ticks=params.trail_ticks,
        max_bars=params.max_bars,
        target_fill=params.target_fill,
    )
    return rules, commission


def simulate(
    inputs: Inputs,
    *,
    sweep_id: str | None = None,
    segment: str | None = None,
    walkforward_id: str | None = None,
    fold: int | None = None,
) -> Simulated:
    """Walk the inputs, compute the metrics and shape the run for :func:`store_records`."""
    params, bars, spec = inputs.params, inputs.bars, inputs.spec
    rules, commission = rules_for(inputs)
    result = walk(
        bars.close,
        inputs.signal,
        rules,
        params.initial_capital,
        open_=bars.open,
        high=bars.high,
        low=bars.low,
        session_date=bars.session_date,
        contract=bars.contract,
        bar_ns=bars.bar_ns,
        interval_ns=bars.interval_ns,
        is_rth=bars.is_rth,
        instrument=bars.instrument,
        tape=inputs.tape,
        bounds=bars.bounds,
    )
    metrics = compute_metrics(inputs, result)
    k = len(result.entries)
    futures = result.tick_value is not None
    entry_time = result.entry_ns.astype("datetime64[ns]")
    exit_time = result.exit_ns.astype("datetime64[ns]")
    trades: dict[str, Any] = {
        "trade_no": np.arange(1, k + 1, dtype=np.int32),
        "direction": [DIRECTIONS[int(v)] for v in result.direction],
        "entry_time": entry_time,
        "entry_price": result.entry_price,
        "exit_time": exit_time,
        "exit_price": result.exit_price,
        "quantity": result.quantity,
        "pnl": result.pnl,
        "return_pct": (
            result.pnl / params.initial_capital * 100
            if futures
            else (result.exit_price / result.entry_price - 1) * 100 * result.direction
            if k
            else np.zeros(0)
        ),
        "bars_held": result.bars_held.astype(np.int32),
        "exit_reason": result.exit_reason,
        "contract": bars.contract[result.entries].astype(str),
        "gross_pnl": result.gross_pnl,
        "commission": result.commission,
        "slippage": result.slippage,
    }
    if futures:
        trades.update(
            pnl_ticks=result.pnl_ticks,
            mae=result.mae,
            mfe=result.mfe,
            mae_ticks=result.mae_ticks,
            mfe_ticks=result.mfe_ticks,
        )
    equity = {
        "bar_start": bars.bar_start,
        "equity": result.equity,
        "in_position": result.in_position,
    }
    row = run_row(
        params,
        bars.symbol,
        bars.instrument_id,
        bars.bar_start,
        bars.relation,
        sweep_id=sweep_id,
        segment=segment,
        signal_sql=inputs.signal_def.sql,
        signal_values=inputs.values,
        commission=commission,
        tick_size=spec.tick_size if futures and spec else None,
        multiplier=spec.multiplier if futures and spec else None,
        spec_source=spec.source if futures and spec else None,
        walkforward_id=walkforward_id,
        fold=fold,
    )
    record = RunRecord(row, trades, equity, metrics)
    return Simulated(record, result, commission)


def compute_metrics(inputs: Inputs, result: Walk) -> dict[str, Any]:
    """The seed's metrics, the futures figures (ticks and excursions with contracts) and ruin."""
    params, bars = inputs.params, inputs.bars
    metrics = compute_stats(
        result.pnl,
        result.bars_held,
        result.equity,
        bars.close,
        bars.session_date,
        result.in_position,
        params.initial_capital,
    )
    futures = result.tick_value is not None
    metrics.update(
        compute_trade_stats(
            result.pnl,
            result.gross_pnl,
            result.commission,
            result.slippage,
            result.entry_ns,
            result.exit_ns,
            result.equity,
            bars.bar_ns,
            params.initial_capital,
            pnl_ticks=result.pnl_ticks,
            mae=result.mae if futures else None,
            mfe=result.mfe if futures else None,
        )
    )
    metrics["ruined"] = result.ruin_bar is not None
    metrics["ruin_time"] = bars.bar_start[result.ruin_bar] if result.ruin_bar is not None else None
    return metrics


SEED_TRADE_KEYS = (
    "trade_no",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "quantity",
    "pnl",
    "bars_held",
    "exit_reason",
)
CONTRACT_TRADE_KEYS = (
    "trade_no",
    "direction",
    "contract",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "quantity",
    "gross_pnl",
    "commission",
    "slippage",
    "pnl",
    "pnl_ticks",
    "mae",
    "mfe",
    "bars_held",
    "exit_reason",
)


def trade_dicts(sim: Simulated, inputs: Inputs) -> list[dict[str, Any]]:
    """The trades of a run as plain values (for ``--json`` and the Python API)."""
    keys = CONTRACT_TRADE_KEYS if inputs.params.futures else SEED_TRADE_KEYS
    out = []
    columns = sim.record.trades
    for t in range(len(columns["trade_no"])):
        item = {k: _plain(columns[k][t]) for k in keys}
        item["entry_time"] = ts_text(columns["entry_time"][t])
        item["exit_time"] = ts_text(columns["exit_time"][t])
        out.append(item)
    return out


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
