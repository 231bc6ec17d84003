"""Futures mode of ``vcdwh backtest``: whole contracts, ticks, commissions and slippage.

The walk follows the signal rows of ``sql/queries/signals.sql`` (BUY when the cumulative delta is
above the threshold, SELL when below minus it) one bar at a time, with one action per bar:

- flat + BUY opens a long (``--side long`` or ``both``); flat + SELL opens a short (``short`` or
  ``both``), at that bar's close;
- a signal against the position closes it at that bar's close (reason ``signal``); the opposite
  position opens on a later bar whose signal still says so (no reversal within one bar);
- a position is also closed at the close of the last bar (``end_of_data``), of the last bar of a
  contract when a continuous series rolls to the next (``roll``), and with
  ``flat_at_session_end`` of the last bar of each session (``session_end``); no position is
  opened on such a bar, since it could not be held.

Prices and costs: P&L = points x multiplier x contracts; slippage of ``slippage_ticks`` ticks
against the trader on entry and on exit (a long buys ``close + s`` and sells ``close - s``);
commission per contract per side, so ``2 x commission x contracts`` per round trip. The equity is
marked at every bar's close and includes the entry commission and slippage from the entry bar.
MAE/MFE are the worst/best excursion of the bars' low/high from the entry fill over the bars the
position was held (entry bar excluded, exit bar included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vcdwh.backtest.inputs import choose_instrument, continuous_root, signal_codes
from vcdwh.backtest.params import RESETS, BacktestParams, BacktestResult
from vcdwh.backtest.stats import compute_stats, compute_trade_stats
from vcdwh.backtest.store import RunRecord, run_row, store_records, ts_text
from vcdwh.errors import BacktestError
from vcdwh.instruments import DEFAULT_COMMISSION
from vcdwh.marts.frequency import parse_frequency
from vcdwh.warehouse.db import relation_exists
from vcdwh.warehouse.sqlrender import identifier, render

if TYPE_CHECKING:
    import duckdb

SIGNAL, END_OF_DATA, ROLL, SESSION_END = 0, 1, 2, 3
REASONS = ("signal", "end_of_data", "roll", "session_end")
DIRECTIONS = {1: "long", -1: "short"}


@dataclass(frozen=True)
class ContractSpec:
    """Tick size, dollars per point and default commission of the traded contract."""

    symbol: str
    root: str
    tick_size: float
    multiplier: float
    commission_per_side: float
    source: str

    @property
    def tick_value(self) -> float:
        """Dollars per tick per contract."""
        return self.tick_size * self.multiplier


@dataclass
class BarInputs:
    """One instrument's bars as columns: what a futures walk or a sweep needs."""

    symbol: str
    instrument_id: int
    bar_start: np.ndarray
    session_date: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    signal_delta: np.ndarray
    signal: np.ndarray  # +1 BUY, -1 SELL, 0 none, at the threshold the rows were read with
    contract: np.ndarray
    relation: str = ""

    def __len__(self) -> int:
        return len(self.close)

    def slice(self, start: int, stop: int) -> BarInputs:
        """The bars ``start:stop``."""
        return BarInputs(
            self.symbol,
            self.instrument_id,
            *(
                getattr(self, name)[start:stop]
                for name in (
                    "bar_start",
                    "session_date",
                    "open",
                    "high",
                    "low",
                    "close",
                    "signal_delta",
                    "signal",
                    "contract",
                )
            ),
        )


@dataclass
class FuturesWalk:
    """The trades (one entry per round trip) and the per-bar equity of a futures walk."""

    entries: np.ndarray
    exits: np.ndarray
    direction: np.ndarray  # +1 long, -1 short
    entry_price: np.ndarray  # fills, after slippage
    exit_price: np.ndarray
    gross_pnl: np.ndarray
    commission: np.ndarray
    slippage: np.ndarray
    pnl: np.ndarray  # net
    pnl_ticks: np.ndarray  # net, per contract
    mae: np.ndarray
    mfe: np.ndarray
    mae_ticks: np.ndarray
    mfe_ticks: np.ndarray
    exit_reason: list[str]
    equity: np.ndarray
    in_position: np.ndarray


# --------------------------------------------------------------------------- inputs


def signal_from_delta(delta: np.ndarray, threshold: float) -> np.ndarray:
    """The seed rule of ``sql/queries/signals.sql`` on an array: +1 above, -1 below -threshold."""
    return (delta > threshold).astype(np.int8) - (delta < -threshold).astype(np.int8)


def lookup_spec(con: duckdb.DuckDBPyConnection, symbol: str) -> ContractSpec:
    """The contract specification of a symbol (``sql/queries/instrument_spec.sql``).

    Raises
    ------
    BacktestError
        If neither a definition record nor a root in ``instruments`` matches the symbol.
    """
    rows = con.execute(
        render("queries/instrument_spec.sql"),
        {"symbol": symbol, "default_commission": float(DEFAULT_COMMISSION)},
    ).fetchall()
    if not rows:
        raise BacktestError(
            f"no contract specification for {symbol!r}: load its Databento definition file with "
            "`vcdwh build`, or add its root to the instruments table (root, tick_size, "
            "multiplier, commission_per_side, exchange, source)"
        )
    _, root, tick, multiplier, commission, source = rows[0]
    return ContractSpec(symbol, root, float(tick), float(multiplier), float(commission), source)


def _has_column(con: duckdb.DuckDBPyConnection, relation: str, column: str) -> bool:
    rows = con.execute(
        "select count(*) from duckdb_columns() where table_name = $t and column_name = $c"
        " and schema_name = 'main'",
        {"t": relation, "c": column},
    ).fetchall()
    return bool(rows[0][0])


def load_bars(
    con: duckdb.DuckDBPyConnection,
    frequency: str,
    reset: str,
    symbol: str | None,
    threshold: float = 0.0,
) -> BarInputs:
    """Read one instrument's bars, cumulative delta and signal in one columnar query.

    Raises
    ------
    BacktestError
        If the bars relation is not built, the symbol is unknown or there are no bars.
    """
    interval = parse_frequency(frequency)
    bars = interval.bars_relation
    if not relation_exists(con, bars):
        raise BacktestError(f"{bars} is not built; run `vcdwh build --frequency {frequency}` first")
    continuous = continuous_root(con, bars, symbol)
    if continuous:
        bars = interval.continuous_relation
        if not relation_exists(con, bars):
            raise BacktestError(f"{bars} is not built; run `vcdwh build` first")
        name, instrument_id = str(symbol), 0
    else:
        name, instrument_id = choose_instrument(con, bars, symbol)
    signals = render(
        "queries/signals.sql",
        bars=identifier(bars),
        delta_column=identifier(RESETS[reset]),
        continuous=continuous,
    )
    contract_column = "contract" if _has_column(con, bars, "contract") else "symbol"
    sql = render(
        "queries/futures_bars.sql",
        signals=signals,
        bars=identifier(bars),
        contract_column=identifier(contract_column),
        continuous=continuous,
    )
    params: dict[str, Any] = {"threshold": threshold}
    if continuous:
        params["root"] = name
    else:
        params.update({"instrument_id": instrument_id, "symbol": name})
    data = con.execute(sql, params).fetchnumpy()
    if continuous and len(data["instrument_id"]):
        instrument_id = int(np.asarray(data["instrument_id"])[-1])
    inputs = BarInputs(
        symbol=name,
        instrument_id=instrument_id,
        bar_start=np.asarray(data["bar_start"]).astype("datetime64[ns]"),
        session_date=np.asarray(data["session_date"]),
        open=np.asarray(data["open"], dtype=float),
        high=np.asarray(data["high"], dtype=float),
        low=np.asarray(data["low"], dtype=float),
        close=np.asarray(data["close"], dtype=float),
        signal_delta=np.asarray(data["signal_delta"], dtype=float),
        signal=signal_codes(data["signal"]),
        contract=np.asarray(data["contract"], dtype=object),
        relation=bars,
    )
    if len(inputs) == 0:
        raise BacktestError(f"no bars for {name}; load its trades with `vcdwh build`")
    return inputs


# --------------------------------------------------------------------------- walk


def forced_exits(
    n: int, session_date: np.ndarray, contract: np.ndarray | None, flat_at_session_end: bool
) -> np.ndarray:
    """Per bar: the reason a position must be closed at its close (0 = none).

    The last bar is ``END_OF_DATA``; the last bar of a contract before the series moves to the
    next is ``ROLL``; with ``flat_at_session_end`` the last bar of each session is
    ``SESSION_END`` (a roll takes precedence, the end of data over both).
    """
    forced = np.zeros(n, dtype=np.int8)
    if n == 0:
        return forced
    if flat_at_session_end:
        dates = np.asarray(session_date)
        forced[:-1][dates[1:] != dates[:-1]] = SESSION_END
    if contract is not None:
        names = np.asarray(contract, dtype=object)
        forced[:-1][names[1:] != names[:-1]] = ROLL
    forced[-1] = END_OF_DATA
    return forced


def walk_futures(
    close: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    signal: np.ndarray,
    session_date: np.ndarray,
    *,
    side: str = "long",
    contracts: int = 1,
    tick_size: float,
    multiplier: float,
    slippage_ticks: float = 0.0,
    commission: float = 0.0,
    flat_at_session_end: bool = False,
    initial_capital: float = 10_000.0,
    contract: np.ndarray | None = None,
) -> FuturesWalk:
    """Walk the signals in whole contracts (see the module docstring for the rules).

    Parameters
    ----------
    close, high, low
        Each bar's close, high and low.
    signal
        +1 (BUY), -1 (SELL) or 0 per bar.
    session_date
        Each bar's session (for ``flat_at_session_end``).
    side
        ``long``, ``short`` or ``both``.
    contracts
        Contracts per position.
    tick_size, multiplier
        Price increment in points; dollars per point per contract.
    slippage_ticks
        Ticks lost on each fill, against the trader.
    commission
        Dollars per contract per side.
    flat_at_session_end
        Close any position at the last bar of each session.
    initial_capital
        Equity before the first bar.
    contract
        The contract each bar traded (a continuous series); a change closes the position at the
        old contract's last bar with reason ``roll``.
    """
    n = len(close)
    close = np.asarray(close, dtype=float)
    forced = forced_exits(n, session_date, contract, flat_at_session_end)
    signal = np.asarray(signal, dtype=np.int8)
    events = np.flatnonzero((signal != 0) | (forced != 0))
    opens_long = side in ("long", "both")
    opens_short = side in ("short", "both")
    entries: list[int] = []
    exits: list[int] = []
    directions: list[int] = []
    reasons: list[int] = []
    position = 0
    for i, s, f in zip(
        events.tolist(), signal[events].tolist(), forced[events].tolist(), strict=True
    ):
        if position:
            if s == -position:
                exits.append(i)
                reasons.append(SIGNAL)
                position = 0
            elif f:
                exits.append(i)
                reasons.append(f)
                position = 0
        elif f == 0 and ((s == 1 and opens_long) or (s == -1 and opens_short)):
            entries.append(i)
            directions.append(s)
            position = s

    e = np.asarray(entries, dtype=np.int64)
    x = np.asarray(exits, dtype=np.int64)
    d = np.asarray(directions, dtype=float)
    k = len(e)
    per_point = multiplier * contracts
    slip = slippage_ticks * tick_size
    entry_price = close[e] + d * slip
    exit_price = close[x] - d * slip
    gross = d * (close[x] - close[e]) * per_point
    slippage = np.full(k, 2 * slip * per_point)
    commissions = np.full(k, 2 * commission * contracts)
    pnl = gross - slippage - commissions
    tick_value = tick_size * multiplier * contracts
    pnl_ticks = pnl / tick_value

    if k:
        bounds = np.empty(2 * k, dtype=np.int64)
        bounds[0::2] = e + 1
        bounds[1::2] = x + 1
        lowest = np.minimum.reduceat(np.append(np.asarray(low, float), np.nan), bounds)[0::2]
        highest = np.maximum.reduceat(np.append(np.asarray(high, float), np.nan), bounds)[0::2]
    else:
        lowest = highest = np.zeros(0)
    adverse = np.where(d > 0, lowest - entry_price, entry_price - highest)
    favourable = np.where(d > 0, highest - entry_price, entry_price - lowest)
    mae_points = np.minimum(adverse, 0.0)
    mfe_points = np.maximum(favourable, 0.0)

    realized = np.zeros(n)
    realized[x] = pnl
    equity = initial_capital + np.cumsum(realized)
    marker = np.zeros(n + 1, dtype=np.int64)
    marker[e] += np.arange(1, k + 1)
    marker[x] -= np.arange(1, k + 1)
    trade_of_bar = np.cumsum(marker)[:n]
    open_at_close = trade_of_bar > 0
    t = trade_of_bar[open_at_close] - 1
    equity[open_at_close] += (
        d[t] * (close[open_at_close] - entry_price[t]) * per_point - commission * contracts
    )
    in_position = np.concatenate([[False], open_at_close[:-1]]) if n else open_at_close
    return FuturesWalk(
        entries=e,
        exits=x,
        direction=d.astype(np.int8),
        entry_price=entry_price,
        exit_price=exit_price,
        gross_pnl=gross,
        commission=commissions,
        slippage=slippage,
        pnl=pnl,
        pnl_ticks=pnl_ticks,
        mae=mae_points * per_point,
        mfe=mfe_points * per_point,
        mae_ticks=mae_points / tick_size,
        mfe_ticks=mfe_points / tick_size,
        exit_reason=[REASONS[r] for r in reasons],
        equity=equity,
        in_position=in_position,
    )


# --------------------------------------------------------------------------- run


def futures_record(
    params: BacktestParams,
    bars: BarInputs,
    signal: np.ndarray,
    spec: ContractSpec,
    sweep_id: str | None = None,
    segment: str | None = None,
) -> tuple[RunRecord, FuturesWalk]:
    """Walk, compute the metrics and shape one futures run for :func:`store_records`."""
    import pandas as pd

    if params.contracts is None:
        raise BacktestError("futures mode needs --contracts N")
    commission = spec.commission_per_side if params.commission is None else params.commission
    walk = walk_futures(
        bars.close,
        bars.high,
        bars.low,
        signal,
        bars.session_date,
        side=params.side,
        contracts=params.contracts,
        tick_size=spec.tick_size,
        multiplier=spec.multiplier,
        slippage_ticks=params.slippage_ticks,
        commission=commission,
        flat_at_session_end=params.flat_at_session_end,
        initial_capital=params.initial_capital,
        contract=bars.contract,
    )
    held = (walk.exits - walk.entries).astype(int)
    bar_ns = bars.bar_start.astype(np.int64)
    metrics = compute_stats(
        walk.pnl,
        held,
        walk.equity,
        bars.close,
        bars.session_date,
        walk.in_position,
        params.initial_capital,
    )
    metrics.update(
        compute_trade_stats(
            walk.pnl,
            walk.gross_pnl,
            walk.commission,
            walk.slippage,
            bar_ns[walk.entries],
            bar_ns[walk.exits],
            walk.equity,
            bar_ns,
            bars.session_date,
            params.initial_capital,
            pnl_ticks=walk.pnl_ticks,
            mae=walk.mae,
            mfe=walk.mfe,
        )
    )
    k = len(walk.entries)
    trades = pd.DataFrame(
        {
            "trade_no": np.arange(1, k + 1, dtype=np.int32),
            "direction": [DIRECTIONS[int(v)] for v in walk.direction],
            "entry_time": bars.bar_start[walk.entries],
            "entry_price": walk.entry_price,
            "exit_time": bars.bar_start[walk.exits],
            "exit_price": walk.exit_price,
            "quantity": np.full(k, float(params.contracts)),
            "pnl": walk.pnl,
            "return_pct": walk.pnl / params.initial_capital * 100,
            "bars_held": held.astype(np.int32),
            "exit_reason": walk.exit_reason,
            "contract": bars.contract[walk.entries].astype(str),
            "gross_pnl": walk.gross_pnl,
            "commission": walk.commission,
            "slippage": walk.slippage,
            "pnl_ticks": walk.pnl_ticks,
            "mae": walk.mae,
            "mfe": walk.mfe,
            "mae_ticks": walk.mae_ticks,
            "mfe_ticks": walk.mfe_ticks,
        }
    )
    equity = pd.DataFrame(
        {"bar_start": bars.bar_start, "equity": walk.equity, "in_position": walk.in_position}
    )
    row = run_row(
        params,
        bars.symbol,
        bars.instrument_id,
        bars.bar_start,
        sweep_id,
        bars.relation or None,
        commission=commission,
        tick_size=spec.tick_size,
        multiplier=spec.multiplier,
        spec_source=spec.source,
        segment=segment,
    )
    return RunRecord(row, trades, equity, metrics), walk


def validate_bars(bars: BarInputs) -> None:
    """Reject NaN, non-positive or unsorted bars before walking them."""
    prices = np.concatenate([bars.close, bars.high, bars.low])
    if not np.all(np.isfinite(prices)):
        raise BacktestError(f"bars of {bars.symbol} have missing prices")
    if len(bars) > 1 and np.any(np.diff(bars.bar_start.astype(np.int64)) <= 0):
        raise BacktestError(f"bars of {bars.symbol} are not in strictly increasing time order")


def run_futures_on_connection(
    con: duckdb.DuckDBPyConnection, params: BacktestParams, sweep_id: str | None = None
) -> BacktestResult:
    """Run and store one futures-mode backtest on an open read-write connection."""
    bars = load_bars(con, params.frequency, params.reset, params.symbol, params.threshold)
    validate_bars(bars)
    spec = lookup_spec(con, bars.symbol)
    record, walk = futures_record(params, bars, bars.signal, spec, sweep_id)
    [run_id] = store_records(con, [record])
    trades = [
        {
            "trade_no": t + 1,
            "direction": DIRECTIONS[int(walk.direction[t])],
            "contract": str(bars.contract[e]),
            "entry_time": ts_text(bars.bar_start[e]),
            "entry_price": float(walk.entry_price[t]),
            "exit_time": ts_text(bars.bar_start[x]),
            "exit_price": float(walk.exit_price[t]),
            "quantity": float(params.contracts or 0),
            "gross_pnl": float(walk.gross_pnl[t]),
            "commission": float(walk.commission[t]),
            "slippage": float(walk.slippage[t]),
            "pnl": float(walk.pnl[t]),
            "pnl_ticks": float(walk.pnl_ticks[t]),
            "mae": float(walk.mae[t]),
            "mfe": float(walk.mfe[t]),
            "bars_held": int(x - e),
            "exit_reason": walk.exit_reason[t],
        }
        for t, (e, x) in enumerate(zip(walk.entries, walk.exits, strict=True))
    ]
    return BacktestResult(
        run_id=run_id,
        params=params,
        symbol=bars.symbol,
        instrument_id=bars.instrument_id,
        data_start=ts_text(bars.bar_start[0]),
        data_end=ts_text(bars.bar_start[-1]),
        bar_count=len(bars),
        metrics=record.metrics,
        trades=trades,
        spec=spec_dict(spec, record.run["commission"]),
    )


def spec_dict(spec: ContractSpec, commission: float) -> dict[str, Any]:
    """The contract specification a run used, for output."""
    return {
        "root": spec.root,
        "tick_size": spec.tick_size,
        "multiplier": spec.multiplier,
        "tick_value": spec.tick_value,
        "commission_per_side": commission,
        "source": spec.source,
    }
