"""A run's inputs, read by one loader for every mode: the bars of an instrument (or of a root's
continuous series), the signal at each bar, the contract specification, and the trade tape when
an exit is resolved on it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from vcdwh.backtest.params import BacktestParams
from vcdwh.backtest.signals import Series, Signal, bind, check_lookahead, evaluate, load_signal
from vcdwh.errors import BacktestError
from vcdwh.instruments import DEFAULT_COMMISSION
from vcdwh.marts.frequency import EventBars, Frequency
from vcdwh.warehouse.db import relation_exists
from vcdwh.warehouse.sqlrender import identifier, render

if TYPE_CHECKING:
    import duckdb


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
class Bars:
    """One series' bars as columns, in time order."""

    symbol: str
    instrument_id: int
    relation: str
    continuous: bool
    interval_ns: int
    bar_start: np.ndarray  # datetime64[ns]
    session_date: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    contract: np.ndarray  # the contract of each bar (the symbol itself for an instrument)
    instrument: np.ndarray  # the instrument_id of each bar (whose trades the tape reads)
    is_rth: np.ndarray | None = None  # each bar's is_rth (--hours, --flat-at-session-end rth)
    bounds: TapeBounds | None = None  # tick, volume and range bars: where each is on the tape

    def __len__(self) -> int:
        return len(self.close)

    @property
    def bar_ns(self) -> np.ndarray:
        """Each bar's start, nanoseconds since the epoch."""
        return self.bar_start.astype("datetime64[ns]").astype(np.int64)

    def slice(self, start: int, stop: int) -> Bars:
        """The bars ``start:stop``."""
        columns = ("bar_start", "session_date", "open", "high", "low", "close")
        return replace(
            self,
            **{name: getattr(self, name)[start:stop] for name in columns},
            contract=self.contract[start:stop],
            instrument=self.instrument[start:stop],
            is_rth=None if self.is_rth is None else self.is_rth[start:stop],
            bounds=None if self.bounds is None else self.bounds.slice(start, stop),
        )


@dataclass(frozen=True)
class TapeBounds:
    """Where each tick, volume or range bar lies on its instrument's tape.

    A position on the tape is a timestamp and a rank: the trade that many trades after the first
    at that timestamp (bars can end and start inside one aggressive order's fills). A bar runs
    from (its ``bar_start``, ``start_rank``) to before (``end_ns``, ``end_rank``): the next bar's
    start, or just past the last bar's last trade.
    """

    start_rank: np.ndarray
    end_ns: np.ndarray
    end_rank: np.ndarray

    def slice(self, start: int, stop: int) -> TapeBounds:
        """The bounds of the bars ``start:stop``."""
        return TapeBounds(
            self.start_rank[start:stop], self.end_ns[start:stop], self.end_rank[start:stop]
        )


@dataclass(frozen=True)
class TapeChunk:
    """Trades of one instrument over a stretch of time, in trade order."""

    ts: np.ndarray  # ts_recv, ns since the epoch
    price: np.ndarray
    order: np.ndarray  # the number of each fill's aggressive order (same ts_recv and sequence)
    rank: np.ndarray  # how many trades before it share its ts_recv


def _utc(ns: int) -> Any:
    """A time given in whole microseconds since the epoch as a naive UTC datetime."""
    import datetime as dt

    return dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=ns // 1000)


def _in_trade_order(ts: np.ndarray, sequence: np.ndarray, position: np.ndarray) -> bool:
    """True when the rows are sorted by (ts_recv, sequence, position)."""
    if len(ts) < 2:
        return True
    dt, dp = np.diff(ts), np.diff(position)
    up, same = sequence[1:] > sequence[:-1], sequence[1:] == sequence[:-1]
    later = (dt > 0) | ((dt == 0) & (up | (same & (dp > 0))))
    return bool(later.all())


class Tape:
    """An instrument's trades in trade order, read from the warehouse as a walk needs them.

    The tape is read in blocks of ``BLOCK_NS`` (2 hours, aligned on the epoch), each once and
    kept: a position reads the blocks from its fill on until an exit is found or its bar exit is
    reached, so a run reads only the trades its positions lived through, and a sweep reads each
    block once for all its runs.
    """

    BLOCK_NS = 2 * 3600 * 10**9

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._sql = render("queries/tape.sql")
        self._blocks: dict[tuple[int, int], TapeChunk] = {}

    def _block(self, instrument: int, number: int) -> TapeChunk:
        key = (instrument, number)
        if key not in self._blocks:
            data = self._con.execute(
                self._sql,
                {
                    "instrument_id": instrument,
                    "from_ts": _utc(number * self.BLOCK_NS),
                    "to_ts": _utc((number + 1) * self.BLOCK_NS),
                },
            ).fetchnumpy()
            ts = np.asarray(data["ts_ns"], dtype=np.int64)
            sequence = np.asarray(data["sequence"]).astype(np.uint64)
            position = np.asarray(data["position"], dtype=np.int64)
            price = np.asarray(data["price"], dtype=float)
            if not _in_trade_order(ts, sequence, position):
                order = np.lexsort((position, sequence, ts))
                ts, sequence, price = ts[order], sequence[order], price[order]
            new_order = np.ones(len(ts), dtype=bool)
            new_time = np.ones(len(ts), dtype=bool)
            if len(ts) > 1:
                new_time[1:] = ts[1:] != ts[:-1]
                new_order[1:] = new_time[1:] | (sequence[1:] != sequence[:-1])
            firsts = np.flatnonzero(new_time)
            indexes = np.arange(len(ts))
            rank = indexes - firsts[np.searchsorted(firsts, indexes, "right") - 1]
            self._blocks[key] = TapeChunk(ts, price, np.cumsum(new_order), rank)
        return self._blocks[key]

    def stretches(
        self, instrument: int, from_ns: int, to_ns: int, from_rank: int = 0, to_rank: int = 0
    ) -> Iterator[TapeChunk]:
        """The trades from (``from_ns``, ``from_rank``) to before (``to_ns``, ``to_rank``), block
        by block, in trade order: a position is a ``ts_recv`` and how many of the trades at it
        come first (0: all trades of ``from_ns <= ts_recv < to_ns``).

        A block boundary never splits an aggressive order: its fills share ``ts_recv``.
        """
        # the trades at to_ns before to_rank are read too: its block, even when it starts there
        last_block = -(-(to_ns + (1 if to_rank else 0)) // self.BLOCK_NS)
        for number in range(from_ns // self.BLOCK_NS, last_block):
            block = self._block(instrument, number)
            first = _position(block.ts, from_ns, from_rank)
            last = _position(block.ts, to_ns, to_rank)
            if last > first:
                yield TapeChunk(
                    block.ts[first:last],
                    block.price[first:last],
                    block.order[first:last],
                    block.rank[first:last],
                )


def _position(ts: np.ndarray, ns: int, rank: int) -> int:
    """The index of the trade ``rank`` trades after the first at ``ns`` (trades at ``ns`` past
    those are the next ones), or of the first trade after ``ns``, in sorted ``ts``."""
    first = int(np.searchsorted(ts, ns, "left"))
    if rank:
        return min(first + rank, int(np.searchsorted(ts, ns, "right")))
    return first


@dataclass
class Inputs:
    """Everything a walk needs: resolved params, bars, signal, contract spec and tape."""

    params: BacktestParams
    bars: Bars
    signal_def: Signal
    values: dict[str, Any]
    signal: np.ndarray  # +1, -1 or 0 per bar
    spec: ContractSpec | None
    tape: Tape | None = None

    def slice(self, start: int, stop: int) -> Inputs:
        """The same inputs for the bars ``start:stop`` (the signal is not evaluated again)."""
        return replace(self, bars=self.bars.slice(start, stop), signal=self.signal[start:stop])


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


def continuous_root(con: duckdb.DuckDBPyConnection, bars: str, symbol: str | None) -> bool:
    """True when ``symbol`` names a root with a continuous series and no instrument of its own."""
    if symbol is None or symbol not in _roots(con):
        return False
    loaded = con.execute(
        f"select count(*) from {identifier(bars)} where symbol = $symbol", {"symbol": symbol}
    ).fetchall()
    return not (loaded and loaded[0][0])


def lookup_spec(con: duckdb.DuckDBPyConnection, symbol: str) -> ContractSpec | None:
    """The contract specification of a symbol (``sql/queries/instrument_spec.sql``), if known."""
    rows = con.execute(
        render("queries/instrument_spec.sql"),
        {"symbol": symbol, "default_commission": float(DEFAULT_COMMISSION)},
    ).fetchall()
    if not rows:
        return None
    _, root, tick, multiplier, commission, source = rows[0]
    return ContractSpec(symbol, root, float(tick), float(multiplier), float(commission), source)


def _no_spec(symbol: str) -> BacktestError:
    return BacktestError(
        f"no contract specification for {symbol!r}: load its Databento definition file with "
        "`vcdwh build`, or add its root to the instruments table (root, tick_size, "
        "multiplier, commission_per_side, exchange, source)"
    )


def series(bars: Bars, interval: Frequency | EventBars) -> Series:
    """How a signal selects the rows of ``bars``."""
    key: dict[str, Any] = (
        {"series_root": bars.symbol}
        if bars.continuous
        else {"series_instrument_id": bars.instrument_id, "series_symbol": bars.symbol}
    )
    return Series(
        bars=identifier(bars.relation),
        footprint=identifier(interval.footprint_relation),
        continuous=bars.continuous,
        key=key,
    )


def load_bars(
    con: duckdb.DuckDBPyConnection, interval: Frequency | EventBars, symbol: str | None
) -> Bars:
    """One instrument's bars (or a root's continuous series) in one columnar query.

    Raises
    ------
    BacktestError
        If the bars relation is not built, the symbol is unknown, or there are no bars, or they
        have missing prices or are not in time order.
    """
    relation = interval.bars_relation
    if not relation_exists(con, relation):
        how = (
            interval.build_option
            if isinstance(interval, EventBars)
            else f"--frequency {interval.name}"
        )
        raise BacktestError(f"{relation} is not built; run `vcdwh build {how}` first")
    continuous = continuous_root(con, relation, symbol)
    if continuous and isinstance(interval, EventBars):
        raise BacktestError(
            f"{relation} has no continuous series of {symbol}; give a contract symbol "
            "(vcdwh list shows them)"
        )
    if continuous and isinstance(interval, Frequency):
        relation = interval.continuous_relation
        if not relation_exists(con, relation):
            raise BacktestError(f"{relation} is not built; run `vcdwh build` first")
        name, instrument_id = str(symbol), 0
        key: dict[str, Any] = {"series_root": name}
    else:
        name, instrument_id = choose_instrument(con, relation, symbol)
        key = {"series_instrument_id": instrument_id, "series_symbol": name}
    sql = render("queries/series_bars.sql", bars=identifier(relation), continuous=continuous)
    data = con.execute(sql, key).fetchnumpy()
    instruments = np.asarray(data["instrument_id"], dtype=np.int64)
    if continuous and len(instruments):
        instrument_id = int(instruments[-1])
    bars = Bars(
        symbol=name,
        instrument_id=instrument_id,
        relation=relation,
        continuous=continuous,
        # tick, volume and range bars have no fixed length (see with_tape_bounds)
        interval_ns=interval.nanoseconds if isinstance(interval, Frequency) else 0,
        bar_start=np.asarray(data["bar_start"]).astype("datetime64[ns]"),
        session_date=np.asarray(data["session_date"]),
        open=np.asarray(data["open"], dtype=float),
        high=np.asarray(data["high"], dtype=float),
        low=np.asarray(data["low"], dtype=float),
        close=np.asarray(data["close"], dtype=float),
        contract=np.asarray(data["contract"], dtype=object),
        instrument=instruments,
        is_rth=np.asarray(data["is_rth"], dtype=bool),
    )
    validate_bars(bars)
    return bars


def with_tape_bounds(con: duckdb.DuckDBPyConnection, bars: Bars) -> Bars:
    """The bars with where each lies on the tape (:class:`TapeBounds`), for tick, volume and
    range bars (a time bar is its interval); the bars themselves when they have them.

    Raises
    ------
    BacktestError
        If the bars do not cut the instrument's trades as a build does (the trades changed
        since, or the instrument's trades carry other symbols too).
    """
    if bars.interval_ns or bars.bounds is not None:
        return bars
    sql = render("queries/event_bar_bounds.sql", bars=identifier(bars.relation))
    key = {"series_instrument_id": bars.instrument_id, "series_symbol": bars.symbol}
    data = con.execute(sql, key).fetchnumpy()
    starts = np.asarray(data["bar_start"]).astype("datetime64[ns]").astype(np.int64)
    rank = np.asarray(data["start_rank"], dtype=np.int64)
    if (
        len(starts) != len(bars)
        or not np.array_equal(starts, bars.bar_ns)
        or np.any(rank < 0)
        or np.any(rank >= np.asarray(data["trades_at_start"], dtype=np.int64))
        or not np.array_equal(
            np.asarray(data["session_trades"], dtype=np.int64),
            np.asarray(data["session_bar_trades"], dtype=np.int64),
        )
    ):
        symbols = [
            str(symbol)
            for (symbol,) in con.execute(
                "select distinct symbol from trades where instrument_id = $series_instrument_id"
                " order by 1",
                {"series_instrument_id": bars.instrument_id},
            ).fetchall()
        ]
        if len(symbols) > 1:
            raise BacktestError(
                f"the trades of instrument {bars.instrument_id} carry {len(symbols)} symbols "
                f"({', '.join(symbols[:5])}): stops, targets and trails on {bars.relation} need "
                "one symbol per instrument; use time bars such as 1min"
            )
        raise BacktestError(
            f"{bars.relation} of {bars.symbol} do not cut the trades of instrument "
            f"{bars.instrument_id} as stored: run `vcdwh build` to bring them up to date"
        )
    # A bar ends where the next one of its session starts; a session's last bar just past its
    # last trade (the tape between sessions is not read).
    ends = np.asarray(data["bar_end"]).astype("datetime64[ns]").astype(np.int64)
    same_session = np.append(bars.session_date[1:] == bars.session_date[:-1], False)
    end_ns = np.where(same_session, np.append(starts[1:], 0), ends + 1)
    end_rank = np.where(same_session, np.append(rank[1:], 0), 0)
    return replace(bars, bounds=TapeBounds(rank, end_ns, end_rank))


def validate_bars(bars: Bars) -> None:
    """Reject empty, NaN, non-positive or unsorted bars before walking them."""
    if len(bars) == 0:
        raise BacktestError(f"no bars for {bars.symbol}; load its trades with `vcdwh build`")
    prices = np.concatenate([bars.open, bars.close, bars.high, bars.low])
    if not np.all(np.isfinite(prices)):
        raise BacktestError(f"bars of {bars.symbol} have missing prices")
    if np.any(bars.close <= 0):
        raise BacktestError(f"bars of {bars.symbol} have missing or non-positive closes")
    if len(bars) > 1 and np.any(np.diff(bars.bar_ns) <= 0):
        if bars.interval_ns == 0 and np.all(np.diff(bars.bar_ns) >= 0):
            shared = int(np.count_nonzero(np.diff(bars.bar_ns) == 0))
            raise BacktestError(
                f"{bars.relation}: {shared} bar(s) of {bars.symbol} start at the same timestamp "
                "as the bar before (a bar inside one aggressive order's fills); a backtest keys "
                "bars by bar_start: use larger bars"
            )
        raise BacktestError(f"bars of {bars.symbol} are not in strictly increasing time order")


def load_inputs(
    con: duckdb.DuckDBPyConnection,
    params: BacktestParams,
    *,
    lookahead: bool = False,
    bars: Bars | None = None,
    tape: Tape | None = None,
    spec: ContractSpec | None = None,
    signal_def: Signal | None = None,
) -> Inputs:
    """Read a run's inputs: bars, signal, contract spec (and the tape for stops and targets).

    ``params`` are validated; ``sizing='auto'`` is resolved here. ``bars``, ``tape``, ``spec``
    and ``signal_def``, when given, are reused (a sweep reads them once). ``lookahead``: refuse a
    signal whose value at a bar changes when later bars are removed.

    Raises
    ------
    BacktestError
        Missing bars, unknown symbol, a signal that fails or looks ahead, or contracts without a
        contract specification.
    """
    params = params.validated()
    if bars is None:
        bars = load_bars(con, params.interval, params.symbol)
    if params.tape_exits:
        bars = with_tape_bounds(con, bars)
    if spec is None:
        spec = lookup_spec(con, bars.symbol)
    params = params.with_sizing(spec is not None)
    if spec is None and (params.futures or params.tape_exits):
        raise _no_spec(bars.symbol)
    if signal_def is None:
        signal_def = load_signal(params.signal)
    values = bind(signal_def, dict(params.signal_params), params.run_values)
    where = series(bars, params.interval)
    signal = evaluate(con, signal_def, where, values, bars.bar_start)
    if lookahead:
        check_lookahead(con, signal_def, where, values, bars.bar_start, signal)
    if params.tape_exits and tape is None:
        tape = Tape(con)
    return Inputs(params, bars, signal_def, values, signal, spec, tape)
