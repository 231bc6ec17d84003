"""Open the DuckDB warehouse file and create its raw and result tables."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from vcdwh.errors import WarehouseError
from vcdwh.sqlrender import render, templates

if TYPE_CHECKING:
    import duckdb

# Folders whose templates are `create table if not exists` statements, in creation order.
TABLE_FOLDERS = ("raw", "results")


def connect(db_path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, turning DuckDB's lock and I/O errors into one-line messages.

    Raises
    ------
    WarehouseError
        If the file is missing (read-only), locked by another process or unreadable.
    """
    import duckdb

    if read_only and not Path(db_path).exists():
        raise WarehouseError(f"no warehouse at {db_path}; run `vcdwh build` first")
    if not read_only:
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.IOException as exc:
        message = str(exc)
        if "lock" in message.lower():
            holder = re.search(r"\(PID (\d+)\)", message)
            who = f" (PID {holder.group(1)})" if holder else ""
            raise WarehouseError(
                f"{db_path} is locked by another process{who}; close that program's connection "
                "(or open it read-only) and try again"
            ) from exc
        first_line = message.strip().splitlines()[0]
        raise WarehouseError(f"cannot open {db_path}: {first_line}") from exc
    except duckdb.Error as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise WarehouseError(f"cannot open {db_path}: {first_line}") from exc


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create every raw and result table that does not exist yet; seed ``instruments``."""
    from vcdwh.instruments import seed_instruments

    for folder in TABLE_FOLDERS:
        for template in templates(folder):
            con.execute(render(template))
    seed_instruments(con)


def relation_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """True when a table or view of that name exists in the main schema."""
    row = con.execute(
        "select count(*) from duckdb_tables() where table_name = $name and schema_name = 'main'",
        {"name": name},
    ).fetchone()
    views = con.execute(
        "select count(*) from duckdb_views() where view_name = $name and schema_name = 'main'",
        {"name": name},
    ).fetchone()
    return bool(row and row[0]) or bool(views and views[0])
