"""A run's inputs: the instrument (or a root's continuous series) with its bars and signals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vcdwh.backtest.params import RESETS, BacktestParams
from vcdwh.errors import BacktestError
from vcdwh.warehouse.db import relation_exists
from vcdwh.warehouse.sqlrender import identifier, render

if TYPE_CHECKING:
    import duckdb


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
    continuous = params.interval.continuous_relation
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
    bars = params.interval.bars_relation
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
