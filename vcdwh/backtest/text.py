"""A run as text: the seed's PERFORMANCE METRICS block, the futures block, the run's line."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from vcdwh.backtest.params import RESETS, BacktestParams, BacktestResult
from vcdwh.backtest.stats import ANNUALISED, MIN_SESSIONS, TRADING_DAYS, undefined_reason

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


METRIC_LABELS: dict[str, str] = {
    "initial_capital": "Initial Capital",
    "final_capital": "Final Capital",
    "total_return_pct": "Total Return",
    "total_trades": "Total Trades",
    "winning_trades": "Winning Trades",
    "losing_trades": "Losing Trades",
    "win_rate_pct": "Win Rate",
    "avg_win": "Average Win",
    "avg_loss": "Average Loss",
    "profit_factor": "Profit Factor",
    "max_drawdown": "Max Drawdown",
    "max_drawdown_pct": "Max Drawdown %",
    "sessions": "Sessions",
    "sharpe": "Sharpe Ratio",
    "sortino": "Sortino Ratio",
    "calmar": "Calmar Ratio",
    "expectancy": "Expectancy",
    "exposure_pct": "Exposure",
    "avg_bars_held": "Avg Bars Held",
    "largest_win": "Largest Win",
    "largest_loss": "Largest Loss",
    "buy_hold_return_pct": "Buy & Hold Return",
    "net_pnl": "Net P&L",
    "net_pnl_ticks": "Net P&L per Contract",
    "gross_pnl": "Gross P&L",
    "commissions_paid": "Commissions Paid",
    "slippage_paid": "Slippage Paid",
    "avg_win_ticks": "Avg Win (ticks)",
    "avg_loss_ticks": "Avg Loss (ticks)",
    "expectancy_ticks": "Expectancy (ticks)",
    "max_drawdown_duration_s": "Max DD Duration",
    "max_drawdown_duration_bars": "Max DD Duration (bars)",
    "sqn": "SQN",
    "avg_trade_duration_s": "Avg Trade Duration",
    "avg_mae": "Avg MAE",
    "avg_mfe": "Avg MFE",
    "worst_mae": "Worst MAE",
    "best_mfe": "Best MFE",
    "ruined": "Ruined",
    "ruin_time": "Ruin Time",
}
"""Every stored metric's label, in the order a run prints them: the one table of names that the
CLI text and the HTML report both use."""

TRADE_LABELS: dict[str, str] = {
    "trade_no": "#",
    "direction": "Side",
    "contract": "Contract",
    "entry_time": "Entry Time",
    "entry_price": "Entry",
    "exit_time": "Exit Time",
    "exit_price": "Exit",
    "quantity": "Qty",
    "gross_pnl": "Gross P&L",
    "commission": "Commission",
    "slippage": "Slippage",
    "pnl": "Net P&L",
    "pnl_ticks": "Ticks",
    "mae": "MAE",
    "mfe": "MFE",
    "bars_held": "Bars",
    "exit_reason": "Exit Reason",
}
"""The label of each stored trade column (``backtest_trades``), for tables of trades."""

_TRADE_MONEY = ("gross_pnl", "commission", "slippage", "pnl", "mae", "mfe")


def format_trade_cell(name: str, trade: dict[str, Any]) -> str:
    """One cell of a trade: money as the metrics print it, times to the second, prices as is."""
    value = trade.get(name)
    if value is None:
        return "n/a"
    if name in _TRADE_MONEY:
        return format_money(float(value))
    if name in ("entry_time", "exit_time"):
        return str(value).replace("T", " ")[:19]
    if name == "pnl_ticks":
        return f"{value:.1f}"
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


_PERCENT = (
    "total_return_pct",
    "win_rate_pct",
    "max_drawdown_pct",
    "exposure_pct",
    "buy_hold_return_pct",
)
_MONEY = (
    "initial_capital",
    "final_capital",
    "avg_win",
    "avg_loss",
    "max_drawdown",
    "expectancy",
    "largest_win",
    "largest_loss",
    "net_pnl",
    "gross_pnl",
    "commissions_paid",
    "slippage_paid",
    "avg_mae",
    "avg_mfe",
    "worst_mae",
    "best_mfe",
)
_TICKS = ("net_pnl_ticks", "avg_win_ticks", "avg_loss_ticks", "expectancy_ticks")
_DURATIONS = ("max_drawdown_duration_s", "avg_trade_duration_s")
ANNUALISED_NOTE = f"per session, x√{TRADING_DAYS}"
"""How the annualised ratios are annualised, as the text says it."""


def format_metric(name: str, metrics: dict[str, Any], why: bool = True) -> str:
    """One metric of a run as the CLI prints it: money, percent, ticks, a duration or a ratio.

    An annualised ratio that is ``None`` prints ``n/a`` with the reason (too few sessions, or
    what it lacks) unless ``why`` is false (a table cell); any other ``None`` prints ``n/a``.
    """
    value = metrics.get(name)
    if value is None:
        if why and name in ANNUALISED and metrics.get("sessions") is not None:
            return f"n/a ({undefined_reason(name, metrics)})"
        return "n/a"
    if name in _PERCENT:
        return f"{value:.2f}%"
    if name in _MONEY:
        return format_money(value)
    if name in _TICKS:
        return _ticks(value)
    if name in _DURATIONS:
        return format_duration(value)
    if name == "avg_bars_held":
        return f"{value:.1f}"
    if name == "ruined":
        return "yes" if value else "no"
    if name == "ruin_time":
        return str(value).replace("T", " ")[:19]
    if isinstance(value, bool | int):
        return str(int(value))
    return _ratio(value)


def annualised_note(metrics: Iterable[dict[str, Any]]) -> str | None:
    """The line under a table of runs when some are too short for the annualised ratios."""
    short = sorted(
        {m["sessions"] for m in metrics if (m.get("sessions") or MIN_SESSIONS) < MIN_SESSIONS}
    )
    if not short:
        return None
    spans = ", ".join(str(n) for n in short)
    return (
        f"n/a: sharpe, sortino and calmar are annualised ({ANNUALISED_NOTE}) and need "
        f"{MIN_SESSIONS} sessions; runs here span {spans} session(s)"
    )


def metric_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """Each metric present in ``metrics`` as (label, formatted value), in the printed order."""
    return [
        (label, format_metric(k, metrics)) for k, label in METRIC_LABELS.items() if k in metrics
    ]


def format_money(value: float) -> str:
    """Dollars with the sign in front, as every figure prints them: ``$12.50``, ``-$12.50``."""
    return f"-${-value:.2f}" if value < 0 else f"${value:.2f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.2f}"


def _line(name: str, text: str) -> str:
    return f"{METRIC_LABELS[name] + ':':<20}{text}"


def _annualised(name: str, m: dict[str, Any]) -> str:
    value = format_metric(name, m)
    return _line(name, value if m.get(name) is None else f"{value} ({ANNUALISED_NOTE})")


def format_metrics(result: BacktestResult) -> str:
    """The seed's PERFORMANCE METRICS block, then the risk figures."""
    m = result.metrics
    lines = [
        SEPARATOR,
        "PERFORMANCE METRICS",
        SEPARATOR,
        *(
            _line(name, format_metric(name, m))
            for name in (
                "initial_capital",
                "final_capital",
                "total_return_pct",
                "total_trades",
                "winning_trades",
                "losing_trades",
                "win_rate_pct",
                "avg_win",
                "avg_loss",
                "profit_factor",
            )
        ),
        SEPARATOR,
        _line(
            "max_drawdown",
            f"{format_metric('max_drawdown', m)} ({format_metric('max_drawdown_pct', m)})",
        ),
        _annualised("sharpe", m),
        _annualised("sortino", m),
        _annualised("calmar", m),
        _line("expectancy", f"{format_metric('expectancy', m)} per trade"),
        _line("exposure_pct", f"{format_metric('exposure_pct', m)} of bars"),
        *(
            _line(name, format_metric(name, m))
            for name in ("avg_bars_held", "largest_win", "largest_loss", "buy_hold_return_pct")
        ),
        SEPARATOR,
    ]
    if result.params.futures and result.spec is not None:
        lines += _futures_lines(result)
    if m.get("ruined"):
        lines += [
            f"RUIN: the equity reached {format_money(m['final_capital'])} at "
            f"{str(m['ruin_time'])[:19]}; the run stopped trading there (margin is not modelled)",
            SEPARATOR,
        ]
    return "\n".join(lines)


def format_duration(seconds: float) -> str:
    """A duration as the CLI prints it: ``2h 05m``, ``1d 03h 20m``."""
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
        _line(
            "net_pnl",
            f"{format_metric('net_pnl', m)} ({_ticks(m['net_pnl_ticks'])} per contract)",
        ),
        *(_line(name, format_metric(name, m)) for name in ("gross_pnl", "commissions_paid")),
        _line("slippage_paid", format_metric("slippage_paid", m)),
        f"Avg Win / Loss:     {_ticks(m['avg_win_ticks'])} / {_ticks(m['avg_loss_ticks'])}",
        _line("expectancy", f"{_ticks(m['expectancy_ticks'])} per trade"),
        _line(
            "max_drawdown_duration_s",
            f"{format_duration(m['max_drawdown_duration_s'])}"
            f" ({m['max_drawdown_duration_bars']} bars)",
        ),
        _line("sqn", format_metric("sqn", m)),
        _line("avg_trade_duration_s", format_metric("avg_trade_duration_s", m)),
        f"Avg MAE / MFE:      {format_money(m['avg_mae'] or 0.0)}"
        f" / {format_money(m['avg_mfe'] or 0.0)}",
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
