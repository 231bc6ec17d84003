"""A run as text: the seed's PERFORMANCE METRICS block, the futures block, the run's line."""

from __future__ import annotations

import math

from vcdwh.backtest.params import RESETS, BacktestResult

SEPARATOR = "=" * 60


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


def describe_run(result: BacktestResult, chosen_by_default: bool) -> str:
    """One line saying what was run."""
    how = " (most volume; choose with --symbol)" if chosen_by_default else ""
    p = result.params
    sizing = f"{p.contracts} contract(s) {p.side}, " if p.futures else ""
    return (
        f"run {result.run_id}: {result.symbol}{how}, {sizing}{p.frequency} bars, "
        f"threshold ±{p.threshold:g} on {RESETS[p.reset]}, {result.bar_count:,} bars "
        f"{result.data_start} → {result.data_end}"
    )


def format_run(result: BacktestResult, chosen_by_default: bool) -> str:
    """What ``vcdwh backtest`` prints: the run's line, then its metrics."""
    return describe_run(result, chosen_by_default) + "\n" + format_metrics(result)
