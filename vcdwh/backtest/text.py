"""A run as text: the seed's PERFORMANCE METRICS block, the futures block, the run's line."""

from __future__ import annotations

import math
from typing import Any

from vcdwh.backtest.params import RESETS, BacktestParams, BacktestResult

SEPARATOR = "=" * 60


def format_cell(value: Any, money: bool = False) -> str:
    """A metric in a table: ``n/a``, ``inf``, an integer, or two decimals (with thousands)."""
    if value is None:
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    if isinstance(value, int):
        return str(value)
    return f"{value:,.2f}" if money else f"{value:.2f}"


def _money(value: float) -> str:
    return f"${value:.2f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "inf"
    return f"{value:.2f}"


def format_metrics(result: BacktestResult) -> str:
    """The seed's PERFORMANCE METRICS block, then the risk figures."""
    m = result.metrics
    lines = [
        SEPARATOR,
        "PERFORMANCE METRICS",
        SEPARATOR,
        f"Initial Capital:    {_money(m['initial_capital'])}",
        f"Final Capital:      {_money(m['final_capital'])}",
        f"Total Return:       {m['total_return_pct']:.2f}%",
        f"Total Trades:       {m['total_trades']}",
        f"Winning Trades:     {m['winning_trades']}",
        f"Losing Trades:      {m['losing_trades']}",
        f"Win Rate:           {m['win_rate_pct']:.2f}%",
        f"Average Win:        {_money(m['avg_win'])}",
        f"Average Loss:       {_money(m['avg_loss'])}",
        f"Profit Factor:      {_ratio(m['profit_factor'])}",
        SEPARATOR,
        f"Max Drawdown:       {_money(m['max_drawdown'])} ({m['max_drawdown_pct']:.2f}%)",
        f"Sharpe Ratio:       {_ratio(m['sharpe'])} (daily, annualised 252)",
        f"Expectancy:         {_money(m['expectancy'])} per trade",
        f"Exposure:           {m['exposure_pct']:.2f}% of bars",
        f"Avg Bars Held:      {m['avg_bars_held']:.1f}",
        f"Largest Win:        {_money(m['largest_win'])}",
        f"Largest Loss:       {_money(m['largest_loss'])}",
        f"Buy & Hold Return:  {m['buy_hold_return_pct']:.2f}%",
        SEPARATOR,
    ]
    if result.params.futures and result.spec is not None:
        lines += _futures_lines(result)
    if m.get("ruined"):
        lines += [
            f"RUIN: the equity reached {_money(m['final_capital'])} at {str(m['ruin_time'])[:19]};"
            " the run stopped trading there (margin is not modelled)",
            SEPARATOR,
        ]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    minutes, _ = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h {minutes:02d}m" if days else f"{hours}h {minutes:02d}m"


def _ticks(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ticks"


def _futures_lines(result: BacktestResult) -> list[str]:
    m, spec, p = result.metrics, result.spec or {}, result.params
    return [
        "FUTURES",
        SEPARATOR,
        f"Contract Spec:      {spec['root']} tick {spec['tick_size']:g} x ${spec['multiplier']:g}"
        f" = ${spec['tick_value']:g}/tick ({spec['source']})",
        f"Sizing / Costs:     {p.contracts} contract(s), {p.side}, "
        f"${spec['commission_per_side']:.2f}/contract/side, {p.slippage_ticks:g} tick(s) slippage",
        f"Net P&L:            {_money(m['net_pnl'])} ({_ticks(m['net_pnl_ticks'])} per contract)",
        f"Gross P&L:          {_money(m['gross_pnl'])}",
        f"Commissions Paid:   {_money(m['commissions_paid'])}",
        f"Slippage Paid:      {_money(m['slippage_paid'])}",
        f"Avg Win / Loss:     {_ticks(m['avg_win_ticks'])} / {_ticks(m['avg_loss_ticks'])}",
        f"Expectancy:         {_ticks(m['expectancy_ticks'])} per trade",
        f"Max DD Duration:    {_duration(m['max_drawdown_duration_s'])}"
        f" ({m['max_drawdown_duration_bars']} bars)",
        f"Sortino Ratio:      {_ratio(m['sortino'])} (daily, annualised 252)",
        f"Calmar Ratio:       {_ratio(m['calmar'])}",
        f"SQN:                {_ratio(m['sqn'])}",
        f"Avg Trade Duration: {_duration(m['avg_trade_duration_s'])}",
        f"Avg MAE / MFE:      {_money(m['avg_mae'] or 0.0)} / {_money(m['avg_mfe'] or 0.0)}",
        SEPARATOR,
    ]


def describe_sizing(params: BacktestParams) -> str:
    """Which sizing ran: whole contracts, or the seed's fraction of capital."""
    if params.futures:
        return f"sizing: {params.contracts} contract(s) {params.side}"
    return f"sizing: seed, {params.position_size:g} of capital per position, long only"


def describe_signal(params: BacktestParams) -> str:
    """The signal and its parameters."""
    if params.signal == "cumulative_delta" and not params.signal_params:
        return f"threshold ±{params.threshold:g} on {RESETS[params.reset]}"
    values = ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in (dict(params.signal_params) or {"threshold": params.threshold}).items()
    )
    return f"signal {params.signal} ({values})"


def describe_exits(params: BacktestParams) -> str:
    """The entry fill and the exits resolved on the tape, when not the defaults."""
    parts = []
    if params.entry != "close":
        parts.append(f"entry at the {params.entry}")
    for name, value in (
        ("stop", params.stop_ticks),
        ("target", params.target_ticks),
        ("trail", params.trail_ticks),
    ):
        if value is not None:
            parts.append(f"{name} {value:g} ticks")
    if params.max_bars is not None:
        parts.append(f"time stop {params.max_bars} bars")
    return ", ".join(parts)


def describe_run(result: BacktestResult, chosen_by_default: bool) -> str:
    """One line saying what was run: the instrument, bars, sizing, signal and exits."""
    how = " (most volume; choose with --symbol)" if chosen_by_default else ""
    p = result.params
    exits = describe_exits(p)
    return (
        f"run {result.run_id}: {result.symbol}{how}, {p.frequency} bars, {describe_sizing(p)}, "
        f"{describe_signal(p)}{', ' + exits if exits else ''}, {result.bar_count:,} bars "
        f"{result.data_start} → {result.data_end}"
    )


def format_run(result: BacktestResult, chosen_by_default: bool) -> str:
    """What ``vcdwh backtest`` prints: the run's line, then its metrics."""
    return describe_run(result, chosen_by_default) + "\n" + format_metrics(result)
