"""The seed's walk: long-only, a fraction of capital per position, fills at bar closes.

Seed semantics: flat + BUY → long at that bar's close with ``position_size`` times capital;
long + SELL → exit at that bar's close; repeated BUYs while long add nothing and a SELL while
flat opens nothing. A position still open after the last bar is closed at the last close
(exit reason ``end_of_data``); a BUY on the very last bar opens nothing, since it could not be held.

A futures root (``--symbol ES``) runs on ``bars_<interval>_continuous``. Trades never span a
roll: a position open at a roll is closed at the last bar of the old contract (exit reason
``roll``), and the next position needs a BUY on a bar of the new contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vcdwh.backtest.inputs import Signals
from vcdwh.backtest.params import BacktestParams
from vcdwh.backtest.stats import compute_stats, compute_trade_stats
from vcdwh.backtest.store import RunRecord, run_row


@dataclass
class Walk:
    """The trades and equity curve of one walk over the signals."""

    entries: np.ndarray
    exits: np.ndarray
    quantity: np.ndarray
    pnl: np.ndarray
    exit_reason: list[str]
    equity: np.ndarray
    in_position: np.ndarray


# --------------------------------------------------------------------------- walk


def walk_signals(
    close: np.ndarray,
    signal: np.ndarray,
    position_size: float,
    initial_capital: float,
    contract: np.ndarray | None = None,
) -> Walk:
    """Walk the signals with the seed's rules (vectorised over bars, a loop over trades only).

    Bars where ``contract`` changes start a new segment: a position open on the last bar of
    a contract is closed there (exit reason ``roll``), signals before a roll do not carry
    over, and no position opens on the last bar of a contract (it could not be held).

    Parameters
    ----------
    close
        Each bar's close.
    signal
        +1 (BUY), -1 (SELL) or 0 per bar.
    position_size
        Fraction of current capital put into each new position.
    initial_capital
        Capital before the first bar.
    contract
        The contract of each bar (a continuous series); None means one contract throughout.
    """
    n = len(close)
    bars = np.arange(n)
    starts = np.zeros(n, dtype=bool)
    if n:
        starts[0] = True
    if contract is not None and n > 1:
        starts[1:] = np.asarray(contract[1:]) != np.asarray(contract[:-1])
    ends = np.concatenate([starts[1:], [True]]) if n else starts
    segment_start = np.maximum.accumulate(np.where(starts, bars, 0)) if n else bars
    index = np.where(signal != 0, bars, -1)
    last = np.maximum.accumulate(index) if n else index
    long_after = (last >= segment_start) & (signal[np.clip(last, 0, None)] == 1)
    before = np.concatenate([[False], long_after[:-1]]) & ~starts if n else long_after
    long_after &= ~(ends & ~before)  # a BUY on a contract's last bar cannot be held
    before = np.concatenate([[False], long_after[:-1]]) & ~starts if n else long_after
    entries = np.flatnonzero(long_after & ~before)
    signal_exits = np.flatnonzero(~long_after & before)
    forced = np.flatnonzero(long_after & ends)
    exits = np.sort(np.concatenate([signal_exits, forced])).astype(int)
    forced_set = set(forced.tolist())
    reasons = [
        ("end_of_data" if k == n - 1 else "roll") if k in forced_set else "signal"
        for k in exits.tolist()
    ]

    quantity = np.zeros(len(entries))
    pnl = np.zeros(len(entries))
    capital = float(initial_capital)
    realized = np.zeros(n)
    unrealized = np.zeros(n)
    in_position = np.zeros(n, dtype=bool)
    for t, (entry, exit_) in enumerate(zip(entries, exits, strict=True)):
        quantity[t] = capital * position_size / close[entry]
        pnl[t] = (close[exit_] - close[entry]) * quantity[t]
        capital += pnl[t]
        realized[exit_] += pnl[t]
        in_position[entry + 1 : exit_ + 1] = True
        unrealized[entry + 1 : exit_] = (close[entry + 1 : exit_] - close[entry]) * quantity[t]
    equity = initial_capital + np.cumsum(realized) + unrealized
    return Walk(entries, exits, quantity, pnl, reasons, equity, in_position)


def seed_metrics(
    signals: Signals, walk: Walk, held: np.ndarray, initial_capital: float
) -> dict[str, Any]:
    """The seed's metrics plus the figures of :func:`vcdwh.backtest.stats.compute_trade_stats`."""
    metrics = compute_stats(
        walk.pnl,
        held,
        walk.equity,
        signals.close,
        signals.session_date,
        walk.in_position,
        initial_capital,
    )
    zeros = np.zeros(len(walk.pnl))
    metrics.update(
        compute_trade_stats(
            walk.pnl,
            walk.pnl,
            zeros,
            zeros,
            signals.bar_start[walk.entries].astype("datetime64[ns]").astype(np.int64),
            signals.bar_start[walk.exits].astype("datetime64[ns]").astype(np.int64),
            walk.equity,
            signals.bar_start.astype("datetime64[ns]").astype(np.int64),
            signals.session_date,
            initial_capital,
        )
    )
    return metrics


def _bars_relation(params: BacktestParams, signals: Signals) -> str:
    """The relation a run read: a root's bars carry contracts other than the root itself."""
    contract = signals.contract
    continuous = contract is not None and len(contract) > 0 and contract[0] != signals.symbol
    return params.interval.continuous_relation if continuous else params.interval.bars_relation


def seed_record(
    params: BacktestParams,
    signals: Signals,
    walk: Walk,
    held: np.ndarray,
    metrics: dict[str, Any],
    sweep_id: str | None,
    segment: str | None = None,
) -> RunRecord:
    """Put a seed-mode walk into the shape :func:`store_records` writes."""
    import pandas as pd

    entry_price = signals.close[walk.entries]
    exit_price = signals.close[walk.exits]
    trades = pd.DataFrame(
        {
            "trade_no": np.arange(1, len(walk.entries) + 1, dtype=np.int32),
            "direction": ["long"] * len(walk.entries),
            "entry_time": signals.bar_start[walk.entries],
            "entry_price": entry_price,
            "exit_time": signals.bar_start[walk.exits],
            "exit_price": exit_price,
            "quantity": walk.quantity,
            "pnl": walk.pnl,
            "return_pct": (exit_price / entry_price - 1) * 100 if len(entry_price) else np.zeros(0),
            "bars_held": held.astype(np.int32),
            "exit_reason": walk.exit_reason,
            "contract": [signals.symbol] * len(walk.entries),
            "gross_pnl": walk.pnl,
            "commission": np.zeros(len(walk.entries)),
            "slippage": np.zeros(len(walk.entries)),
        }
    )
    equity = pd.DataFrame(
        {"bar_start": signals.bar_start, "equity": walk.equity, "in_position": walk.in_position}
    )
    row = run_row(
        params,
        signals.symbol,
        signals.instrument_id,
        signals.bar_start,
        sweep_id,
        _bars_relation(params, signals),
        segment=segment,
    )
    return RunRecord(row, trades, equity, metrics)
