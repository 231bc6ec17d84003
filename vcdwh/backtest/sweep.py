"""``vcdwh sweep``: run a grid of backtests (threshold x frequency x reset) in one pass.

The bars and cumulative delta of each frequency/reset are read once (one columnar query), every
threshold is walked over those numpy arrays, and all runs are stored together (one insert per
table) as normal runs tagged with the sweep id. The runs are the same as running
``vcdwh backtest`` once per combination: the same walk, metrics and stored rows.
With ``split`` the bars are cut in two at that fraction: each combination is run on the first
part (``segment = 'in_sample'``) and on the rest (``'out_of_sample'``), ranked on the first and
shown beside the second, so over-fitting is visible.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from vcdwh.backtest.futures import (
    BarInputs,
    ContractSpec,
    futures_record,
    load_bars,
    lookup_spec,
    signal_from_delta,
    validate_bars,
)
from vcdwh.backtest.inputs import Signals, validate_signals
from vcdwh.backtest.params import RESETS, BacktestParams
from vcdwh.backtest.seed import seed_metrics, seed_record, walk_signals
from vcdwh.backtest.store import RunRecord, store_records
from vcdwh.config import Settings
from vcdwh.errors import BacktestError
from vcdwh.marts.frequency import parse_frequency
from vcdwh.warehouse.db import DEFAULT_LOCK_TIMEOUT, ensure_tables, write_session

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


@dataclass(frozen=True)
class SweepSpec:
    """The grid of a sweep and what every run shares.

    ``base`` holds the symbol, capital, sizing and futures options; its threshold, frequency
    and reset are replaced by each combination's.
    """

    thresholds: tuple[float, ...]
    frequencies: tuple[str, ...] = ("1min",)
    resets: tuple[str, ...] = ("none",)
    base: BacktestParams = field(default_factory=BacktestParams)
    split: float | None = None
    by: str = "net_pnl"
    top: int = 10

    def validated(self) -> SweepSpec:
        """Check the grid; return it with canonical frequencies.

        Raises
        ------
        BacktestError
            Naming the option at fault.
        """
        if not self.thresholds:
            raise BacktestError("--threshold gives no values")
        frequencies = tuple(dict.fromkeys(parse_frequency(f).name for f in self.frequencies))
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
        if runs > MAX_RUNS:
            raise BacktestError(f"the sweep has {runs:,} combinations; keep it under {MAX_RUNS:,}")
        self.base.validated()
        return replace(self, frequencies=frequencies)


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
    return value


def _segments(bars: BarInputs, split: float | None) -> list[tuple[str | None, BarInputs]]:
    if split is None:
        return [(None, bars)]
    cut = math.floor(len(bars) * split)
    if cut < 1 or cut >= len(bars):
        raise BacktestError(
            f"--split {split} leaves no bars on one side of {len(bars)} bars; use more data"
        )
    return [("in_sample", bars.slice(0, cut)), ("out_of_sample", bars.slice(cut, len(bars)))]


def _record(
    params: BacktestParams,
    part: BarInputs,
    signal: np.ndarray,
    spec: ContractSpec | None,
    sweep_id: str,
    segment: str | None,
) -> RunRecord:
    if spec is not None:
        record, _ = futures_record(params, part, signal, spec, sweep_id, segment)
        return record
    signals = Signals(
        part.symbol, part.instrument_id, part.bar_start, part.session_date, part.close, signal
    )
    validate_signals(signals)
    walk = walk_signals(part.close, signal, params.position_size, params.initial_capital)
    held = (walk.exits - walk.entries).astype(int)
    metrics = seed_metrics(signals, walk, held, params.initial_capital)
    return seed_record(params, signals, walk, held, metrics, sweep_id, segment)


def _next_sweep_id(con: duckdb.DuckDBPyConnection) -> str:
    [(count,)] = con.execute("select count(*) from backtest_sweeps").fetchall()
    return f"sweep-{int(count) + 1}"


def run_sweep_on_connection(con: duckdb.DuckDBPyConnection, spec: SweepSpec) -> SweepResult:
    """Run, store and rank a sweep on an open read-write connection."""
    started = time.perf_counter()
    spec = spec.validated()
    ensure_tables(con)
    sweep_id = _next_sweep_id(con)
    records: list[RunRecord] = []
    keys: list[tuple[str, str, float, str | None]] = []
    symbol = spec.base.symbol
    for frequency in spec.frequencies:
        for reset in spec.resets:
            bars = load_bars(con, frequency, reset, spec.base.symbol)
            validate_bars(bars)
            symbol = bars.symbol
            contract = lookup_spec(con, bars.symbol) if spec.base.futures else None
            segments = _segments(bars, spec.split)
            for threshold in spec.thresholds:
                params = replace(
                    spec.base,
                    symbol=bars.symbol,
                    frequency=frequency,
                    reset=reset,
                    threshold=threshold,
                ).validated()
                for segment, part in segments:
                    signal = signal_from_delta(part.signal_delta, threshold)
                    records.append(_record(params, part, signal, contract, sweep_id, segment))
                    keys.append((frequency, reset, threshold, segment))
    run_ids = store_records(con, records)
    con.execute(
        "insert into backtest_sweeps values ($id, $created, $symbol, $thresholds, $frequencies,"
        " $resets, $side, $contracts, $split, $by, $runs)",
        {
            "id": sweep_id,
            "created": datetime.now(UTC).replace(tzinfo=None),
            "symbol": symbol,
            "thresholds": list(spec.thresholds),
            "frequencies": list(spec.frequencies),
            "resets": list(spec.resets),
            "side": spec.base.side,
            "contracts": spec.base.contracts,
            "split": spec.split,
            "by": spec.by,
            "runs": len(records),
        },
    )
    rows: dict[tuple[str, str, float], dict[str, Any]] = {}
    for run_id, record, (frequency, reset, threshold, segment) in zip(
        run_ids, records, keys, strict=True
    ):
        row = rows.setdefault(
            (frequency, reset, threshold),
            {"frequency": frequency, "reset": reset, "threshold": threshold},
        )
        prefix = "out_of_sample" if segment == "out_of_sample" else "metrics"
        row[f"{prefix}_run_id" if prefix != "metrics" else "run_id"] = run_id
        row[prefix] = record.metrics
    ranked = sorted(rows.values(), key=lambda r: _rank_key(r["metrics"].get(spec.by)))
    return SweepResult(
        sweep_id=sweep_id,
        symbol=str(symbol),
        runs=len(records),
        by=spec.by,
        split=spec.split,
        rows=ranked,
        seconds=time.perf_counter() - started,
    )


def _rank_key(value: Any) -> tuple[int, float]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (1, 0.0)
    return (0, -float(value))


def run_sweep(
    settings: Settings, spec: SweepSpec, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
) -> SweepResult:
    """Run a sweep on the warehouse and store every run (one transaction).

    Stored through :func:`vcdwh.warehouse.db.write_session`, like a build: open readers are not
    blocked and a failed or killed sweep leaves the warehouse as it was.

    Raises
    ------
    BacktestError
        Invalid grid or parameters, unknown symbol, missing bars.
    WarehouseError
        No warehouse yet, or it is locked.
    """
    with write_session(settings.db_path, lock_timeout, existing=True) as con:
        return run_sweep_on_connection(con, spec)


# --------------------------------------------------------------------------- output


def _cell(value: Any, money: bool = False) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    if isinstance(value, int):
        return str(value)
    return f"{value:,.2f}" if money else f"{value:.2f}"


def format_sweep(result: SweepResult, top: int) -> str:
    """The top rows as an aligned table (in-sample and out-of-sample side by side with a split)."""
    by = result.by
    head = [
        "rank",
        "run",
        "frequency",
        "reset",
        "threshold",
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
            str(m["total_trades"]),
            _cell(m["net_pnl"], True),
            _cell(m["win_rate_pct"]),
            _cell(m["profit_factor"]),
            _cell(m["sharpe"]),
            _cell(m["max_drawdown"], True),
        ]
        if by not in ("net_pnl", "total_trades", "sharpe", "max_drawdown"):
            cells.append(_cell(m[by]))
        if result.split is not None:
            o = row["out_of_sample"]
            cells += [
                f"| {row['out_of_sample_run_id']}",
                str(o["total_trades"]),
                _cell(o["net_pnl"], True),
            ]
            if by != "net_pnl":
                cells.append(_cell(o[by], by == "max_drawdown"))
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
    return "\n".join([title, *lines])
