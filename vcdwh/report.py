"""``vcdwh report``: one self-contained HTML file for a stored run or sweep (plotly, inlined).

A run report shows price candles with the entries and exits, the cumulative delta beneath (as
candles when the bars table has ``delta_open/high/low/close``, else as a line, with the ±threshold
lines), the equity and the drawdown, then the metrics and the trade list. A sweep report shows a
heatmap of one metric over threshold x frequency for each reset (and each segment with a split),
then every run. plotly.js is written into the file, so it opens offline.
"""

from __future__ import annotations

import html
import itertools
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vcdwh.backtest.engine import CONTRACT_TRADE_KEYS
from vcdwh.backtest.params import RESETS
from vcdwh.backtest.text import (
    METRIC_LABELS,
    TRADE_LABELS,
    annualised_note,
    format_metric,
    format_trade_cell,
    metric_rows,
)
from vcdwh.config import Settings
from vcdwh.errors import ConfigError, WarehouseError
from vcdwh.warehouse.db import connect_read_only, relation_exists
from vcdwh.warehouse.sqlrender import identifier, render

if TYPE_CHECKING:
    import duckdb

DELTA_CANDLE_COLUMNS = ("delta_open", "delta_high", "delta_low", "delta_close")
CSS = """
body { font-family: system-ui, sans-serif; margin: 1rem 1.5rem; color: #222; }
h1 { font-size: 1.3rem; } h2 { font-size: 1.1rem; margin-top: 1.5rem; }
.table { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.8rem; }
th, td { border: 1px solid #ddd; padding: 0.15rem 0.3rem; text-align: right; }
td { white-space: nowrap; font-variant-numeric: tabular-nums; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
.params, .note { color: #555; font-size: 0.9rem; }
"""
THRESHOLD_LINE = {"dash": "dash", "color": "#e08214", "width": 1.5}
"""The ±threshold lines of the delta panel: drawn across it, and always inside its y range."""
LABELS = {
    **METRIC_LABELS,
    **TRADE_LABELS,
    "run_id": "Run",
    "segment": "Segment",
    "frequency": "Frequency",
    "reset": "Reset",
    "threshold": "Threshold",
    "fold": "Fold",
    "train_start": "Train From",
    "train_end": "Train To",
    "test_start": "Test From",
    "test_end": "Test To",
    "chosen_params": "Chosen Parameters",
    "in_sample_metric": "In-Sample Metric",
    "out_of_sample_metric": "Out-of-Sample Metric",
    "in_sample_run_id": "In-Sample Run",
    "out_of_sample_run_id": "Out-of-Sample Run",
    "note": "Note",
}
"""Column labels of the report's tables: the CLI's metric labels, then the trade, run and
walk-forward fold columns."""


@dataclass
class Written:
    """The file written and a one-line summary of what it shows."""

    path: Path
    bytes: int
    summary: str


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError as exc:
        raise ConfigError(
            "vcdwh report needs plotly; from the checkout: `pip install -e '.[report]'`"
        ) from exc
    return go, make_subplots


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> list[dict]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:,.2f}" if abs(value) >= 0.01 or value == 0 else f"{value:.6g}"
    return str(value)


def _cell(column: str, row: dict[str, Any]) -> str:
    """A value as the CLI prints it: a metric by its rule, a trade column by its, else plain."""
    if column in TRADE_LABELS:
        return format_trade_cell(column, row)
    if column in METRIC_LABELS:
        return format_metric(column, row, why=False)
    return _fmt(row.get(column))


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...] | list[str], table_id: str) -> str:
    """A table of rows with labelled headers, in a box that scrolls sideways if it must."""
    head = "".join(
        f'<th class="text">{html.escape(LABELS.get(c, c))}</th>'
        if i == 0
        else f"<th>{html.escape(LABELS.get(c, c))}</th>"
        for i, c in enumerate(columns)
    )
    body = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            css = ' class="text"' if isinstance(value, str) or value is None else ""
            cells.append(f"<td{css}>{html.escape(_cell(column, row))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    rows_html = "".join(body)
    return (
        f'<div class="table"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows_html}</tbody></table></div>"
    )


def _metrics_table(metrics: dict[str, Any]) -> str:
    """A run's metrics, labelled and formatted as ``vcdwh backtest`` prints them."""
    body = "".join(
        f'<tr><td class="text">{html.escape(label)}</td><td>{html.escape(text)}</td></tr>'
        for label, text in metric_rows(metrics)
    )
    return (
        '<div class="table"><table id="metrics"><thead><tr><th class="text">Metric</th>'
        f"<th>Value</th></tr></thead><tbody>{body}</tbody></table></div>"
    )


def _page(title: str, params: str, figure_html: str, sections: list[tuple[str, str]]) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="params">{html.escape(params)}</p>',
        figure_html,
    ]
    for heading, content in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>{content}")
    parts.append("</body></html>")
    return "\n".join(parts)


def _figure_html(fig: Any, include_plotlyjs: bool = True) -> str:
    return str(
        fig.to_html(
            full_html=False,
            include_plotlyjs=include_plotlyjs,
            include_mathjax=False,
            config={"displaylogo": False, "responsive": True},
        )
    )


def _delta_range(bars: dict[str, Any], candles: bool, threshold: float) -> list[float]:
    """The delta panel's y range: the data and both threshold lines, with a margin."""
    columns = ("delta_low", "delta_high") if candles else ("delta",)
    import numpy as np

    values = np.concatenate(
        [np.ma.filled(np.ma.asarray(bars[c], dtype=float), np.nan) for c in columns]
    )
    values = values[np.isfinite(values)]
    low = min(float(values.min(initial=0.0)), -abs(threshold))
    high = max(float(values.max(initial=0.0)), abs(threshold))
    pad = (high - low) * 0.05 or 1.0
    return [low - pad, high + pad]


# --------------------------------------------------------------------------- run


def _run_report(con: duckdb.DuckDBPyConnection, run_id: int | None) -> tuple[str, str]:
    go, make_subplots = _plotly()
    if run_id is None:
        [(latest,)] = con.execute(
            "select coalesce(max(run_id) filter (where sweep_id is null), max(run_id))"
            " from backtest_runs"
        ).fetchall()
        if latest is None:
            raise WarehouseError("no backtest runs yet; run `vcdwh backtest` first")
        run_id = int(latest)
    runs = _rows(con, "select * from backtest_runs where run_id = $id", {"id": run_id})
    if not runs:
        [(latest,)] = con.execute("select max(run_id) from backtest_runs").fetchall()
        raise WarehouseError(
            f"run {run_id} is not in backtest_runs; choose a run id up to {latest}"
            if latest is not None
            else "no backtest runs yet; run `vcdwh backtest` first"
        )
    run = runs[0]
    bars_relation = identifier(run["bars_relation"])
    if not relation_exists(con, bars_relation):
        raise WarehouseError(
            f"{bars_relation} is gone; rebuild it with `vcdwh build --frequency {run['frequency']}`"
        )
    columns = {
        c
        for (c,) in con.execute(
            "select column_name from duckdb_columns() where table_name = $t", {"t": bars_relation}
        ).fetchall()
    }
    # Candles of the delta the run traded on: session_delta_* for --reset session.
    prefix = "session_" if run["reset"] == "session" else ""
    delta_candles = all(f"{prefix}{c}" in columns for c in DELTA_CANDLE_COLUMNS)
    delta_column = identifier(RESETS[run["reset"]])
    # A root's continuous series is selected by its root; an instrument by id and symbol.
    continuous = "root" in columns
    params = {"symbol": run["symbol"], "start": run["data_start"], "end": run["data_end"]}
    if not continuous:
        params["instrument_id"] = run["instrument_id"]
    sql = render(
        "queries/report_bars.sql",
        bars=bars_relation,
        delta_column=delta_column,
        candle_columns=DELTA_CANDLE_COLUMNS if delta_candles else (),
        candle_prefix=prefix,
        continuous=continuous,
    )
    bars = con.execute(sql, params).fetchnumpy()
    trades = _rows(
        con,
        "select * from backtest_trades where run_id = $id order by trade_no",
        {"id": run_id},
    )
    equity = con.execute(
        "select bar_start, equity from backtest_equity where run_id = $id order by bar_start",
        {"id": run_id},
    ).fetchnumpy()
    metrics = _rows(con, "select * from backtest_metrics where run_id = $id", {"id": run_id})

    times = [str(t).replace("T", " ") for t in bars["bar_start"].astype("datetime64[s]")]
    eq_times = [str(t).replace("T", " ") for t in equity["bar_start"].astype("datetime64[s]")]
    eq = [float(v) for v in equity["equity"]]
    peak, drawdown = float(run["initial_capital"]), []
    for value in eq:
        peak = max(peak, value)
        drawdown.append(value - peak)
    delta_label = f"{delta_column.replace('_', ' ')} (threshold ±{run['threshold']:g})"
    fig = make_subplots(
        rows=4,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.03,
        row_heights=[0.42, 0.22, 0.2, 0.16],
        subplot_titles=(f"{run['symbol']} {run['frequency']}", delta_label, "equity", "drawdown"),
    )
    fig.add_trace(
        go.Candlestick(
            x=times,
            open=bars["open"].tolist(),
            high=bars["high"].tolist(),
            low=bars["low"].tolist(),
            close=bars["close"].tolist(),
            name="price",
        ),
        row=1,
        col=1,
    )
    long_entry = [t["direction"] == "long" for t in trades]
    fig.add_trace(
        go.Scatter(
            x=[str(t["entry_time"])[:19] for t in trades],
            y=[t["entry_price"] for t in trades],
            mode="markers",
            name="entries",
            marker={
                "symbol": ["triangle-up" if is_long else "triangle-down" for is_long in long_entry],
                "color": ["#1a9850" if is_long else "#d73027" for is_long in long_entry],
                "size": 11,
                "line": {"width": 1, "color": "#222"},
            },
            text=[f"#{t['trade_no']} {t['direction']} entry" for t in trades],
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=[str(t["exit_time"])[:19] for t in trades],
            y=[t["exit_price"] for t in trades],
            mode="markers",
            name="exits",
            marker={"symbol": "x", "color": "#333", "size": 9},
            text=[
                f"#{t['trade_no']} exit ({t['exit_reason']}), pnl {t['pnl']:.2f}" for t in trades
            ],
        ),
        row=1,
        col=1,
    )
    if delta_candles:
        fig.add_trace(
            go.Candlestick(
                x=times,
                open=bars["delta_open"].tolist(),
                high=bars["delta_high"].tolist(),
                low=bars["delta_low"].tolist(),
                close=bars["delta_close"].tolist(),
                name="cumulative delta",
                increasing={"line": {"color": "#2166ac"}},
                decreasing={"line": {"color": "#b2182b"}},
            ),
            row=2,
            col=1,
        )
    else:
        fig.add_trace(
            go.Scatter(x=times, y=bars["delta"].tolist(), mode="lines", name="cumulative delta"),
            row=2,
            col=1,
        )
    threshold = float(run["threshold"])
    for level in (threshold, -threshold):
        fig.add_hline(
            y=level,
            line=THRESHOLD_LINE,
            row=2,
            col=1,
            annotation_text=f"{level:+g}",
            annotation_position="top left" if level > 0 else "bottom left",
            annotation_font={"color": THRESHOLD_LINE["color"], "size": 10},
        )
    fig.update_yaxes(range=_delta_range(bars, delta_candles, threshold), row=2, col=1)
    fig.add_trace(go.Scatter(x=eq_times, y=eq, mode="lines", name="equity"), row=3, col=1)
    fig.add_trace(
        go.Scatter(x=eq_times, y=drawdown, mode="lines", fill="tozeroy", name="drawdown"),
        row=4,
        col=1,
    )
    fig.update_layout(
        height=1100,
        showlegend=True,
        margin={"l": 60, "r": 20, "t": 40, "b": 30},
        xaxis_rangeslider_visible=False,
        xaxis2_rangeslider_visible=False,
        hovermode="x unified",
    )
    mode = (
        f"futures: {run['contracts']} contract(s) {run['side']}, ${run['commission']:.2f}/contract"
        f"/side, {run['slippage_ticks']:g} tick(s) slippage, tick {run['tick_size']:g} x "
        f"${run['multiplier']:g} ({run['spec_source']})"
        if run.get("mode") == "futures"
        else f"seed: {run['position_size']:g} of capital per position, long only"
    )
    summary = (
        f"{run['symbol']} {run['frequency']} bars {run['data_start']} → {run['data_end']} "
        f"({run['bar_count']:,} bars); threshold ±{run['threshold']:g} on {delta_column}; "
        f"{mode}; initial capital ${run['initial_capital']:,.2f}"
        + (f"; sweep {run['sweep_id']}" if run.get("sweep_id") else "")
        + (f" ({run['segment']})" if run.get("segment") else "")
    )
    trade_columns = tuple(c for c in CONTRACT_TRADE_KEYS if c in (trades[0] if trades else {}))
    page = _page(
        f"vcdwh backtest run {run_id}",
        summary,
        _figure_html(fig),
        [
            ("Metrics", _metrics_table(metrics[0] if metrics else {})),
            (
                f"Trades ({len(trades)})",
                _table(trades, trade_columns or CONTRACT_TRADE_KEYS, "trades"),
            ),
        ],
    )
    summary = f"run {run_id}, {len(times):,} bars, {len(trades)} trade(s)"
    return page, summary


# --------------------------------------------------------------------------- sweep


def _stored(
    con: duckdb.DuckDBPyConnection, table: str, key: str, value: str, what: str, command: str
) -> dict[str, Any]:
    """The row of a stored sweep or walk-forward, or one line naming the ones there are."""
    rows = _rows(
        con, f"select * from {identifier(table)} where {identifier(key)} = $id", {"id": value}
    )
    if rows:
        return rows[0]
    known = [
        k
        for (k,) in con.execute(
            f"select {identifier(key)} from {identifier(table)} order by created_at"
        ).fetchall()
    ]
    raise WarehouseError(
        f"{what} {value!r} is not in {table}; "
        + (f"choose one of: {', '.join(known)}" if known else f"run `{command}` first")
    )


def _sweep_report(con: duckdb.DuckDBPyConnection, sweep_id: str, by: str | None) -> tuple[str, str]:
    from vcdwh.backtest.sweep import METRICS

    go, make_subplots = _plotly()
    sweep = _stored(con, "backtest_sweeps", "sweep_id", sweep_id, "sweep", "vcdwh sweep")
    metric = by or sweep["by_metric"]
    if metric not in METRICS:
        raise ConfigError(f"--by {metric!r} must be one of: {', '.join(METRICS)}")
    runs = _rows(
        con,
        render("queries/report_sweep_runs.sql", metric=identifier(metric)),
        {"id": sweep_id},
    )
    thresholds = sorted({r["threshold"] for r in runs})
    frequencies = list(sweep["frequencies"])
    resets = list(sweep["resets"])
    segments = [
        s for s in ("all", "in_sample", "out_of_sample") if any(r["segment"] == s for r in runs)
    ]
    fig = make_subplots(
        rows=len(segments),
        cols=len(resets),
        subplot_titles=[
            f"{LABELS.get(metric, metric)}: reset {r}, {s.replace('_', '-')}"
            for s in segments
            for r in resets
        ],
        vertical_spacing=0.12,
        horizontal_spacing=0.08,
    )
    # A cell is the best of its runs (a grid over signal parameters puts several in one cell).
    cell: dict[tuple[Any, ...], Any] = {}
    for r in runs:
        key = (r["segment"], r["reset"], r["frequency"], r["threshold"])
        value = r["metric_value"]
        if key not in cell or (value is not None and (cell[key] is None or value > cell[key])):
            cell[key] = value
    for i, segment in enumerate(segments, start=1):
        for j, reset in enumerate(resets, start=1):
            z = [
                [_finite_or_none(cell.get((segment, reset, f, t))) for t in thresholds]
                for f in frequencies
            ]
            fig.add_trace(
                go.Heatmap(
                    x=[f"{t:g}" for t in thresholds],
                    y=frequencies,
                    z=z,
                    name=f"{segment} {reset}",
                    coloraxis="coloraxis",
                    hovertemplate="threshold %{x}<br>%{y}<br>"
                    + metric
                    + " %{z:.2f}<extra></extra>",
                ),
                row=i,
                col=j,
            )
    fig.update_layout(
        height=320 * len(segments) + 80,
        coloraxis={
            "colorscale": "RdYlGn",
            "colorbar": {"title": {"text": LABELS.get(metric, metric)}},
        },
        margin={"l": 60, "r": 20, "t": 60, "b": 40},
    )
    fig.update_xaxes(title_text="threshold", type="category")
    ranked = sorted(runs, key=lambda r: (r["metric_value"] is None, -(r["metric_value"] or 0)))
    columns: tuple[str, ...] = (
        "run_id",
        "segment",
        "frequency",
        "reset",
        "threshold",
        "total_trades",
        "net_pnl",
        "win_rate_pct",
        "profit_factor",
        "sharpe",
        "max_drawdown",
    )
    if metric not in columns:
        for r in ranked:
            r[metric] = r["metric_value"]
        columns = (*columns, metric)
    params = (
        f"{sweep['symbol']}: thresholds {_fmt(thresholds[0])}…{_fmt(thresholds[-1])} "
        f"({len(thresholds)}), frequencies {', '.join(frequencies)}, resets {', '.join(resets)}, "
        f"side {sweep['side']}, "
        + (f"{sweep['contracts']} contract(s)" if sweep["contracts"] else "seed sizing")
        + (f", split {sweep['split']:g}" if sweep["split"] else "")
        + f"; {sweep['runs']} runs"
    )
    page = _page(
        f"vcdwh sweep {sweep_id}",
        params,
        _figure_html(fig),
        [
            (
                f"Runs by {LABELS.get(metric, metric)}",
                _table(ranked, columns, "runs") + _note(annualised_note(runs)),
            )
        ],
    )
    return page, f"sweep {sweep_id}, {len(runs)} run(s), heatmap of {metric}"


def _walkforward_report(con: duckdb.DuckDBPyConnection, wf_id: str) -> tuple[str, str]:
    go, make_subplots = _plotly()
    wf = _stored(
        con, "backtest_walkforwards", "walkforward_id", wf_id, "walk-forward", "vcdwh walkforward"
    )
    folds = _rows(
        con,
        "select * from backtest_walkforward_folds where walkforward_id = $id order by fold",
        {"id": wf_id},
    )
    equity = con.execute(
        "select bar_start, equity from backtest_walkforward_equity where walkforward_id = $id"
        " order by bar_start",
        {"id": wf_id},
    ).fetchnumpy()
    fig = make_subplots(
        rows=2,
        cols=1,
        row_heights=[0.6, 0.4],
        vertical_spacing=0.12,
        subplot_titles=[
            "stitched out-of-sample equity (each fold's test run, chained)",
            f"{wf['metric']} per fold: in-sample (chosen) and out-of-sample",
        ],
    )
    times = [str(t).replace("T", " ") for t in equity["bar_start"].astype("datetime64[s]")]
    fig.add_trace(
        go.Scatter(x=times, y=[float(v) for v in equity["equity"]], name="equity"), row=1, col=1
    )
    labels = [f"fold {f['fold']}" for f in folds]
    for column, name in (
        ("in_sample_metric", "in-sample"),
        ("out_of_sample_metric", "out-of-sample"),
    ):
        fig.add_trace(
            go.Bar(x=labels, y=[_finite_or_none(f[column]) for f in folds], name=name),
            row=2,
            col=1,
        )
    fig.update_layout(height=720, margin={"l": 60, "r": 20, "t": 60, "b": 40}, barmode="group")
    efficiency = "n/a" if wf["efficiency"] is None else f"{wf['efficiency']:.2f}"
    summary = (
        f"{wf['symbol']}, signal {wf['signal']}: {wf['folds']} fold(s) of "
        f"{wf['train_sessions']} training and {wf['test_sessions']} test session(s)"
        + (" (anchored)" if wf["anchored"] else "")
        + f", {wf['combinations']} combination(s) chosen by {wf['metric']}; out-of-sample net "
        f"P&L ${wf['out_of_sample_net_pnl']:,.2f}; walk-forward efficiency {efficiency}; "
        f"parameters changed {wf['parameter_changes']} time(s)"
    )
    columns = (
        "fold",
        "train_start",
        "train_end",
        "test_start",
        "test_end",
        "chosen_params",
        "in_sample_metric",
        "out_of_sample_metric",
        "in_sample_run_id",
        "out_of_sample_run_id",
        "note",
    )
    page = _page(
        f"vcdwh walk-forward {wf_id}",
        summary,
        _figure_html(fig),
        [("Folds", _table(folds, columns, "folds"))],
    )
    return page, f"walk-forward {wf_id}, {len(folds)} fold(s), stitched equity"


def _note(text: str | None) -> str:
    return f'<p class="note">{html.escape(text)}</p>' if text else ""


def _finite_or_none(value: Any) -> float | None:
    if value is None or not math.isfinite(float(value)):
        return None
    return float(value)


def write_report(
    settings: Settings,
    out: Path,
    run_id: int | None = None,
    sweep_id: str | None = None,
    by: str | None = None,
    walkforward_id: str | None = None,
) -> Written:
    """Render a run (default: the latest), a sweep or a walk-forward to one HTML file.

    Raises
    ------
    WarehouseError
        No warehouse, no such run, sweep or walk-forward.
    ConfigError
        plotly is not installed, or more than one of a run, sweep and walk-forward was asked for.
    """
    if run_id is not None and sweep_id is not None:
        raise ConfigError("give a RUN_ID or --sweep SWEEP_ID, not both")
    if walkforward_id is not None and (run_id is not None or sweep_id is not None):
        raise ConfigError("give a RUN_ID, --sweep SWEEP_ID or --walkforward ID, one of them")
    con = connect_read_only(settings.db_path)
    try:
        if not relation_exists(con, "backtest_runs"):
            raise WarehouseError("no backtest runs yet; run `vcdwh backtest` first")
        if walkforward_id is not None:
            if not relation_exists(con, "backtest_walkforwards"):
                raise WarehouseError(
                    f"walk-forward {walkforward_id!r} is not in backtest_walkforwards; run "
                    "`vcdwh walkforward` first"
                )
            page, summary = _walkforward_report(con, walkforward_id)
        elif sweep_id is not None:
            if not relation_exists(con, "backtest_sweeps"):
                raise WarehouseError(
                    f"sweep {sweep_id!r} is not in backtest_sweeps; run `vcdwh sweep` first"
                )
            page, summary = _sweep_report(con, sweep_id, by)
        else:
            page, summary = _run_report(con, run_id)
    finally:
        con.close()
    return _write(Path(out), page, summary)


def _write(out: Path, page: str, summary: str) -> Written:
    """Write the page whole or not at all (a temporary name renamed into place)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.part")
    partial.write_text(page, encoding="utf-8")
    partial.replace(out)
    return Written(out, out.stat().st_size, summary)


# --------------------------------------------------------------------------- footprint

FOOTPRINT_MAX_BARS = 60
"""At most this many bars of a footprint window are drawn (the first ones); the page says so."""
FOOTPRINT_MAX_TEXT_LEVELS = 250
"""Above this many price rows the cells carry no text (it could not be read); hover shows it."""
STACKED_MIN_LEVELS = 3
"""A run of at least this many adjacent imbalanced levels is marked as stacked on the chart."""
DEFAULT_FOOTPRINT_FREQUENCY = "5min"
BUY_COLOR, SELL_COLOR, POC_COLOR = "#1a9850", "#d73027", "#e08214"
FOOTPRINT_COLUMNS = (
    "bar_start",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "delta",
    "poc",
    "buy_imbalances",
    "sell_imbalances",
    "stacked_buy_imbalances",
    "stacked_sell_imbalances",
)
LABELS.update(
    {
        "bar_start": "Bar Start",
        "open": "Open",
        "high": "High",
        "low": "Low",
        "close": "Close",
        "volume": "Volume",
        "delta": "Delta",
        "poc": "POC",
        "buy_imbalances": "Buy Imbalances",
        "sell_imbalances": "Sell Imbalances",
        "stacked_buy_imbalances": "Stacked Buy",
        "stacked_sell_imbalances": "Stacked Sell",
    }
)


def parse_timestamp(text: str, option: str) -> datetime:
    """A ``--from``/``--to`` value as a naive UTC datetime: ISO 8601, UTC unless it has an offset.

    Raises
    ------
    ConfigError
        If the text is not an ISO 8601 date or timestamp.
    """
    try:
        stamp = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"{option} {text!r} is not a timestamp; use ISO 8601 in UTC such as "
            "2024-03-08 14:30 or 2024-03-08T14:30:00Z"
        ) from None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC).replace(tzinfo=None)
    return stamp


def _stamp(value: Any) -> str:
    """A timestamp as the page prints it: to the second, without a T."""
    return str(value)[:19].replace("T", " ")


def _choose_footprint_instrument(
    con: duckdb.DuckDBPyConnection, bars: str, symbol: str | None
) -> dict[str, Any]:
    rows = _rows(con, render("queries/report_footprint_instruments.sql", bars=bars), {})
    if not rows:
        raise WarehouseError(f"{bars} is empty; load trades with `vcdwh build` first")
    if symbol is None:
        return rows[0]
    for row in rows:
        if row["symbol"] == symbol:
            return row
    loaded = ", ".join(sorted({r["symbol"] for r in rows}))
    raise ConfigError(
        f"--symbol {symbol!r} has no bars in {bars} (a footprint is per contract); "
        f"choose one of: {loaded}"
    )


def _footprint_grid(levels: list[dict[str, Any]]) -> list[float]:
    """The chart's price rows: every level from the lowest to the highest, one level_size apart
    (the traded prices alone when the level size is unknown or not the same in every bar)."""
    prices = sorted({round(level["price"], 9) for level in levels})
    sizes = {level["level_size"] for level in levels}
    if len(sizes) != 1 or None in sizes or not prices:
        return prices
    step = float(next(iter(sizes)))
    count = round((prices[-1] - prices[0]) / step)
    grid = [round(prices[0] + k * step, 9) for k in range(count + 1)]
    return grid if set(prices) <= set(grid) else prices


def _stacked_segments(levels: list[dict[str, Any]], run: str) -> list[tuple[float, float, int]]:
    """The (low, high, levels) of each run of at least STACKED_MIN_LEVELS imbalanced levels in
    one bar's levels (in price order)."""
    segments: list[tuple[float, float, int]] = []
    previous: dict[str, Any] | None = None
    for level in levels:
        stacked = (level[run] or 0) >= STACKED_MIN_LEVELS
        if not stacked:
            previous = None
            continue
        continues = (
            previous is not None
            and level["level_size"] is not None
            and math.isclose(level["price"] - previous["price"], level["level_size"])
        )
        if continues:
            low, _, count = segments[-1]
            segments[-1] = (low, level["price"], count + 1)
        else:
            segments.append((level["price"], level["price"], 1))
        previous = level
    return segments


def _footprint_figure(bars: list[dict[str, Any]], levels: list[dict[str, Any]], title: str) -> Any:
    """Each bar's levels as ``bid x ask`` cells coloured by delta, the POC boxed, imbalances
    marked beside their side and stacked runs drawn as a bar along them."""
    go, _ = _plotly()
    index = {bar["bar_start"]: i for i, bar in enumerate(bars)}
    grid = _footprint_grid(levels)
    row = {price: r for r, price in enumerate(grid)}
    z: list[list[float | None]] = [[None] * len(bars) for _ in grid]
    text = [[""] * len(bars) for _ in grid]
    by_bar: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(bars))}
    for level in levels:
        i, r = index[level["bar_start"]], row[round(level["price"], 9)]
        z[r][i] = float(level["delta"])
        text[r][i] = f"{level['bid_volume']} x {level['ask_volume']}"
        by_bar[i].append(level)
    # Half a row: the POC box and the stacked bars reach the edges of their levels.
    gaps = [b - a for a, b in itertools.pairwise(grid)]
    size = levels[0]["level_size"] if levels else None
    half = min(gaps) / 2 if gaps else 0.5 * float(size or 1.0)
    fig = go.Figure()
    fig.add_trace(
        go.Heatmap(
            x=list(range(len(bars))),
            y=grid,
            z=z,
            text=text,
            texttemplate="%{text}" if len(grid) <= FOOTPRINT_MAX_TEXT_LEVELS else "",
            textfont={"size": 10},
            colorscale=[[0, "#f4a582"], [0.5, "#f7f7f7"], [1, "#92c5de"]],
            zmid=0,
            xgap=3,
            ygap=1,
            name="footprint",
            colorbar={"title": {"text": "delta"}},
            hovertemplate="%{y}<br>bid x ask %{text}<br>delta %{z}<extra></extra>",
        )
    )
    box_x: list[float | None] = []
    box_y: list[float | None] = []
    marks: dict[str, tuple[list[float], list[float], list[str]]] = {
        "buy": ([], [], []),
        "sell": ([], [], []),
    }
    stacks: dict[str, tuple[list[float | None], list[float | None], list[str | None]]] = {
        "buy": ([], [], []),
        "sell": ([], [], []),
    }
    for i, bar_levels in by_bar.items():
        for level in bar_levels:
            price = level["price"]
            if level["poc"]:
                box_x += [i - 0.45, i + 0.45, i + 0.45, i - 0.45, i - 0.45, None]
                box_y += [
                    price - half,
                    price - half,
                    price + half,
                    price + half,
                    price - half,
                    None,
                ]
            for side, offset in (("buy", 0.4), ("sell", -0.4)):
                if level[f"{side}_imbalance"]:
                    xs, ys, labels = marks[side]
                    xs.append(i + offset)
                    ys.append(price)
                    labels.append(f"{side} imbalance {level['bid_volume']} x {level['ask_volume']}")
        for side, offset, run in (("buy", 0.48, "buy_run"), ("sell", -0.48, "sell_run")):
            xs2, ys2, labels2 = stacks[side]
            for low, high, count in _stacked_segments(bar_levels, run):
                xs2 += [i + offset, i + offset, None]
                ys2 += [low - half, high + half, None]
                labels2 += [f"{count} stacked {side} imbalances"] * 2 + [None]
    fig.add_trace(
        go.Scatter(
            x=box_x,
            y=box_y,
            mode="lines",
            name="POC",
            line={"color": POC_COLOR, "width": 2.5},
            hoverinfo="skip",
        )
    )
    for side, symbol, color in (
        ("buy", "triangle-right", BUY_COLOR),
        ("sell", "triangle-left", SELL_COLOR),
    ):
        xs, ys, labels = marks[side]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                name=f"{side} imbalance",
                marker={"symbol": symbol, "color": color, "size": 8},
                text=labels,
                hoverinfo="text",
            )
        )
    for side, color in (("buy", BUY_COLOR), ("sell", SELL_COLOR)):
        xs2, ys2, labels2 = stacks[side]
        fig.add_trace(
            go.Scatter(
                x=xs2,
                y=ys2,
                mode="lines",
                name=f"stacked {side} imbalances ({STACKED_MIN_LEVELS}+ levels)",
                line={"color": color, "width": 6},
                text=labels2,
                hoverinfo="text",
            )
        )
    ticks = [_stamp(bar["bar_start"])[11:16] for bar in bars]
    fig.update_xaxes(
        tickvals=list(range(len(bars))),
        ticktext=ticks,
        range=[-0.6, len(bars) - 0.4],
        showgrid=False,
        zeroline=False,
    )
    stride = max(1, math.ceil(len(grid) / 60))
    fig.update_yaxes(
        title_text="price",
        showgrid=False,
        tickvals=grid[::stride],
        ticktext=[f"{price:g}" for price in grid[::stride]],
    )
    fig.update_layout(
        title={"text": title},
        height=max(420, min(120 + 16 * len(grid), 4000)),
        width=max(900, 110 * len(bars) + 200),
        margin={"l": 70, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
        plot_bgcolor="white",
    )
    return fig


def _session_figure(
    session_bars: dict[str, Any],
    profile: list[dict[str, Any]],
    window: tuple[str, str],
    title: str,
) -> Any:
    """The session's candles with the VWAP and its ±1 and ±2 sd bands, the footprint window shaded,
    and the session's volume profile beside the price with its POC, VAH and VAL lines."""
    go, make_subplots = _plotly()
    import numpy as np

    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        column_widths=[0.78, 0.22],
        horizontal_spacing=0.01,
        subplot_titles=(title, "volume profile"),
    )
    times = [_stamp(t) for t in session_bars["bar_start"].astype("datetime64[s]")]
    fig.add_trace(
        go.Candlestick(
            x=times,
            open=session_bars["open"].tolist(),
            high=session_bars["high"].tolist(),
            low=session_bars["low"].tolist(),
            close=session_bars["close"].tolist(),
            name="price",
        ),
        row=1,
        col=1,
    )
    vwap: Any = np.ma.filled(np.ma.asarray(session_bars["session_vwap"], dtype=float), np.nan)
    sd: Any = np.ma.filled(np.ma.asarray(session_bars["session_vwap_sd"], dtype=float), np.nan)
    for k, dash, width in (
        (2, "dot", 1),
        (1, "dash", 1),
        (0, "solid", 2),
        (-1, "dash", 1),
        (-2, "dot", 1),
    ):
        name = "VWAP" if k == 0 else f"VWAP {k:+d} sd"
        values = vwap + k * sd
        fig.add_trace(
            go.Scatter(
                x=times,
                y=[None if math.isnan(v) else float(v) for v in values],
                mode="lines",
                name=name,
                line={"color": "#6a3d9a", "dash": dash, "width": width},
            ),
            row=1,
            col=1,
        )
    if profile:
        poc, vah, val = profile[0]["poc"], profile[0]["vah"], profile[0]["val"]
        colors = [
            POC_COLOR if p["price"] == poc else "#4575b4" if p["in_value_area"] else "#bbbbbb"
            for p in profile
        ]
        fig.add_trace(
            go.Bar(
                x=[p["volume"] for p in profile],
                y=[p["price"] for p in profile],
                orientation="h",
                name="volume profile",
                marker={"color": colors},
                customdata=[[p["buy_volume"], p["sell_volume"]] for p in profile],
                hovertemplate="%{y}: %{x} (buy %{customdata[0]}, sell %{customdata[1]})"
                "<extra></extra>",
            ),
            row=1,
            col=2,
        )
        for label, level, dash in (
            ("VAH", vah, "dash"),
            ("POC", poc, "solid"),
            ("VAL", val, "dash"),
        ):
            fig.add_hline(
                y=level,
                line={
                    "color": POC_COLOR if label == "POC" else "#4575b4",
                    "dash": dash,
                    "width": 1.5,
                },
                row=1,
                col="all",
                annotation_text=f"{label} {level:g}",
                annotation_position="bottom left" if label == "VAL" else "top left",
                annotation_font={"size": 10},
            )
    fig.add_vrect(
        x0=window[0],
        x1=window[1],
        row=1,
        col=1,
        fillcolor="#888888",
        opacity=0.12,
        line_width=0,
        annotation_text="footprint",
        annotation_position="top left",
    )
    fig.update_layout(
        height=640,
        xaxis_rangeslider_visible=False,
        bargap=0.05,
        margin={"l": 70, "r": 20, "t": 50, "b": 40},
    )
    fig.update_xaxes(title_text="volume", row=1, col=2)
    return fig


def write_footprint_report(
    settings: Settings,
    out: Path,
    symbol: str | None = None,
    frequency: str = DEFAULT_FOOTPRINT_FREQUENCY,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Written:
    """Render the footprint of one instrument's bars in a window and its session to one HTML file.

    The window is ``[start, end)`` of bar starts (UTC): both given, or one hour from ``start``,
    or the hour up to ``end``; neither: the busiest clock hour (by volume) of the instrument's
    latest session. The instrument defaults to the outright with the most volume in the latest
    session loaded. At most FOOTPRINT_MAX_BARS bars are drawn, the first ones.

    Raises
    ------
    ConfigError
        A bad interval, ``start`` not before ``end``, a symbol without bars, a window without
        bars, or plotly is not installed.
    WarehouseError
        No warehouse, or the bars, footprint or profile relations are not built.
    """
    from vcdwh.marts.frequency import parse_frequency

    start, end = (
        t.astimezone(UTC).replace(tzinfo=None) if t is not None and t.tzinfo else t
        for t in (start, end)
    )
    if start is not None and end is not None and start >= end:
        raise ConfigError(
            f"--from {_stamp(start)} must be before --to {_stamp(end)}; give a window of bar starts"
        )
    interval = parse_frequency(frequency)
    bars_relation = identifier(interval.bars_relation)
    footprint_relation = identifier(interval.footprint_relation)
    con = connect_read_only(settings.db_path)
    try:
        for relation in (bars_relation, footprint_relation):
            if not relation_exists(con, relation):
                raise WarehouseError(
                    f"{relation} is not built; run `vcdwh build --frequency {interval.name}` first"
                )
        columns = {
            c
            for (c,) in con.execute(
                "select column_name from duckdb_columns() where table_name = $t",
                {"t": bars_relation},
            ).fetchall()
        }
        profile_built = all(
            relation_exists(con, r) for r in ("profile_session", "profile_session_summary")
        )
        if not profile_built or not {"session_vwap", "stacked_buy_imbalances"} <= columns:
            raise WarehouseError(
                f"{bars_relation} has no profile, VWAP and footprint columns (a `vcdwh spark-bars` "
                "build); run `vcdwh build` to add them"
            )
        instrument = _choose_footprint_instrument(con, bars_relation, symbol)
        key = {"instrument_id": instrument["instrument_id"], "symbol": instrument["symbol"]}
        busiest = start is None and end is None
        if busiest:
            [hour] = _rows(con, render("queries/report_busiest_hour.sql", bars=bars_relation), key)
            start, end = hour["hour_start"], hour["hour_end"]
        elif start is None and end is not None:
            start = end - timedelta(hours=1)
        elif end is None and start is not None:
            end = start + timedelta(hours=1)
        bars = _rows(
            con,
            render("queries/report_footprint_bars.sql", bars=bars_relation),
            {**key, "start": start, "end": end, "max_bars": FOOTPRINT_MAX_BARS},
        )
        name = f"{instrument['symbol']} {interval.name}"
        if not bars:
            raise ConfigError(
                f"no {name} bars start from {_stamp(start)} to {_stamp(end)}; its bars run "
                f"from {_stamp(instrument['first_bar'])} to {_stamp(instrument['last_bar'])} UTC"
            )
        levels = _rows(
            con,
            render("queries/report_footprint_levels.sql", footprint=footprint_relation),
            {**key, "first_bar": bars[0]["bar_start"], "last_bar": bars[-1]["bar_start"]},
        )
        session = {**key, "session_date": bars[0]["session_date"]}
        session_bars = con.execute(
            render("queries/report_session_bars.sql", bars=bars_relation), session
        ).fetchnumpy()
        profile = _rows(con, render("queries/report_session_profile.sql"), session)
    finally:
        con.close()
    poc = {level["bar_start"]: level["price"] for level in levels if level["poc"]}
    for bar in bars:
        bar["poc"] = poc.get(bar["bar_start"])
    window_bars = int(bars[0]["window_bars"])
    shown_end = bars[-1]["bar_start"] + timedelta(seconds=interval.seconds)
    footprint = _footprint_figure(
        bars,
        levels,
        f"{name} footprint from {_stamp(bars[0]['bar_start'])} UTC: bid x ask per level",
    )
    session_date = bars[0]["session_date"]
    session_fig = _session_figure(
        session_bars,
        profile,
        (_stamp(bars[0]["bar_start"]), _stamp(shown_end)),
        f"{instrument['symbol']} session {session_date}: price, VWAP ±1/±2 sd, POC/VAH/VAL",
    )
    how = (
        f"the busiest hour of session {instrument['last_session']}"
        if busiest
        else f"--from {_stamp(start)} --to {_stamp(end)}"
    )
    summary = (
        f"{name} footprint: {len(bars)} bar(s) from {_stamp(bars[0]['bar_start'])} to "
        f"{_stamp(shown_end)} UTC ({how}); session {session_date} with its volume profile "
        f"(POC {_fmt(profile[0]['poc']) if profile else 'n/a'}, "
        f"VAH {_fmt(profile[0]['vah']) if profile else 'n/a'}, "
        f"VAL {_fmt(profile[0]['val']) if profile else 'n/a'}) and VWAP bands"
    )
    capped = (
        f"The window holds {window_bars:,} bars; the first {len(bars)} are drawn (at most "
        f"{FOOTPRINT_MAX_BARS}): narrow --from/--to to see the others."
        if window_bars > len(bars)
        else f"All {window_bars} bar(s) of the window are drawn (at most {FOOTPRINT_MAX_BARS})."
    )
    if len(_footprint_grid(levels)) > FOOTPRINT_MAX_TEXT_LEVELS:
        capped += (
            f" The window spans more than {FOOTPRINT_MAX_TEXT_LEVELS} price levels: the cells show "
            "their bid x ask on hover only; narrow the window or use shorter bars to print them."
        )
    legend = (
        "Each cell: contracts sold at the bid x bought at the ask at that level, coloured by "
        "its delta; the POC is boxed; a triangle marks a buy imbalance (right) or a sell "
        f"imbalance (left); a thick bar beside a bar marks {STACKED_MIN_LEVELS} or more adjacent "
        "imbalanced levels (stacked). The ratio and minimum volume are the build's "
        "(`vcdwh list`)."
    )
    page = _page(
        f"vcdwh footprint {name}",
        summary,
        f'<p class="note" id="drawn">{html.escape(capped)}</p>'
        f'<p class="note">{html.escape(legend)}</p>'
        f'<div class="table">{_figure_html(footprint)}</div>',
        [
            (
                f"Session {session_date}: price, VWAP bands and volume profile",
                _figure_html(session_fig, include_plotlyjs=False),
            ),
            (f"Bars ({len(bars)})", _table(bars, FOOTPRINT_COLUMNS, "bars")),
        ],
    )
    return _write(
        Path(out),
        page,
        f"{name} footprint, {len(bars)} of {window_bars} bar(s) from "
        f"{_stamp(bars[0]['bar_start'])}, session {session_date}",
    )
