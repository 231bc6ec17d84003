"""``build_settings``: the build options a warehouse keeps, one row per key, read and written
here for every module that stores one (flow options, continuous series, bar sets, calendar)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


def read_settings(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Every stored key and its value."""
    return dict(con.execute("select key, value from build_settings").fetchall())


def write_settings(con: duckdb.DuckDBPyConnection, values: Mapping[str, str]) -> None:
    """Store each key; ``set_at`` changes only for keys whose value changed."""
    current = read_settings(con)
    for key, value in values.items():
        if current.get(key) != value:
            con.execute(
                "insert or replace into build_settings values ($key, $value, now()::timestamp)",
                {"key": key, "value": value},
            )
