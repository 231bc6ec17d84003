"""The Data/ contract: seed file names, which files a build finds, a file's identity, the ledger.

Seed-named CSVs are ``trades_{SYMBOL}_{START}_{END}.csv`` and
``ohlcv_1m_{SYMBOL}_{START}_{END}.csv``; DBN files (``.dbn``, ``.dbn.zst``) load whatever their
name. A file is known by its content hash (loading the same bytes under another name adds
nothing) and recorded in ``loaded_files``.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from vcdwh.errors import DataError
from vcdwh.instruments import contract_root

if TYPE_CHECKING:
    import duckdb


# The columns of Databento's trades and ohlcv-1m records, in the order its CSVs write them (the
# "pretty" layout adds a trailing `symbol`).
TRADES_COLUMNS = (
    "ts_recv",
    "ts_event",
    "rtype",
    "publisher_id",
    "instrument_id",
    "action",
    "side",
    "depth",
    "price",
    "size",
    "flags",
    "ts_in_delta",
    "sequence",
)
OHLCV_COLUMNS = (
    "ts_event",
    "rtype",
    "publisher_id",
    "instrument_id",
    "open",
    "high",
    "low",
    "close",
    "volume",
)
SEED_PREFIXES = {"trades": "trades", "ohlcv-1m": "ohlcv_1m"}
"""The file-name prefix of each Databento schema a seed-named CSV holds."""
_SEED_NAME = re.compile(
    r"^(?:trades|ohlcv_1m)_(?P<symbol>.+?)_\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2}\.csv$"
)


_HASH_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class SourceFile:
    """A file to load, with what was learned about it before staging."""

    path: Path
    content_hash: str
    bytes: int
    schema: str
    layout: str  # "pretty", "raw" or "dbn"
    file_symbol: str | None
    mtime_ns: int | None = None


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes (identity of a file regardless of its name)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def record_loaded_file(
    con: duckdb.DuckDBPyConnection, source: SourceFile, file_id: int, rows: int, added: int
) -> None:
    """Add a loaded file to ``loaded_files``: its path, content hash, schema, rows and size."""
    con.execute(
        "insert into loaded_files by name select $file_id as file_id, $path as path,"
        " $hash as content_hash, $schema as schema, $layout as layout, $rows as rows,"
        " $added as rows_added, $bytes as bytes, now()::timestamp as loaded_at,"
        " $mtime_ns as mtime_ns",
        {
            "file_id": file_id,
            "path": str(source.path),
            "hash": source.content_hash,
            "schema": source.schema,
            "layout": source.layout,
            "rows": rows,
            "added": added,
            "bytes": source.bytes,
            "mtime_ns": source.mtime_ns,
        },
    )


def earlier_versions(con: duckdb.DuckDBPyConnection, path: Path, schema: str) -> list[int]:
    """The ``file_id`` of every earlier load of ``path`` (the same file name in the same folder)
    with the same schema: the versions of the file whose records the warehouse holds."""
    rows = con.execute(
        "select file_id, path from loaded_files where schema = $schema order by file_id",
        {"schema": schema},
    ).fetchall()
    here = os.path.abspath(path)
    return [
        int(file_id) for file_id, held in rows if held == str(path) or os.path.abspath(held) == here
    ]


def forget_files(con: duckdb.DuckDBPyConnection, file_ids: list[int]) -> None:
    """Remove files whose records were just deleted (replaced) from the ledger: ``loaded_files``
    and their ``rejected_rows``, so their content is new again if it comes back."""
    for table in ("loaded_files", "rejected_rows"):
        con.execute(f"delete from {table} where list_contains($ids, file_id)", {"ids": file_ids})


def is_dbn(path: Path) -> bool:
    """True for ``.dbn`` and ``.dbn.zst`` files."""
    name = path.name.lower()
    return name.endswith(".dbn") or name.endswith(".dbn.zst")


def seed_symbol(path: Path) -> str | None:
    """The raw symbol named by a seed file name (``trades_ESU4_…``), if it is an outright."""
    match = _SEED_NAME.match(path.name)
    if match and contract_root(match.group("symbol")) is not None:
        return match.group("symbol")
    return None


def seed_file_name(schema: str, symbol: str, start: date, end: date) -> str:
    """The seed's CSV name: ``trades_ES.FUT_2024-07-01_2024-07-08.csv`` (``end`` exclusive).

    ``schema`` is ``trades`` or ``ohlcv-1m``; the symbol must already be validated (no ``_``).
    """
    return f"{SEED_PREFIXES[schema]}_{symbol}_{start.isoformat()}_{end.isoformat()}.csv"


def dbn_file_name(dataset: str, symbol: str, schema: str, start: date, end: date) -> str:
    """The name of a fetched DBN file: ``glbx-mdp3_ES.FUT_trades_2024-07-01_2024-07-08.dbn.zst``."""
    stem = dataset.lower().replace(".", "-")
    return f"{stem}_{symbol}_{schema}_{start.isoformat()}_{end.isoformat()}.dbn.zst"


def is_seed_csv(path: Path) -> bool:
    """True for a CSV whose name starts like a seed file (``trades_…``, ``ohlcv_1m_…``)."""
    return path.suffix.lower() == ".csv" and path.name.startswith(
        tuple(f"{prefix}_" for prefix in SEED_PREFIXES.values())
    )


_PSEUDO_ROOTS = ("/proc", "/sys", "/dev")
"""Kernel file systems: their "regular" files are not data (``/proc/self/environ``)."""


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def check_regular(path: Path) -> None:
    """Refuse, without opening it, anything but a regular file or a symlink to one.

    Symlinks are followed wherever they point (a data folder may link to files on another
    disk), but the target must be a regular file outside ``/proc``, ``/sys`` and ``/dev``:
    FIFOs, sockets and devices would hang a build or never end, kernel files are not data.

    Raises
    ------
    DataError
        Naming the file and what it is.
    """
    try:
        mode = path.lstat().st_mode
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from exc
    what = ""
    if stat.S_ISLNK(mode):
        what = f"a symlink to {os.path.realpath(path)}, "
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise DataError(f"{path}: {what}which cannot be read ({exc.strerror})") from exc
    if not stat.S_ISREG(mode):
        raise DataError(f"{path}: {what}{_kind(mode)}; only regular files are loaded")
    target = os.path.realpath(path)
    for root in _PSEUDO_ROOTS:
        if target.startswith(root + "/"):
            raise DataError(
                f"{path}: {what or 'a file '}in {root}, a kernel file system, not data; "
                "only regular files are loaded"
            )


def discover(data_dir: Path) -> list[Path]:
    """Data files in ``data_dir`` (not recursive): seed-named CSVs and DBN files.

    Each is checked by :func:`check_regular` before anything opens it.
    """
    if not data_dir.is_dir():
        return []
    found = sorted(p for p in data_dir.iterdir() if is_seed_csv(p) or is_dbn(p))
    for path in found:
        check_regular(path)
    return found


def next_file_id(con: duckdb.DuckDBPyConnection) -> int:
    """The ``file_id`` the next loaded file gets in ``loaded_files``."""
    [(file_id,)] = con.execute("select coalesce(max(file_id), 0) + 1 from loaded_files").fetchall()
    return int(file_id)
