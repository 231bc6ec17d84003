"""``vcdwh backtest``: validate, load the inputs, walk, compute the stats and store one run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vcdwh.backtest.futures import run_futures_on_connection
from vcdwh.backtest.inputs import Signals, load_signals, validate_signals
from vcdwh.backtest.params import BacktestParams, BacktestResult
from vcdwh.backtest.seed import Walk, seed_metrics, seed_record, walk_signals
from vcdwh.backtest.store import store_records, ts_text
from vcdwh.config import Settings
from vcdwh.warehouse.db import DEFAULT_LOCK_TIMEOUT, ensure_tables, write_session

if TYPE_CHECKING:
    from typing import Any

    import duckdb
    import numpy as np


def run_on_connection(
    con: duckdb.DuckDBPyConnection, params: BacktestParams, sweep_id: str | None = None
) -> BacktestResult:
    """Validate, walk, compute stats and store the run on an open read-write connection."""
    params = params.validated()
    ensure_tables(con)
    if params.futures:
        return run_futures_on_connection(con, params, sweep_id)
    signals = load_signals(con, params)
    validate_signals(signals)
    walk = walk_signals(
        signals.close,
        signals.signal,
        params.position_size,
        params.initial_capital,
        signals.contract,
    )
    held = (walk.exits - walk.entries).astype(int)
    metrics = seed_metrics(signals, walk, held, params.initial_capital)
    run_id = _store(con, params, signals, walk, held, metrics, sweep_id)
    trades = [
        {
            "trade_no": t + 1,
            "entry_time": ts_text(signals.bar_start[e]),
            "entry_price": float(signals.close[e]),
            "exit_time": ts_text(signals.bar_start[x]),
            "exit_price": float(signals.close[x]),
            "quantity": float(walk.quantity[t]),
            "pnl": float(walk.pnl[t]),
            "bars_held": int(held[t]),
            "exit_reason": walk.exit_reason[t],
        }
        for t, (e, x) in enumerate(zip(walk.entries, walk.exits, strict=True))
    ]
    return BacktestResult(
        run_id=run_id,
        params=params,
        symbol=signals.symbol,
        instrument_id=signals.instrument_id,
        data_start=ts_text(signals.bar_start[0]),
        data_end=ts_text(signals.bar_start[-1]),
        bar_count=len(signals.close),
        metrics=metrics,
        trades=trades,
    )


def _store(
    con: duckdb.DuckDBPyConnection,
    params: BacktestParams,
    signals: Signals,
    walk: Walk,
    held: np.ndarray,
    metrics: dict[str, Any],
    sweep_id: str | None,
) -> int:
    record = seed_record(params, signals, walk, held, metrics, sweep_id)
    return store_records(con, [record])[0]


def run_backtest(
    settings: Settings,
    params: BacktestParams,
    sweep_id: str | None = None,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> BacktestResult:
    """Run one backtest on the warehouse and store it (one transaction).

    The run is stored through :func:`vcdwh.warehouse.db.write_session`: open readers are not
    blocked, and a failed or killed run leaves the warehouse as it was. ``lock_timeout`` is
    how many seconds to wait for another writer.

    Raises
    ------
    BacktestError
        Invalid parameters, unknown symbol, missing bars.
    WarehouseError
        No warehouse yet, or it is locked.
    """
    params.validated()
    with write_session(settings.db_path, lock_timeout, existing=True) as con:
        return run_on_connection(con, params, sweep_id)
