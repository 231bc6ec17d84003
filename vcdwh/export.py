"""``vcdwh export``: the warehouse's trades and bars as Hive-partitioned Parquet.

The layout Spark, Trino and Athena read::

    DIR/trades/root=ES/session_date=2024-03-04/data_0.parquet
    DIR/bars_1min/root=ES/session_date=2024-03-04/data_0.parquet
    DIR/sessions/sessions.parquet
    DIR/session_hours/session_hours.parquet

``root`` is the product root of the symbol (``sql/macros/root.sql``) and ``session_date`` the
CME trade date, assigned to each trade by the same as-of rule the bars use (the last session
open at or before ``ts_recv``). Partition columns live in the folder names, not in the files.
Everything is written into a temporary folder beside ``DIR`` and renamed at the end, so a failed
export leaves nothing behind.
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from vcdwh.config import Settings
from vcdwh.errors import ConfigError, VcdwhError, WarehouseError, error_line
from vcdwh.progress import NO_PROGRESS, Progress
from vcdwh.warehouse.sqlrender import identifier, render

FORMATS = ("parquet",)
PARTITIONS = ("root", "session_date")


@dataclass
class ExportReport:
    """What one export wrote."""

    out_dir: Path
    relations: dict[str, int] = field(default_factory=dict)  # relation -> rows
    files: int = 0
    seconds: float = 0.0


def validate_export_dir(out_dir: str | Path, overwrite: bool = False) -> Path:
    """Check the export folder and return it as an absolute path.

    Raises
    ------
    ConfigError
        If the path has control characters or ``..`` parts, is a file, or is a non-empty
        folder without ``overwrite``.
    """
    text = str(out_dir)
    if not text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ConfigError(f"export folder {text!r}: control characters are not allowed in the path")
    path = Path(text).expanduser()
    if ".." in path.parts:
        raise ConfigError(
            f"export folder {text}: refusing a path with '..'; give its real location"
        )
    path = path.absolute()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"export folder {text} is a file; give a new or empty folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise ConfigError(
            f"export folder {text} is not empty; give a new folder or add --overwrite"
        )
    return path


def _copy(con: object, query: str, target: Path, partitioned: bool) -> None:
    options = "format parquet, compression zstd"
    if partitioned:
        options += f", partition_by ({', '.join(PARTITIONS)})"
    con.execute(f"copy ({query}) to $path ({options})", {"path": str(target)})  # type: ignore[attr-defined]


def export_parquet(
    settings: Settings,
    out_dir: str | Path,
    overwrite: bool = False,
    progress: Progress = NO_PROGRESS,
) -> ExportReport:
    """Write ``trades``, ``sessions``, ``session_hours`` and every ``bars_*`` table as Parquet
    under ``out_dir``.

    Parameters
    ----------
    settings
        Where the warehouse is (opened read-only).
    out_dir
        A new or empty folder (or any folder with ``overwrite``, whose contents are replaced).
    overwrite
        Replace an existing non-empty folder.
    progress
        Receives each relation written.

    Raises
    ------
    ConfigError
        If the folder is not acceptable (see :func:`validate_export_dir`).
    WarehouseError
        If there is no warehouse or it has no trades table.
    """
    import duckdb

    from vcdwh.warehouse.db import connect_read_only, relation_exists

    started = time.perf_counter()
    target = validate_export_dir(out_dir, overwrite)
    staging = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    con = connect_read_only(settings.db_path, allowed_directories=[staging])
    report = ExportReport(out_dir=target)
    try:
        progress.phase("exporting")
        if not relation_exists(con, "trades") or not relation_exists(con, "bar_intervals"):
            raise WarehouseError(f"{settings.db_path} has no trades or bars; run `vcdwh build`")
        intervals = con.execute("select relation from bar_intervals order by seconds").fetchall()
        bars = [identifier(str(r)) for (r,) in intervals]
        staging.mkdir(parents=True)
        progress.phase("exporting relations", 3 + len(bars))
        _copy(con, render("export/trades.sql"), staging / "trades", partitioned=True)
        report.relations["trades"] = _count(con, "trades")
        progress.advance()
        (staging / "sessions").mkdir()
        _copy(con, "select * from sessions", staging / "sessions" / "sessions.parquet", False)
        report.relations["sessions"] = _count(con, "sessions")
        progress.advance()
        (staging / "session_hours").mkdir()
        _copy(
            con,
            "select * from session_hours",
            staging / "session_hours" / "session_hours.parquet",
            False,
        )
        report.relations["session_hours"] = _count(con, "session_hours")
        progress.advance()
        for relation in bars:
            _copy(con, render("export/bars.sql", bars=relation), staging / relation, True)
            report.relations[relation] = _count(con, relation)
            progress.advance()
    except duckdb.Error as exc:
        shutil.rmtree(staging, ignore_errors=True)
        first_line = error_line(exc)
        raise WarehouseError(f"export to {target} failed: {first_line}") from exc
    except (VcdwhError, OSError):
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        con.close()
        progress.close()
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    report.files = sum(1 for _ in target.rglob("*.parquet"))
    report.seconds = time.perf_counter() - started
    return report


def _count(con: object, relation: str) -> int:
    rows = con.execute(f"select count(*) from {identifier(relation)}").fetchall()  # type: ignore[attr-defined]
    return int(rows[0][0])


def format_export(report: ExportReport) -> str:
    """What ``vcdwh export`` prints: rows per relation, then the files written."""
    lines = [f"{relation:<12} {rows:>14,} rows" for relation, rows in report.relations.items()]
    lines.append(
        f"wrote {report.files} Parquet file(s) to {report.out_dir} ({report.seconds:.2f} s)"
    )
    return "\n".join(lines)
