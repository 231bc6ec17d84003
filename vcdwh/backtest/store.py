"""Stored runs: the ``backtest_runs`` row of a run and one insert per results table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from vcdwh._version import __version__
from vcdwh.backtest.params import BacktestParams

if TYPE_CHECKING:
    import duckdb


def ts_text(value: Any) -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS`` (a bar start, or a trade's ts_recv to the second)."""
    return str(np.datetime_as_string(np.datetime64(value, "ns"), unit="s")).replace("T", " ")


@dataclass
class RunRecord:
    """One run ready to store: its ``backtest_runs`` row, trades, equity and metrics (no run id)."""

    run: dict[str, Any]
    trades: dict[str, Any]  # column -> one value per round trip (arrays or lists)
    equity: dict[str, np.ndarray]  # bar_start, equity, in_position
    metrics: dict[str, Any]


def run_row(
    params: BacktestParams,
    symbol: str,
    instrument_id: int,
    bar_start: np.ndarray,
    bars_relation: str,
    *,
    sweep_id: str | None = None,
    segment: str | None = None,
    signal_sql: str = "",
    signal_values: dict[str, Any] | None = None,
    commission: float = 0.0,
    tick_size: float | None = None,
    multiplier: float | None = None,
    spec_source: str | None = None,
    walkforward_id: str | None = None,
    fold: int | None = None,
) -> dict[str, Any]:
    """The ``backtest_runs`` row of a run (without its run id): every parameter it ran with."""
    import pandas as pd

    return {
        "created_at": datetime.now(UTC).replace(tzinfo=None),
        "vcdwh_version": __version__,
        "symbol": symbol,
        "instrument_id": instrument_id,
        "frequency": params.frequency,
        "bars_relation": bars_relation,
        "reset": params.reset,
        "threshold": params.threshold,
        "position_size": params.position_size,
        "initial_capital": params.initial_capital,
        "data_start": pd.Timestamp(bar_start[0]),
        "data_end": pd.Timestamp(bar_start[-1]),
        "bar_count": len(bar_start),
        "sweep_id": sweep_id,
        "mode": "futures" if params.futures else "seed",
        "side": params.side,
        "contracts": params.contracts if params.futures else None,
        "commission": commission,
        "slippage_ticks": params.slippage_ticks,
        "flat_at_session_end": params.flat_at_session_end,
        "hours": params.hours,
        "flat_at_rth_end": params.flat_at_rth_end,
        "tick_size": tick_size,
        "multiplier": multiplier,
        "spec_source": spec_source,
        "segment": segment,
        "sizing": params.sizing,
        "signal": params.signal,
        "signal_sql": signal_sql,
        "signal_params": json.dumps(signal_values or {}, sort_keys=True),
        "entry": params.entry,
        "stop_ticks": params.stop_ticks,
        "target_ticks": params.target_ticks,
        "trail_ticks": params.trail_ticks,
        "max_bars": params.max_bars,
        "target_fill": params.target_fill,
        "walkforward_id": walkforward_id,
        "fold": fold,
    }


def store_records(con: duckdb.DuckDBPyConnection, records: list[RunRecord]) -> list[int]:
    """Insert runs with consecutive new run ids: one insert per table for all of them."""
    import pandas as pd

    if not records:
        return []
    [(first,)] = con.execute("select coalesce(max(run_id), 0) + 1 from backtest_runs").fetchall()
    run_ids = [int(first) + k for k in range(len(records))]
    runs = pd.DataFrame([{"run_id": rid, **r.run} for rid, r in zip(run_ids, records, strict=True)])
    for column in ("data_start", "data_end"):
        runs[column] = pd.to_datetime(runs[column]).astype("datetime64[ns]")
    frames = {
        "backtest_runs": runs,
        "backtest_trades": _stacked([r.trades for r in records], run_ids),
        "backtest_equity": _stacked([r.equity for r in records], run_ids),
        "backtest_metrics": pd.DataFrame(
            [{"run_id": rid, **r.metrics} for rid, r in zip(run_ids, records, strict=True)]
        ),
    }
    for table, frame in frames.items():
        con.register("frame", frame)
        try:
            con.execute(f"insert into {table} by name select * from frame")
        finally:
            con.unregister("frame")
    return run_ids


def _stacked(parts: list[dict[str, Any]], run_ids: list[int]) -> Any:
    """One frame of the runs' columns one after the other, with each row's run id."""
    import pandas as pd

    columns = list(dict.fromkeys(c for part in parts for c in part))
    lengths = [len(next(iter(part.values()), ())) for part in parts]
    data: dict[str, Any] = {"run_id": np.repeat(np.asarray(run_ids, dtype=np.int32), lengths)}
    for column in columns:
        pieces = [
            np.asarray(part[column]) if column in part else np.full(length, None, dtype=object)
            for part, length in zip(parts, lengths, strict=True)
        ]
        data[column] = np.concatenate(pieces) if pieces else np.zeros(0)
    return pd.DataFrame(data)
