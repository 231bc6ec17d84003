"""``vcdwh walkforward``: choose the parameters on past sessions, trade them on the next ones.

The sessions of the series are cut into folds: ``train_sessions`` sessions to choose on, then
the ``test_sessions`` sessions after them to trade on; the next fold starts ``test_sessions``
later (``anchored``: every training window starts at the first session). On each fold every
combination of the grid (the same grid as ``vcdwh sweep``) runs on the training sessions; the
best by ``metric`` (ties: the first in grid order) then runs on the test sessions. Every run is
the engine's (:func:`vcdwh.backtest.engine.simulate`) on the bars of its sessions, with the
signal evaluated once over all bars (signals are checked to use no later bars).

Stored: per fold, the chosen combination's in-sample and out-of-sample runs (ordinary runs
with ``walkforward_id`` and ``fold``), a ``backtest_walkforward_folds`` row, the
``backtest_walkforwards`` row, and the stitched out-of-sample equity
(``backtest_walkforward_equity``: the test runs' P&L chained from the initial capital).
Walk-forward efficiency is the out-of-sample net P&L per session over the in-sample net P&L
per session, summed over the folds (``None`` when the in-sample figure is not positive).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from vcdwh.backtest.engine import Simulated, simulate
from vcdwh.backtest.inputs import Inputs
from vcdwh.backtest.stats import ANNUALISED, MIN_SESSIONS
from vcdwh.backtest.store import store_records
from vcdwh.backtest.sweep import METRICS, SweepSpec, rank_key, read_grid
from vcdwh.backtest.text import annualised_note, format_cell
from vcdwh.config import Settings
from vcdwh.errors import BacktestError
from vcdwh.progress import NO_PROGRESS, Progress
from vcdwh.warehouse.db import (
    DEFAULT_LOCK_TIMEOUT,
    connect_read_only,
    ensure_tables,
    write_session,
)

if TYPE_CHECKING:
    import duckdb

MAX_FOLDS = 1_000


@dataclass(frozen=True)
class WalkForwardSpec:
    """The grid, the fold sizes in sessions, and the metric that chooses."""

    grid: SweepSpec
    train_sessions: int
    test_sessions: int
    anchored: bool = False
    metric: str = "net_pnl"

    def validated(self) -> WalkForwardSpec:
        """Check the folds and the grid.

        Raises
        ------
        BacktestError
            Naming the option at fault.
        """
        for option, value in (
            ("--train-sessions", self.train_sessions),
            ("--test-sessions", self.test_sessions),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BacktestError(f"{option} {value!r} must be a whole number ≥ 1")
        if self.metric not in METRICS:
            raise BacktestError(f"--metric {self.metric!r} must be one of: {', '.join(METRICS)}")
        if self.metric in ANNUALISED and self.train_sessions < MIN_SESSIONS:
            raise BacktestError(
                f"--metric {self.metric} is annualised and n/a below {MIN_SESSIONS} sessions; "
                f"use --train-sessions {MIN_SESSIONS} or more, or another --metric"
            )
        if self.grid.split is not None:
            raise BacktestError("--split does not apply to a walk-forward: its folds split")
        return replace(self, grid=replace(self.grid.validated(), by=self.metric))


@dataclass
class Fold:
    """One fold: its sessions, the chosen parameters and both runs' metrics."""

    fold: int
    train: tuple[str, str]
    test: tuple[str, str]
    chosen: dict[str, Any]
    in_sample: dict[str, Any]
    out_of_sample: dict[str, Any]
    in_sample_run_id: int = 0
    out_of_sample_run_id: int = 0
    note: str = ""


@dataclass
class WalkForwardResult:
    """A stored walk-forward."""

    walkforward_id: str
    symbol: str
    metric: str
    folds: list[Fold]
    efficiency: float | None
    changes: int
    out_of_sample_net_pnl: float
    combinations: int
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""

        def plain(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, float) and math.isinf(value):
                return "inf" if value > 0 else "-inf"
            return value

        return {
            "walkforward_id": self.walkforward_id,
            "symbol": self.symbol,
            "metric": self.metric,
            "efficiency": self.efficiency,
            "changes": self.changes,
            "out_of_sample_net_pnl": self.out_of_sample_net_pnl,
            "combinations": self.combinations,
            "seconds": self.seconds,
            "folds": [plain(vars(f)) for f in self.folds],
        }


def fold_windows(
    sessions: np.ndarray, train: int, test: int, anchored: bool
) -> list[tuple[int, int, int]]:
    """``(train_start, test_start, test_stop)`` session indexes of every fold."""
    windows = []
    start = 0
    while start + train < len(sessions):
        first = 0 if anchored else start
        windows.append((first, start + train, min(start + train + test, len(sessions))))
        start += test
    return windows


def _day(value: Any) -> str:
    return str(np.datetime64(value, "D"))


def _label(params: Any) -> dict[str, Any]:
    return {
        "frequency": params.frequency,
        "reset": params.reset,
        "threshold": params.threshold,
        **dict(params.signal_params),
    }


def _bars_of(inputs: Inputs, sessions: np.ndarray) -> Inputs:
    rows = np.flatnonzero(np.isin(inputs.bars.session_date, sessions))
    return inputs.slice(int(rows[0]), int(rows[-1]) + 1)


@dataclass
class Walked:
    """A walk-forward's folds and runs, before they are stored."""

    spec: WalkForwardSpec
    first: Inputs
    folds: list[Fold]
    runs: list[Simulated]  # per fold: the chosen in-sample run, then its out-of-sample run
    efficiency: float | None
    changes: int
    net_pnl: float
    combinations: int
    started: float


def walk_folds(
    spec: WalkForwardSpec,
    grid_inputs: list[Inputs],
    started: float,
    progress: Progress = NO_PROGRESS,
) -> Walked:
    """Choose on each fold's training sessions and run the choice on its test sessions.

    Raises
    ------
    BacktestError
        When the sessions leave no fold, or too many.
    """
    first = grid_inputs[0]
    sessions = np.unique(np.asarray(first.bars.session_date))
    windows = fold_windows(sessions, spec.train_sessions, spec.test_sessions, spec.anchored)
    if not windows:
        raise BacktestError(
            f"{len(sessions)} session(s) of {first.bars.symbol} leave no fold of "
            f"{spec.train_sessions} training and {spec.test_sessions} test session(s); use "
            "fewer sessions per fold or load more data"
        )
    if len(windows) > MAX_FOLDS:
        raise BacktestError(f"{len(windows)} folds; keep it under {MAX_FOLDS} (larger folds)")
    folds: list[Fold] = []
    runs: list[Simulated] = []
    per_in: list[float] = []
    per_out: list[float] = []
    progress.phase("walk-forward folds", len(windows))
    for number, (train_from, test_from, test_to) in enumerate(windows, start=1):
        train_sessions = sessions[train_from:test_from]
        test_sessions = sessions[test_from:test_to]
        scored: list[tuple[tuple[int, float], int, Simulated, Inputs]] = []
        for inputs in grid_inputs:
            sim = simulate(_bars_of(inputs, train_sessions), fold=number, segment="in_sample")
            scored.append((rank_key(sim.record.metrics.get(spec.metric)), len(scored), sim, inputs))
        _, _, best_sim, best = min(scored, key=lambda s: (s[0], s[1]))
        test_sim = simulate(_bars_of(best, test_sessions), fold=number, segment="out_of_sample")
        runs += [best_sim, test_sim]
        per_in.append(best_sim.record.metrics["net_pnl"] / len(train_sessions))
        per_out.append(test_sim.record.metrics["net_pnl"] / len(test_sessions))
        folds.append(
            Fold(
                fold=number,
                train=(_day(train_sessions[0]), _day(train_sessions[-1])),
                test=(_day(test_sessions[0]), _day(test_sessions[-1])),
                chosen=_label(best.params),
                in_sample=best_sim.record.metrics,
                out_of_sample=test_sim.record.metrics,
                note=(
                    "the best combination made no trade in-sample"
                    if best_sim.record.metrics["total_trades"] == 0
                    else ""
                ),
            )
        )
        progress.advance()
    initial = first.params.initial_capital
    net_pnl = sum(float(sim.record.equity["equity"][-1]) - initial for sim in runs[1::2])
    return Walked(
        spec=spec,
        first=first,
        folds=folds,
        runs=runs,
        efficiency=sum(per_out) / sum(per_in) if sum(per_in) > 0 else None,
        changes=sum(1 for a, b in itertools.pairwise(folds) if a.chosen != b.chosen),
        net_pnl=net_pnl,
        combinations=len(grid_inputs),
        started=started,
    )


def store_walkforward(con: duckdb.DuckDBPyConnection, walked: Walked) -> WalkForwardResult:
    """Store the folds' runs, the folds, the walk-forward and its stitched equity."""
    ensure_tables(con)
    [(count,)] = con.execute("select count(*) from backtest_walkforwards").fetchall()
    wf_id = f"wf-{int(count) + 1}"
    for sim in walked.runs:
        sim.record.run["walkforward_id"] = wf_id
    run_ids = store_records(con, [sim.record for sim in walked.runs])
    for fold, in_id, out_id in zip(walked.folds, run_ids[::2], run_ids[1::2], strict=True):
        fold.in_sample_run_id, fold.out_of_sample_run_id = in_id, out_id
    # Stitched out-of-sample equity: each test run's P&L chained from the initial capital.
    initial = walked.first.params.initial_capital
    times: list[np.ndarray] = []
    equity: list[np.ndarray] = []
    carried = 0.0
    for test_sim in walked.runs[1::2]:
        curve = test_sim.record.equity
        times.append(np.asarray(curve["bar_start"]))
        equity.append(np.asarray(curve["equity"], dtype=float) + carried)
        carried += float(curve["equity"][-1]) - initial
    _store_walkforward(
        con,
        wf_id,
        walked.spec,
        walked.first,
        walked.folds,
        walked.efficiency,
        walked.changes,
        walked.net_pnl,
        walked.combinations,
    )
    _store_equity(con, wf_id, times, equity)
    return WalkForwardResult(
        walkforward_id=wf_id,
        symbol=walked.first.bars.symbol,
        metric=walked.spec.metric,
        folds=walked.folds,
        efficiency=walked.efficiency,
        changes=walked.changes,
        out_of_sample_net_pnl=walked.net_pnl,
        combinations=walked.combinations,
        seconds=time.perf_counter() - walked.started,
    )


def _store_walkforward(
    con: duckdb.DuckDBPyConnection,
    wf_id: str,
    spec: WalkForwardSpec,
    first: Inputs,
    folds: list[Fold],
    efficiency: float | None,
    changes: int,
    net_pnl: float,
    combinations: int,
) -> None:
    con.execute(
        "insert into backtest_walkforwards by name select $id as walkforward_id,"
        " $created as created_at, $symbol as symbol, $signal as signal, $grid as grid,"
        " $train as train_sessions, $test as test_sessions, $anchored as anchored,"
        " $metric as metric, $folds as folds, $combinations as combinations,"
        " $efficiency as efficiency, $changes as parameter_changes,"
        " $net_pnl as out_of_sample_net_pnl",
        {
            "id": wf_id,
            "created": datetime.now(UTC).replace(tzinfo=None),
            "symbol": first.bars.symbol,
            "signal": first.params.signal,
            "grid": json.dumps(
                {
                    "thresholds": list(spec.grid.thresholds),
                    "frequencies": list(spec.grid.frequencies),
                    "resets": list(spec.grid.resets),
                    **{k: list(v) for k, v in spec.grid.params},
                }
            ),
            "train": spec.train_sessions,
            "test": spec.test_sessions,
            "anchored": spec.anchored,
            "metric": spec.metric,
            "folds": len(folds),
            "combinations": combinations,
            "efficiency": efficiency,
            "changes": changes,
            "net_pnl": net_pnl,
        },
    )
    for fold in folds:
        con.execute(
            "insert into backtest_walkforward_folds by name select $id as walkforward_id,"
            " $fold as fold, $train_start::date as train_start, $train_end::date as train_end,"
            " $test_start::date as test_start, $test_end::date as test_end,"
            " $chosen as chosen_params, $in_id as in_sample_run_id,"
            " $out_id as out_of_sample_run_id, $in_value as in_sample_metric,"
            " $out_value as out_of_sample_metric, $note as note",
            {
                "id": wf_id,
                "fold": fold.fold,
                "train_start": fold.train[0],
                "train_end": fold.train[1],
                "test_start": fold.test[0],
                "test_end": fold.test[1],
                "chosen": json.dumps(fold.chosen, sort_keys=True),
                "in_id": fold.in_sample_run_id,
                "out_id": fold.out_of_sample_run_id,
                "in_value": _finite(fold.in_sample.get(spec.metric)),
                "out_value": _finite(fold.out_of_sample.get(spec.metric)),
                "note": fold.note or None,
            },
        )


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _store_equity(
    con: duckdb.DuckDBPyConnection, wf_id: str, times: list[np.ndarray], equity: list[np.ndarray]
) -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "walkforward_id": wf_id,
            "bar_start": np.concatenate(times) if times else np.zeros(0, "datetime64[ns]"),
            "equity": np.concatenate(equity) if equity else np.zeros(0),
        }
    )
    con.register("frame", frame)
    try:
        con.execute("insert into backtest_walkforward_equity by name select * from frame")
    finally:
        con.unregister("frame")


def run_walkforward(
    settings: Settings,
    spec: WalkForwardSpec,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    check_lookahead: bool = False,
    progress: Progress = NO_PROGRESS,
) -> WalkForwardResult:
    """Run a walk-forward on the warehouse and store it (inputs read-only, one write session).

    Raises
    ------
    BacktestError
        Invalid grid or folds, unknown symbol, missing bars, too few sessions.
    WarehouseError
        No warehouse yet, or it is locked.
    """
    started = time.perf_counter()
    spec = spec.validated()
    with contextlib.closing(progress):
        progress.phase("reading bars and signals")
        con = connect_read_only(settings.db_path)
        try:
            grid = read_grid(con, spec.grid, lookahead=check_lookahead)
            walked = walk_folds(spec, grid.inputs, started, progress)
        finally:
            con.close()
        progress.phase("storing the folds")
        with write_session(settings.db_path, lock_timeout, existing=True) as con:
            return store_walkforward(con, walked)


def format_walkforward(result: WalkForwardResult) -> str:
    """Per fold the sessions, the chosen parameters and both results; then the summary."""
    metric = result.metric
    head = ["fold", "train", "test", "chosen", f"is_{metric}", f"oos_{metric}", "oos_trades"]
    table = [head]
    for fold in result.folds:
        chosen = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in fold.chosen.items()
        )
        table.append(
            [
                str(fold.fold),
                f"{fold.train[0]}..{fold.train[1]}",
                f"{fold.test[0]}..{fold.test[1]}",
                chosen + (f" ({fold.note})" if fold.note else ""),
                format_cell(fold.in_sample.get(metric), metric == "net_pnl"),
                format_cell(fold.out_of_sample.get(metric), metric == "net_pnl"),
                str(fold.out_of_sample["total_trades"]),
            ]
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    efficiency = "n/a" if result.efficiency is None else f"{result.efficiency:.2f}"
    note = annualised_note(f.out_of_sample for f in result.folds) if metric in ANNUALISED else None
    return "\n".join(
        [
            f"{result.walkforward_id}: {len(result.folds)} fold(s) on {result.symbol}, "
            f"{result.combinations} combination(s) each, chosen by {metric} "
            f"({result.seconds:.2f} s)",
            *lines,
            f"out-of-sample net P&L (stitched): ${result.out_of_sample_net_pnl:,.2f}; "
            f"walk-forward efficiency: {efficiency}; parameters changed "
            f"{result.changes} time(s) in {max(0, len(result.folds) - 1)} fold change(s)",
            *([note] if note else []),
        ]
    )
