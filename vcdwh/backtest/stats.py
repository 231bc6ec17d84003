"""Backtest statistics: a pure function of the trades, the equity curve and the prices."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

TRADING_DAYS = 252
"""Sessions in a year: every annualised ratio scales its session returns with this."""
MIN_SESSIONS = 20
"""Sessions a run needs before any annualised ratio (Sharpe, Sortino, Calmar) is computed: fewer
than about a month of session returns gives meaningless annual figures, so all three are ``None``
(printed ``n/a``) below it."""
ANNUALISED = ("sharpe", "sortino", "calmar")
"""The annualised ratios: one return series (per session), one factor, one minimum."""


def compute_stats(
    pnls: npt.ArrayLike,
    bars_held: npt.ArrayLike,
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
        drawdown, the annualised ratios (see :func:`annualised_ratios`), expectancy, exposure,
        average bars held, largest win/loss and the buy-and-hold return. ``profit_factor`` is
        ``inf`` with no losing trade and ``None`` with no trades. Every loss-type figure
        (``avg_loss``, ``largest_loss``, ``max_drawdown``, ``max_drawdown_pct``) is ≤ 0.
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
        "avg_loss": float(losses.mean()) if len(losses) else 0.0,
        "profit_factor": profit_factor,
        "max_drawdown": max_dd,
        "max_drawdown_pct": max_dd_pct,
        **annualised_ratios(equity, session_dates, initial_capital),
        "expectancy": float(pnl.mean()) if len(pnl) else 0.0,
        "exposure_pct": float(held.mean() * 100) if len(held) else 0.0,
        "avg_bars_held": float(np.mean(bars)) if len(bars := np.asarray(bars_held)) else 0.0,
        "largest_win": float(wins.max()) if len(wins) else 0.0,
        "largest_loss": float(losses.min()) if len(losses) else 0.0,
        "buy_hold_return_pct": buy_hold,
    }


def annualised_ratios(
    equity: npt.ArrayLike, session_dates: npt.ArrayLike, initial_capital: float
) -> dict[str, Any]:
    """Sharpe, Sortino and Calmar: one rule for every annualised ratio.

    All three are taken on the same series, the returns of the equity at each session's last
    bar (the first against the initial capital), and scaled with the same factor,
    ``TRADING_DAYS`` (252) sessions a year. With fewer than ``MIN_SESSIONS`` (20) sessions all
    three are ``None``.

    Parameters
    ----------
    equity
        Mark-to-market equity at each bar's close.
    session_dates
        Each bar's session date.
    initial_capital
        Capital before the first bar.

    Returns
    -------
    dict
        ``sessions`` (the number of session returns); ``sharpe`` = mean / sample standard
        deviation x √252 (``None`` when the returns do not vary); ``sortino`` = mean / downside
        deviation (root mean square of the returns below 0, over all sessions) x √252 (``None``
        without a losing session); ``calmar`` = annualised return ((final / initial) ^ (252 /
        sessions) - 1, -1 when the equity reached 0) / |max drawdown| as fractions of the peak
        (``None`` without a drawdown).
    """
    equity = np.asarray(equity, dtype=float)
    returns = _daily_returns(equity, np.asarray(session_dates), initial_capital)
    ratios: dict[str, Any] = {"sessions": len(returns), "sharpe": None, "sortino": None}
    ratios["calmar"] = None
    if len(returns) < MIN_SESSIONS:
        return ratios
    scale = math.sqrt(TRADING_DAYS)
    spread = float(np.std(returns, ddof=1))
    if spread > 0 and math.isfinite(spread):
        ratios["sharpe"] = float(np.mean(returns) / spread * scale)
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
    if downside > 0 and math.isfinite(downside):
        ratios["sortino"] = float(np.mean(returns) / downside * scale)
    curve = np.concatenate([[float(initial_capital)], equity])
    peaks = np.maximum.accumulate(curve)
    drawdown = float(((curve - peaks) / peaks).min())
    if drawdown < 0:
        growth = max(float(curve[-1]) / float(initial_capital), 0.0)
        annual = growth ** (TRADING_DAYS / len(returns)) - 1
        ratios["calmar"] = float(annual / -drawdown) if math.isfinite(annual) else None
    return ratios


def undefined_reason(name: str, metrics: dict[str, Any]) -> str:
    """Why an annualised ratio in ``metrics`` is ``None``: too few sessions, or what it lacks."""
    sessions = metrics.get("sessions")
    if sessions is not None and sessions < MIN_SESSIONS:
        return f"{sessions} session(s); annualised ratios need {MIN_SESSIONS}"
    return {
        "sharpe": "session returns do not vary",
        "sortino": "no losing session",
        "calmar": "no drawdown",
    }.get(name, "undefined")


def compute_trade_stats(
    pnls: npt.ArrayLike,
    gross_pnls: npt.ArrayLike,
    commissions: npt.ArrayLike,
    slippages: npt.ArrayLike,
    entry_ns: np.ndarray,
    exit_ns: np.ndarray,
    equity: np.ndarray,
    bar_ns: np.ndarray,
    initial_capital: float,
    pnl_ticks: npt.ArrayLike | None = None,
    mae: npt.ArrayLike | None = None,
    mfe: npt.ArrayLike | None = None,
) -> dict[str, Any]:
    """Compute the futures figures that complete :func:`compute_stats`.

    Parameters
    ----------
    pnls, gross_pnls, commissions, slippages
        Per closed trade: net P&L, P&L at the bar closes before costs, commission and
        slippage paid, in currency.
    entry_ns, exit_ns
        Per trade: entry and exit bar start, nanoseconds since the epoch.
    equity
        Mark-to-market equity at each bar's close.
    bar_ns
        Each bar's start, nanoseconds since the epoch.
    initial_capital
        Capital before the first bar.
    pnl_ticks, mae, mfe
        Per trade: net P&L per contract in ticks, worst and best excursion in currency; ``None``
        when not known (seed mode), which makes the figures built on them ``None``.

    Returns
    -------
    dict
        ``net_pnl``, ``gross_pnl``, ``commissions_paid``, ``slippage_paid`` (costs: amounts
        paid, ≥ 0); ``net_pnl_ticks``, ``avg_win_ticks``, ``avg_loss_ticks`` (≤ 0),
        ``expectancy_ticks``; ``max_drawdown_duration_bars`` and ``max_drawdown_duration_s``
        (longest stretch under a previous equity peak, up to recovery or the last bar); ``sqn``
        (√N x mean / standard deviation of trade P&L); ``avg_trade_duration_s``; ``avg_mae``,
        ``worst_mae`` (≤ 0), ``avg_mfe``, ``best_mfe`` (≥ 0).
    """
    pnl = np.asarray(pnls, dtype=float)
    equity = np.asarray(equity, dtype=float)
    final = float(equity[-1]) if len(equity) else float(initial_capital)
    stats: dict[str, Any] = {
        "net_pnl": final - float(initial_capital),
        "gross_pnl": float(np.sum(gross_pnls)),
        "commissions_paid": float(np.sum(commissions)),
        "slippage_paid": float(np.sum(slippages)),
    }
    if pnl_ticks is None:
        stats.update(net_pnl_ticks=None, avg_win_ticks=None, avg_loss_ticks=None)
        stats["expectancy_ticks"] = None
    else:
        ticks = np.asarray(pnl_ticks, dtype=float)
        stats["net_pnl_ticks"] = float(ticks.sum())
        stats["avg_win_ticks"] = float(ticks[pnl > 0].mean()) if np.any(pnl > 0) else 0.0
        stats["avg_loss_ticks"] = float(ticks[pnl < 0].mean()) if np.any(pnl < 0) else 0.0
        stats["expectancy_ticks"] = float(ticks.mean()) if len(ticks) else 0.0

    curve = np.concatenate([[float(initial_capital)], equity])
    times = np.concatenate([np.asarray(bar_ns[:1], dtype=np.int64), np.asarray(bar_ns, np.int64)])
    at_peak = curve >= np.maximum.accumulate(curve)
    last_peak = np.maximum.accumulate(np.where(at_peak, np.arange(len(curve)), 0))
    stats["max_drawdown_duration_bars"] = int(np.max(np.arange(len(curve)) - last_peak))
    stats["max_drawdown_duration_s"] = float(np.max(times - times[last_peak]) / 1e9)

    spread = float(np.std(pnl, ddof=1)) if len(pnl) >= 2 else 0.0
    stats["sqn"] = float(math.sqrt(len(pnl)) * pnl.mean() / spread) if spread > 0 else None
    durations = (np.asarray(exit_ns, np.int64) - np.asarray(entry_ns, np.int64)) / 1e9
    stats["avg_trade_duration_s"] = float(durations.mean()) if len(durations) else 0.0
    for name, values, pick in (("mae", mae, np.min), ("mfe", mfe, np.max)):
        array = None if values is None else np.asarray(values, dtype=float)
        if array is None or len(array) == 0:
            stats[f"avg_{name}"] = None if array is None else 0.0
            stats["worst_mae" if name == "mae" else "best_mfe"] = stats[f"avg_{name}"]
        else:
            stats[f"avg_{name}"] = float(np.mean(array))
            stats["worst_mae" if name == "mae" else "best_mfe"] = float(pick(array))
    return stats


def _daily_returns(
    equity: np.ndarray, session_dates: np.ndarray, initial_capital: float
) -> np.ndarray:
    """Returns of the equity at each session's last bar (the first against the initial capital)."""
    if len(equity) == 0:
        return np.zeros(0)
    dates = np.asarray(session_dates)
    last_of_day = np.flatnonzero(np.append(dates[1:] != dates[:-1], True))
    daily = np.concatenate([[float(initial_capital)], np.asarray(equity, float)[last_of_day]])
    return np.diff(daily) / daily[:-1]
