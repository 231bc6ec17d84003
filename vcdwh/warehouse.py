"""Open the DuckDB warehouse file and create its raw and result tables."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from vcdwh.config import DEFAULT_STORAGE_VERSION, STORAGE_VERSIONS
from vcdwh.errors import ConfigError, WarehouseError
from vcdwh.sqlrender import render, templates

if TYPE_CHECKING:
    import duckdb

# Folders whose templates are `create table if not exists` statements, in creation order.
TABLE_FOLDERS = ("raw", "results")


def new_database_config(storage_version: str | None = None) -> dict[str, str]:
    """DuckDB configuration for creating a NEW warehouse file with a given storage version.

    DuckDB writes the storage version into the file when it creates it and keeps it for the
    file's life, so only the connection that creates the file needs this. The default,
    ``v1.4.0``, is readable by DuckDB 1.4, 1.5 and 2.x (BI tools bundle 1.x readers);
    ``latest`` writes DuckDB's newest format (DuckDB 2.x readers only).

    Parameters
    ----------
    storage_version
        One of :data:`vcdwh.config.STORAGE_VERSIONS`; ``None`` for the default.

    Raises
    ------
    ConfigError
        If the version is not in the allow-list.
    """
    version = storage_version or DEFAULT_STORAGE_VERSION
    if version not in STORAGE_VERSIONS:
        raise ConfigError(
            f"--storage-version {version!r} is not supported; use one of "
            f"{', '.join(STORAGE_VERSIONS)}"
        )
    return {"storage_compatibility_version": version}


def connect(
    db_path: Path, *, read_only: bool = False, storage_version: str | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, turning DuckDB's lock and I/O errors into one-line messages.

    A file that does not exist yet is created with ``storage_version`` (see
    :func:`new_database_config`); an existing file keeps the version it was written with.

    Raises
    ------
    WarehouseError
        If the file is missing (read-only), locked by another process or unreadable.
    ConfigError
        If ``storage_version`` is not supported.
    """
    import duckdb

    if read_only and not Path(db_path).exists():
        raise WarehouseError(f"no warehouse at {db_path}; run `vcdwh build` first")
    config: dict[str, str] = {}
    if not read_only:
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        if not Path(db_path).exists():
            config = new_database_config(storage_version)
    try:
        return duckdb.connect(str(db_path), read_only=read_only, config=config)
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


def storage_version(con: duckdb.DuckDBPyConnection) -> str:
    """The storage version the open warehouse file was written with, e.g. ``v1.4.0+``."""
    rows = con.execute(
        "select tags['storage_version'] from duckdb_databases() "
        "where database_name = current_database()"
    ).fetchall()
    return str(rows[0][0]) if rows and rows[0][0] is not None else "unknown"
