"""The one error hierarchy of vcdwh.

Library code raises these; the CLI turns them into ``Error: <message>`` and exit code 1.
Every message is one line that names the file, parameter or relation and says how to fix it.
"""

from __future__ import annotations

import errno
import os
import shutil


class VcdwhError(Exception):
    """Base class of every error vcdwh reports to a user."""


class ConfigError(VcdwhError):
    """A setting, option or environment variable is missing or invalid."""


class DataError(VcdwhError):
    """An input file is malformed: wrong columns, unparsable values, unknown codes."""


class BuildError(VcdwhError):
    """Building the warehouse failed (SQL, contracts, conflicts)."""


class WarehouseError(VcdwhError):
    """The warehouse file cannot be opened, is locked, or lacks what a command needs."""


class FetchError(VcdwhError):
    """Talking to Databento failed."""


class BacktestError(VcdwhError):
    """Backtest inputs are invalid."""


class QueryError(VcdwhError):
    """DuckDB refused or failed a read-only query."""


class QueryInterruptedError(QueryError):
    """The user interrupted a query (Ctrl-C): exit code 130, as a shell gives for SIGINT."""

    exit_code = 130


class NoSpaceError(VcdwhError):
    """The disk filled up while vcdwh wrote; what was there before is kept."""


class UnknownSymbolError(ConfigError):
    """A symbol is neither an instrument in the warehouse nor a root with a continuous series."""


class UnknownIntervalError(ConfigError):
    """A bar interval is not valid, or the warehouse holds no bars of that interval."""


class SparkError(VcdwhError):
    """Spark is missing, or the Spark job failed."""


def error_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when the message is empty)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def printable(text: str) -> str:
    """``text`` with newlines, control characters and escape sequences shown escaped (``\\n``,
    ``\\x1b``), so a file name or a value quoted in an error cannot reach the terminal raw."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


_NO_SPACE_TEXT = "no space left on device"


def is_no_space(exc: BaseException) -> bool:
    """True when ``exc`` or anything it was raised from is a full disk (``ENOSPC``; DuckDB's
    I/O errors say "No space left on device", also behind "database has been invalidated")."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return True
        if _NO_SPACE_TEXT in str(current).lower():
            return True
        current = current.__cause__ or current.__context__
    return False


def no_space_error(folder: os.PathLike[str] | str, needed_bytes: int) -> NoSpaceError:
    """The one line for a full disk: where, and about how many MB more the write needs.

    ``needed_bytes`` is the caller's estimate of what the whole write takes in ``folder``; what
    is free there now (after the caller removed its partial files) is subtracted, and the
    answer is at least 1 MB (the disk did fill up).
    """
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = 0
    more = max(needed_bytes - free, 1)
    megabytes = -(-more // 1_000_000)
    return NoSpaceError(
        f"no space left on device at {folder} (needs about {megabytes:,} MB more); free some "
        "space or point --data-dir/--db elsewhere, and run it again"
    )
