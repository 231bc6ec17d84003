"""The one walk of every backtest, sweep and walk-forward run.

The walk follows the signal (+1, -1, 0 per bar) one bar at a time, with one action per bar:

- flat + a signal the ``side`` allows (+1 long, -1 short) opens a position at that bar's close
  (``entry='close'``) or at the next bar's open (``'next-open'``); no position opens on a bar
  where one must be closed (the last bar, the last bar of a contract before a roll, and with
  ``flat_at_session_end`` the last bar of a session), since it could not be held;
- a signal against the position closes it (reason ``signal``) at the same price rule as entries;
  the opposite position opens on a later bar whose signal still says so;
- a position is also closed at the close of the last bar (``end_of_data``), of a contract's
  last bar before a roll (``roll``), of a session's last bar or, with ``flat_at_rth_end``, of
  its last RTH bar (``session_end``) and of the ``max_bars``-th bar whose close it sees
  (``time``);
- with ``hours`` ``rth`` (``eth``) only RTH (non-RTH) bars may open a position; any bar closes
  one;
- stops, targets and trailing stops are resolved on the trade tape (every trade of the
  instrument in trade order from the fill on, see :func:`tape_exit`) and close the position at
  the exact trade (reasons ``stop``, ``target``, ``trail``);
- when the equity at a bar's close reaches 0 the position is closed there (``ruin``) and the
  walk stops trading.

Sizing is one of two rules of the same walk: :class:`SeedSizing` (a fraction of the current
capital, in units of the instrument: the seed's) or :class:`ContractSizing` (whole contracts,
P&L = points x multiplier x contracts, commission per contract per side, slippage in ticks
against the trader on every market fill).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vcdwh.backtest.inputs import Tape, TapeBounds

END_OF_DATA, ROLL, SESSION_END = 1, 2, 3
FORCED = {END_OF_DATA: "end_of_data", ROLL: "roll", SESSION_END: "session_end"}
DIRECTIONS = {1: "long", -1: "short"}


@dataclass(frozen=True)
class SeedSizing:
    """The seed's sizing: ``position_size`` of the current capital per position."""

    position_size: float


@dataclass(frozen=True)
class ContractSizing:
    """Whole contracts with the contract's multiplier, a commission and slippage."""

    contracts: int
    multiplier: float
    commission: float = 0.0
    slippage_ticks: float = 0.0


@dataclass(frozen=True)
class Rules:
    """How the walk trades: sizing, sides, fills and exits."""

    sizing: SeedSizing | ContractSizing
    side: str = "long"
    entry: str = "close"
    flat_at_session_end: bool = False
    hours: str = "all"
    flat_at_rth_end: bool = False
    tick_size: float = 0.0
    stop_ticks: float | None = None
    target_ticks: float | None = None
    trail_ticks: float | None = None
    max_bars: int | None = None
    target_fill: str = "through"

    @property
    def tape_exits(self) -> bool:
        """True when exits are looked for on the trade tape."""
        return any(v is not None for v in (self.stop_ticks, self.target_ticks, self.trail_ticks))

    @property
    def slip(self) -> float:
        """Slippage of one market fill, in points."""
        if isinstance(self.sizing, ContractSizing):
            return self.sizing.slippage_ticks * self.tick_size
        return 0.0


@dataclass
class Walk:
    """The trades (one per round trip) and the per-bar equity of a walk."""

    entries: np.ndarray  # bar of each entry (the bar whose close or open filled it)
    exits: np.ndarray  # bar of each exit (the bar during or at whose close it was closed)
    direction: np.ndarray  # +1 long, -1 short
    entry_ns: np.ndarray  # the entry's time: its bar's start, or the filling trade's ts_recv
    exit_ns: np.ndarray
    entry_price: np.ndarray  # fills, after slippage
    exit_price: np.ndarray
    quantity: np.ndarray  # units of the instrument (seed) or contracts
    gross_pnl: np.ndarray
    commission: np.ndarray
    slippage: np.ndarray
    pnl: np.ndarray  # net
    mae: np.ndarray  # worst excursion from the entry fill while open, in currency (≤ 0)
    mfe: np.ndarray  # best excursion (≥ 0)
    exit_reason: list[str]
    equity: np.ndarray  # mark-to-market at each bar's close
    in_position: np.ndarray  # a position was held over (part of) the bar
    tick_value: float | None = None  # dollars per tick of one position (whole contracts)
    ruin_bar: int | None = None

    @property
    def bars_held(self) -> np.ndarray:
        """Bars from each entry's bar to its exit's bar."""
        return (self.exits - self.entries).astype(int)

    def _ticks(self, dollars: np.ndarray) -> np.ndarray | None:
        return None if self.tick_value is None else dollars / self.tick_value

    @property
    def pnl_ticks(self) -> np.ndarray | None:
        """Net P&L per trade in ticks of one position (whole contracts only)."""
        return self._ticks(self.pnl)

    @property
    def mae_ticks(self) -> np.ndarray | None:
        """MAE per trade in ticks (whole contracts only)."""
        return self._ticks(self.mae)

    @property
    def mfe_ticks(self) -> np.ndarray | None:
        """MFE per trade in ticks (whole contracts only)."""
        return self._ticks(self.mfe)


@dataclass(frozen=True)
class _Fill:
    bar: int  # the bar during or at whose close the fill happened
    ns: int
    price: float  # before slippage
    reason: str
    before_close: bool  # filled before the bar's close (the bar's close may open a new one)
    market: bool = True  # a market fill pays the slippage; a target's limit fill does not


@dataclass(frozen=True)
class _Span:
    """Where the bars lie on the tape: a position is a ``ts_recv`` and how many of the trades at
    it come first. A time bar runs from its start to its start + ``interval_ns``; a tick, volume
    or range bar has its ``bounds``."""

    starts: np.ndarray
    interval_ns: int
    bounds: TapeBounds | None

    def start(self, bar: int) -> tuple[int, int]:
        """Where the bar's first trade is."""
        rank = 0 if self.bounds is None else int(self.bounds.start_rank[bar])
        return int(self.starts[bar]), rank

    def end(self, bar: int) -> tuple[int, int]:
        """Just past the bar's last trade."""
        if self.bounds is None:
            return int(self.starts[bar]) + self.interval_ns, 0
        return int(self.bounds.end_ns[bar]), int(self.bounds.end_rank[bar])

    def bar_of(self, ns: int, rank: int) -> int:
        """The bar a trade at ``ns`` (``rank`` trades after the first there) belongs to."""
        bar = int(np.searchsorted(self.starts, ns, "right")) - 1
        if self.bounds is not None and bar > 0 and self.starts[bar] == ns:
            if rank < self.bounds.start_rank[bar]:
                bar -= 1  # a fill at this timestamp that ends the bar before
        return bar


def forced_exits(
    n: int,
    session_date: np.ndarray,
    contract: np.ndarray | None,
    flat_at_session_end: bool,
    is_rth: np.ndarray | None = None,
    flat_at_rth_end: bool = False,
) -> np.ndarray:
    """Per bar: the reason a position must be closed at its close (0 = none).

    The last bar is ``END_OF_DATA``; the last bar of a contract before the series moves to the
    next is ``ROLL``; with ``flat_at_session_end`` the last bar of each session, and with
    ``flat_at_rth_end`` the last RTH bar of each session (``is_rth``), is ``SESSION_END`` (a
    roll takes precedence, the end of data over both).
    """
    forced = np.zeros(n, dtype=np.int8)
    if n == 0:
        return forced
    dates = np.asarray(session_date)
    if flat_at_session_end:
        forced[:-1][dates[1:] != dates[:-1]] = SESSION_END
    if flat_at_rth_end:
        if is_rth is None:
            raise ValueError("flat at the RTH end needs each bar's is_rth")
        rth = np.asarray(is_rth, dtype=bool)
        forced[:-1][rth[:-1] & (~rth[1:] | (dates[1:] != dates[:-1]))] = SESSION_END
    if contract is not None:
        names = np.asarray(contract, dtype=object)
        forced[:-1][names[1:] != names[:-1]] = ROLL
    forced[-1] = END_OF_DATA
    return forced


def tape_exit(
    price: np.ndarray,
    order: np.ndarray,
    direction: int,
    entry: float,
    rules: Rules,
    best: float | None = None,
) -> tuple[int, float, str] | None:
    """The first of these trades (in trade order) that closes the position: its index, price
    and the reason.

    Stop (``stop_ticks`` from the entry fill) and trailing stop (``trail_ticks`` behind the
    best price since the entry) are stop-market orders: triggered by the first trade at or
    beyond them, they fill at the stop price, or at that trade's price when it gapped through
    (the slippage is added by the caller). A target (``target_ticks``) is a limit order: it
    fills at its price when a trade prints through it (``through``) or at it (``touch``). When a
    stop and the target are reached in the same aggressive order (fills sharing ts_recv and
    sequence), the stop wins. ``best``: the best price before these trades (the entry fill when
    None), from which the trailing stop goes on.
    """
    if not len(price):
        return None
    p = price
    d = direction
    tick = rules.tick_size
    found: list[tuple[int, int, float, str]] = []  # (trade, priority, fill, reason)
    if rules.stop_ticks is not None:
        level = entry - d * rules.stop_ticks * tick
        hit = np.flatnonzero(p <= level if d > 0 else p >= level)
        if len(hit):
            i = int(hit[0])
            worse = min(level, p[i]) if d > 0 else max(level, p[i])
            found.append((i, 0, float(worse), "stop"))
    if rules.trail_ticks is not None:
        start_best = entry if best is None else best
        if d > 0:
            running = np.maximum.accumulate(np.maximum(p, start_best))
        else:
            running = np.minimum.accumulate(np.minimum(p, start_best))
        levels = running - d * rules.trail_ticks * tick
        hit = np.flatnonzero(p <= levels if d > 0 else p >= levels)
        if len(hit):
            i = int(hit[0])
            worse = min(levels[i], p[i]) if d > 0 else max(levels[i], p[i])
            found.append((i, 1, float(worse), "trail"))
    if rules.target_ticks is not None:
        level = entry + d * rules.target_ticks * tick
        if rules.target_fill == "touch":
            hit = np.flatnonzero(p >= level if d > 0 else p <= level)
        else:
            hit = np.flatnonzero(p > level if d > 0 else p < level)
        if len(hit):
            found.append((int(hit[0]), 2, float(level), "target"))
    if not found:
        return None
    first = min(found, key=lambda f: (f[0], f[1]))
    # A stop reached within the same aggressive order as the target wins.
    same_order = order[first[0]]
    stops = [f for f in found if f[3] != "target" and order[f[0]] == same_order]
    if first[3] == "target" and stops:
        first = min(stops, key=lambda f: (f[0], f[1]))
    return first[0], first[2], first[3]


def walk(
    close: np.ndarray,
    signal: np.ndarray,
    rules: Rules,
    initial_capital: float,
    *,
    open_: np.ndarray | None = None,
    high: np.ndarray | None = None,
    low: np.ndarray | None = None,
    session_date: np.ndarray | None = None,
    contract: np.ndarray | None = None,
    bar_ns: np.ndarray | None = None,
    interval_ns: int = 60_000_000_000,
    instrument: np.ndarray | None = None,
    tape: Tape | None = None,
    is_rth: np.ndarray | None = None,
    bounds: TapeBounds | None = None,
) -> Walk:
    """Walk the signal (see the module docstring for the rules).

    Parameters
    ----------
    close, signal
        Each bar's close, and +1, -1 or 0.
    rules
        Sizing, sides, fills and exits.
    initial_capital
        Equity before the first bar.
    open_, high, low
        Each bar's open (next-open fills), high and low (MAE/MFE without a tape); the close
        when not given.
    session_date
        Each bar's session (``flat_at_session_end`` and nothing else).
    contract
        The contract each bar traded (a continuous series): a change closes the position at
        the old contract's last bar (``roll``).
    bar_ns, interval_ns
        Each bar's start (ns since the epoch) and the bar length; the tape is read between them.
    instrument, tape
        Each bar's instrument_id and the trades to resolve stops, targets and trails on.
    is_rth
        Each bar's ``is_rth`` (``hours`` and ``flat_at_rth_end`` and nothing else).
    bounds
        Tick, volume and range bars (``interval_ns`` 0): where each bar starts and ends on the
        tape, to the trade.
    """
    close = np.asarray(close, dtype=float)
    n = len(close)
    signal = np.asarray(signal, dtype=np.int8)
    open_ = close if open_ is None else np.asarray(open_, dtype=float)
    high = close if high is None else np.asarray(high, dtype=float)
    low = close if low is None else np.asarray(low, dtype=float)
    dates = np.zeros(n) if session_date is None else np.asarray(session_date)
    starts = np.arange(n, dtype=np.int64) * interval_ns if bar_ns is None else np.asarray(bar_ns)
    forced = forced_exits(
        n, dates, contract, rules.flat_at_session_end, is_rth, rules.flat_at_rth_end
    )
    if rules.tape_exits and (tape is None or instrument is None):
        raise ValueError("stops, targets and trails need the trade tape")
    if rules.tape_exits and interval_ns == 0 and bounds is None:
        raise ValueError("stops, targets and trails on bars of no fixed length need their bounds")
    span = _Span(starts, interval_ns, bounds)
    if rules.hours != "all" and is_rth is None:
        raise ValueError("--hours rth|eth needs each bar's is_rth")
    entry_ok = None
    if rules.hours != "all":
        rth = np.asarray(is_rth, dtype=bool)
        entry_ok = rth if rules.hours == "rth" else ~rth
    plan = _plan(close, open_, signal, forced, span, rules, instrument, tape, None, entry_ok)
    result = _account(plan, close, high, low, rules, initial_capital)
    ruined = np.flatnonzero(result.equity <= 0)
    if len(ruined):
        ruin_bar = int(ruined[0])
        plan = _plan(
            close, open_, signal, forced, span, rules, instrument, tape, ruin_bar, entry_ok
        )
        result = _account(plan, close, high, low, rules, initial_capital)
        result.ruin_bar = ruin_bar
    return result


@dataclass
class _Trade:
    entry: _Fill
    exit: _Fill
    direction: int
    extremes: tuple[float, float] | None = None  # lowest and highest trade lived through


def _next_at_or_after(mask: np.ndarray) -> np.ndarray:
    """Per bar ``b`` (and ``n`` after the last): the first bar ``>= b`` where ``mask`` holds,
    else ``n``."""
    n = len(mask)
    where = np.where(mask, np.arange(n), n)
    out = np.empty(n + 1, dtype=np.int64)
    out[:n] = np.minimum.accumulate(where[::-1])[::-1]
    out[n] = n
    return out


def _plan(
    close: np.ndarray,
    open_: np.ndarray,
    signal: np.ndarray,
    forced: np.ndarray,
    span: _Span,
    rules: Rules,
    instrument: np.ndarray | None,
    tape: Tape | None,
    ruin_bar: int | None,
    entry_ok: np.ndarray | None = None,
) -> list[_Trade]:
    """The round trips: where each opens and closes, and why (a loop over trades, not bars).

    ``entry_ok`` (``--hours``): the bars that may open a position; any bar may close one.
    """
    n = len(close)
    bars = np.arange(n)
    starts = span.starts
    opens = (forced == 0) & (
        ((signal == 1) & (rules.side in ("long", "both")))
        | ((signal == -1) & (rules.side in ("short", "both")))
    )
    if ruin_bar is not None:
        opens &= bars < ruin_bar
    if entry_ok is not None:
        opens &= entry_ok
    next_entry = _next_at_or_after(opens)
    # The first bar that closes a long (a -1 or a forced exit), and a short (a 1 or forced).
    next_exit = {
        1: _next_at_or_after((signal == -1) | (forced != 0)),
        -1: _next_at_or_after((signal == 1) | (forced != 0)),
    }
    trades: list[_Trade] = []
    free = 0  # the first bar whose close may open a position
    while free < n:
        i = int(next_entry[free])
        if i >= n:
            break
        s = int(signal[i])
        if rules.entry == "next-open":
            entry = _Fill(i + 1, int(starts[i + 1]), float(open_[i + 1]), "", True)
        else:
            entry = _Fill(i, int(starts[i]), float(close[i]), "", False)
        exit_ = _bar_exit(
            i, s, int(next_exit[s][i + 1]), signal, forced, close, open_, starts, rules
        )
        if ruin_bar is not None and exit_.bar >= ruin_bar:
            exit_ = _Fill(ruin_bar, int(starts[ruin_bar]), float(close[ruin_bar]), "ruin", False)
        trade = _Trade(entry, exit_, s)
        if rules.tape_exits and tape is not None and instrument is not None:
            trade = _with_tape(trade, int(instrument[entry.bar]), tape, span, rules)
        trades.append(trade)
        free = trade.exit.bar if trade.exit.before_close else trade.exit.bar + 1
    return trades


def _bar_exit(
    i: int,
    direction: int,
    b: int,
    signal: np.ndarray,
    forced: np.ndarray,
    close: np.ndarray,
    open_: np.ndarray,
    starts: np.ndarray,
    rules: Rules,
) -> _Fill:
    """The exit the bars give a position opened on bar ``i``, whose first closing bar is ``b``:
    a signal, a forced exit, or the time stop before it."""
    if rules.max_bars is not None and i + rules.max_bars < b:
        limit = i + rules.max_bars
        return _Fill(limit, int(starts[limit]), float(close[limit]), "time", False)
    if signal[b] == -direction and not forced[b] and rules.entry == "next-open":
        return _Fill(b + 1, int(starts[b + 1]), float(open_[b + 1]), "signal", True)
    if signal[b] == -direction:
        return _Fill(b, int(starts[b]), float(close[b]), "signal", False)
    return _Fill(b, int(starts[b]), float(close[b]), FORCED[int(forced[b])], False)


def _with_tape(trade: _Trade, instrument: int, tape: Tape, span: _Span, rules: Rules) -> _Trade:
    """The trade with its exit on the tape when a stop, target or trail comes before the bars'.

    The trades are read from the fill on (after the entry bar for a close fill; after the opening
    trade for an open fill) up to the bars' exit, a stretch at a time, until one closes the
    position; the lowest and highest trades lived through are kept for MAE/MFE.
    """
    entry, exit_, d = trade.entry, trade.exit, trade.direction
    begin = span.start(entry.bar) if entry.before_close else span.end(entry.bar)
    end = span.start(exit_.bar) if exit_.before_close else span.end(exit_.bar)
    filled = entry.price + d * rules.slip
    low = high = filled
    best = filled
    skip = 1 if entry.before_close else 0  # the opening trade is the fill itself
    for chunk in tape.stretches(instrument, begin[0], end[0], begin[1], end[1]):
        ts, price = chunk.ts[skip:], chunk.price[skip:]
        order, rank = chunk.order[skip:], chunk.rank[skip:]
        skip = 0
        if not len(ts):
            continue
        hit = tape_exit(price, order, d, filled, rules, best)
        if hit is not None:
            index, fill, reason = hit
            lived = price[: index + 1]
            low, high = min(low, float(lived.min())), max(high, float(lived.max()))
            bar = span.bar_of(int(ts[index]), int(rank[index]))
            closed = _Fill(bar, int(ts[index]), fill, reason, True, market=reason != "target")
            return _Trade(entry, closed, d, (low, high))
        low, high = min(low, float(price.min())), max(high, float(price.max()))
        best = max(best, high) if d > 0 else min(best, low)
    return _Trade(entry, exit_, d, (low, high))


def _account(
    trades: list[_Trade],
    close: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    rules: Rules,
    initial_capital: float,
) -> Walk:
    """Fills, P&L, excursions and the equity at every bar's close of the planned trades."""
    n = len(close)
    k = len(trades)
    d = np.array([t.direction for t in trades], dtype=float)
    e = np.array([t.entry.bar for t in trades], dtype=np.int64)
    x = np.array([t.exit.bar for t in trades], dtype=np.int64)
    slip = rules.slip
    raw_entry = np.array([t.entry.price for t in trades], dtype=float)
    raw_exit = np.array([t.exit.price for t in trades], dtype=float)
    exit_slip = slip * np.array([t.exit.market for t in trades], dtype=float)
    entry_price = raw_entry + d * slip
    exit_price = raw_exit - d * exit_slip
    points = d * (exit_price - entry_price)
    if isinstance(rules.sizing, ContractSizing):
        sizing = rules.sizing
        quantity = np.full(k, float(sizing.contracts))
        per_point = quantity * sizing.multiplier
        commission = np.full(k, 2 * sizing.commission * sizing.contracts)
        slippage = (slip + exit_slip) * per_point
        entry_cost = sizing.commission * sizing.contracts
    else:
        quantity = np.zeros(k)
        capital = float(initial_capital)
        for t in range(k):
            quantity[t] = capital * rules.sizing.position_size / entry_price[t]
            capital += points[t] * quantity[t]
        per_point = quantity
        commission = slippage = np.zeros(k)
        entry_cost = 0.0
    gross = d * (raw_exit - raw_entry) * per_point if k else np.zeros(0)
    pnl = points * per_point - commission if k else np.zeros(0)
    mae, mfe = _excursions(trades, d, entry_price, per_point, high, low)

    realized = np.zeros(n)
    np.add.at(realized, x, pnl)
    equity = initial_capital + np.cumsum(realized)
    marker = np.zeros(n + 1, dtype=np.int64)
    np.add.at(marker, e, np.arange(1, k + 1))
    np.add.at(marker, x, -np.arange(1, k + 1))
    trade_of_bar = np.cumsum(marker)[:n]
    open_at_close = trade_of_bar > 0
    open_trade = trade_of_bar[open_at_close] - 1
    equity[open_at_close] += (
        d[open_trade] * (close[open_at_close] - entry_price[open_trade]) * per_point[open_trade]
        - entry_cost
    )
    held = np.zeros(n + 1, dtype=np.int64)
    from_bar = np.array([t.entry.bar + (0 if t.entry.before_close else 1) for t in trades])
    np.add.at(held, from_bar.astype(np.int64), 1)
    np.add.at(held, x + 1, -1)
    in_position = np.cumsum(held)[:n] > 0
    return Walk(
        entries=e,
        exits=x,
        direction=d.astype(np.int8),
        entry_ns=np.array([t.entry.ns for t in trades], dtype=np.int64),
        exit_ns=np.array([t.exit.ns for t in trades], dtype=np.int64),
        entry_price=entry_price,
        exit_price=exit_price,
        quantity=quantity,
        gross_pnl=gross,
        commission=commission,
        slippage=slippage,
        pnl=pnl,
        mae=mae,
        mfe=mfe,
        exit_reason=[t.exit.reason for t in trades],
        equity=equity,
        in_position=in_position,
        tick_value=(
            rules.tick_size * rules.sizing.multiplier * rules.sizing.contracts
            if isinstance(rules.sizing, ContractSizing)
            else None
        ),
    )


def _excursions(
    trades: list[_Trade],
    d: np.ndarray,
    entry_price: np.ndarray,
    per_point: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """MAE/MFE in currency: from the trades the position lived through when the tape is read,
    else from the bars' highs and lows after the entry's close (from the entry bar for an open
    fill) up to the exit bar."""
    k = len(trades)
    lowest = np.zeros(k)
    highest = np.zeros(k)
    for t, trade in enumerate(trades):
        if trade.extremes is not None:
            lowest[t], highest[t] = trade.extremes
            continue
        start = trade.entry.bar + (0 if trade.entry.before_close else 1)
        stop = trade.exit.bar + 1
        if stop <= start:
            lowest[t] = highest[t] = entry_price[t]
            continue
        lowest[t] = float(np.min(low[start:stop]))
        highest[t] = float(np.max(high[start:stop]))
    adverse = np.where(d > 0, lowest - entry_price, entry_price - highest)
    favourable = np.where(d > 0, highest - entry_price, entry_price - lowest)
    return np.minimum(adverse, 0.0) * per_point, np.maximum(favourable, 0.0) * per_point


def walk_signals(
    close: np.ndarray,
    signal: np.ndarray,
    position_size: float,
    initial_capital: float,
    contract: np.ndarray | None = None,
) -> Walk:
    """The seed's walk: long only, ``position_size`` of capital per position, close fills."""
    rules = Rules(SeedSizing(position_size))
    return walk(close, signal, rules, initial_capital, contract=contract)


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
) -> Walk:
    """Whole contracts at the bar closes (the walk without a tape)."""
    rules = Rules(
        ContractSizing(contracts, multiplier, commission, slippage_ticks),
        side=side,
        flat_at_session_end=flat_at_session_end,
        tick_size=tick_size,
    )
    return walk(
        close,
        signal,
        rules,
        initial_capital,
        high=high,
        low=low,
        session_date=session_date,
        contract=contract,
    )
