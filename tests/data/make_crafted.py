"""Write the crafted Databento-layout CSVs in tests/data from the rows listed below.

Every row here was made up for the tests; none comes from a real data file. Each set of rows is
written in Databento's pretty layout (ISO-8601 ns timestamps with ``Z``, 9-decimal prices,
trailing ``symbol``) and in its raw layout (integer ns, 1e-9 fixed-point prices, no
``symbol``). Raw files carry a seed file name (``trades_ESH4_…``) so the build learns their
symbol from it. Run ``python tests/data/make_crafted.py`` to write the files again;
``test_crafted_fixtures.py`` checks that the committed files equal this script's output.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent

TRADES_HEADER = (
    "ts_recv,ts_event,rtype,publisher_id,instrument_id,action,side,depth,price,size,flags,"
    "ts_in_delta,sequence"
)
OHLCV_HEADER = "ts_event,rtype,publisher_id,instrument_id,open,high,low,close,volume"
EVENT_LAG_NS = 250_000  # ts_recv - ts_event, the same for every crafted trade
TS_IN_DELTA = 15_000


class Row(NamedTuple):
    """One crafted trade: ts_recv (UTC, up to 9 fractional digits), side, price, size."""

    ts_recv: str
    side: str
    price: str
    size: int
    sequence: int
    symbol: str


class Bar(NamedTuple):
    """One crafted ohlcv-1m bar."""

    ts_event: str
    open: str
    high: str
    low: str
    close: str
    volume: int
    symbol: str


INSTRUMENT_IDS = {"ESH4": 101, "ESM4": 202, "ESH4-ESM4": 303}

# Sweeps, repeated fills and side N: ESH4 on Tue 2024-03-05 (session 2024-03-05).
SWEEPS = [
    # 14:30 -> O 4807.25 H 4807.50 L 4806.75 C 4806.75, V 22 = B 5 + A 7 + N 10, 6 trades
    Row("2024-03-05T14:30:01.000000001", "B", "4807.25", 1, 1001, "ESH4"),
    Row("2024-03-05T14:30:02.500000000", "B", "4807.50", 2, 1002, "ESH4"),
    Row("2024-03-05T14:30:02.500000000", "B", "4807.50", 2, 1002, "ESH4"),  # same fill again
    Row("2024-03-05T14:30:20.000000000", "N", "4807.25", 10, 1003, "ESH4"),  # no side
    Row("2024-03-05T14:30:59.900000000", "A", "4807.00", 3, 1004, "ESH4"),  # sell sweep ...
    Row("2024-03-05T14:30:59.900000000", "A", "4806.75", 4, 1004, "ESH4"),  # ... closes 4806.75
    # 14:31 -> O 4807.00 H 4807.00 L 4806.50 C 4806.75, V 34 = B 19 + A 7 + N 8, 7 trades
    Row("2024-03-05T14:31:00.250000000", "A", "4807.00", 2, 1005, "ESH4"),  # sell sweep opens
    Row("2024-03-05T14:31:00.250000000", "A", "4806.75", 5, 1005, "ESH4"),
    Row("2024-03-05T14:31:30.000000000", "B", "4807.00", 6, 1006, "ESH4"),  # three equal fills
    Row("2024-03-05T14:31:30.000000000", "B", "4807.00", 6, 1006, "ESH4"),
    Row("2024-03-05T14:31:30.000000000", "B", "4807.00", 6, 1006, "ESH4"),
    Row("2024-03-05T14:31:45.000000000", "N", "4806.50", 8, 1007, "ESH4"),
    Row("2024-03-05T14:31:50.000000000", "B", "4806.75", 1, 1008, "ESH4"),
    # 14:32 has no trade; 14:33 -> O 4807.25 H 4807.50 L 4807.25 C 4807.25, V 6 = B 4 + A 2
    Row("2024-03-05T14:33:10.000000000", "B", "4807.25", 3, 1009, "ESH4"),  # buy sweep
    Row("2024-03-05T14:33:10.000000000", "B", "4807.50", 1, 1009, "ESH4"),
    Row("2024-03-05T14:33:40.000000000", "A", "4807.25", 2, 1010, "ESH4"),
]

# Databento's own 1-minute bars for the SWEEPS minutes (bucketed on ts_recv, no empty minute).
SWEEPS_OHLCV = [
    Bar("2024-03-05T14:30:00", "4807.25", "4807.50", "4806.75", "4806.75", 22, "ESH4"),
    Bar("2024-03-05T14:31:00", "4807.00", "4807.00", "4806.50", "4806.75", 34, "ESH4"),
    Bar("2024-03-05T14:33:00", "4807.25", "4807.50", "4807.25", "4807.25", 6, "ESH4"),
]

# Session opens at 17:00 America/Chicago around the US DST change of Sun 2024-03-10:
# 23:00 UTC before it (CST), 22:00 UTC after it (CDT).
SESSIONS = [
    Row("2024-03-07T22:59:59.999999999", "B", "5100.00", 5, 2001, "ESM4"),  # session 03-07
    Row("2024-03-07T23:00:00.000000000", "A", "5100.25", 7, 2002, "ESM4"),  # 17:00 CST: 03-08
    Row("2024-03-08T21:59:00.000000000", "B", "5100.50", 3, 2003, "ESM4"),  # Fri 15:59 CST
    Row("2024-03-08T22:00:00.000000000", "N", "5100.50", 4, 2004, "ESM4"),  # Fri 16:00 CST
    Row("2024-03-10T22:00:00.000000000", "B", "5101.00", 4, 2005, "ESM4"),  # Sun 17:00 CDT: 03-11
    Row("2024-03-11T21:59:59.999999999", "A", "5101.25", 2, 2006, "ESM4"),  # Mon 16:59 CDT
    Row("2024-03-11T22:00:00.000000000", "B", "5101.50", 6, 2007, "ESM4"),  # 17:00 CDT: 03-12
]

# A parent-symbol (ES.FUT) file over three sessions: ESH4, ESM4 and their calendar spread, which
# trades the most every session but is never the front. ESH4 leads on 03-05, ESM4 from 03-06.
ROLL = [
    Row("2024-03-05T14:30:00.000000000", "B", "5200.00", 10, 3001, "ESH4"),
    Row("2024-03-05T14:30:10.000000000", "B", "5252.25", 4, 3002, "ESM4"),
    Row("2024-03-05T14:30:20.000000000", "A", "-52.25", 40, 3003, "ESH4-ESM4"),
    Row("2024-03-05T14:31:00.000000000", "A", "5199.75", 3, 3004, "ESH4"),
    Row("2024-03-06T14:30:00.000000000", "A", "5205.00", 6, 3005, "ESH4"),
    Row("2024-03-06T14:30:05.000000000", "B", "-52.00", 50, 3006, "ESH4-ESM4"),
    Row("2024-03-06T14:30:30.000000000", "B", "5257.00", 9, 3007, "ESM4"),
    Row("2024-03-06T14:31:00.000000000", "A", "5256.75", 2, 3008, "ESM4"),
    Row("2024-03-07T14:30:00.000000000", "B", "5260.00", 12, 3009, "ESM4"),
    Row("2024-03-07T14:30:10.000000000", "A", "5210.00", 1, 3010, "ESH4"),
    Row("2024-03-07T14:30:20.000000000", "N", "-51.75", 5, 3011, "ESH4-ESM4"),
    Row("2024-03-07T14:32:00.000000000", "A", "5259.75", 5, 3012, "ESM4"),
]


def _epoch_ns(text: str) -> int:
    whole, _, fraction = text.partition(".")
    stamp = datetime.fromisoformat(whole).replace(tzinfo=UTC)
    return int(stamp.timestamp()) * 1_000_000_000 + int(fraction.ljust(9, "0") or 0)


def _iso(ns: int) -> str:
    seconds, nanos = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def _fixed(price: str) -> int:
    return int(Decimal(price) * 1_000_000_000)


def _pretty_price(price: str) -> str:
    return f"{Decimal(price):.9f}"


def trades_csv(rows: list[Row], layout: str) -> str:
    """The rows as a Databento trades CSV in the ``pretty`` or ``raw`` layout."""
    pretty = layout == "pretty"
    lines = [TRADES_HEADER + (",symbol" if pretty else "")]
    for r in rows:
        recv = _epoch_ns(r.ts_recv)
        event = recv - EVENT_LAG_NS
        ids = f"0,1,{INSTRUMENT_IDS[r.symbol]},T,{r.side},0"
        if pretty:
            fields = [_iso(recv), _iso(event), ids, _pretty_price(r.price)]
        else:
            fields = [str(recv), str(event), ids, str(_fixed(r.price))]
        tail = f"{r.size},0,{TS_IN_DELTA},{r.sequence}" + (f",{r.symbol}" if pretty else "")
        lines.append(",".join([*fields, tail]))
    return "\n".join(lines) + "\n"


def ohlcv_csv(bars: list[Bar], layout: str) -> str:
    """The bars as a Databento ohlcv-1m CSV (rtype 33) in the ``pretty`` or ``raw`` layout."""
    pretty = layout == "pretty"
    lines = [OHLCV_HEADER + (",symbol" if pretty else "")]
    for b in bars:
        start = _epoch_ns(b.ts_event)
        prices = (b.open, b.high, b.low, b.close)
        if pretty:
            fields = [_iso(start), "33,1", str(INSTRUMENT_IDS[b.symbol])]
            fields += [_pretty_price(p) for p in prices]
            fields += [str(b.volume), b.symbol]
        else:
            fields = [str(start), "33,1", str(INSTRUMENT_IDS[b.symbol])]
            fields += [str(_fixed(p)) for p in prices]
            fields += [str(b.volume)]
        lines.append(",".join(fields))
    return "\n".join(lines) + "\n"


def crafted_files() -> dict[str, str]:
    """File name in tests/data -> the text it must hold."""
    return {
        "sweeps.pretty.csv": trades_csv(SWEEPS, "pretty"),
        "trades_ESH4_2024-03-05_2024-03-06.csv": trades_csv(SWEEPS, "raw"),
        "sweeps_ohlcv_1m.pretty.csv": ohlcv_csv(SWEEPS_OHLCV, "pretty"),
        "ohlcv_1m_ESH4_2024-03-05_2024-03-06.csv": ohlcv_csv(SWEEPS_OHLCV, "raw"),
        "sessions.pretty.csv": trades_csv(SESSIONS, "pretty"),
        "trades_ESM4_2024-03-07_2024-03-12.csv": trades_csv(SESSIONS, "raw"),
        "roll_es_fut.pretty.csv": trades_csv(ROLL, "pretty"),
    }


def main() -> None:
    """Write every crafted file next to this script."""
    for name, text in crafted_files().items():
        (HERE / name).write_text(text)


if __name__ == "__main__":
    main()
