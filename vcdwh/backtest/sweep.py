"""``vcdwh sweep``: run a grid of backtests in one pass, each the same run as ``vcdwh backtest``.

The grid is threshold x frequency x reset x every ``--param`` list of the signal. Each frequency's
bars (and the trade tape, for stops and targets) are read once; each combination's signal is its
own SQL query; every run goes through the one engine (:func:`vcdwh.backtest.engine.simulate`), and
all runs are stored together (one insert per table) as normal runs tagged with the sweep id.
With ``split`` the bars are cut in two at that fraction: each combination is run on the first
part (``segment = 'in_sample'``) and on the rest (``'out_of_sample'``), ranked on the first and
shown beside the second, so over-fitting is visible.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from vcdwh.backtest.engine import Simulated, simulate
from vcdwh.backtest.inputs import (
    Bars,
    ContractSpec,
    Inputs,
    Tape,
    load_bars,
    load_inputs,
    lookup_spec,
    with_tape_bounds,
)
from vcdwh.backtest.params import RESETS, BacktestParams
from vcdwh.backtest.signals import load_signal, parse_value
from vcdwh.backtest.store import store_records
from vcdwh.backtest.text import annualised_note, format_cell
from vcdwh.config import Settings
from vcdwh.errors import BacktestError
from vcdwh.marts.frequency import parse_bar_set
from vcdwh.progress import NO_PROGRESS, Progress
from vcdwh.warehouse.db import (
    DEFAULT_LOCK_TIMEOUT,
    connect_read_only,
    ensure_tables,
    write_session,
)

if TYPE_CHECKING:
    import duckdb

METRICS = (
    "net_pnl",
    "sharpe",
    "sortino",
    "profit_factor",
    "calmar",
    "sqn",
    "expectancy",
    "win_rate_pct",
    "total_return_pct",
    "max_drawdown",
    "total_trades",
)
"""Metrics a sweep can rank by (higher is better; ``max_drawdown`` is negative)."""

MAX_RUNS = 100_000


def parse_thresholds(text: str) -> tuple[float, ...]:
    """Parse ``START:STOP:STEP`` (STOP included), ``100,200,500`` or a single number.

    Raises
    ------
    BacktestError
        Naming ``--threshold`` and the accepted forms.
    """
    hint = "use START:STOP:STEP (e.g. 100:2000:100) or a list like 100,200,500"
    try:
        if ":" in text:
            start, stop, step = (float(part) for part in text.split(":"))
            if not all(math.isfinite(v) for v in (start, stop, step)) or step <= 0 or stop < start:
                raise ValueError
            count = math.floor((stop - start) / step + 1e-9) + 1
            if count > MAX_RUNS:
                raise BacktestError(f"--threshold {text!r} gives {count:,} values; {hint}")
            values = tuple(round(start + k * step, 9) for k in range(count))
        else:
            values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise BacktestError(f"--threshold {text!r} is not a range or list; {hint}") from None
    if any(not math.isfinite(v) or v < 0 for v in values):
        raise BacktestError(f"--threshold {text!r}: thresholds must be numbers ≥ 0; {hint}")
    return tuple(dict.fromkeys(values))


def parse_choices(
    option: str, text: str, allowed: tuple[str, ...] | None = None
) -> tuple[str, ...]:
    """Split a comma-separated option value; check each item against ``allowed``."""
    items = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not items:
        raise BacktestError(f"{option} {text!r} is empty; give a comma-separated list")
    for item in items:
        if allowed is not None and item not in allowed:
            raise BacktestError(f"{option} {item!r} must be one of: {', '.join(allowed)}")
    return items


def parse_param_grid(items: tuple[str, ...]) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """Parse ``--param name=v1,v2`` or ``--param name=START:STOP:STEP`` into value lists.

    Raises
    ------
    BacktestError
        Naming the ``--param`` and the accepted forms.
    """
    grid: dict[str, tuple[Any, ...]] = {}
    for item in items:
        name, eq, text = item.partition("=")
        name = name.strip()
        if not eq or not name or not text.strip():
            raise BacktestError(
                f"--param {item!r} must be NAME=VALUE (in a sweep NAME=V1,V2 or NAME=A:B:STEP)"
            )
        if ":" in text:
            values: tuple[Any, ...] = parse_thresholds(text)
            values = tuple(int(v) if float(v).is_integer() else v for v in values)
        else:
            values = tuple(dict.fromkeys(parse_value(v) for v in text.split(",") if v.strip()))
        grid[name] = values
    return tuple(grid.items())


@dataclass(frozen=True)
class SweepSpec:
    """The grid of a sweep and what every run shares.

    ``base`` holds the symbol, capital, sizing, signal and execution options; its threshold,
    frequency, reset and signal parameters are replaced by each combination's.
    """

    thresholds: tuple[float, ...]
    frequencies: tuple[str, ...] = ("1min",)
    resets: tuple[str, ...] = ("none",)
    base: BacktestParams = field(default_factory=BacktestParams)
    split: float | None = None
    by: str = "net_pnl"
    top: int = 10
    params: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def validated(self) -> SweepSpec:
        """Check the grid; return it with canonical frequencies.

        Raises
        ------
        BacktestError
            Naming the option at fault.
        """
        if not self.thresholds:
            raise BacktestError("--threshold gives no values")
        frequencies = tuple(dict.fromkeys(parse_bar_set(f).name for f in self.frequencies))
        for reset in self.resets:
            if reset not in RESETS:
                raise BacktestError(f"--reset {reset!r} must be one of: {', '.join(RESETS)}")
        if self.split is not None and not 0 < self.split < 1:
            raise BacktestError(f"--split {self.split} must be a fraction in (0, 1), e.g. 0.7")
        if self.by not in METRICS:
            raise BacktestError(f"--by {self.by!r} must be one of: {', '.join(METRICS)}")
        if self.top < 1:
            raise BacktestError(f"--top {self.top} must be ≥ 1")
        runs = len(self.thresholds) * len(frequencies) * len(self.resets)
        for _, values in self.params:
            runs *= len(values)
        if runs > MAX_RUNS:
            raise BacktestError(f"the sweep has {runs:,} combinations; keep it under {MAX_RUNS:,}")
        self.base.validated()
        # A signal without $threshold or $reset gets one of each (they would repeat its runs).
        used = load_signal(self.base.signal).parameters
        thresholds = self.thresholds if "threshold" in used else (self.base.threshold,)
        resets = self.resets if "reset" in used else (self.base.reset,)
        return replace(self, frequencies=frequencies, thresholds=thresholds, resets=resets)

    def combinations(self, frequency: str) -> list[BacktestParams]:
        """Every run of one frequency, in grid order (reset, threshold, then the params)."""
        grids: list[dict[str, Any]] = [{}]
        for name, values in self.params:
            grids = [{**g, name: v} for g in grids for v in values]
        return [
            replace(
                self.base,
                frequency=frequency,
                reset=reset,
                threshold=threshold,
                signal_params=tuple(sorted({**dict(self.base.signal_params), **g}.items())),
            ).validated()
            for reset in self.resets
            for threshold in self.thresholds
            for g in grids
        ]


@dataclass
class SweepResult:
    """A stored sweep: its id, the runs, and one row per combination ranked by ``by``."""

    sweep_id: str
    symbol: str
    runs: int
    by: str
    split: float | None
    rows: list[dict[str, Any]]
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        return {
            "sweep_id": self.sweep_id,
            "symbol": self.symbol,
            "runs": self.runs,
            "by": self.by,
            "split": self.split,
            "seconds": self.seconds,
            "rows": [
                {
                    k: (
                        _json(v) if not isinstance(v, dict) else {a: _json(b) for a, b in v.items()}
                    )
                    for k, v in row.items()
                }
                for row in self.rows
            ],
        }


def _json(value: Any) -> Any:
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, np.generic):
        return value.item()
    return value


def segments(inputs: Inputs, split: float | None) -> list[tuple[str | None, Inputs]]:
    """The parts a combination runs on: all bars, or in-sample then out-of-sample."""
    if split is None:
        return [(None, inputs)]
    n = len(inputs.bars)
    cut = math.floor(n * split)
    if cut < 1 or cut >= n:
        raise BacktestError(
            f"--split {split} leaves no bars on one side of {n} bars; use more data"
        )
    return [("in_sample", inputs.slice(0, cut)), ("out_of_sample", inputs.slice(cut, n))]


@dataclass
class Grid:
    """The inputs of every combination of a grid, read once (bars and tape per frequency)."""

    inputs: list[Inputs]
    symbol: str


def read_grid(con: duckdb.DuckDBPyConnection, spec: SweepSpec, *, lookahead: bool = False) -> Grid:
    """Read every combination's inputs on one connection; each frequency's bars once."""
    everything: list[Inputs] = []
    symbol = spec.base.symbol or ""
    signal_def = load_signal(spec.base.signal)
    for frequency in spec.frequencies:
        bars: Bars | None = None
        tape: Tape | None = None
        contract: ContractSpec | None = None
        for params in spec.combinations(frequency):
            if bars is None:
                bars = load_bars(con, params.interval, params.symbol)
                contract = lookup_spec(con, bars.symbol)
            if params.tape_exits and tape is None:
                tape = Tape(con)
                bars = with_tape_bounds(con, bars)
            inputs = load_inputs(
                con,
                params,
                lookahead=lookahead,
                bars=bars,
                tape=tape,
                spec=contract,
                signal_def=signal_def,
            )
            everything.append(inputs)
            symbol = bars.symbol
    return Grid(everything, symbol)


def _next_sweep_id(con: duckdb.DuckDBPyConnection) -> str:
    [(count,)] = con.execute("select count(*) from backtest_sweeps").fetchall()
    return f"sweep-{int(count) + 1}"


def simulate_grid(
    spec: SweepSpec, grid: Grid, progress: Progress = NO_PROGRESS
) -> list[tuple[Inputs, str | None, Simulated]]:
    """Every combination's run (both segments with a split), through the one engine."""
    progress.phase("sweep runs", len(grid.inputs))
    runs = []
    for inputs in grid.inputs:
        for segment, part in segments(inputs, spec.split):
            runs.append((inputs, segment, simulate(part, segment=segment)))
        progress.advance()
    return runs


def store_sweep(
    con: duckdb.DuckDBPyConnection,
    spec: SweepSpec,
    grid: Grid,
    runs: list[tuple[Inputs, str | None, Simulated]],
    started: float,
) -> SweepResult:
    """Store a sweep's runs under a new sweep id and rank them."""
    ensure_tables(con)
    sweep_id = _next_sweep_id(con)
    for _, _, sim in runs:
        sim.record.run["sweep_id"] = sweep_id
    run_ids = store_records(con, [sim.record for _, _, sim in runs])
    first = spec.base
    con.execute(
        "insert into backtest_sweeps by name select $id as sweep_id, $created as created_at,"
        " $symbol as symbol, $thresholds as thresholds, $frequencies as frequencies,"
        " $resets as resets, $side as side, $contracts as contracts, $split as split,"
        " $by as by_metric, $runs as runs, $signal as signal, $params as signal_params",
        {
            "id": sweep_id,
            "created": datetime.now(UTC).replace(tzinfo=None),
            "symbol": grid.symbol,
            "thresholds": list(spec.thresholds),
            "frequencies": list(spec.frequencies),
            "resets": list(spec.resets),
            "side": first.side,
            "contracts": grid.inputs[0].params.contracts if grid.inputs[0].params.futures else None,
            "split": spec.split,
            "by": spec.by,
            "runs": len(runs),
            "signal": first.signal,
            "params": json.dumps({k: list(v) for k, v in spec.params}),
        },
    )
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for run_id, (inputs, segment, sim) in zip(run_ids, runs, strict=True):
        p = inputs.params
        key = (p.frequency, p.reset, p.threshold, p.signal_params)
        row = rows.setdefault(
            key,
            {
                "frequency": p.frequency,
                "reset": p.reset,
                "threshold": p.threshold,
                "params": dict(p.signal_params),
            },
        )
        prefix = "out_of_sample" if segment == "out_of_sample" else "metrics"
        row[f"{prefix}_run_id" if prefix != "metrics" else "run_id"] = run_id
        row[prefix] = sim.record.metrics
    ranked = sorted(rows.values(), key=lambda r: rank_key(r["metrics"].get(spec.by)))
    return SweepResult(
        sweep_id=sweep_id,
        symbol=grid.symbol,
        runs=len(runs),
        by=spec.by,
        split=spec.split,
        rows=ranked,
        seconds=time.perf_counter() - started,
    )


def rank_key(value: Any) -> tuple[int, float]:
    """Sort key: higher values first, missing ones last."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (1, 0.0)
    return (0, -float(value))


def run_sweep(
    settings: Settings,
    spec: SweepSpec,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    check_lookahead: bool = False,
    progress: Progress = NO_PROGRESS,
) -> SweepResult:
    """Run a sweep on the warehouse and store every run (one transaction).

    The inputs are read on the read-only connection; the runs are stored through
    :func:`vcdwh.warehouse.db.write_session`, like a build: open readers are not blocked and a
    failed or killed sweep leaves the warehouse as it was.

    Raises
    ------
    BacktestError
        Invalid grid or parameters, unknown symbol, missing bars.
    WarehouseError
        No warehouse yet, or it is locked.
    """
    started = time.perf_counter()
    spec = spec.validated()
    with contextlib.closing(progress):
        progress.phase("reading bars and signals")
        con = connect_read_only(settings.db_path)
        try:
            grid = read_grid(con, spec, lookahead=check_lookahead)
            runs = simulate_grid(spec, grid, progress)
        finally:
            con.close()
        progress.phase("storing the runs")
        with write_session(settings.db_path, lock_timeout, existing=True) as con:
            return store_sweep(con, spec, grid, runs, started)


# --------------------------------------------------------------------------- output


def format_sweep(result: SweepResult, top: int) -> str:
    """The top rows as an aligned table (in-sample and out-of-sample side by side with a split)."""
    by = result.by
    with_params = any(row["params"] for row in result.rows)
    head = [
        "rank",
        "run",
        "frequency",
        "reset",
        "threshold",
        *(["params"] if with_params else []),
        "trades",
        "net_pnl",
        "win%",
        "pf",
        "sharpe",
        "max_dd",
    ]
    if by not in ("net_pnl", "total_trades", "sharpe", "max_drawdown"):
        head.append(by)
    if result.split is not None:
        head = [*head, "| oos_run", "oos_trades", "oos_net_pnl"]
        if by != "net_pnl":
            head.append(f"oos_{by}")
    table = [head]
    for rank, row in enumerate(result.rows[:top], start=1):
        m = row["metrics"]
        cells = [
            str(rank),
            str(row["run_id"]),
            row["frequency"],
            row["reset"],
            f"{row['threshold']:g}",
            *([",".join(f"{k}={v}" for k, v in row["params"].items())] if with_params else []),
            str(m["total_trades"]),
            format_cell(m["net_pnl"], True),
            format_cell(m["win_rate_pct"]),
            format_cell(m["profit_factor"]),
            format_cell(m["sharpe"]),
            format_cell(m["max_drawdown"], True),
        ]
        if by not in ("net_pnl", "total_trades", "sharpe", "max_drawdown"):
            cells.append(format_cell(m[by]))
        if result.split is not None:
            o = row["out_of_sample"]
            cells += [
                f"| {row['out_of_sample_run_id']}",
                str(o["total_trades"]),
                format_cell(o["net_pnl"], True),
            ]
            if by != "net_pnl":
                cells.append(format_cell(o[by], by == "max_drawdown"))
        table.append(cells)
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    lines = [
        "  ".join(
            c.ljust(w) if c.startswith("|") else c.rjust(w) for c, w in zip(r, widths, strict=True)
        )
        for r in table
    ]
    split = (
        f"; ranked on the first {result.split:.0%} of bars (in-sample), out-of-sample beside"
        if result.split is not None
        else ""
    )
    title = (
        f"{result.sweep_id}: {result.runs} run(s) on {result.symbol} in {result.seconds:.2f} s; "
        f"top {min(top, len(result.rows))} by {by}{split}"
    )
    shown = result.rows[:top]
    note = annualised_note(
        [r["metrics"] for r in shown] + [r["out_of_sample"] for r in shown if "out_of_sample" in r]
    )
    return "\n".join([title, *lines, *([note] if note else [])])
