"""CME futures roots vcdwh knows about, and their contract calendar.

A small typed table of contract specifications (tick size, point value, listed months) plus the
calendar helpers the rest of the project needs: parent symbols (``ES.FUT``), raw contract symbols
(``ESH4``, as CME and Databento spell them), third-Friday expiries and the front/next pair.

Expiries are approximated by the third Friday of the contract month for every root. That is exact
for the equity-index quarterlies and close enough for the synthetic data this table feeds.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from vcdwh.errors import ConfigError

if TYPE_CHECKING:
    import duckdb

MONTH_CODES = "FGHJKMNQUVXZ"
"""CME month codes, January (``F``) to December (``Z``)."""

PARENT_RE = re.compile(r"^[A-Z0-9]{1,4}\.FUT$")
"""A futures parent symbol vcdwh generates sample data for: ``ROOT.FUT``."""
PARENT_SYMBOL_RE = re.compile(r"[A-Za-z0-9]+\.(?:FUT|OPT)")
"""Any Databento parent symbol (every expiry of a product): ``ES.FUT``, ``ES.OPT``."""
CONTINUOUS_SYMBOL_RE = re.compile(r"[A-Za-z0-9]+\.[cvn]\.[0-9]+")
"""A Databento continuous symbol: ``ES.c.0`` (calendar), ``ES.v.0`` (volume), ``ES.n.0``."""
"""A Databento parent symbol: a root of 1-4 upper-case letters or digits, then ``.FUT``."""

ROLL_DAYS_BEFORE_EXPIRY = 8
"""The roll session is the Thursday eight days before the front's third-Friday expiry."""


@dataclass(frozen=True)
class InstrumentSpec:
    """Contract specification of one futures root.

    Parameters
    ----------
    root : str
        Product code, e.g. ``"ES"``.
    tick_size : Decimal
        Minimum price increment in index points (or dollars per unit).
    multiplier : Decimal
        Dollar value of one point for one contract.
    months : str
        CME month codes of the listed contracts, e.g. ``"HMUZ"`` for quarterlies.
    price_level : float
        A typical price, used to seed synthetic data.
    exchange : str
        Listing exchange.
    commission_per_side : Decimal
        Default all-in cost per contract per side in futures backtests (see
        :data:`DEFAULT_COMMISSION`).
    """

    root: str
    tick_size: Decimal
    multiplier: Decimal
    months: str
    price_level: float
    exchange: str = "CME"
    commission_per_side: Decimal = Decimal("2.50")

    @property
    def tick_value(self) -> Decimal:
        """Dollar value of one tick for one contract."""
        return self.tick_size * self.multiplier


_QUARTERLY = "HMUZ"

DEFAULT_COMMISSION = Decimal("2.50")
"""Default commission per contract per side for standard (E-mini size) contracts, all in.

A retail round turn on a CME E-mini is typically $4-6: the broker's commission, the CME Globex
exchange and clearing fees (about $1.30-1.40 per side for non-members) and the NFA fee ($0.02).
$2.50 per side sits in that range. Micro contracts (MES, MNQ) cost far less per contract:
:data:`MICRO_COMMISSION` ($0.85 per side). Override with ``--commission`` or by editing the
``instruments`` table.
"""

MICRO_COMMISSION = Decimal("0.85")
"""Default commission per contract per side for micro contracts (see :data:`DEFAULT_COMMISSION`)."""

SPECS: dict[str, InstrumentSpec] = {
    spec.root: spec
    for spec in (
        InstrumentSpec("ES", Decimal("0.25"), Decimal("50"), _QUARTERLY, 5100.0),
        InstrumentSpec("NQ", Decimal("0.25"), Decimal("20"), _QUARTERLY, 18000.0),
        InstrumentSpec("YM", Decimal("1"), Decimal("5"), _QUARTERLY, 39000.0),
        InstrumentSpec("RTY", Decimal("0.1"), Decimal("50"), _QUARTERLY, 2050.0),
        InstrumentSpec("GC", Decimal("0.1"), Decimal("100"), "GJMQVZ", 2150.0, "COMEX"),
        InstrumentSpec("CL", Decimal("0.01"), Decimal("1000"), MONTH_CODES, 78.0, "NYMEX"),
        InstrumentSpec(
            "MES",
            Decimal("0.25"),
            Decimal("5"),
            _QUARTERLY,
            5100.0,
            commission_per_side=MICRO_COMMISSION,
        ),
        InstrumentSpec(
            "MNQ",
            Decimal("0.25"),
            Decimal("2"),
            _QUARTERLY,
            18000.0,
            commission_per_side=MICRO_COMMISSION,
        ),
    )
}
"""Known roots. GC and CL trade on COMEX and NYMEX, both CME Group venues on Globex."""


@dataclass(frozen=True)
class Contract:
    """One listed outright contract, e.g. ``ESH4``.

    Parameters
    ----------
    root : str
        Product code, e.g. ``"ES"``.
    year : int
        Four-digit contract year.
    month : int
        Contract month, 1-12.
    """

    root: str
    year: int
    month: int

    @property
    def symbol(self) -> str:
        """Raw CME/Databento symbol with a one-digit year, e.g. ``ESH4``."""
        return contract_symbol(self.root, self.year, self.month)

    @property
    def expiry(self) -> date:
        """Last trade date, approximated by the third Friday of the contract month."""
        return third_friday(self.year, self.month)

    @property
    def roll_date(self) -> date:
        """Trade date of the roll session: the Thursday eight days before expiry."""
        return self.expiry - timedelta(days=ROLL_DAYS_BEFORE_EXPIRY)


def known_roots() -> tuple[str, ...]:
    """Return the known roots in alphabetical order.

    Returns
    -------
    tuple of str
        Root codes such as ``("CL", "ES", ...)``.
    """
    return tuple(sorted(SPECS))


def get_spec(root: str) -> InstrumentSpec:
    """Return the specification of a futures root.

    Parameters
    ----------
    root : str
        Product code, e.g. ``"ES"``.

    Returns
    -------
    InstrumentSpec
        The root's specification.

    Raises
    ------
    ConfigError
        If the root is unknown; the message lists the known roots.
    """
    try:
        return SPECS[root]
    except KeyError:
        raise ConfigError(
            f"unknown futures root {root!r}; known roots: {', '.join(known_roots())}"
        ) from None


def parse_parent(symbol: str) -> str:
    """Return the root of a Databento parent symbol such as ``ES.FUT``.

    Parameters
    ----------
    symbol : str
        Parent symbol, ``ROOT.FUT``.

    Returns
    -------
    str
        The root, e.g. ``"ES"``. It is not checked against the spec table; use :func:`get_spec`.

    Raises
    ------
    ConfigError
        If ``symbol`` is not of the form ``ROOT.FUT`` (1-4 upper-case letters or digits).
    """
    if not isinstance(symbol, str) or not PARENT_RE.fullmatch(symbol):
        raise ConfigError(
            f"--symbol {symbol!r} is not a parent symbol; expected ROOT.FUT, e.g. ES.FUT"
        )
    return symbol[: -len(".FUT")]


def third_friday(year: int, month: int) -> date:
    """Return the third Friday of a month.

    Parameters
    ----------
    year : int
        Four-digit year.
    month : int
        Month, 1-12.

    Returns
    -------
    date
        The third Friday.
    """
    first_weekday, _ = calendar.monthrange(year, month)
    first_friday = 1 + (calendar.FRIDAY - first_weekday) % 7
    return date(year, month, first_friday + 14)


def contract_symbol(root: str, year: int, month: int) -> str:
    """Return the raw symbol of a contract, e.g. ``ESH4``.

    Parameters
    ----------
    root : str
        Product code, e.g. ``"ES"``.
    year : int
        Four-digit year; only its last digit appears in the symbol, as on CME Globex.
    month : int
        Contract month, 1-12.

    Returns
    -------
    str
        Root, month code and one-digit year.

    Raises
    ------
    ConfigError
        If ``month`` is not 1-12.
    """
    if not 1 <= month <= 12:
        raise ConfigError(f"contract month must be 1..12, got {month}")
    return f"{root}{MONTH_CODES[month - 1]}{year % 10}"


def front_and_next(root: str, on: date) -> tuple[Contract, Contract]:
    """Return the two nearest listed contracts whose expiry is after ``on``.

    Parameters
    ----------
    root : str
        Product code, e.g. ``"ES"``.
    on : date
        Reference (trade) date.

    Returns
    -------
    tuple of Contract
        The front contract and the next expiry, e.g. ``(ESH4, ESM4)`` on 2024-03-07.

    Raises
    ------
    ConfigError
        If the root is unknown.
    """
    spec = get_spec(root)
    listed = [MONTH_CODES.index(code) + 1 for code in spec.months]
    found: list[Contract] = []
    year = on.year
    while len(found) < 2:
        for month in listed:
            contract = Contract(root, year, month)
            if contract.expiry > on:
                found.append(contract)
                if len(found) == 2:
                    break
        year += 1
    return found[0], found[1]


def seed_instruments(con: duckdb.DuckDBPyConnection) -> None:
    """Add a row to the ``instruments`` table for every known root that has none yet.

    Rows already there (including ones a user edited) are kept as they are.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A read-write connection whose ``instruments`` table exists.
    """
    rows = [
        (s.root, s.tick_size, s.multiplier, float(s.commission_per_side), s.exchange, "vcdwh")
        for s in SPECS.values()
    ]
    _insert_missing(con, "instruments", rows)


@dataclass(frozen=True)
class TradingHours:
    """A root's exchange calendar and regular trading hours (RTH), in America/Chicago time.

    Parameters
    ----------
    calendar : str
        Name of the ``pandas_market_calendars`` calendar giving the root's CME Globex holidays
        and early closes (equity index, energy and metals have their own).
    rth_start, rth_end : datetime.time
        The regular (pit / day) session in Chicago local time, e.g. 08:30-15:15 for ES.
    """

    calendar: str
    rth_start: time
    rth_end: time


EQUITY_CALENDAR = "CME Globex Equity"
"""Calendar of the CME equity index futures (ES, NQ, RTY, YM and their micros)."""

_EQUITY = TradingHours(EQUITY_CALENDAR, time(8, 30), time(15, 15))
_CRUDE = TradingHours("CMEGlobex_Crude", time(8, 0), time(13, 30))
_GOLD = TradingHours("CMEGlobex_Gold", time(7, 20), time(12, 30))

TRADING_HOURS: dict[str, TradingHours] = {
    "ES": _EQUITY,
    "NQ": _EQUITY,
    "RTY": _EQUITY,
    "YM": _EQUITY,
    "MES": _EQUITY,
    "MNQ": _EQUITY,
    "M2K": _EQUITY,
    "MYM": _EQUITY,
    "CL": _CRUDE,
    "MCL": _CRUDE,
    "NG": TradingHours("CMEGlobex_NatGas", time(8, 0), time(13, 30)),
    "GC": _GOLD,
    "MGC": _GOLD,
    "SI": TradingHours("CMEGlobex_Silver", time(7, 25), time(12, 25)),
    "HG": TradingHours("CMEGlobex_Copper", time(7, 10), time(12, 0)),
    "6E": TradingHours("CMEGlobex_FX", time(7, 20), time(14, 0)),
}
"""Per-root exchange calendar and RTH, seeded into the ``rth_hours`` table on every build.

The RTH are the exchange's former pit (day) session hours: equity index 08:30-15:15 CT,
NYMEX energy 08:00-13:30, COMEX gold 07:20-12:30, silver 07:25-12:25, copper 07:10-12:00, euro FX
07:20-14:00. Rows a user edits in ``rth_hours`` (or sets with ``vcdwh build --rth``) are kept.
"""


def seed_rth_hours(con: duckdb.DuckDBPyConnection) -> None:
    """Add a row to the ``rth_hours`` table for every root of :data:`TRADING_HOURS` without one.

    Rows already there (including ones a user edited or set with ``--rth``) are kept.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A read-write connection whose ``rth_hours`` table exists.
    """
    rows = [
        (root, hours.calendar, hours.rth_start, hours.rth_end, "vcdwh")
        for root, hours in TRADING_HOURS.items()
    ]
    _insert_missing(con, "rth_hours", rows)


def _insert_missing(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    """``insert or ignore`` the rows into ``table`` (a seeded table's name) in one statement."""
    width = len(rows[0])
    values = ", ".join(["(" + ", ".join(["?"] * width) + ")"] * len(rows))
    params = [value for row in rows for value in row]
    con.execute(f"insert or ignore into {table} values {values}", params)


CONTRACT_RE = re.compile(r"^([A-Z0-9]+)[FGHJKMNQUVXZ]\d{1,2}$")
"""An outright contract symbol: root, CME month code, 1-2 digit year (``ESH4``, ``MESM24``)."""


def contract_root(symbol: str) -> str | None:
    """Return the futures root of an outright contract symbol, or None.

    The root is everything before the CME month code (one of ``FGHJKMNQUVXZ``) and the 1-2
    digit year that end the symbol: ``ESH4`` → ``ES``, ``MESM4`` → ``MES``, ``NQZ24`` → ``NQ``.
    Calendar spreads (a ``-`` in the symbol) and anything else give None. The SQL macro
    ``contract_root`` of ``sql/macros/root.sql`` applies the same rule.

    Parameters
    ----------
    symbol : str
        A raw symbol as Databento spells it.

    Returns
    -------
    str or None
        The root, or None when ``symbol`` is not an outright contract symbol.
    """
    if not isinstance(symbol, str) or "-" in symbol:
        return None
    match = CONTRACT_RE.fullmatch(symbol)
    return match.group(1) if match else None
