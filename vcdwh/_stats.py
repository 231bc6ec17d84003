"""Backtest statistics: a pure function of the trades, the equity curve and the prices."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

TRADING_DAYS = 252


def compute_stats(
    pnls: Sequence[float],
    bars_held: Sequence[int],
    equity: np.ndarray,
    closes: np.ndarray,
    session_dates: np.ndarray,
    in_position: np.ndarray,
    initial_capital: float,
) -> dict[str, Any]:
    """Compute a run's metrics.

    Parameters
    ----------
    pnls
        Profit or loss of each closed trade, in currency.
    bars_held
        Bars each trade was held.
    equity
        Mark-to-market equity at each bar's close.
    closes
        Each bar's close (for buy-and-hold).
    session_dates
        Each bar's session date (daily returns are taken per session).
    in_position
        Whether a position was held over each bar.
    initial_capital
        Capital before the first bar.

    Returns
    -------
    dict
        The seed's metrics (total return, win rate, average win/loss, profit factor, …) and
        drawdown, Sharpe, expectancy, exposure, average bars held, largest win/loss and the
        buy-and-hold return. ``profit_factor`` is ``inf`` with no losing trade and ``None``
        with no trades; ``sharpe`` is ``None`` with fewer than two daily returns or none varying.
    """
    pnl = np.asarray(pnls, dtype=float)
    wins = pnl[pnl > 0]
    losses = pnl[pnl < 0]
    final = float(equity[-1]) if len(equity) else float(initial_capital)
    total_wins = float(wins.sum())
    total_losses = float(-losses.sum())
    if len(pnl) == 0:
        profit_factor: float | None = None
    elif total_losses == 0:
        profit_factor = math.inf
    else:
        profit_factor = total_wins / total_losses

    curve = np.concatenate([[float(initial_capital)], np.asarray(equity, dtype=float)])
    peaks = np.maximum.accumulate(curve)
    drawdowns = curve - peaks
    max_dd = float(drawdowns.min()) if len(curve) else 0.0
    max_dd_pct = float((drawdowns / peaks).min() * 100) if len(curve) else 0.0

    sharpe = _daily_sharpe(np.asarray(equity, dtype=float), session_dates, initial_capital)
    closes = np.asarray(closes, dtype=float)
    buy_hold = float((closes[-1] / closes[0] - 1) * 100) if len(closes) and closes[0] else 0.0
    held = np.asarray(in_position, dtype=bool)
    return {
        "initial_capital": float(initial_capital),
        "final_capital": final,
        "total_return_pct": (final - initial_capital) / initial_capital * 100,
        "total_trades": len(pnl),
        "winning_trades": len(wins),
        "losing_trades": len(losses),
        "win_rate_pct": float(len(wins) / len(pnl) * 100) if len(pnl) else 0.0,
        "avg_win": float(wins.mean()) if len(wins) else 0.0,
        "avg_loss": float(-losses.mean()) if len(losses) else 0.0,
        "profit_factor": profit_factor,
        "max_drawdown": max_dd,
        "max_drawdown_pct": max_dd_pct,
        "sharpe": sharpe,
        "expectancy": float(pnl.mean()) if len(pnl) else 0.0,
        "exposure_pct": float(held.mean() * 100) if len(held) else 0.0,
        "avg_bars_held": float(np.mean(bars_held)) if len(bars_held) else 0.0,
        "largest_win": float(wins.max()) if len(wins) else 0.0,
        "largest_loss": float(losses.min()) if len(losses) else 0.0,
        "buy_hold_return_pct": buy_hold,
    }


def _daily_sharpe(
    equity: np.ndarray, session_dates: np.ndarray, initial_capital: float
) -> float | None:
    if len(equity) == 0:
        return None
    dates = np.asarray(session_dates)
    last_of_day = np.flatnonzero(np.append(dates[1:] != dates[:-1], True))
    daily = np.concatenate([[float(initial_capital)], equity[last_of_day]])
    returns = np.diff(daily) / daily[:-1]
    if len(returns) < 2:
        return None
    spread = float(np.std(returns, ddof=1))
    if spread == 0 or not math.isfinite(spread):
        return None
    return float(np.mean(returns) / spread * math.sqrt(TRADING_DAYS))
