"""``vcdwh backtest``: validate → inputs → walk → pure stats → store, for one run.

The inputs (bars, the signal's SQL, the contract spec, the trade tape) are read on the
locked-down read-only connection; only the finished run is written, in one write session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vcdwh.backtest.engine import Simulated, simulate, trade_dicts
from vcdwh.backtest.inputs import Inputs, load_inputs
from vcdwh.backtest.params import BacktestParams, BacktestResult
from vcdwh.backtest.store import store_records, ts_text
from vcdwh.config import Settings
from vcdwh.warehouse.db import (
    DEFAULT_LOCK_TIMEOUT,
    connect_read_only,
    ensure_tables,
    write_session,
)

if TYPE_CHECKING:
    pass


def read_and_walk(
    settings: Settings, params: BacktestParams, *, lookahead: bool = False
) -> tuple[Inputs, Simulated]:
    """A run's inputs and its walk, on the read-only connection (the tape is read as needed)."""
    con = connect_read_only(settings.db_path)
    try:
        inputs = load_inputs(con, params, lookahead=lookahead)
        return inputs, simulate(inputs)
    finally:
        con.close()


def store_runs(
    settings: Settings, runs: list[Simulated], lock_timeout: float = DEFAULT_LOCK_TIMEOUT
) -> list[int]:
    """Store finished runs in one write session; their new run ids, in order."""
    with write_session(settings.db_path, lock_timeout, existing=True) as con:
        ensure_tables(con)
        return store_records(con, [run.record for run in runs])


def result_of(run_id: int, inputs: Inputs, sim: Simulated) -> BacktestResult:
    """The stored run as :class:`BacktestResult` (what ``--json`` and the API return)."""
    bars, spec, params = inputs.bars, inputs.spec, inputs.params
    spec_dict = None
    if params.futures and spec is not None:
        spec_dict = {
            "root": spec.root,
            "tick_size": spec.tick_size,
            "multiplier": spec.multiplier,
            "tick_value": spec.tick_value,
            "commission_per_side": sim.commission,
            "source": spec.source,
        }
    return BacktestResult(
        run_id=run_id,
        params=params,
        symbol=bars.symbol,
        instrument_id=bars.instrument_id,
        data_start=ts_text(bars.bar_start[0]),
        data_end=ts_text(bars.bar_start[-1]),
        bar_count=len(bars),
        metrics=sim.record.metrics,
        trades=trade_dicts(sim, inputs),
        spec=spec_dict,
    )


def run_backtest(
    settings: Settings,
    params: BacktestParams,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    check_lookahead: bool = False,
) -> BacktestResult:
    """Run one backtest on the warehouse and store it.

    The run is stored through :func:`vcdwh.warehouse.db.write_session`: open readers are not
    blocked, and a failed or killed run leaves the warehouse as it was. ``lock_timeout`` is how
    many seconds to wait for another writer; ``check_lookahead`` refuses a signal whose value at
    a bar changes when the bars after it are removed.

    Raises
    ------
    BacktestError
        Invalid parameters, unknown symbol, missing bars, a failing or look-ahead signal.
    WarehouseError
        No warehouse yet, or it is locked.
    """
    params = params.validated()
    inputs, sim = read_and_walk(settings, params, lookahead=check_lookahead)
    [run_id] = store_runs(settings, [sim], lock_timeout)
    return result_of(run_id, inputs, sim)
