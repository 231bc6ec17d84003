"""Deterministic synthetic Databento data: futures trades and their 1-minute OHLCV bars.

:func:`generate_sample` writes what a parent-symbol request (``ES.FUT``) to Databento's GLBX.MDP3
dataset would return, in Databento's *pretty* CSV layout: a ``trades`` file and an ``ohlcv-1m``
file under the seed's file names, so ``vcdwh build`` and the backtest run without network access.

The market model, one CME Globex session at a time (17:00-16:00 America/Chicago):

- three instruments per session: the front outright, the next expiry and their calendar spread
  (``ESH4-ESM4``, priced front minus next); the volume leader switches from the front to the next
  at the roll session (the Thursday eight days before the front's expiry);
- trade intensity follows the CME day: quiet overnight, busier in Europe, busiest 08:30-15:00 CT;
- aggressive orders of 1-4 fills sharing ``ts_recv``, ``ts_event`` and ``sequence``; buy sweeps
  walk up the tick grid, sell sweeps walk down;
- aggressor sides come in runs whose buy probability follows a slowly moving order-flow regime,
  and the fair price drifts with the signed flow, so price and cumulative delta trend together;
- the first print of each outright in a session is an opening-auction print with side ``N``.

Each session draws from its own random generator seeded with ``(seed, trade date)``, and is
written before the next one is simulated, so memory stays bounded by one session.
"""

from __future__ import annotations

import os
import secrets
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vcdwh.datafiles import OHLCV_COLUMNS as RAW_OHLCV_COLUMNS
from vcdwh.datafiles import TRADES_COLUMNS as RAW_TRADES_COLUMNS
from vcdwh.datafiles import seed_file_name
from vcdwh.errors import ConfigError, is_no_space, no_space_error
from vcdwh.instruments import Contract, InstrumentSpec, front_and_next, get_spec, parse_parent
from vcdwh.warehouse.sqlrender import render

CHICAGO = ZoneInfo("America/Chicago")
"""CME Globex session times are defined in Chicago local time."""

SESSION_OPEN = time(17, 0)
SESSION_CLOSE = time(16, 0)

TRADES_COLUMNS = (*RAW_TRADES_COLUMNS, "symbol")
OHLCV_COLUMNS = (*RAW_OHLCV_COLUMNS, "symbol")
TRADES_RTYPE = 0
OHLCV_1M_RTYPE = 33
GLBX_PUBLISHER_ID = 1

MAX_DAYS = 3660
NS = 1_000_000_000
MINUTE_NS = 60 * NS

# Market-model constants (all in ticks of the root unless noted).
FILL_COUNT_P = np.array([0.60, 0.22, 0.12, 0.06])  # fills per aggressive order: 1, 2, 3, 4
MEAN_FILLS = float(FILL_COUNT_P @ np.arange(1, 5))
SIZE_P = np.array([0.45, 0.25, 0.14, 0.09, 0.07])  # fill size 1..5
LARGE_LOT_P = 0.006  # chance that a fill is a large lot of 10..100
SWEEP_STEP_P = 0.4  # chance that the next fill of a sweep is one tick further
RUN_MEAN = 2.5  # mean length of a run of same-side aggressive orders
FLOW_REGIME_MINUTES = 45.0  # time scale of the order-flow regime
FLOW_REGIME_STD = 0.3
BUY_P_SLOPE = 0.45  # P(buy) = 0.5 + slope * regime
DAILY_VOL = 0.008  # session volatility of the fair price, as a fraction of the price level
FLOW_IMPACT = 7.0  # session volatilities moved by a full session of one-sided orders
NOISE_SHARE = 0.15  # session volatilities of flow-independent noise
OVERNIGHT_GAP = 0.15  # session volatilities of the gap between sessions
MEAN_REVERSION = 0.02  # pull of the price towards the root's level, per session
CARRY_PER_MONTH = 0.004  # next minus front, as a fraction of the level, per month apart
SPREAD_VOL_TICKS = 3.0  # session volatility of the calendar spread around its carry
LEADER_SHARES = (0.85, 0.13, 0.02)  # volume leader / other outright / spread
LATENCY_NS = (150_000, 900_000)  # ts_recv - ts_event
TS_IN_DELTA = (10_000, 25_000)
AUCTION_SIZE = (20, 300)
FIRST_SEQUENCE = 10_000_000
BATCH_ROWS = 1_000_000  # CSV lines per Arrow batch fetched from DuckDB
FLUSH_ROWS = 250_000  # write small sessions together, at least this many trades at a time

# Intraday intensity by Chicago clock time: (from minute of day, relative intensity).
INTENSITY_PROFILE = (
    (0, 1.0),  # Asia
    (2 * 60, 2.0),  # Europe
    (7 * 60, 3.0),  # US pre-market and data releases
    (8 * 60 + 30, 10.0),  # cash open
    (9 * 60, 6.0),
    (11 * 60, 4.5),  # lunch
    (13 * 60, 6.0),
    (14 * 60 + 30, 9.0),  # cash close
    (15 * 60, 2.5),
    (16 * 60, 0.0),  # daily halt
    (17 * 60, 3.0),  # Globex open
    (17 * 60 + 15, 1.2),
)

SIDE_CODES = ("A", "B", "N")
_SELL, _BUY, _NO_SIDE = 0, 1, 2

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Chunk = dict[str, npt.NDArray[Any]]


@dataclass(frozen=True)
class SampleReport:
    """What :func:`generate_sample` wrote.

    Attributes
    ----------
    trades_path, ohlcv_path : Path
        The trades and ohlcv-1m CSV files.
    trades : int
        Trade records written.
    ohlcv_bars : int
        OHLCV rows written.
    instruments : tuple of str
        Symbols present in the files, e.g. ``("ESH4", "ESM4", "ESH4-ESM4")``.
    start, end : date
        The UTC window, ``end`` exclusive.
    roll_session : date or None
        Trade date of the first session in the window where the next expiry became the volume
        leader, or None when no roll falls inside the window.
    """

    trades_path: Path
    ohlcv_path: Path
    trades: int
    ohlcv_bars: int
    instruments: tuple[str, ...]
    start: date
    end: date
    roll_session: date | None


@dataclass(frozen=True)
class Session:
    """One CME Globex session, clipped to the requested window.

    Attributes
    ----------
    trade_date : date
        The day the session closes.
    open_ns, close_ns : int
        Session open and close, UTC nanoseconds.
    lo_ns, hi_ns : int
        The part of the session inside the window, UTC nanoseconds.
    """

    trade_date: date
    open_ns: int
    close_ns: int
    lo_ns: int
    hi_ns: int


@dataclass
class _MarketState:
    """What carries over from one session to the next."""

    fair: float  # fair price of the front, in ticks
    spread_dev: float = 0.0  # next minus front, beyond the carry, in ticks
    pair: tuple[Contract, Contract] | None = None
    sequence: int = FIRST_SEQUENCE
    symbols: list[str] = field(default_factory=list)
    instrument_ids: list[int] = field(default_factory=list)

    def index_of(self, symbol: str) -> int:
        """Return the file-wide index of a symbol, registering it on first use."""
        if symbol not in self.symbols:
            self.symbols.append(symbol)
            self.instrument_ids.append(instrument_id(symbol))
        return self.symbols.index(symbol)


def instrument_id(symbol: str) -> int:
    """Return the fixed synthetic instrument_id of a symbol.

    Parameters
    ----------
    symbol : str
        Raw symbol, e.g. ``"ESH4"`` or ``"ESH4-ESM4"``.

    Returns
    -------
    int
        A stable id in 1000..9_999_999, the same for every seed and window.
    """
    return 1000 + zlib.crc32(symbol.encode("ascii")) % 9_999_000


def session_bounds(trade_date: date) -> tuple[datetime, datetime]:
    """Return the open and close of the Globex session with this trade date.

    Parameters
    ----------
    trade_date : date
        A Monday to Friday. Monday's session opens on Sunday.

    Returns
    -------
    tuple of datetime
        Open (17:00 CT the previous day) and close (16:00 CT), timezone-aware in UTC.

    Raises
    ------
    ValueError
        If ``trade_date`` is a Saturday or Sunday.
    """
    if trade_date.weekday() >= 5:
        raise ValueError(f"no Globex session has trade date {trade_date} (a weekend day)")
    opens = datetime.combine(trade_date - timedelta(days=1), SESSION_OPEN, tzinfo=CHICAGO)
    closes = datetime.combine(trade_date, SESSION_CLOSE, tzinfo=CHICAGO)
    return opens.astimezone(UTC), closes.astimezone(UTC)


def sessions_in_window(start: date, end: date) -> list[Session]:
    """Return the Globex sessions overlapping ``[start, end)`` UTC, clipped to it.

    Parameters
    ----------
    start, end : date
        UTC window, ``end`` exclusive.

    Returns
    -------
    list of Session
        In time order. Exchange holidays are not modelled.
    """
    lo = _utc_ns(datetime.combine(start, time(0), tzinfo=UTC))
    hi = _utc_ns(datetime.combine(end, time(0), tzinfo=UTC))
    sessions = []
    day = start - timedelta(days=1)
    while day <= end + timedelta(days=1):
        if day.weekday() < 5:
            opens, closes = (_utc_ns(t) for t in session_bounds(day))
            if opens < hi and closes > lo:
                sessions.append(Session(day, opens, closes, max(opens, lo), min(closes, hi)))
        day += timedelta(days=1)
    return sessions


def sample_file_names(symbol: str, start: date, end: date) -> tuple[str, str]:
    """Return the seed's trades and ohlcv-1m file names for a symbol and window.

    Parameters
    ----------
    symbol : str
        Parent symbol, e.g. ``"ES.FUT"``.
    start, end : date
        Window, ``end`` exclusive.

    Returns
    -------
    tuple of str
        ``trades_{symbol}_{start}_{end}.csv`` and ``ohlcv_1m_{symbol}_{start}_{end}.csv``.
    """
    return (
        seed_file_name("trades", symbol, start, end),
        seed_file_name("ohlcv-1m", symbol, start, end),
    )


def generate_sample(
    data_dir: Path,
    *,
    symbol: str = "ES.FUT",
    days: int = 7,
    start: date = date(2024, 3, 3),
    seed: int = 42,
    trades_per_day: int = 50_000,
) -> SampleReport:
    """Write a deterministic synthetic trades file and its ohlcv-1m bars for a parent symbol.

    Parameters
    ----------
    data_dir : Path
        Output folder, created if missing.
    symbol : str
        Parent symbol of a known root, e.g. ``"ES.FUT"``.
    days : int
        Window length in days, 1..3660; the window is ``[start, start + days)`` UTC.
    start : date
        First day of the window (UTC).
    seed : int
        Seed, >= 0; the same seed and arguments give byte-identical files.
    trades_per_day : int
        Trade records per full Globex session, >= 1.

    Returns
    -------
    SampleReport
        Paths, row counts, instruments, window and roll session.

    Raises
    ------
    ConfigError
        If an argument is invalid; the message names the CLI option.

    Notes
    -----
    Both files use Databento's pretty CSV layout (ISO-8601 nanosecond timestamps with ``Z``,
    prices with nine decimals, trailing ``symbol``). The bars are computed from the trades
    (bucketed on ``ts_recv``; open and close are the first and last trade in file order), so the
    two files reconcile exactly. Each file is written under a temporary name and renamed when
    complete.
    """
    spec, start, end = _validate(data_dir, symbol, days, start, seed, trades_per_day)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    trades_name, ohlcv_name = sample_file_names(symbol, start, end)
    trades_path, ohlcv_path = data_dir / trades_name, data_dir / ohlcv_name
    trades_tmp, ohlcv_tmp = (_temporary_file(data_dir, name) for name in (trades_name, ohlcv_name))

    tick = float(spec.tick_size)
    init = np.random.default_rng([seed, 0])
    state = _MarketState(fair=spec.price_level / tick * (1.0 + 0.02 * init.standard_normal()))
    plan = [(s, front_and_next(spec.root, s.trade_date)) for s in sessions_in_window(start, end)]
    for _, (front, next_) in plan:  # fix the file-wide instrument list before writing
        for name in (front.symbol, next_.symbol, f"{front.symbol}-{next_.symbol}"):
            state.index_of(name)
    roll_session = next(
        (s.trade_date for s, (front, _) in plan if s.trade_date == front.roll_date), None
    )
    params: dict[str, Any] = {
        "ids": state.instrument_ids,
        "symbols": state.symbols,
        "publisher_id": GLBX_PUBLISHER_ID,
    }
    trade_params = {**params, "sides": list(SIDE_CODES)}
    n_trades = n_bars = 0
    traded: set[int] = set()
    con = duckdb.connect()
    full: BaseException | None = None
    try:
        with trades_tmp.open("xb") as trades_out, ohlcv_tmp.open("xb") as ohlcv_out:
            trades_out.write((",".join(TRADES_COLUMNS) + "\n").encode())
            ohlcv_out.write((",".join(OHLCV_COLUMNS) + "\n").encode())
            pending: list[tuple[Chunk, Chunk]] = []  # small sessions are written together
            pending_rows = 0
            for i, (session, pair) in enumerate(plan):
                rng = np.random.default_rng([seed, session.trade_date.toordinal()])
                leader_is_next = session.trade_date >= pair[0].roll_date
                trades = _simulate_session(
                    spec, session, pair, leader_is_next, state, rng, trades_per_day
                )
                if trades is not None:
                    bars = _bars(trades, state.instrument_ids, tick)
                    pending.append((trades, bars))
                    pending_rows += len(trades["size"])
                    n_trades += len(trades["size"])
                    n_bars += len(bars["volume"])
                    traded.update(np.unique(trades["inst"]).tolist())
                    del trades, bars
                if pending and (pending_rows >= FLUSH_ROWS or i == len(plan) - 1):
                    _write_rows(
                        con,
                        "trades_chunk",
                        _concat([t for t, _ in pending]),
                        render("sample/sample_trades_csv.sql", columns=TRADES_COLUMNS),
                        trade_params | {"rtype": TRADES_RTYPE},
                        trades_out,
                    )
                    _write_rows(
                        con,
                        "ohlcv_chunk",
                        _concat([b for _, b in pending]),
                        render("sample/sample_ohlcv_csv.sql", columns=OHLCV_COLUMNS),
                        params | {"rtype": OHLCV_1M_RTYPE},
                        ohlcv_out,
                    )
                    pending, pending_rows = [], 0
        os.replace(ohlcv_tmp, ohlcv_path)
        os.replace(trades_tmp, trades_path)
    except Exception as exc:
        if not is_no_space(exc):
            raise
        full = exc
    finally:
        con.close()
        for leftover in (trades_tmp, ohlcv_tmp):
            leftover.unlink(missing_ok=True)
    if full is not None:
        needed = len(plan) * trades_per_day * _BYTES_PER_TRADE
        raise no_space_error(data_dir, needed) from full
    instruments = tuple(s for i, s in enumerate(state.symbols) if i in traded)
    return SampleReport(
        trades_path, ohlcv_path, n_trades, n_bars, instruments, start, end, roll_session
    )


# What one trade takes in the two files (its pretty CSV line, ~120 bytes, and its share of
# the 1-minute bars), for the estimate a full disk reports.
_BYTES_PER_TRADE = 130


def _temporary_file(folder: Path, name: str) -> Path:
    """Return a new, uniquely named hidden path next to where ``name`` will go."""
    return folder / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def _validate(
    data_dir: Path, symbol: str, days: int, start: date, seed: int, trades_per_day: int
) -> tuple[InstrumentSpec, date, date]:
    """Check every argument up front; return the spec and the window."""
    root = parse_parent(symbol)
    try:
        spec = get_spec(root)
    except ConfigError as exc:
        raise ConfigError(f"--symbol {symbol!r}: {exc}") from None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ConfigError(f"--days must be an integer in 1..{MAX_DAYS}, got {days!r}")
    if (
        isinstance(trades_per_day, bool)
        or not isinstance(trades_per_day, int)
        or trades_per_day < 1
    ):
        raise ConfigError(f"--trades-per-day must be an integer >= 1, got {trades_per_day!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"--seed must be an integer >= 0, got {seed!r}")
    if isinstance(start, datetime) or not isinstance(start, date):
        raise ConfigError(f"--start must be a date (YYYY-MM-DD), got {start!r}")
    try:
        end = start + timedelta(days=days)
    except OverflowError:
        raise ConfigError(f"--start {start} plus --days {days} is past year 9999") from None
    if Path(data_dir).exists() and not Path(data_dir).is_dir():
        raise ConfigError(f"--data-dir {str(data_dir)!r} exists and is not a folder")
    return spec, start, end


def _chicago(ns: int) -> datetime:
    """Return UTC nanoseconds as a Chicago-time datetime (to the second)."""
    return datetime.fromtimestamp(ns // NS, tz=UTC).astimezone(CHICAGO)


def _utc_ns(moment: datetime) -> int:
    """Return an aware datetime (whole seconds) as integer UTC nanoseconds."""
    return int(moment.timestamp()) * NS


def _minute_weights(session: Session) -> tuple[IntArray, FloatArray]:
    """Return the start (UTC ns) and base intensity of every minute of a session."""
    n_minutes = (session.close_ns - session.open_ns) // MINUTE_NS
    starts = session.open_ns + np.arange(n_minutes, dtype=np.int64) * MINUTE_NS
    offsets = {_chicago(t).utcoffset() for t in (session.open_ns, session.close_ns)}
    if len(offsets) == 1:  # always so on the US calendar: clocks change on Sunday at 02:00
        (offset,) = offsets
        assert offset is not None  # a zoneinfo time always has an offset
        offset_minutes = int(offset / timedelta(minutes=1))
        local = (starts // MINUTE_NS + offset_minutes) % 1440
    else:
        local = np.array([_chicago(int(t)).hour * 60 + _chicago(int(t)).minute for t in starts])
    bounds = np.array([m for m, _ in INTENSITY_PROFILE])
    levels = np.array([w for _, w in INTENSITY_PROFILE])
    weights = levels[np.searchsorted(bounds, local, side="right") - 1]
    return starts, weights


def _flow_regime(rng: np.random.Generator, n_minutes: int) -> FloatArray:
    """Return a slowly varying order-flow imbalance per minute, roughly in [-1, 1]."""
    span = int(4 * FLOW_REGIME_MINUTES)
    kernel = np.exp(-np.arange(span) / FLOW_REGIME_MINUTES)
    kernel *= FLOW_REGIME_STD / np.sqrt(np.sum(kernel**2))
    shocks = rng.standard_normal(n_minutes + span - 1)
    return np.clip(np.convolve(shocks, kernel, mode="valid"), -0.95, 0.95)


def _segment_walk(rng: np.random.Generator, fills: IntArray, first: IntArray) -> IntArray:
    """Return each fill's distance in ticks from its order's first fill (0, 0, 1, 2, ...)."""
    n = len(fills)
    position = np.arange(n) - first[fills]
    step = (rng.random(n) < SWEEP_STEP_P) & (position > 0)
    climbed = np.cumsum(step)
    return climbed - climbed[first[fills]]


def _runs_of_sides(rng: np.random.Generator, buy_p: FloatArray) -> IntArray:
    """Return +1/-1 sides in runs; each run's side is drawn with its first order's buy_p."""
    n = len(buy_p)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    lengths = rng.geometric(1.0 / RUN_MEAN, size=n)
    starts = np.cumsum(lengths) - lengths
    starts = starts[starts < n]
    is_start = np.zeros(n, dtype=np.int64)
    is_start[starts] = 1
    run = np.cumsum(is_start) - 1
    buys = rng.random(len(starts)) < buy_p[starts]
    return np.where(buys[run], 1, -1)


def _simulate_session(
    spec: InstrumentSpec,
    session: Session,
    pair: tuple[Contract, Contract],
    leader_is_next: bool,
    state: _MarketState,
    rng: np.random.Generator,
    trades_per_day: int,
) -> Chunk | None:
    """Simulate one session's trade records, in file order, or None if it has none."""
    tick = float(spec.tick_size)
    level = spec.price_level / tick
    session_vol = DAILY_VOL * level
    full_orders = trades_per_day / MEAN_FILLS

    # Carry the market over from the previous session (and across an expiry).
    if state.pair is not None and state.pair != pair:
        state.fair += _carry(spec, state.pair) + state.spread_dev
        state.spread_dev = 0.0
    state.pair = pair
    carry = _carry(spec, pair)
    state.fair += OVERNIGHT_GAP * session_vol * rng.standard_normal() - MEAN_REVERSION * (
        state.fair - level
    )
    front, next_ = pair
    symbols = (front.symbol, next_.symbol, f"{front.symbol}-{next_.symbol}")
    file_index = np.array([state.index_of(s) for s in symbols], dtype=np.int32)

    # How many trade records fall inside the window.
    minute_starts, base = _minute_weights(session)
    inside = (minute_starts >= session.lo_ns) & (minute_starts < session.hi_ns)
    n_fills = round(trades_per_day * base[inside].sum() / base.sum())
    regime = _flow_regime(rng, len(minute_starts))
    if n_fills == 0:
        return None

    # Aggressive orders and their fill counts; opening-auction prints are single fills.
    n_auction = min(2, n_fills) if session.lo_ns == session.open_ns else 0
    counts = rng.choice(4, size=int(n_fills / MEAN_FILLS * 1.25) + 16, p=FILL_COUNT_P) + 1
    counts[:n_auction] = 1
    total = np.cumsum(counts)
    while total[-1] < n_fills:  # practically never; keeps the count exact
        more = rng.choice(4, size=n_fills, p=FILL_COUNT_P) + 1
        counts = np.concatenate([counts, more])
        total = np.cumsum(counts)
    n_orders = int(np.searchsorted(total, n_fills)) + 1
    counts = counts[:n_orders]
    counts[-1] -= total[n_orders - 1] - n_fills

    # Order times: auction prints at the open, the rest spread over the minutes by intensity.
    n_regular = n_orders - n_auction
    intensity = np.where(inside, base * rng.gamma(4.0, 0.25, size=len(base)), 0.0)
    per_minute = rng.multinomial(n_regular, intensity / intensity.sum())
    minute_of = np.repeat(np.arange(len(minute_starts)), per_minute)
    ts_recv_regular = np.sort(
        minute_starts[minute_of] + rng.integers(NS // 1000, MINUTE_NS - 1000, size=n_regular)
    )
    latency = rng.integers(*LATENCY_NS, size=n_orders)
    auction_event = session.open_ns + rng.integers(0, 100_000, size=n_auction)
    auction_order = np.argsort(auction_event + latency[:n_auction], kind="stable")
    latency[:n_auction] = latency[:n_auction][auction_order]
    ts_event_auction = auction_event[auction_order]
    ts_recv = np.concatenate([ts_event_auction + latency[:n_auction], ts_recv_regular])
    ts_event = ts_recv - latency
    inst = np.concatenate(
        [
            np.arange(n_auction)[auction_order],
            np.searchsorted(
                np.cumsum(_shares(leader_is_next))[:-1], rng.random(n_regular), side="right"
            ),
        ]
    )
    for i in range(3):  # ts_event never goes backwards within an instrument
        mask = inst == i
        ts_event[mask] = np.maximum.accumulate(ts_event[mask])

    # Aggressor sides: runs per instrument, biased by the flow regime; auctions have no side.
    sign = np.zeros(n_orders, dtype=np.int64)
    buy_p = np.concatenate([np.full(n_auction, 0.5), 0.5 + BUY_P_SLOPE * regime[minute_of]])
    for i in range(3):
        orders = np.flatnonzero(inst == i)
        orders = orders[orders >= n_auction]
        sign[orders] = _runs_of_sides(rng, buy_p[orders])

    # Fair prices: the front drifts with the signed outright flow plus noise; the spread wanders.
    outright_flow = np.where(inst < 2, sign, 0)
    fair = (
        state.fair
        + FLOW_IMPACT * session_vol * np.cumsum(outright_flow) / full_orders
        + NOISE_SHARE
        * session_vol
        * np.cumsum(rng.standard_normal(n_orders))
        / np.sqrt(full_orders)
    )
    fair = np.maximum(fair, 0.05 * level)
    spread_dev = state.spread_dev + SPREAD_VOL_TICKS * np.cumsum(
        rng.standard_normal(n_orders)
    ) / np.sqrt(full_orders)
    state.fair, state.spread_dev = float(fair[-1]), float(spread_dev[-1]) * 0.5
    instrument_fair = np.select(
        [inst == 0, inst == 1], [fair, fair + carry + spread_dev], -(carry + spread_dev)
    )
    bid = np.floor(instrument_fair).astype(np.int64)
    first_tick = np.where(sign > 0, bid + 1, bid)
    first_tick[:n_auction] = np.rint(instrument_fair[:n_auction]).astype(np.int64)

    # Expand orders into fills: sweeps walk away from the first price.
    fills = np.repeat(np.arange(n_orders), counts)
    first_fill = np.cumsum(counts) - counts
    price_ticks = first_tick[fills] + sign[fills] * _segment_walk(rng, fills, first_fill)
    size = rng.choice(5, size=n_fills, p=SIZE_P) + 1
    large = rng.random(n_fills) < LARGE_LOT_P
    size[large] = rng.integers(10, 101, size=int(large.sum()))
    size[:n_auction] = rng.integers(AUCTION_SIZE[0], AUCTION_SIZE[1] + 1, size=n_auction)
    sequence = state.sequence + np.cumsum(rng.integers(1, 40, size=n_orders))
    state.sequence = int(sequence[-1])
    ts_in_delta = rng.integers(TS_IN_DELTA[0], TS_IN_DELTA[1] + 1, size=n_orders)
    side = np.where(sign > 0, _BUY, np.where(sign < 0, _SELL, _NO_SIDE)).astype(np.int8)

    return {
        "ts_recv": ts_recv[fills],
        "ts_event": ts_event[fills],
        "inst": file_index[inst][fills],
        "side": side[fills],
        "ticks": price_ticks,
        "price": price_ticks * tick,
        "size": size.astype(np.int32),
        "ts_in_delta": ts_in_delta[fills].astype(np.int32),
        "sequence": sequence[fills],
    }


def _shares(leader_is_next: bool) -> FloatArray:
    """Return the order shares of front, next and spread."""
    leader, other, spread = LEADER_SHARES
    return np.array([other, leader, spread] if leader_is_next else [leader, other, spread])


def _carry(spec: InstrumentSpec, pair: tuple[Contract, Contract]) -> float:
    """Return next minus front, in whole ticks, for a contract pair."""
    front, next_ = pair
    months = (next_.year - front.year) * 12 + next_.month - front.month
    return float(round(spec.price_level * CARRY_PER_MONTH * months / float(spec.tick_size)))


def _bars(trades: Chunk, instrument_ids: list[int], tick: float) -> Chunk:
    """Return the 1-minute OHLCV bars of a chunk of trades (bucketed on ``ts_recv``)."""
    minute = trades["ts_recv"] // MINUTE_NS
    inst = trades["inst"].astype(np.int64)
    id_rank = np.argsort(np.argsort(np.asarray(instrument_ids, dtype=np.int64)))
    key = (minute - minute[0]) * len(instrument_ids) + id_rank[inst]
    order = np.argsort(key, kind="stable")  # file order within each bar
    key_sorted = key[order]
    starts = np.flatnonzero(np.r_[True, key_sorted[1:] != key_sorted[:-1]])
    ends = np.r_[starts[1:], len(order)] - 1
    ticks = trades["ticks"][order]
    return {
        "ts_event": minute[order][starts] * MINUTE_NS,
        "inst": inst[order][starts],
        "open": ticks[starts] * tick,
        "high": np.maximum.reduceat(ticks, starts) * tick,
        "low": np.minimum.reduceat(ticks, starts) * tick,
        "close": ticks[ends] * tick,
        "volume": np.add.reduceat(trades["size"][order], starts),
    }


def _concat(chunks: list[Chunk]) -> Chunk:
    """Join chunks with the same columns, end to end."""
    if len(chunks) == 1:
        return chunks[0]
    return {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}


def _write_rows(
    con: duckdb.DuckDBPyConnection,
    name: str,
    chunk: Chunk,
    sql: str,
    params: dict[str, Any],
    out: BinaryIO,
) -> None:
    """Format a chunk as CSV lines with DuckDB (in parallel) and append them to an open file.

    The query returns one ``line`` string per row, newline included; the bytes of each Arrow
    batch of lines are contiguous, so they are written out without building Python strings.
    """
    con.register(name, chunk)
    try:
        for batch in con.sql(sql, params=params).to_arrow_reader(BATCH_ROWS):
            out.write(_string_bytes(batch.column(0)))
    finally:
        con.unregister(name)


def _string_bytes(lines: pa.Array) -> memoryview:
    """Return the concatenated bytes of an Arrow string array without copying."""
    width = 8 if pa.types.is_large_string(lines.type) else 4
    _, offsets, data = lines.buffers()
    bounds = np.frombuffer(
        offsets,
        dtype=np.int64 if width == 8 else np.int32,
        count=len(lines) + 1,
        offset=lines.offset * width,
    )
    return memoryview(data)[int(bounds[0]) : int(bounds[-1])] if len(lines) else memoryview(b"")


def format_sample(report: SampleReport) -> str:
    """What ``vcdwh sample`` wrote: the files, their rows and the roll session."""
    lines = [
        f"wrote {report.trades:,} trades ({', '.join(report.instruments)}) to {report.trades_path}",
        f"wrote {report.ohlcv_bars:,} ohlcv-1m bars to {report.ohlcv_path}",
    ]
    if report.roll_session:
        lines.append(f"roll session: {report.roll_session}")
    return "\n".join(lines)
