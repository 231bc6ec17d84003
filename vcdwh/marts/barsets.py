"""What the time bars and the tick, volume and range bars share: writing a bar set (its
``bars_…`` and ``footprint_…`` tables) and the developing value area they read."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from vcdwh.instruments import SPECS
from vcdwh.warehouse.pieces import EPOCH, fill_by_ranges
from vcdwh.warehouse.sqlrender import render

if TYPE_CHECKING:
    import duckdb


def root_ticks() -> dict[str, list[str]]:
    """The ``$roots`` and ``$tick_sizes`` parameters: each known root and its tick."""
    roots = sorted(SPECS)
    return {"roots": roots, "tick_sizes": [str(SPECS[root].tick_size) for root in roots]}


# The most (grain, level) cells of the developing value area one statement holds: sessions
# are packed into a statement up to this, and a larger session has one of its own.
VALUE_AREA_CELLS = 100_000


def value_area_pieces(rows: list[tuple[int, int]], budget: int) -> list[dict[str, Any]]:
    """The statements' ``$from_ts``/``$to_ts`` ranges of session opens, from each open's cells
    (``(session_start_ns, cells)`` in open order): consecutive opens share a statement while
    their cells add up to at most ``budget``."""
    groups: list[list[int]] = []
    total = 0
    for start_ns, cells in rows:
        if groups and total + cells <= budget:
            groups[-1].append(start_ns)
            total += cells
        else:
            groups.append([start_ns])
            total = cells
    return [
        {
            "from_ts": EPOCH + timedelta(microseconds=int(group[0]) // 1000),
            "to_ts": EPOCH + timedelta(microseconds=int(group[-1]) // 1000 + 1),
        }
        for group in groups
    ]


def developing_value_area(con: duckdb.DuckDBPyConnection, value_area_pct: float) -> None:
    """Fill the temporary ``int_value_area_grain`` from the current ``int_level_grain``, a few
    session opens at a time (a session's profile so far at every grain is a list per grain and
    level range, so one statement over every session would sort them all at once; small
    sessions share a statement, up to ``VALUE_AREA_CELLS`` cells)."""
    rows = con.execute(render("queries/value_area_session_cells.sql")).fetchall()
    fill_by_ranges(
        con,
        "int_value_area_grain",
        render("intermediate/int_value_area_grain.sql"),
        value_area_pieces(rows, VALUE_AREA_CELLS),
        root_ticks() | {"value_area_pct": value_area_pct},
    )


def write_bar_set(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    footprint: str,
    bars_sql: str,
    footprint_sql: str,
    footprint_params: dict[str, Any],
    partial: bool,
) -> None:
    """Create ``footprint`` and ``relation`` (validated identifiers) from their SQL; in an
    incremental build (``partial``), replace only the bars of the ``affected`` instruments from
    the session their new trades start in. The footprint first: the bars count its imbalances."""
    if partial:
        for table in (relation, footprint):
            con.execute(
                f"delete from {table} using affected"
                f" where {table}.instrument_id = affected.instrument_id"
                f" and {table}.symbol = affected.symbol"
                f" and {table}.bar_start >= affected.from_start"
            )
        con.execute(f"insert into {footprint} {footprint_sql}", footprint_params)
        con.execute(f"insert into {relation} {bars_sql}")
    else:
        con.execute(f"create or replace table {footprint} as {footprint_sql}", footprint_params)
        con.execute(f"create or replace table {relation} as {bars_sql}")
