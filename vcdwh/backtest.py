"""``vcdwh backtest``: validate inputs, walk the SQL signal table, compute and store the stats.

Seed semantics: flat + BUY → long at that bar's close with ``position_size`` times capital;
long + SELL → exit at that bar's close; repeated BUYs while long add nothing and a SELL while
flat opens nothing. A position still open after the last bar is closed at the last close
(exit reason ``end_of_data``); a BUY on the very last bar opens nothing, since it could not be held.

A futures root (``--symbol ES``) runs on ``bars_<interval>_continuous``. Trades never span a
roll: a position open at a roll is closed at the last bar of the old contract (exit reason
``roll``), and the next position needs a BUY on a bar of the new contract.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from vcdwh import __version__
from vcdwh._stats import compute_stats, compute_trade_stats
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
SIDES = ("long", "short", "both")
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
    contracts: int | None = None
    commission: float | None = None
    slippage_ticks: float = 0.0
    side: str = "long"
    flat_at_session_end: bool = False

    @property
    def futures(self) -> bool:
        """True in futures mode (whole contracts; see :mod:`vcdwh.futures`)."""
        return self.contracts is not None

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
        self._validate_futures()
        return replace(
            self,
            frequency=frequency,
            threshold=float(self.threshold),
            position_size=float(self.position_size),
            initial_capital=float(self.initial_capital),
            commission=None if self.commission is None else float(self.commission),
            slippage_ticks=float(self.slippage_ticks),
        )

    def _validate_futures(self) -> None:
        if self.contracts is not None and (
            isinstance(self.contracts, bool)
            or not isinstance(self.contracts, int)
            or self.contracts < 1
        ):
            raise BacktestError(f"--contracts {self.contracts} must be a whole number ≥ 1")
        if self.commission is not None and (not _finite(self.commission) or self.commission < 0):
            raise BacktestError(f"--commission {self.commission} must be a number ≥ 0")
        if not _finite(self.slippage_ticks) or self.slippage_ticks < 0:
            raise BacktestError(f"--slippage-ticks {self.slippage_ticks} must be a number ≥ 0")
        if self.side not in SIDES:
            raise BacktestError(f"--side {self.side!r} must be one of: {', '.join(SIDES)}")
        if self.contracts is None:
            seed_only = {
                "--side": self.side != "long",
                "--commission": self.commission not in (None, 0),
                "--slippage-ticks": self.slippage_ticks != 0,
                "--flat-at-session-end": bool(self.flat_at_session_end),
            }
            for option, given in seed_only.items():
                if given:
                    raise BacktestError(
                        f"{option} needs --contracts N (futures mode); without it the seed's "
                        "long-only fractional-notional walk runs"
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
    contract: np.ndarray | None = None  # the contract of each bar (a root's continuous series)


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
    spec: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        data = asdict(self)
        data["params"] = asdict(self.params)
        data["metrics"] = {k: _json_number(v) for k, v in self.metrics.items()}
        if self.spec is None:
            del data["spec"]
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
    roots = ", ".join(_roots(con))
    also = f" (or a root for its continuous series: {roots})" if roots else ""
    raise BacktestError(f"--symbol {symbol!r} is not loaded; choose one of: {loaded}{also}")


def _roots(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The futures roots with a continuous series (from ``rolls``)."""
    if not relation_exists(con, "rolls"):
        return []
    return [r for (r,) in con.execute("select distinct root from rolls order by root").fetchall()]


def signal_codes(signals: Any) -> np.ndarray:
    """The SQL signals (``BUY``, ``SELL`` or none) as +1, -1 and 0."""
    text = np.asarray(signals, dtype=object)
    return (text == "BUY").astype(np.int8) - (text == "SELL").astype(np.int8)


def continuous_root(con: duckdb.DuckDBPyConnection, bars: str, symbol: str | None) -> bool:
    """True when ``symbol`` names a root with a continuous series and no instrument of its own."""
    if symbol is None or symbol not in _roots(con):
        return False
    loaded = con.execute(
        f"select count(*) from {identifier(bars)} where symbol = $symbol", {"symbol": symbol}
    ).fetchone()
    return not (loaded and loaded[0])


def _load_continuous(
    con: duckdb.DuckDBPyConnection, bars: str, root: str, params: BacktestParams
) -> Signals:
    """A root's continuous series (``bars_<interval>_continuous``) with its signals."""
    continuous = f"{bars}_continuous"
    if not relation_exists(con, continuous):
        raise BacktestError(f"{continuous} is not built; run `vcdwh build` first")
    sql = render(
        "queries/signals.sql",
        bars=identifier(continuous),
        delta_column=identifier(RESETS[params.reset]),
        continuous=True,
    )
    data = con.execute(
        f"select bar_start, session_date, close::double as close, signal, contract,"
        f" instrument_id from ({sql})",
        {"root": root, "threshold": params.threshold},
    ).fetchnumpy()
    ids = np.asarray(data["instrument_id"])
    return Signals(
        symbol=root,
        instrument_id=int(ids[-1]) if len(ids) else 0,
        bar_start=np.asarray(data["bar_start"]),
        session_date=np.asarray(data["session_date"]),
        close=np.asarray(data["close"], dtype=float),
        signal=signal_codes(data["signal"]),
        contract=np.asarray(data["contract"], dtype=object),
    )


def load_signals(con: duckdb.DuckDBPyConnection, params: BacktestParams) -> Signals:
    """Read one instrument's signal rows in time order, in one columnar query."""
    bars = parse_frequency(params.frequency).bars_relation
    if not relation_exists(con, bars):
        raise BacktestError(
            f"{bars} is not built; run `vcdwh build --frequency {params.frequency}` first"
        )
    if continuous_root(con, bars, params.symbol):
        return _load_continuous(con, bars, str(params.symbol), params)
    symbol, instrument_id = choose_instrument(con, bars, params.symbol)
    sql = render(
        "queries/signals.sql",
        bars=identifier(bars),
        delta_column=identifier(RESETS[params.reset]),
        continuous=False,
    )
    data = con.execute(
        f"select bar_start, session_date, close::double as close, signal from ({sql})",
        {"instrument_id": instrument_id, "symbol": symbol, "threshold": params.threshold},
    ).fetchnumpy()
    signal = signal_codes(data["signal"])
    return Signals(
        symbol=symbol,
        instrument_id=instrument_id,
        bar_start=np.asarray(data["bar_start"]),
        session_date=np.asarray(data["session_date"]),
        close=np.asarray(data["close"], dtype=float),
        signal=signal,
        contract=np.full(len(signal), symbol, dtype=object),
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
    close: np.ndarray,
    signal: np.ndarray,
    position_size: float,
    initial_capital: float,
    contract: np.ndarray | None = None,
) -> Walk:
    """Walk the signals with the seed's rules (vectorised over bars, a loop over trades only).

    Bars where ``contract`` changes start a new segment: a position open on the last bar of
    a contract is closed there (exit reason ``roll``), signals before a roll do not carry
    over, and no position opens on the last bar of a contract (it could not be held).

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
    contract
        The contract of each bar (a continuous series); None means one contract throughout.
    """
    n = len(close)
    bars = np.arange(n)
    starts = np.zeros(n, dtype=bool)
    if n:
        starts[0] = True
    if contract is not None and n > 1:
        starts[1:] = np.asarray(contract[1:]) != np.asarray(contract[:-1])
    ends = np.concatenate([starts[1:], [True]]) if n else starts
    segment_start = np.maximum.accumulate(np.where(starts, bars, 0)) if n else bars
    index = np.where(signal != 0, bars, -1)
    last = np.maximum.accumulate(index) if n else index
    long_after = (last >= segment_start) & (signal[np.clip(last, 0, None)] == 1)
    before = np.concatenate([[False], long_after[:-1]]) & ~starts if n else long_after
    long_after &= ~(ends & ~before)  # a BUY on a contract's last bar cannot be held
    before = np.concatenate([[False], long_after[:-1]]) & ~starts if n else long_after
    entries = np.flatnonzero(long_after & ~before)
    signal_exits = np.flatnonzero(~long_after & before)
    forced = np.flatnonzero(long_after & ends)
    exits = np.sort(np.concatenate([signal_exits, forced])).astype(int)
    forced_set = set(forced.tolist())
    reasons = [
        ("end_of_data" if k == n - 1 else "roll") if k in forced_set else "signal"
        for k in exits.tolist()
    ]

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
    if params.futures:
        from vcdwh.futures import run_futures_on_connection

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


def seed_metrics(
    signals: Signals, walk: Walk, held: np.ndarray, initial_capital: float
) -> dict[str, Any]:
    """The seed's metrics plus the figures of :func:`vcdwh._stats.compute_trade_stats`."""
    metrics = compute_stats(
        walk.pnl,
        held,
        walk.equity,
        signals.close,
        signals.session_date,
        walk.in_position,
        initial_capital,
    )
    zeros = np.zeros(len(walk.pnl))
    metrics.update(
        compute_trade_stats(
            walk.pnl,
            walk.pnl,
            zeros,
            zeros,
            signals.bar_start[walk.entries].astype("datetime64[ns]").astype(np.int64),
            signals.bar_start[walk.exits].astype("datetime64[ns]").astype(np.int64),
            walk.equity,
            signals.bar_start.astype("datetime64[ns]").astype(np.int64),
            signals.session_date,
            initial_capital,
        )
    )
    return metrics


def _bars_relation(params: BacktestParams, signals: Signals) -> str:
    """The relation a run read: a root's bars carry contracts other than the root itself."""
    bars = parse_frequency(params.frequency).bars_relation
    contract = signals.contract
    continuous = contract is not None and len(contract) > 0 and contract[0] != signals.symbol
    return f"{bars}_continuous" if continuous else bars


def _ts(value: np.datetime64) -> str:
    return str(np.datetime_as_string(value, unit="s")).replace("T", " ")


@dataclass
class RunRecord:
    """One run ready to store: its ``backtest_runs`` row, trades, equity and metrics (no run id)."""

    run: dict[str, Any]
    trades: Any  # pandas.DataFrame
    equity: Any  # pandas.DataFrame
    metrics: dict[str, Any]


def run_row(
    params: BacktestParams,
    symbol: str,
    instrument_id: int,
    bar_start: np.ndarray,
    sweep_id: str | None,
    bars_relation: str | None = None,
    **futures: Any,
) -> dict[str, Any]:
    """The ``backtest_runs`` row of a run (without its run id)."""
    import pandas as pd

    return {
        "created_at": datetime.now(UTC).replace(tzinfo=None),
        "vcdwh_version": __version__,
        "symbol": symbol,
        "instrument_id": instrument_id,
        "frequency": params.frequency,
        "bars_relation": bars_relation or parse_frequency(params.frequency).bars_relation,
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
        "contracts": params.contracts,
        "commission": futures.get("commission", 0.0),
        "slippage_ticks": params.slippage_ticks,
        "flat_at_session_end": params.flat_at_session_end,
        "tick_size": futures.get("tick_size"),
        "multiplier": futures.get("multiplier"),
        "spec_source": futures.get("spec_source"),
        "segment": futures.get("segment"),
    }


def seed_record(
    params: BacktestParams,
    signals: Signals,
    walk: Walk,
    held: np.ndarray,
    metrics: dict[str, Any],
    sweep_id: str | None,
    segment: str | None = None,
) -> RunRecord:
    """Put a seed-mode walk into the shape :func:`store_records` writes."""
    import pandas as pd

    entry_price = signals.close[walk.entries]
    exit_price = signals.close[walk.exits]
    trades = pd.DataFrame(
        {
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
            "contract": [signals.symbol] * len(walk.entries),
            "gross_pnl": walk.pnl,
            "commission": np.zeros(len(walk.entries)),
            "slippage": np.zeros(len(walk.entries)),
        }
    )
    equity = pd.DataFrame(
        {"bar_start": signals.bar_start, "equity": walk.equity, "in_position": walk.in_position}
    )
    row = run_row(
        params,
        signals.symbol,
        signals.instrument_id,
        signals.bar_start,
        sweep_id,
        _bars_relation(params, signals),
        segment=segment,
    )
    return RunRecord(row, trades, equity, metrics)


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
        "backtest_trades": pd.concat(
            [r.trades.assign(run_id=rid) for rid, r in zip(run_ids, records, strict=True)],
            ignore_index=True,
        ),
        "backtest_equity": pd.concat(
            [r.equity.assign(run_id=rid) for rid, r in zip(run_ids, records, strict=True)],
            ignore_index=True,
        ),
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
