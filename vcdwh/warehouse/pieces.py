"""Statements cut into pieces of bounded size, so memory stays flat however dense the data."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from vcdwh.warehouse.sqlrender import identifier

if TYPE_CHECKING:
    import duckdb

EPOCH = datetime(1970, 1, 1)


RANGE_ROWS = 1_000_000


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def sized_ranges(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    ranges: Sequence[tuple[Any, ...]],
    step_seconds: int,
) -> list[tuple[Any, ...]]:
    """Cut each ``(start, end, *rest)`` range of ``ts_recv`` into pieces of ~RANGE_ROWS rows.

    A range is cut into equal pieces whose length is a whole number of ``step_seconds``
    counted from its start (rows are counted per hour of ``relation``; ranges start on whole
    hours), so a statement per piece sorts or hashes a bounded number of rows however dense
    the data: memory stays flat and nothing spills. Each piece keeps the range's ``rest``.
    """
    if not ranges:
        return []
    # only the hours of the ranges are counted (an incremental build reads its sessions only)
    hours = con.execute(
        f"select date_trunc('hour', ts_recv), count(*) from {identifier(relation)}"
        " where ts_recv >= $lo and ts_recv < $hi group by 1",
        {"lo": min(r[0] for r in ranges), "hi": max(r[1] for r in ranges)},
    ).fetchall()
    pieces: list[tuple[Any, ...]] = []
    for start, end, *rest in ranges:
        rows = sum(count for hour, count in hours if start <= hour < end)
        parts = max(1, math.ceil(rows / RANGE_ROWS))
        steps = math.ceil((end - start).total_seconds() / parts / step_seconds)
        length = timedelta(seconds=steps * step_seconds)
        cut = start
        while cut < end:
            pieces.append((cut, min(cut + length, end), *rest))
            cut += length
    return pieces


def fill_by_ranges(
    con: duckdb.DuckDBPyConnection,
    table: str,
    sql: str,
    pieces: Sequence[dict[str, Any]],
    params: dict[str, Any] | None = None,
    placeholders: dict[str, Any] | None = None,
) -> None:
    """Create the temporary ``table`` from ``sql`` one piece at a time.

    A piece is the parameters of one statement: ``$from_ts <= ts_recv < $to_ts`` and any
    others of its own (``placeholders`` gives them values for an empty range). The first piece
    creates the table (an empty range does when there are no pieces), then each other piece is
    inserted by its own statement, so no statement holds more than one piece's rows.
    """
    params = params or {}
    nothing = (placeholders or {}) | {"from_ts": EPOCH, "to_ts": EPOCH}
    for i, piece in enumerate(pieces or [nothing]):
        write_piece(con, table, sql, piece | params, first=i == 0)


def write_piece(
    con: duckdb.DuckDBPyConnection, table: str, sql: str, params: dict[str, Any], first: bool
) -> None:
    """One piece of a temporary ``table`` filled a piece at a time: the ``first`` creates it
    from ``sql``, each other one adds its rows."""
    name = identifier(table)
    if first:
        con.execute(f"create or replace temp table {name} as {sql}", params)
    else:
        con.execute(f"insert into {name} {sql}", params)
