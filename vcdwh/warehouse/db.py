"""Open the DuckDB warehouse file, create its tables, and write it safely beside readers.

Every vcdwh write goes through :func:`write_session`, one transaction in one of two ways:
in place when no other process has the warehouse open (no copy, no extra disk), or on a copy
swapped in atomically when a reader holds it, so readers never block a writer. Either way no
reader sees half a write and a killed writer leaves the state before or after it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from vcdwh.config import DEFAULT_STORAGE_VERSION, STORAGE_VERSIONS
from vcdwh.errors import (
    ConfigError,
    WarehouseError,
    error_line,
    is_no_space,
    no_space_error,
    printable,
)
from vcdwh.warehouse.sqlrender import render, templates

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


def require_warehouse(db_path: Path) -> None:
    """Stop with the one message every reader and run gives when there is no warehouse yet.

    Raises
    ------
    WarehouseError
        If ``db_path`` does not exist.
    """
    if not Path(db_path).exists():
        raise WarehouseError(f"no warehouse at {db_path}; run `vcdwh build` first")


def _open(db_path: Path, *, read_only: bool, config: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect`` with its lock and I/O errors turned into one-line messages.

    A read-only open waits up to ``VCDWH_READ_WAIT`` seconds (default
    :data:`DEFAULT_READ_WAIT`) while a vcdwh writer holds the file in place.
    """
    import duckdb

    deadline = time.monotonic() + read_wait() if read_only else 0.0
    retried = False
    while True:
        try:
            return duckdb.connect(str(db_path), read_only=read_only, config=config)
        except duckdb.Error as exc:
            message = str(exc)
            locked = isinstance(exc, duckdb.IOException) and "lock" in message.lower()
            if locked and time.monotonic() < deadline and _written_in_place(db_path):
                time.sleep(_POLL_SECONDS)
                continue
            # A writer clears ``in-place`` only after closing the file: one that finished
            # between this open and that check has let go of it, so open once more.
            if locked and read_only and not retried:
                retried = True
                continue
            _raise_open_error(db_path, exc, locked=locked)


def _raise_open_error(db_path: Path, exc: Exception, *, locked: bool) -> NoReturn:
    message = str(exc)
    if locked:
        if _written_in_place(db_path):
            raise WarehouseError(
                f"{db_path} is being written in place by vcdwh{_holder(message)}; waited "
                f"{read_wait():g} s: retry when it is done, raise VCDWH_READ_WAIT, or set "
                "VCDWH_WRITE_MODE=copy so writes never lock readers out"
            ) from exc
        raise WarehouseError(
            f"{db_path} is locked by another process{_holder(message)}; close that program's "
            "connection (or open it read-only) and try again"
        ) from exc
    raise WarehouseError(f"cannot open {db_path}: {error_line(exc)}") from exc


def connect(db_path: Path, *, storage_version: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-write in place (creating it), for tools and tests.

    vcdwh's own writes go through :func:`write_session` instead. A file that does not exist
    yet is created with ``storage_version`` (see :func:`new_database_config`); an existing file
    keeps the version it was written with.

    Raises
    ------
    WarehouseError
        If the file is locked by another process or unreadable.
    ConfigError
        If ``storage_version`` is not supported.
    """
    config: dict[str, Any] = {}
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    if not Path(db_path).exists():
        config = new_database_config(storage_version)
    return _open(db_path, read_only=False, config=config)


def connect_read_only(
    db_path: Path,
    *,
    allowed_directories: Sequence[Path] = (),
    spill_directory: Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """The one read-only connection: it reads the warehouse and nothing else.

    External access is off (no files, URLs, other databases or extensions) except for the
    ``allowed_directories`` a command writes its output to (``vcdwh export``), and the
    configuration is locked, so a query cannot turn either back on.

    ``spill_directory``: run under the writers' memory cap (:func:`memory_limit`) and spill to
    this folder instead of DuckDB's default ``<db>.tmp`` beside the warehouse (``vcdwh sql``).
    DuckDB lets the connection's own queries reach its temporary folder even with external
    access off, so the caller must keep queries from naming files (see :mod:`vcdwh.query`).
    Such a connection must be the process's only one to the file (DuckDB shares one database
    per file and process, and its settings with it).

    Raises
    ------
    WarehouseError
        If there is no warehouse yet, or it cannot be opened.
    """
    require_warehouse(db_path)
    if spill_directory is not None:
        config: dict[str, Any] = {
            "enable_external_access": False,
            "memory_limit": memory_limit(),
            "temp_directory": str(spill_directory),
        }
        con = _open(db_path, read_only=True, config=config)
    elif not allowed_directories:
        config = {"enable_external_access": False}
        con = _open(db_path, read_only=True, config=config)
    else:
        con = _open(db_path, read_only=True, config={})
        folders = [str(Path(folder).resolve()) + os.sep for folder in allowed_directories]
        con.execute("set allowed_directories = $folders", {"folders": folders})
        con.execute("set enable_external_access = false")
    # Another read-only connection of this process shares the database and locked it already.
    [(locked,)] = con.execute("select current_setting('lock_configuration')").fetchall()
    if not locked:
        con.execute("set lock_configuration = true")
    return con


DEFAULT_MEMORY_LIMIT = "1GB"
MEMORY_LIMIT_ENV = "VCDWH_MEMORY_LIMIT"


def memory_limit() -> str:
    """The memory cap of builds, backtests and ``vcdwh sql``: ``VCDWH_MEMORY_LIMIT`` (any
    DuckDB size, e.g. ``4GB``) or the default of 1GB."""
    return os.environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT


def writer_config() -> dict[str, str]:
    """DuckDB settings of a writing connection.

    ``memory_limit`` bounds what DuckDB holds in memory (beyond it, large operators spill to a
    temporary folder beside the warehouse), so a build's memory stays flat as data grows.
    ``VCDWH_MEMORY_LIMIT`` overrides the default of 1GB (any DuckDB size, e.g. ``4GB``).
    """
    return {"memory_limit": memory_limit()}


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create every raw and result table that does not exist yet; seed ``instruments`` and
    ``rth_hours``."""
    from vcdwh.instruments import seed_instruments, seed_rth_hours

    for folder in TABLE_FOLDERS:
        for template in templates(folder):
            con.execute(render(template))
    seed_instruments(con)
    seed_rth_hours(con)


def relation_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """True when a table or view of that name exists in the main schema."""
    [(count,)] = con.execute(
        "select (select count(*) from duckdb_tables()"
        " where table_name = $name and schema_name = 'main')"
        " + (select count(*) from duckdb_views()"
        " where view_name = $name and schema_name = 'main')",
        {"name": name},
    ).fetchall()
    return bool(count)


def storage_version(con: duckdb.DuckDBPyConnection) -> str:
    """The storage version the open warehouse file was written with, e.g. ``v1.4.0+``."""
    rows = con.execute(
        "select tags['storage_version'] from duckdb_databases() "
        "where database_name = current_database()"
    ).fetchall()
    return str(rows[0][0]) if rows and rows[0][0] is not None else "unknown"


# --------------------------------------------------------------------------- writing

DEFAULT_LOCK_TIMEOUT = 30.0
_POLL_SECONDS = 0.1

WRITE_MODE_ENV = "VCDWH_WRITE_MODE"
# auto: in place when no other process has the warehouse open, else on a copy; copy: always.
WRITE_MODES = ("auto", "copy")
READ_WAIT_ENV = "VCDWH_READ_WAIT"
DEFAULT_READ_WAIT = 60.0
_IN_PLACE = "in-place"


def write_mode() -> str:
    """How :func:`write_session` writes: ``VCDWH_WRITE_MODE``, one of :data:`WRITE_MODES`.

    Raises
    ------
    ConfigError
        If the variable names another mode.
    """
    mode = os.environ.get(WRITE_MODE_ENV) or "auto"
    if mode not in WRITE_MODES:
        raise ConfigError(
            f"{WRITE_MODE_ENV}={printable(mode)!r} is not a write mode; use one of "
            f"{', '.join(WRITE_MODES)}"
        )
    return mode


def read_wait() -> float:
    """Seconds a reader waits for an in-place write to finish: ``VCDWH_READ_WAIT``.

    Raises
    ------
    ConfigError
        If the variable is not a number of seconds >= 0.
    """
    raw = os.environ.get(READ_WAIT_ENV)
    if not raw:
        return DEFAULT_READ_WAIT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise ConfigError(
            f"{READ_WAIT_ENV}={printable(raw)!r} is not a number of seconds; give one >= 0"
        )
    return seconds


def _written_in_place(db_path: Path) -> bool:
    """True while a vcdwh writer holds the warehouse in place (its lock file says so)."""
    try:
        return _IN_PLACE in lock_path(db_path).read_text(encoding="ascii", errors="replace")
    except OSError:
        return False


# Set to a phase name (see `_fault_point`) to have the writer SIGKILL itself there (tests only).
FAULT_ENV = "VCDWH_KILL_AT"


def lock_path(db_path: Path) -> Path:
    """The side lock file that serialises vcdwh writers: ``<db>.lock``."""
    return db_path.with_name(db_path.name + ".lock")


def _temp_prefix(db_path: Path) -> str:
    return f".{db_path.name}."


def _fault_point(name: str) -> None:
    """Kill this process with SIGKILL at the named phase when ``VCDWH_KILL_AT`` asks for it.

    Crash-safety tests use it to stop a writer at exact points; it does nothing otherwise.
    """
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def writer_lock(db_path: Path, timeout: float) -> Iterator[int]:
    """Hold the exclusive vcdwh writer lock on ``<db>.lock``, waiting up to ``timeout`` s.

    The lock file holds the writer's PID (and ``in-place`` while it writes in place); yields
    its descriptor.

    Raises
    ------
    WarehouseError
        If another vcdwh process still holds it after ``timeout`` seconds (naming its PID).
    """
    import fcntl

    path = lock_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").split()
                    who = f" (PID {holder[0]})" if holder and holder[0].isdigit() else ""
                    raise WarehouseError(
                        f"{db_path} is being written by another vcdwh process{who}; waited "
                        f"{timeout:g} s: let it finish, or retry with a larger --lock-timeout"
                    ) from None
                time.sleep(_POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield fd
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _remove_stale_temp_files(db_path: Path) -> None:
    """Delete what a killed writer left (called with the writer lock held): its copy, the
    copy's WAL, and the folder it spilled to (``.<name>.<pid>.tmp.spill/``)."""
    prefix = _temp_prefix(db_path)
    for leftover in db_path.parent.glob(prefix + "*.tmp*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def _hold_against_writers(db_path: Path, timeout: float) -> Any:
    """Open the warehouse read-only, so no other program can open it read-write meanwhile.

    A read-only open fails while another process holds the file read-write (DuckDB's own
    lock); then wait up to ``timeout`` seconds. Returns the connection (``None`` if there is
    no warehouse yet). A write-ahead log that belongs to an older version of the file (left
    by a writer killed between its rename and its clean-up) is removed: DuckDB refuses it.
    """
    import duckdb

    if not db_path.exists():
        return None
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        try:
            return duckdb.connect(str(db_path), read_only=True)
        except duckdb.Error as exc:
            message = str(exc)
            wal = db_path.with_name(db_path.name + ".wal")
            if "checkpoint iteration does not match" in message and wal.exists():
                wal.unlink()
                continue
            if "lock" not in message.lower():
                first_line = error_line(exc)
                raise WarehouseError(f"cannot open {db_path}: {first_line}") from exc
            if time.monotonic() >= deadline:
                raise WarehouseError(
                    f"{db_path} is locked by another process{_holder(message)}; waited "
                    f"{timeout:g} s: close that program's connection (or open it read-only) "
                    "and try again"
                ) from exc
            time.sleep(_POLL_SECONDS)


def _copy_file(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` after checking the folder has room for it."""
    needed = source.stat().st_size
    if shutil.disk_usage(target.parent).free < needed:
        raise no_space_error(target.parent, needed)
    shutil.copyfile(source, target)
    shutil.copymode(source, target)


def _fsync(path: Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _open_in_place(db_path: Path, spill: Path) -> duckdb.DuckDBPyConnection | None:
    """Open the warehouse read-write in place, or ``None`` when another process has it open.

    DuckDB's own file lock makes this fail while any reader (or another program) holds the
    file, and then the write goes to a copy instead; it also fails on a write-ahead log left
    by a killed copy-and-swap writer, which the copy path clears.
    """
    import duckdb

    try:
        return duckdb.connect(
            str(db_path), config={**writer_config(), "temp_directory": str(spill)}
        )
    except duckdb.Error:
        return None


@contextlib.contextmanager
def _transaction(con: duckdb.DuckDBPyConnection, phase: str) -> Iterator[None]:
    """``begin`` … ``commit`` around the body (``rollback`` when it raises), then checkpoint."""
    import duckdb

    con.execute("begin transaction")
    try:
        yield
        con.execute("commit")
    except BaseException:
        # A failed commit ends the transaction: keep its error, not rollback's.
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        raise
    _fault_point(phase)
    con.execute("checkpoint")


@contextlib.contextmanager
def write_session(
    db_path: Path,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    storage_version: str | None = None,
    *,
    existing: bool = False,
    expected_growth: int = 0,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction on the warehouse: in place when nobody else has it open, else on a copy.

    The body runs inside ``begin transaction``; it is committed when the body returns and
    rolled back when it raises. ``existing``: the warehouse must exist already (a run needs
    the bars a build made), otherwise the one "no warehouse" message is raised.
    ``expected_growth``: about how many bytes the write adds (a build: its input files' size),
    for the estimate a full disk reports.

    The life cycle of every vcdwh write (build, backtest, sweep, walk-forward):

    1. take the exclusive writer lock ``<db>.lock`` (other vcdwh writers wait, up to
       ``lock_timeout`` seconds) and delete what killed writers left;
    2. in place (``VCDWH_WRITE_MODE=auto``, the default): open the warehouse read-write. That
       succeeds only when no other process has it open; then the lock file says ``in-place``,
       vcdwh readers that arrive wait for the write (``VCDWH_READ_WAIT`` seconds), and the
       body's transaction is committed and checkpointed in the file itself: no copy, no extra
       disk. A killed writer leaves DuckDB's own before (uncommitted) or after (committed,
       replayed from its write-ahead log on the next open) state;
    3. otherwise (a reader holds the file, or ``VCDWH_WRITE_MODE=copy``): open the warehouse
       read-only (this waits while another program holds it read-write; holding it keeps such
       programs out until the swap), copy it to ``.<name>.<pid>.tmp`` in the same folder and
       yield a connection to the copy (a new warehouse starts empty, written with
       ``storage_version``: see :func:`new_database_config`). When the body returns:
       ``CHECKPOINT``, close, fsync, ``os.replace`` the copy over the warehouse and fsync the
       folder. On any error or interruption the copy is deleted. Readers that opened the old
       file keep reading it unchanged; readers that open after the swap see the new file.

    Raises
    ------
    WarehouseError
        Locked by another writer past ``lock_timeout``, no disk space, or unreadable file.
    ConfigError
        An unknown ``storage_version`` or ``VCDWH_WRITE_MODE``.
    NoSpaceError
        The disk filled up while writing (whatever the body or DuckDB raised about it): one
        line naming the folder and about how many MB more the write needs; the warehouse is
        left as it was.
    """
    import duckdb

    db_path = Path(db_path)
    if existing:
        require_warehouse(db_path)
    new_config = new_database_config(storage_version)  # checked before anything is touched
    mode = write_mode()
    with writer_lock(db_path, lock_timeout) as lock_fd:
        _fault_point("locked")
        _remove_stale_temp_files(db_path)
        spill = db_path.with_name(f"{_temp_prefix(db_path)}{os.getpid()}.tmp.spill")
        full: BaseException | None = None
        in_place = None
        if mode == "auto" and db_path.exists():
            os.pwrite(lock_fd, f"{os.getpid()} {_IN_PLACE}\n".encode(), 0)
            in_place = _open_in_place(db_path, spill)
            if in_place is None:
                os.ftruncate(lock_fd, 0)
                os.pwrite(lock_fd, f"{os.getpid()}\n".encode(), 0)
        if in_place is not None:
            try:
                _fault_point("opened_in_place")
                with _transaction(in_place, "committed_in_place"):
                    yield in_place
                _fault_point("checkpointed_in_place")
            except Exception as exc:
                if not is_no_space(exc):
                    raise
                full = exc
            finally:
                in_place.close()
                shutil.rmtree(spill, ignore_errors=True)
            if full is not None:
                raise no_space_error(db_path.parent, expected_growth) from full
            return
        guard = _hold_against_writers(db_path, lock_timeout)
        temp = db_path.with_name(f"{_temp_prefix(db_path)}{os.getpid()}.tmp")
        temp_wal = temp.with_name(temp.name + ".wal")
        old_wal = db_path.with_name(db_path.name + ".wal")
        try:
            if guard is not None:
                _copy_file(db_path, temp)
                if old_wal.exists():
                    _copy_file(old_wal, temp_wal)
            _fault_point("copied")
            try:
                config: dict[str, Any] = (
                    writer_config() if guard is not None else {**writer_config(), **new_config}
                )
                config["temp_directory"] = str(spill)
                con = duckdb.connect(str(temp), config=config)
            except duckdb.Error as exc:
                first_line = error_line(exc)
                raise WarehouseError(f"cannot open a copy of {db_path}: {first_line}") from exc
            try:
                with _transaction(con, "before_checkpoint"):
                    yield con
            finally:
                con.close()
            _fsync(temp)
            _fault_point("before_replace")
            os.replace(temp, db_path)
            _fault_point("replaced")
            old_wal.unlink(missing_ok=True)
            _fsync(db_path.parent, directory=True)
        except Exception as exc:
            if not is_no_space(exc):
                raise
            full = exc
        finally:
            if guard is not None:
                guard.close()
            temp.unlink(missing_ok=True)
            temp_wal.unlink(missing_ok=True)
            shutil.rmtree(spill, ignore_errors=True)
        if full is not None:
            copy = db_path.stat().st_size if db_path.exists() else 0
            raise no_space_error(db_path.parent, copy + expected_growth) from full


def _holder(message: str) -> str:
    """`` (PID n)`` of the process DuckDB names in a lock error, or nothing."""
    holder = re.search(r"\(PID (\d+)\)", message)
    return f" (PID {holder.group(1)})" if holder else ""
