"""``vcdwh backtest``: validate inputs, walk the SQL signal table, compute and store the stats.

Seed semantics: flat + BUY → long at that bar's close with ``position_size`` times capital;
long + SELL → exit at that bar's close; repeated BUYs while long add nothing and a SELL while
flat opens nothing. A position still open after the last bar is closed at the last close
(exit reason ``end_of_data``); a BUY on the very last bar opens nothing, since it could not be held.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from vcdwh import __version__
from vcdwh._stats import compute_stats
from vcdwh.config import Settings
from vcdwh.errors import BacktestError, WarehouseError
from vcdwh.frequency import parse_frequency
from vcdwh.sqlrender import identifier, render
from vcdwh.warehouse import (
    DEFAULT_LOCK_TIMEOUT,
    ensure_tables,
    relation_exists,
    write_session,
)

if TYPE_CHECKING:
    import duckdb

RESETS = {"none": "cumulative_delta", "session": "session_cumulative_delta"}
SEPARATOR = "=" * 60


@dataclass(frozen=True)
class BacktestParams:
    """Everything a run depends on (the seed's defaults)."""

    symbol: str | None = None
    frequency: str = "1min"
    threshold: float = 500
    position_size: float = 0.1
    initial_capital: float = 10_000
    reset: str = "none"

    def validated(self) -> BacktestParams:
        """Check every parameter; return a copy with the frequency in canonical form.

        Raises
        ------
        BacktestError
            Naming the option and the accepted range.
        """
        frequency = parse_frequency(self.frequency).name
        if not _finite(self.threshold) or self.threshold < 0:
            raise BacktestError(f"--threshold {self.threshold} must be a number ≥ 0")
        if not _finite(self.position_size) or not 0 < self.position_size <= 1:
            raise BacktestError(
                f"--position-size {self.position_size} must be a fraction of capital in (0, 1]"
            )
        if not _finite(self.initial_capital) or self.initial_capital <= 0:
            raise BacktestError(f"--initial-capital {self.initial_capital} must be positive")
        if self.reset not in RESETS:
            raise BacktestError(f"--reset {self.reset!r} must be one of: {', '.join(RESETS)}")
        return BacktestParams(
            self.symbol,
            frequency,
            float(self.threshold),
            float(self.position_size),
            float(self.initial_capital),
            self.reset,
        )


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


@dataclass
class Signals:
    """One instrument's bars with their signal, as columns (numpy arrays)."""

    symbol: str
    instrument_id: int
    bar_start: np.ndarray
    session_date: np.ndarray
    close: np.ndarray
    signal: np.ndarray  # +1 BUY, -1 SELL, 0 none


@dataclass
class Walk:
    """The trades and equity curve of one walk over the signals."""

    entries: np.ndarray
    exits: np.ndarray
    quantity: np.ndarray
    pnl: np.ndarray
    exit_reason: list[str]
    equity: np.ndarray
    in_position: np.ndarray


@dataclass
class BacktestResult:
    """A stored run: its id, parameters, instrument, data range and metrics."""

    run_id: int
    params: BacktestParams
    symbol: str
    instrument_id: int
    data_start: str
    data_end: str
    bar_count: int
    metrics: dict[str, Any]
    trades: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        data = asdict(self)
        data["params"] = asdict(self.params)
        data["metrics"] = {k: _json_number(v) for k, v in self.metrics.items()}
        return data


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


# --------------------------------------------------------------------------- inputs


def choose_instrument(
    con: duckdb.DuckDBPyConnection, bars: str, symbol: str | None
) -> tuple[str, int]:
    """Pick the instrument: the given symbol, else the outright with the most volume.

    Raises
    ------
    BacktestError
        If the symbol is not loaded (listing the loaded ones) or there are no bars.
    """
    rows = con.execute(
        f"""
        select symbol, instrument_id, sum(volume) as volume
        from {identifier(bars)}
        group by symbol, instrument_id
        order by volume desc, symbol
        """
    ).fetchall()
    if not rows:
        raise BacktestError(f"{bars} is empty; load trades with `vcdwh build` first")
    if symbol is None:
        outrights = [r for r in rows if "-" not in r[0]] or rows
        return outrights[0][0], int(outrights[0][1])
    for name, instrument_id, _ in rows:
        if name == symbol:
            return name, int(instrument_id)
    loaded = ", ".join(sorted({r[0] for r in rows}))
    raise BacktestError(f"--symbol {symbol!r} is not loaded; choose one of: {loaded}")


def load_signals(con: duckdb.DuckDBPyConnection, params: BacktestParams) -> Signals:
    """Read one instrument's signal rows in time order, in one columnar query."""
    bars = parse_frequency(params.frequency).bars_relation
    if not relation_exists(con, bars):
        raise BacktestError(
            f"{bars} is not built; run `vcdwh build --frequency {params.frequency}` first"
        )
    symbol, instrument_id = choose_instrument(con, bars, params.symbol)
    sql = render(
        "queries/signals.sql", bars=identifier(bars), delta_column=identifier(RESETS[params.reset])
    )
    data = con.execute(
        f"select bar_start, session_date, close::double as close, signal from ({sql})",
        {"instrument_id": instrument_id, "symbol": symbol, "threshold": params.threshold},
    ).fetchnumpy()
    text = np.asarray(data["signal"], dtype=object)
    signal = (text == "BUY").astype(np.int8) - (text == "SELL").astype(np.int8)
    return Signals(
        symbol=symbol,
        instrument_id=instrument_id,
        bar_start=np.asarray(data["bar_start"]),
        session_date=np.asarray(data["session_date"]),
        close=np.asarray(data["close"], dtype=float),
        signal=signal,
    )


def validate_signals(signals: Signals) -> None:
    """Reject empty, NaN or unsorted inputs before walking them."""
    if len(signals.close) == 0:
        raise BacktestError(f"no bars for {signals.symbol}; load its trades with `vcdwh build`")
    if not np.all(np.isfinite(signals.close)) or np.any(signals.close <= 0):
        raise BacktestError(f"bars of {signals.symbol} have missing or non-positive closes")
    if len(signals.bar_start) > 1 and np.any(np.diff(signals.bar_start.astype("int64")) <= 0):
        raise BacktestError(f"bars of {signals.symbol} are not in strictly increasing time order")


# --------------------------------------------------------------------------- walk


def walk_signals(
    close: np.ndarray, signal: np.ndarray, position_size: float, initial_capital: float
) -> Walk:
    """Walk the signals with the seed's rules (vectorised over bars, a loop over trades only).

    Parameters
    ----------
    close
        Each bar's close.
    signal
        +1 (BUY), -1 (SELL) or 0 per bar.
    position_size
        Fraction of current capital put into each new position.
    initial_capital
        Capital before the first bar.
    """
    n = len(close)
    index = np.where(signal != 0, np.arange(n), -1)
    last = np.maximum.accumulate(index) if n else index
    long_after = np.where(last >= 0, signal[np.clip(last, 0, None)] == 1, False)
    if n >= 1 and long_after[-1] and (n == 1 or not long_after[-2]):
        long_after[-1] = False  # a BUY on the last bar cannot be held
    before = np.concatenate([[False], long_after[:-1]])
    entries = np.flatnonzero(long_after & ~before)
    exits = np.flatnonzero(~long_after & before)
    reasons = ["signal"] * len(exits)
    if len(entries) > len(exits):
        exits = np.append(exits, n - 1)
        reasons.append("end_of_data")

    quantity = np.zeros(len(entries))
    pnl = np.zeros(len(entries))
    capital = float(initial_capital)
    realized = np.zeros(n)
    unrealized = np.zeros(n)
    in_position = np.zeros(n, dtype=bool)
    for t, (entry, exit_) in enumerate(zip(entries, exits, strict=True)):
        quantity[t] = capital * position_size / close[entry]
        pnl[t] = (close[exit_] - close[entry]) * quantity[t]
        capital += pnl[t]
        realized[exit_] += pnl[t]
        in_position[entry + 1 : exit_ + 1] = True
        unrealized[entry + 1 : exit_] = (close[entry + 1 : exit_] - close[entry]) * quantity[t]
    equity = initial_capital + np.cumsum(realized) + unrealized
    return Walk(entries, exits, quantity, pnl, reasons, equity, in_position)


# --------------------------------------------------------------------------- run


def run_on_connection(
    con: duckdb.DuckDBPyConnection, params: BacktestParams, sweep_id: str | None = None
) -> BacktestResult:
    """Validate, walk, compute stats and store the run on an open read-write connection."""
    params = params.validated()
    ensure_tables(con)
    signals = load_signals(con, params)
    validate_signals(signals)
    walk = walk_signals(signals.close, signals.signal, params.position_size, params.initial_capital)
    held = (walk.exits - walk.entries).astype(int)
    metrics = compute_stats(
        walk.pnl,
        held,
        walk.equity,
        signals.close,
        signals.session_date,
        walk.in_position,
        params.initial_capital,
    )
    run_id = _store(con, params, signals, walk, held, metrics, sweep_id)
    trades = [
        {
            "trade_no": t + 1,
            "entry_time": _ts(signals.bar_start[e]),
            "entry_price": float(signals.close[e]),
            "exit_time": _ts(signals.bar_start[x]),
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
        data_start=_ts(signals.bar_start[0]),
        data_end=_ts(signals.bar_start[-1]),
        bar_count=len(signals.close),
        metrics=metrics,
        trades=trades,
    )


def _ts(value: np.datetime64) -> str:
    return str(np.datetime_as_string(value, unit="s")).replace("T", " ")


def _store(
    con: duckdb.DuckDBPyConnection,
    params: BacktestParams,
    signals: Signals,
    walk: Walk,
    held: np.ndarray,
    metrics: dict[str, Any],
    sweep_id: str | None,
) -> int:
    import pandas as pd

    run_id = int(
        con.execute("select coalesce(max(run_id), 0) + 1 from backtest_runs").fetchone()[0]
    )  # type: ignore[index]
    con.execute(
        "insert into backtest_runs values ($run_id, $created_at, $version, $symbol, $instrument_id,"
        " $frequency, $bars, $reset, $threshold, $position_size, $initial_capital, $data_start,"
        " $data_end, $bar_count, $sweep_id)",
        {
            "run_id": run_id,
            "created_at": datetime.now(UTC).replace(tzinfo=None),
            "version": __version__,
            "symbol": signals.symbol,
            "instrument_id": signals.instrument_id,
            "frequency": params.frequency,
            "bars": parse_frequency(params.frequency).bars_relation,
            "reset": params.reset,
            "threshold": params.threshold,
            "position_size": params.position_size,
            "initial_capital": params.initial_capital,
            "data_start": pd.Timestamp(signals.bar_start[0]),
            "data_end": pd.Timestamp(signals.bar_start[-1]),
            "bar_count": len(signals.close),
            "sweep_id": sweep_id,
        },
    )
    entry_price = signals.close[walk.entries]
    exit_price = signals.close[walk.exits]
    trades = pd.DataFrame(
        {
            "run_id": np.full(len(walk.entries), run_id, dtype=np.int32),
            "trade_no": np.arange(1, len(walk.entries) + 1, dtype=np.int32),
            "direction": ["long"] * len(walk.entries),
            "entry_time": signals.bar_start[walk.entries],
            "entry_price": entry_price,
            "exit_time": signals.bar_start[walk.exits],
            "exit_price": exit_price,
            "quantity": walk.quantity,
            "pnl": walk.pnl,
            "return_pct": (exit_price / entry_price - 1) * 100 if len(entry_price) else np.zeros(0),
            "bars_held": held.astype(np.int32),
            "exit_reason": walk.exit_reason,
        }
    )
    equity = pd.DataFrame(
        {
            "run_id": np.full(len(walk.equity), run_id, dtype=np.int32),
            "bar_start": signals.bar_start,
            "equity": walk.equity,
            "in_position": walk.in_position,
        }
    )
    metrics_row = pd.DataFrame([{"run_id": run_id, **metrics}])
    for table, frame in (
        ("backtest_trades", trades),
        ("backtest_equity", equity),
        ("backtest_metrics", metrics_row),
    ):
        con.register("frame", frame)
        try:
            con.execute(f"insert into {table} by name select * from frame")
        finally:
            con.unregister("frame")
    return run_id


def run_backtest(
    settings: Settings,
    params: BacktestParams,
    sweep_id: str | None = None,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> BacktestResult:
    """Run one backtest on the warehouse and store it (one transaction).

    The run is stored through :func:`vcdwh.warehouse.write_session`: open readers are not
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
    if not settings.db_path.exists():
        raise WarehouseError(f"no warehouse at {settings.db_path}; run `vcdwh build` first")
    with write_session(settings.db_path, lock_timeout) as con:
        con.execute("begin transaction")
        try:
            result = run_on_connection(con, params, sweep_id)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    return result


# --------------------------------------------------------------------------- output


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
    return "\n".join(lines)


def describe_run(result: BacktestResult, chosen_by_default: bool) -> str:
    """One line saying what was run."""
    how = " (most volume; choose with --symbol)" if chosen_by_default else ""
    p = result.params
    return (
        f"run {result.run_id}: {result.symbol}{how}, {p.frequency} bars, "
        f"threshold ±{p.threshold:g} on {RESETS[p.reset]}, {result.bar_count:,} bars "
        f"{result.data_start} → {result.data_end}"
    )
