"""Write small Databento-layout CSVs from crafted trades, for tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np

from bench.dbnfile import TRADE_DTYPE as DBN_TRADE
from vcdwh.instruments import SPECS, contract_root
from vcdwh.sample import generate_sample

HEADER = (
    "ts_recv,ts_event,rtype,publisher_id,instrument_id,action,side,depth,price,size,flags,"
    "ts_in_delta,sequence"
)


@dataclass(frozen=True)
class Trade:
    """A crafted trade: UTC nanoseconds, price in 1e-9 units, size, side."""

    ts_ns: int
    price: float
    size: int
    side: str
    instrument_id: int = 1
    sequence: int = 0


def ns(text: str) -> int:
    """Nanoseconds since the epoch of an ISO UTC timestamp like '2024-03-08 21:59:00'."""
    stamp = datetime.fromisoformat(text.replace(" ", "T") + "+00:00")
    return int(stamp.timestamp()) * 1_000_000_000 + stamp.microsecond * 1000


def write_raw_csv(path: Path, trades: Iterable[Trade]) -> Path:
    """Write trades in Databento's raw CSV layout (integer ns, 1e-9 fixed-point prices)."""
    lines = [HEADER]
    for t in trades:
        fixed = round(t.price * 4) * 250_000_000  # quarter ticks, exact
        lines.append(
            f"{t.ts_ns},{t.ts_ns - 1000},0,1,{t.instrument_id},T,{t.side},0,{fixed},{t.size},0,"
            f"0,{t.sequence}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def write_pretty_csv(path: Path, trades: Iterable[Trade], symbols: dict[int, str]) -> Path:
    """Write trades in Databento's pretty CSV layout, naming each instrument's symbol."""
    lines = [HEADER + ",symbol"]
    for t in trades:
        seconds, nanos = divmod(t.ts_ns, 1_000_000_000)
        stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        event_seconds, event_nanos = divmod(t.ts_ns - 1000, 1_000_000_000)
        event = datetime.fromtimestamp(event_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        lines.append(
            f"{stamp}.{nanos:09d}Z,{event}.{event_nanos:09d}Z,0,1,{t.instrument_id},T,{t.side},0,"
            f"{t.price:.9f},{t.size},0,0,{t.sequence},{symbols[t.instrument_id]}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def reference_value_area(
    levels: dict[Decimal, int], tick: Decimal | None, pct: float
) -> tuple[Decimal, Decimal, Decimal, int]:
    """(poc, vah, val, area volume) of one profile, by the rule as docs/order-flow.md states it.

    Walks prices (not indexes): the next two levels above the area are hi + tick and hi + 2 tick,
    missing levels count 0; a side is exhausted when no traded price lies beyond the area.
    """
    total = sum(levels.values())
    poc = min(levels, key=lambda price: (-levels[price], price))
    if tick is None:  # a single price
        return poc, poc, poc, total
    lo = hi = poc
    area = levels[poc]
    top, bottom = max(levels), min(levels)
    while area * 100 < pct * total:
        above_left, below_left = hi < top, lo > bottom
        above = levels.get(hi + tick, 0) + levels.get(hi + 2 * tick, 0)
        below = levels.get(lo - tick, 0) + levels.get(lo - 2 * tick, 0)
        if not above_left:
            take_above, take_below = False, True
        elif not below_left:
            take_above, take_below = True, False
        else:
            take_above, take_below = above >= below, below >= above
        if take_above:
            hi += 2 * tick
            area += above
        if take_below:
            lo -= 2 * tick
            area += below
    inside = [price for price in levels if lo <= price <= hi]
    return poc, max(inside), min(inside), area


def profile_tick(symbol: str, prices: list[Decimal]) -> Decimal | None:
    """One level of a profile: the root's tick, else the smallest gap between the prices."""
    root = contract_root(symbol)
    if root is not None and root in SPECS:
        return Decimal(str(SPECS[root].tick_size))
    ordered = sorted(set(prices))
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    return min(gaps) if gaps else None


def dbn_trade_records(count: int) -> np.ndarray:
    """``count`` zeroed DBN trade records of publisher 1, action T, for a test to fill in."""
    records = np.zeros(count, dtype=DBN_TRADE)
    records["length"] = DBN_TRADE.itemsize // 4
    records["publisher_id"] = 1
    records["action"] = b"T"
    return records


def sample_week_parts(folder: Path) -> list[Path]:
    """The sample week's trades cut into three consecutive files (40% / 30% / 30% of rows, each
    cut inside a session), for incremental builds."""
    report = generate_sample(
        folder / "whole", days=7, start=date(2024, 3, 3), seed=7, trades_per_day=3000
    )
    header, *rows = report.trades_path.read_text().splitlines(keepends=True)
    cuts = [0, int(len(rows) * 0.4), int(len(rows) * 0.7), len(rows)]
    paths = []
    for i in range(3):
        path = folder / f"part{i}.csv"
        path.write_text(header + "".join(rows[cuts[i] : cuts[i + 1]]))
        paths.append(path)
    return paths


def mart_differences(one: Path, other: Path, marts: Iterable[str]) -> dict[str, int]:
    """Per relation, the rows one warehouse holds and the other does not, both ways (counting
    repeats)."""
    con = duckdb.connect(str(one), read_only=True)
    con.execute(f"attach '{other}' as other (read_only)")
    try:
        return {
            mart: con.execute(
                f"select count(*) from ((select * from {mart} except all select * from other.{mart})"
                f" union all (select * from other.{mart} except all select * from {mart}))"
            ).fetchone()[0]
            for mart in marts
        }
    finally:
        con.close()
