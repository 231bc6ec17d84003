"""Read Databento files (CSV in either layout, DBN) into the warehouse and validate them.

A CSV's layout is detected from its header and first record: *pretty* (ISO-8601 timestamps,
decimal prices, trailing ``symbol``) or *raw* (integer nanoseconds, 1e-9 fixed-point prices).
DBN files (``.dbn``, ``.dbn.zst``) are decoded with the ``databento`` library. A trades file
goes straight into ``trades`` (:func:`land_trades`); other files, and trades files read with
``--on-bad-rows skip``, are staged into a temporary table (``stg_trades`` or
``stg_ohlcv_1m``) by the SQL in ``sql/staging``. Problems are reported as one line naming the
file, line and fix.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vcdwh.datafiles import OHLCV_COLUMNS, TRADES_COLUMNS, SourceFile
from vcdwh.errors import DataError, error_line, printable
from vcdwh.warehouse.sqlrender import render

if TYPE_CHECKING:
    import duckdb

TRADES = "trades"
OHLCV_1M = "ohlcv-1m"

_TIMESTAMPS = {"ts_recv", "ts_event"}
_PRICES = {"price", "open", "high", "low", "close"}
_TEXT = {"action", "side", "symbol"}
# Identity of a trade record: every field but the symbol (raw files have none).
TRADE_IDENTITY = (
    "ts_recv",
    "ts_event",
    "instrument_id",
    "sequence",
    "price",
    "size",
    "side",
    "flags",
    "ts_in_delta",
    "action",
    "depth",
    "rtype",
    "publisher_id",
)

_ISO_TS = re.compile(
    r"^(?P<seconds>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(\.\d{1,9})?"
    r"(?P<offset>Z|[+-]\d{2}:?\d{2})?$"
)
# The timestamps a record may carry; sql/staging/stg_*_problems.sql check the same range.
_TS_FIRST = datetime(1990, 1, 1)
_TS_LAST = datetime(2200, 1, 1)
_TS_FIRST_NS = 631_152_000 * 10**9
_TS_LAST_NS = 7_258_118_400 * 10**9
_TS_RANGE = "1990-01-01 to 2200-01-01"
# decimal(18, 9): nine digits before the point.
_PRICE_LIMIT = Decimal(10**9)
_UNDEFINED_PRICE = 2**63 - 1
_INT64 = (-(2**63), 2**63 - 1, 64)
# What each integer field is stored as (sql/raw/*.sql): its range and width.
_INT_RANGES = {
    "rtype": (0, 2**8 - 1, 8),
    "publisher_id": (0, 2**16 - 1, 16),
    "instrument_id": (0, 2**32 - 1, 32),
    "depth": (0, 2**8 - 1, 8),
    "flags": (0, 2**8 - 1, 8),
    "ts_in_delta": (-(2**31), 2**31 - 1, 32),
    "sequence": (0, 2**64 - 1, 64),
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_QUOTED = 40
# A Databento record is a few hundred bytes; a last line longer than this is not one.
_LONGEST_LINE = 64 * 1024
# How much of a rejected line rejected_rows keeps.
_KEPT = 1000
_INT = re.compile(r"^-?\d+$")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
# What a build does with a malformed record: stop (error) or keep it in rejected_rows (skip).
_READ_CHUNK = 8 * 1024 * 1024
BAD_ROW_POLICIES = ("error", "skip")
_REJECTED = "stg_rejected"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
DBN_CHUNK_ROWS = 250_000


# --------------------------------------------------------------------------- CSV


@dataclass(frozen=True)
class CsvLayout:
    """What the header and first record of a Databento CSV say about it."""

    schema: str
    columns: tuple[str, ...]
    ts_kind: str  # "iso" or "ns"
    px_kind: str  # "decimal" or "fixed"
    has_symbol: bool

    @property
    def name(self) -> str:
        """``pretty`` or ``raw``."""
        return "pretty" if self.ts_kind == "iso" else "raw"

    def column_types(self) -> list[tuple[str, str]]:
        """DuckDB types to read each column with, in file order.

        Timestamps and fixed-point prices are read as text and converted by the staging SQL,
        which refuses what DuckDB's reader would round or misread (``5528.75`` or ``1.7e18`` as
        an integer, an offset other than UTC).
        """
        types = []
        for column in self.columns:
            if column in _TIMESTAMPS:
                kind = "VARCHAR"
            elif column in _PRICES:
                kind = "DECIMAL(18,9)" if self.px_kind == "decimal" else "VARCHAR"
            elif column in _TEXT:
                kind = "VARCHAR"
            elif column == "sequence":
                kind = "UBIGINT"
            else:
                kind = "BIGINT"
            types.append((column, kind))
        return types


def _read_head(path: Path) -> tuple[str, str | None]:
    with path.open("rb") as handle:
        raw = handle.read(64 * 1024)
    if not raw.strip():
        raise DataError(f"{path}: the file is empty; fetch or export it again")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        # Bad bytes after the first record are a bad row (reported, or skipped), not a bad file.
        if exc.start < len(raw) - 4 and line <= 2:
            raise DataError(
                f"{path}: line {line}: bytes that are not UTF-8; this is not a Databento CSV"
            ) from exc
        text = raw[: exc.start].decode("utf-8")
    lines = text.splitlines()
    header = lines[0].lstrip("\ufeff")
    first = lines[1] if len(lines) > 1 else None
    return header, first


def detect_layout(path: Path) -> CsvLayout:
    """Read a CSV's header and first record and decide its schema and layout.

    Raises
    ------
    DataError
        If the header is not a Databento trades or ohlcv-1m header, or there are no records.
    """
    header, first = _read_head(path)
    if header.lstrip().startswith("<"):
        raise DataError(
            f"{path}: line 1: this is HTML (probably an error page saved as a file), not a CSV; "
            "delete it and fetch again"
        )
    columns = tuple(c.strip() for c in header.split(","))
    names = set(columns)
    has_symbol = "symbol" in names
    if names - {"symbol"} == set(TRADES_COLUMNS):
        schema = TRADES
    elif names - {"symbol"} == set(OHLCV_COLUMNS):
        schema = OHLCV_1M
    else:
        expected = TRADES_COLUMNS if "ts_recv" in names or "price" in names else OHLCV_COLUMNS
        missing = [c for c in expected if c not in names]
        extra = [c for c in columns if c not in expected and c != "symbol"]
        known = names & {*TRADES_COLUMNS, *OHLCV_COLUMNS}
        if len(columns) == 1 and (";" in header or "\t" in header or "|" in header):
            detail = "the header is not comma-separated"
        elif len(known) < 3:
            # Not a Databento file at all: say nothing of what it holds (it may be a secret).
            raise DataError(
                f"{path}: line 1: not a Databento CSV (its first line names none of the "
                f"columns {', '.join(expected[:4])}, …); give a Databento trades or ohlcv-1m file"
            )
        else:
            parts = []
            if missing:
                parts.append("missing column(s) " + ", ".join(missing))
            if extra:
                shown = [printable(c[:40]) for c in extra[:5]]
                parts.append("unexpected column(s) " + ", ".join(shown))
            detail = "; ".join(parts) or "duplicate columns"
        raise DataError(
            f"{path}: line 1: not a Databento trades or ohlcv-1m CSV header ({detail}); "
            f"expected {','.join(expected)}[,symbol]"
        )
    if len(columns) != len(names):
        raise DataError(f"{path}: line 1: duplicate column names in the header")
    if first is None or not first.strip():
        raise DataError(f"{path}: no records after the header; the market may have been closed")
    values = first.split(",")
    if len(values) != len(columns):
        raise DataError(f"{path}: line 2: expected {len(columns)} fields, found {len(values)}")
    record = dict(zip(columns, values, strict=True))
    ts_value = record["ts_event"].strip()
    ts_kind = "ns" if _INT.match(ts_value) else "iso"
    price_value = record["price" if schema == TRADES else "open"].strip()
    if "." in price_value:
        px_kind = "decimal"
    elif ts_kind == "ns":
        px_kind = "fixed"
    else:
        px_kind = "fixed" if len(price_value.lstrip("-")) >= 10 else "decimal"
    return CsvLayout(schema, columns, ts_kind, px_kind, has_symbol)


def _quote(value: str) -> str:
    """A field's text for an error: quoted, escaped, at most 40 characters."""
    return repr(value if len(value) <= _QUOTED else value[:_QUOTED] + "…")


def _ts_problem(column: str, value: str, layout: CsvLayout) -> str | None:
    """What is wrong with a timestamp's text; the range is the one the staging checks use."""
    if layout.ts_kind == "ns":
        if not _INT.match(value):
            return (
                f"{column} {_quote(value)} is not an integer "
                "(the raw layout writes nanoseconds since 1970)"
            )
        stamp = int(value)
        if not _TS_FIRST_NS <= stamp <= _TS_LAST_NS:
            return f"{column} {value} is out of range ({_TS_RANGE})"
        return None
    match = _ISO_TS.match(value)
    if not match:
        return f"cannot parse {column} {_quote(value)} as a timestamp"
    offset = match.group("offset")
    if offset and offset != "Z" and offset[1:].replace(":", "") != "0000":
        return f"{column} {_quote(value)} is not UTC (Databento writes UTC timestamps ending in Z)"
    try:
        when = datetime.strptime(match.group("seconds").replace(" ", "T"), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return f"{column} {_quote(value)} is not a valid date and time"
    if not _TS_FIRST <= when <= _TS_LAST:
        return f"{column} {_quote(value)} is out of range ({_TS_RANGE})"
    return None


def _price_problem(column: str, value: str, layout: CsvLayout) -> str | None:
    if value == "":
        return f"missing {column}"
    if layout.px_kind == "decimal":
        if not _DECIMAL.match(value):
            return f"{column} {_quote(value)} is not a number"
        if abs(Decimal(value)) >= _PRICE_LIMIT:
            return f"{column} {_quote(value)} is out of range (at most 999999999.999999999)"
        return None
    if not _INT.match(value):
        return (
            f"{column} {_quote(value)} is not an integer "
            "(the raw layout writes prices in units of 1e-9)"
        )
    number = int(value)
    if number != _UNDEFINED_PRICE and abs(number) >= _PRICE_LIMIT * 10**9:
        return f"{column} {_quote(value)} is out of range (at most 999999999.999999999)"
    return None


def _int_problem(column: str, value: str) -> str | None:
    if not _INT.match(value):
        return f"{column} {_quote(value)} is not an integer"
    low, high, bits = _INT_RANGES.get(column, _INT64)
    number = int(value)
    shown = value if len(value) <= _QUOTED else value[:_QUOTED] + "…"
    if number < 0 and low == 0:
        return f"{column} {shown} is negative"
    if not low <= number <= high:
        return f"{column} {shown} overflows {bits} bits"
    return None


def _field_problem(column: str, value: str, layout: CsvLayout) -> str | None:
    if column == "symbol" and _CONTROL.search(value):
        return f"symbol {_quote(value)} holds control characters"
    value = value.strip()
    if column in _TIMESTAMPS:
        if value == "":
            return "missing timestamp"
        return _ts_problem(column, value, layout)
    if column in _PRICES:
        return _price_problem(column, value, layout)
    if column == "side":
        if value and value not in ("A", "B", "N"):
            return f"unknown side code {_quote(value)} (expected A, B or N)"
        return None
    if column in _TEXT:
        return None
    if value == "" and column not in ("instrument_id", "size", "volume"):
        return None
    return _int_problem(column, value)


def line_problem(raw: bytes, layout: CsvLayout) -> str | None:
    """What is wrong with one CSV record line (``None`` when it parses)."""
    expected = len(layout.columns)
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "bytes that are not UTF-8"
    line = line.rstrip("\r\n")
    if not line:
        return "empty line"
    values = line.split(",")
    if len(values) != expected:
        truncated = " (truncated line?)" if len(values) < expected else ""
        return f"expected {expected} fields, found {len(values)}{truncated}"
    for column, value in zip(layout.columns, values, strict=True):
        problem = _field_problem(column, value, layout)
        if problem:
            return problem
    return None


def diagnose_csv(path: Path, layout: CsvLayout) -> str | None:
    """Find the first malformed line of a CSV, line by line (used after a fast read fails)."""
    with path.open("rb") as handle:
        handle.readline()
        number = 1
        for raw in handle:
            number += 1
            problem = line_problem(raw, layout)
            if problem:
                return f"line {number}: {problem}"
    return None


def read_lines(path: Path, numbers: set[int]) -> dict[int, bytes]:
    """The bytes of the given 1-based lines of a file, without the line ending."""
    found: dict[int, bytes] = {}
    if not numbers:
        return found
    last = max(numbers)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number in numbers:
                found[number] = raw.rstrip(b"\r\n")
            if number >= last:
                break
    return found


def _csv_context(layout: CsvLayout) -> dict[str, Any]:
    """What the staging templates need to read a CSV of this layout."""
    return {
        "source": "csv",
        "relation": "",
        "columns": layout.column_types(),
        "ts_kind": layout.ts_kind,
        "px_kind": layout.px_kind,
        "has_symbol": layout.has_symbol,
    }


def stage_csv(
    con: duckdb.DuckDBPyConnection,
    source: SourceFile,
    layout: CsvLayout,
    on_bad_rows: str = "error",
) -> None:
    """Load a CSV into the temporary staging table for its schema.

    With ``on_bad_rows="skip"``, lines that do not parse are left out and listed in the
    temporary table ``stg_rejected`` (line, reason, raw text) instead of stopping the load.
    """
    import duckdb

    stage = "stg_trades" if layout.schema == TRADES else "stg_ohlcv_1m"

    def staging_sql(store_rejects: bool) -> str:
        return render(
            f"staging/{stage}.sql",
            **_csv_context(layout),
            store_rejects=store_rejects,
            number_rows=store_rejects,
        )

    params = {"path": str(source.path)}
    if on_bad_rows == "skip":
        # A failed statement would abort the build's transaction: read leniently at once.
        # DuckDB cannot keep a line with invalid UTF-8 as a rejected row, so such lines are
        # blanked out in a temporary copy (and reported from the original file).
        _reset_rejected(con)
        with _utf8_clean_copy(source.path) as readable:
            con.execute(
                f"create or replace temp table {stage} as {staging_sql(True)}",
                {"path": str(readable)},
            )
        _reject_unparsed_lines(con, source, layout, stage)
        return
    check_last_line(source.path)
    try:
        con.execute(f"create or replace temp table {stage} as {staging_sql(False)}", params)
        # Every line is staged in file order, so row ids run consecutively in file order (from
        # a base that depends on the transaction): the record's position is its offset.
        con.execute(f"update {stage} set position = rowid - (select min(rowid) from {stage})")
    except duckdb.Error as exc:
        problem = diagnose_csv(source.path, layout)
        if problem is None:
            first_line = error_line(exc)
            problem = f"cannot read the file ({first_line})"
        raise DataError(
            f"{source.path}: {problem}; fix or remove that line and build again"
        ) from exc


def land_trades(
    con: duckdb.DuckDBPyConnection, source: SourceFile, detail: Any, file_id: int
) -> None:
    """Add a trades file's records straight to ``trades`` under ``file_id``, in one statement.

    Each record is added as occurrence 1 and, when the file names no symbol, with its
    instrument_id as its symbol (``sql/staging/file_trades.sql``); the build then checks them,
    numbers repeated records and removes those already held. A CSV record's position is its
    offset among the file's row ids, which the insert assigns consecutively in file order.

    Raises
    ------
    DataError
        The file cannot be read or a record breaks a rule (found by staging the file again on
        its own, which names the line).
    """
    import duckdb

    try:
        if source.layout == "dbn":
            stage_dbn(con, source, detail, file_id)
            return
        check_last_line(source.path)
        sql = render(
            "staging/file_trades.sql", from_stage=False, **_csv_context(detail), number_rows=False
        )
        con.execute(f"insert into trades {sql}", {"path": str(source.path), "file_id": file_id})
        first, last, rows = con.execute(
            "select min(rowid), max(rowid), count(*) from trades where file_id = $id",
            {"id": file_id},
        ).fetchone()  # type: ignore[misc]
    except duckdb.Error as exc:
        raise _diagnose(source, detail, exc) from exc
    if rows and last - first + 1 != rows:
        raise DataError(
            f"{source.path}: the records did not get consecutive row ids; this is a bug"
        )
    con.execute(
        "update trades set position = rowid - $first where file_id = $id",
        {"first": first, "id": file_id},
    )


def _diagnose(source: SourceFile, detail: Any, exc: Exception) -> DataError:
    """Why a file could not be added: stage it alone in a scratch database and check it."""
    import duckdb

    scratch = duckdb.connect(config={"memory_limit": "1GB"})
    try:
        if source.layout == "dbn":
            stage_dbn(scratch, source, detail)
        else:
            stage_csv(scratch, source, detail)
        check_staged(scratch, source)
    except DataError as problem:
        return problem
    except duckdb.Error:
        pass
    finally:
        scratch.close()
    first_line = error_line(exc)
    return DataError(f"{source.path}: cannot load the file ({first_line})")


def _raw_text(raw: bytes) -> str:
    """A line's bytes as kept in ``rejected_rows``: escaped where not UTF-8, at most 1000."""
    text = raw[:_KEPT].decode("utf-8", "backslashreplace")
    return text + "…" if len(raw) > _KEPT else text


def _overlong_reason(length: int) -> str:
    return f"a line of {length:,} bytes, far longer than any record (junk at the end of the file?)"


def _overlong_last_line(path: Path) -> tuple[int, int, bytes] | None:
    """(line number, length, first bytes) of the file's last line when it is longer than any
    record could be, else None.

    DuckDB's CSV reader drops such a line without an error when it is longer than its read
    buffer (32 MiB), so it is looked for here: one read of the file's tail, and a count of the
    lines only when the last one is over-long.
    """
    size = path.stat().st_size
    if size <= _LONGEST_LINE:
        return None
    with path.open("rb") as handle:
        handle.seek(size - _LONGEST_LINE - 2)
        tail = handle.read()
        end = size - (tail.endswith(b"\n") + tail.endswith(b"\r\n"))
        if b"\n" in tail[: len(tail) - (size - end)]:
            return None
        # The last line starts after the last newline before `end`; count the lines before it.
        handle.seek(0)
        newlines, start, offset = 0, 0, 0
        while offset < end and (chunk := handle.read(min(_READ_CHUNK, end - offset))):
            newlines += chunk.count(b"\n")
            last = chunk.rfind(b"\n")
            if last >= 0:
                start = offset + last + 1
            offset += len(chunk)
        handle.seek(start)
        head = handle.read(min(_KEPT, end - start))
    return newlines + 1, end - start, head


def check_last_line(path: Path) -> None:
    """Refuse a CSV whose last line is far longer than a record (see _overlong_last_line)."""
    overlong = _overlong_last_line(path)
    if overlong is not None:
        line, length, _ = overlong
        raise DataError(
            f"{path}: line {line}: {_overlong_reason(length)}; remove that line and build again"
        )


def _utf8_bad_lines(path: Path) -> set[int]:
    """The 1-based numbers of the lines that are not valid UTF-8."""
    bad: set[int] = set()
    line = 1
    rest = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            chunk = rest + chunk
            cut = chunk.rfind(b"\n") + 1
            block, rest = chunk[:cut], chunk[cut:]
            try:
                block.decode("utf-8")
            except UnicodeDecodeError:
                for offset, raw in enumerate(block.split(b"\n")):
                    try:
                        raw.decode("utf-8")
                    except UnicodeDecodeError:
                        bad.add(line + offset)
            line += block.count(b"\n")
    try:
        rest.decode("utf-8")
    except UnicodeDecodeError:
        bad.add(line)
    return bad


@contextlib.contextmanager
def _utf8_clean_copy(path: Path) -> Iterator[Path]:
    """``path`` itself, or a temporary copy whose non-UTF-8 lines are replaced by ``?``."""
    bad = _utf8_bad_lines(path)
    if not bad:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="vcdwh-") as folder:
        copy = Path(folder) / path.name
        with path.open("rb") as source, copy.open("wb") as target:
            for number, raw in enumerate(source, start=1):
                target.write(b"?\n" if number in bad else raw)
        yield copy


def _add_rejected(con: duckdb.DuckDBPyConnection, rows: list[tuple[int, str, str]]) -> None:
    con.execute(
        f"insert into {_REJECTED} select unnest($lines), unnest($reasons), unnest($raws)",
        {
            "lines": [r[0] for r in rows],
            "reasons": [r[1] for r in rows],
            "raws": [r[2] for r in rows],
        },
    )


def _reset_rejected(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"create or replace temp table {_REJECTED} (line bigint, reason varchar, raw varchar)"
    )


def _reject_unparsed_lines(
    con: duckdb.DuckDBPyConnection, source: SourceFile, layout: CsvLayout, stage: str
) -> None:
    """List the lines DuckDB could not parse; give the parsed records their line positions."""
    import numpy as np
    import pandas as pd

    parsed_not = {
        int(line)
        for (line,) in con.execute("select distinct line from stg_reject_errors").fetchall()
    }
    con.execute("drop table if exists stg_reject_errors")
    con.execute("drop table if exists stg_reject_scans")
    # DuckDB drops an over-long last line without a word: it is a rejected line too.
    overlong = _overlong_last_line(source.path)
    if overlong is not None:
        parsed_not.discard(overlong[0])
    bad = sorted(parsed_not)
    rows = []
    if bad:
        texts = read_lines(source.path, set(bad))
        for line in bad:
            raw = texts.get(line, b"")
            reason = line_problem(raw, layout) or "cannot parse the line"
            rows.append((line, reason, _raw_text(raw)))
    if overlong is not None:
        line, length, head = overlong
        rows.append((line, _overlong_reason(length), _raw_text(head) + "…"))
        bad.append(line)
    if not rows:
        return
    _add_rejected(con, rows)
    # Parsed records are numbered 0, 1, … in file order; give each its real place in the file.
    good = int(con.execute(f"select count(*) from {stage}").fetchall()[0][0])
    positions = np.setdiff1d(
        np.arange(good + len(bad), dtype=np.int64), np.asarray(bad, dtype=np.int64) - 2
    )[:good]
    mapping = pd.DataFrame({"idx": np.arange(len(positions), dtype=np.int64), "pos": positions})
    con.register("stg_positions", mapping)
    try:
        con.execute(
            f"update {stage} set position = stg_positions.pos from stg_positions "
            f"where {stage}.position = stg_positions.idx"
        )
    finally:
        con.unregister("stg_positions")


# --------------------------------------------------------------------------- DBN


def open_dbn(path: Path) -> Any:
    """Open a DBN file with the databento library, as a one-line DataError on failure."""
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes); delete it and fetch again")
    import databento

    try:
        return databento.DBNStore.from_file(path)
    except Exception as exc:
        detail = error_line(exc)
        raise DataError(
            f"{path}: not a readable DBN file ({detail}); delete it and fetch again"
        ) from exc


def check_dbn_complete(path: Path, store: Any) -> None:
    """Refuse a DBN file that was cut short or damaged.

    The ``databento`` library decodes the records of a truncated file up to the cut without a
    word, so the file is checked here: every zstd frame of a ``.dbn.zst`` must be whole (read
    from the frames' and blocks' headers, without decompressing), and the records after the
    metadata of an uncompressed ``.dbn`` must fill whole records (when the file has one
    schema). A ``.dbn.zst`` whose last record is cut short is refused while it is decoded
    (:func:`dbn_batches`).

    Raises
    ------
    DataError
        Naming the file, and saying to download it again.
    """
    problem = _dbn_damage(path, fixed_size=store.schema is not None)
    if problem:
        raise _damaged(path, problem)


def _damaged(path: Path, problem: str) -> DataError:
    return DataError(
        f"{path}: the DBN file is {problem}; delete it and download it again "
        "(vcdwh fetch --refresh)"
    )


def _dbn_damage(path: Path, fixed_size: bool) -> str | None:
    """Why a DBN file is incomplete (``truncated …``/``corrupt …``), or None."""
    size = path.stat().st_size
    with path.open("rb", buffering=0) as handle:
        if handle.read(4) == _ZSTD_MAGIC:
            return _zstd_damage(handle, size)
        handle.seek(0)
        head = handle.read(8)
        if not fixed_size or len(head) < 8 or head[:3] != b"DBN":
            return None
        start = 8 + int.from_bytes(head[4:8], "little")
        handle.seek(start)
        first = handle.read(1)
    record = first[0] * 4 if first else 0
    if record and (size - start) % record:
        return f"truncated (its last record is cut short after {(size - start) % record} bytes)"
    return None


_FRAME_CUT = "truncated (its last zstd frame is cut short)"
_SKIPPABLE_MAGIC = range(0x184D2A50, 0x184D2A60)
_DICTIONARY_ID_BYTES = (0, 1, 2, 4)
_CONTENT_SIZE_BYTES = (0, 2, 4, 8)  # by Frame_Content_Size_flag; 1 byte for a single segment


def _zstd_damage(handle: Any, size: int) -> str | None:
    """Whether the zstd frames of a file of ``size`` bytes are whole, from their headers.

    Each frame's header says how long it is and each block's 3-byte header how many bytes its
    contents take (RFC 8878), so the walk reads a few bytes a block and skips the rest. A frame
    or block that runs past the end of the file is a file cut short. What a block holds is
    checked when it is decompressed.
    """
    offset = 0
    while offset < size:
        handle.seek(offset)
        magic = handle.read(4)
        if len(magic) < 4:
            return _FRAME_CUT
        if int.from_bytes(magic, "little") in _SKIPPABLE_MAGIC:
            length = handle.read(4)
            if len(length) < 4:
                return _FRAME_CUT
            offset += 8 + int.from_bytes(length, "little")
            continue
        if magic != _ZSTD_MAGIC:
            return "corrupt (something other than a zstd frame follows a frame)"
        descriptor = handle.read(1)
        if not descriptor:
            return _FRAME_CUT
        flags = descriptor[0]
        single_segment = bool(flags & 0x20)
        content_size = _CONTENT_SIZE_BYTES[flags >> 6] or int(single_segment)
        header = 1 + (not single_segment) + _DICTIONARY_ID_BYTES[flags & 3] + content_size
        offset += 4 + header
        last = False
        while not last:
            handle.seek(offset)
            block = handle.read(3)
            if len(block) < 3:
                return _FRAME_CUT
            value = int.from_bytes(block, "little")
            last, kind, length = bool(value & 1), (value >> 1) & 3, value >> 3
            if kind == 3:
                return "corrupt (a zstd block of the reserved type)"
            offset += 3 + (1 if kind == 1 else length)
        offset += 4 if flags & 0x04 else 0  # the frame's content checksum
    return _FRAME_CUT if offset > size else None


def dbn_schema(store: Any) -> str:
    """The schema of a DBN store as text (``trades``, ``ohlcv-1m``, …)."""
    schema = store.schema
    return str(getattr(schema, "value", schema)) if schema is not None else "mixed"


def dbn_symbol_map(store: Any) -> list[tuple[int, str, Any, Any]]:
    """(instrument_id, symbol, start_date, end_date) rows from a DBN file's symbology mappings.

    As ``databento`` maps symbols: the input symbol when the output is instrument ids,
    the output symbol when the input was instrument ids.
    """
    metadata = store.metadata
    stype_in = str(getattr(metadata.stype_in, "value", metadata.stype_in))
    stype_out = str(getattr(metadata.stype_out, "value", metadata.stype_out))
    rows = []
    for symbol_in, entries in (metadata.mappings or {}).items():
        for entry in entries:
            symbol_out = entry["symbol"]
            if not symbol_out:
                continue
            if stype_out == "instrument_id" and symbol_out.isdigit():
                instrument_id, symbol = int(symbol_out), symbol_in
            elif stype_in == "instrument_id" and str(symbol_in).isdigit():
                instrument_id, symbol = int(symbol_in), symbol_out
            else:
                continue
            rows.append((instrument_id, symbol, entry["start_date"], entry["end_date"]))
    return rows


def _dbn_chunks(store: Any, path: Path) -> Iterator[Any]:
    """The file's records as numpy structured arrays, a chunk at a time.

    Raises
    ------
    DataError
        The records do not decode (a damaged zstd block: the file is corrupt), or the last
        one is cut short (which ``databento`` only warns of, dropping it).
    """
    import zstandard

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = store.to_ndarray(count=DBN_CHUNK_ROWS)
        while True:
            try:
                chunk = next(chunks, None)
            except zstandard.ZstdError as exc:
                raise _damaged(path, f"corrupt ({error_line(exc)})") from exc
            except Exception as exc:
                detail = error_line(exc)
                raise DataError(f"{path}: cannot decode the DBN records ({detail})") from exc
            if any("incomplete record" in str(warning.message) for warning in caught):
                raise _damaged(path, "truncated (its last record is cut short)")
            if chunk is None:
                return
            caught.clear()
            yield chunk


def _arrow_chunk(records: Any, columns: tuple[str, ...], offset: int) -> Any:
    """An Arrow table of one chunk: numeric fields as they are, A/B/N codes as text."""
    import numpy as np
    import pyarrow as pa

    arrays = {}
    for name in columns:
        field = records[name]
        if field.dtype.kind == "S":
            codes = np.ascontiguousarray(field).view(np.uint8)
            arrays[name] = pa.array(codes)
        else:
            arrays[name] = pa.array(np.ascontiguousarray(field))
    arrays["position"] = pa.array(np.arange(offset, offset + len(records), dtype=np.int64))
    return pa.table(arrays)


def stage_dbn(
    con: duckdb.DuckDBPyConnection, source: SourceFile, store: Any, file_id: int | None = None
) -> None:
    """Decode a DBN file (trades or ohlcv-1m) into the temporary staging table for its schema.

    Records go from ``DBNStore.to_ndarray`` chunks to Arrow to DuckDB without a pandas step;
    symbols come from the file's symbology mappings, joined per instrument and date. With
    ``file_id`` (trades only) the records go straight into ``trades`` instead
    (``sql/staging/file_trades.sql``).
    """
    import duckdb
    import pandas as pd

    schema = source.schema
    stage = "stg_trades" if schema == TRADES else "stg_ohlcv_1m"
    columns = TRADES_COLUMNS if schema == TRADES else OHLCV_COLUMNS
    _reset_rejected(con)
    ts = "ts_recv" if schema == TRADES else "ts_event"
    symbols = pd.DataFrame(
        dbn_symbol_map(store), columns=["instrument_id", "symbol", "start_date", "end_date"]
    ).astype({"instrument_id": "int64", "symbol": "str"})
    symbols["start_date"] = pd.to_datetime(symbols["start_date"])
    symbols["end_date"] = pd.to_datetime(symbols["end_date"])
    con.register("dbn_symbols", symbols)
    codes = [c for c in ("action", "side") if c in columns]
    replace = ", ".join(f"chr(chunk.{c}) as {c}" for c in codes)
    rows = (
        f"select chunk.* {f'replace ({replace})' if replace else ''}, named.symbol "
        "from dbn_chunk as chunk left join dbn_symbols as named "
        "on named.instrument_id = chunk.instrument_id "
        f"and make_timestamp_ns(chunk.{ts}::bigint) >= named.start_date "
        f"and make_timestamp_ns(chunk.{ts}::bigint) < named.end_date"
    )
    context = {
        "source": "relation",
        "relation": "dbn_rows",
        "columns": [],
        "ts_kind": "ns",
        "px_kind": "fixed",
        "has_symbol": True,
    }
    if file_id is None:
        statement = (
            f"create or replace temp table {stage} as {render(f'staging/{stage}.sql', **context)}"
        )
    else:
        statement = (
            f"insert into trades {render('staging/file_trades.sql', from_stage=False, **context)}"
        )
    import pyarrow as pa

    batches = dbn_batches(store, source.path, columns)
    first = next(batches, None)
    if first is None:
        con.unregister("dbn_symbols")
        raise DataError(
            f"{source.path}: the DBN file holds no records; the market may have been closed"
        )
    failure: list[BaseException] = []
    stream = _kept_failure(itertools.chain([first], batches), failure)
    con.register("dbn_chunk", pa.RecordBatchReader.from_batches(first.schema, stream))
    try:
        # One statement reads the whole stream, a chunk at a time.
        con.execute(f"create or replace temp view dbn_rows as {rows}")
        with _stream_probes(con):
            con.execute(statement, {} if file_id is None else {"file_id": file_id})
        con.execute("drop view if exists dbn_rows")
    except Exception as exc:
        # The statement's transaction may be aborted, which refuses the clean-up too.
        with contextlib.suppress(duckdb.Error):
            _unregister_dbn(con)
        # An error raised while decoding reaches DuckDB as text: raise the error itself.
        if failure:
            raise failure[0] from exc
        raise
    _unregister_dbn(con)


def _unregister_dbn(con: duckdb.DuckDBPyConnection) -> None:
    con.unregister("dbn_chunk")
    con.unregister("dbn_symbols")


def _kept_failure(batches: Iterator[Any], failure: list[BaseException]) -> Iterator[Any]:
    """The batches, keeping in ``failure`` the exception that ends them early, if any."""
    try:
        yield from batches
    except BaseException as exc:
        failure.append(exc)
        raise


@contextlib.contextmanager
def _stream_probes(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Keep the decoded records on the probe side of the symbol join.

    DuckDB cannot count the rows of a stream, so it guesses one row and would build the join's
    hash table from the records (all of them in memory) instead of from the few symbol
    mappings. The optimizer that swaps the sides is left out for the statement.
    """
    import duckdb

    [(disabled,)] = con.execute("select current_setting('disabled_optimizers')").fetchall()
    kept = [name for name in str(disabled or "").split(",") if name.strip()]
    assign = "set disabled_optimizers = $names"
    before = {"names": ",".join(kept)}
    con.execute(assign, {"names": ",".join([*kept, "build_side_probe_side"])})
    try:
        yield
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # refused when the statement aborted
            con.execute(assign, before)
        raise
    con.execute(assign, before)


def dbn_batches(store: Any, path: Path, columns: tuple[str, ...]) -> Iterator[Any]:
    """The file's records as Arrow record batches (see :func:`_arrow_chunk`)."""
    offset = 0
    for records in _dbn_chunks(store, path):
        batch = _arrow_chunk(records, columns, offset).to_batches()[0]
        offset += len(records)
        yield batch


# --------------------------------------------------------------------------- checks


def check_staged(
    con: duckdb.DuckDBPyConnection, source: SourceFile, on_bad_rows: str = "error"
) -> int:
    """Apply the record rules to the staged file; return its (good) row count.

    With ``on_bad_rows="skip"`` the records that break a rule are removed from the stage and
    added to ``stg_rejected``; the file fails only when no good record is left.

    Raises
    ------
    DataError
        Naming the first offending line (CSV) or record (DBN).
    """
    stage = "stg_trades" if source.schema == TRADES else "stg_ohlcv_1m"
    if on_bad_rows == "skip":
        _reject_broken_records(con, source, stage)
    rows = con.execute(f"select count(*) from {stage}").fetchone()[0]  # type: ignore[index]
    if rows == 0:
        first = None
        if on_bad_rows == "skip":
            first = con.execute(
                f"select line, reason from {_REJECTED} order by line limit 1"
            ).fetchone()
        if first is not None:
            raise DataError(
                f"{source.path}: every record is bad (first: {_where(source, first[0])}: "
                f"{first[1]}); fix the file and build again"
            )
        raise DataError(
            f"{source.path}: no records after the header; the market may have been closed"
        )
    # A symbol's control characters are looked for on their own first: a quick scan, that
    # lets the rules leave out the slowest of them for the usual file with clean symbols.
    control = con.execute(render("staging/stg_control_symbols.sql", stage=stage)).fetchall()
    rules = render(f"staging/{stage}_problems.sql", all_rows=False, clean_symbols=not control)
    problem = con.execute(rules).fetchall()
    if problem:
        position, reason = problem[0]
        if _is_csv(source):
            line = position + 2
            text = read_lines(source.path, {line}).get(line, b"")
            reason = _line_reason(source, text, reason)
            where = f"line {line}"
        else:
            where = f"record {position + 1}"
        raise DataError(f"{source.path}: {where}: {reason}; fix or remove it and build again")
    return int(rows)


def _is_csv(source: SourceFile) -> bool:
    return source.layout in ("pretty", "raw")


def _line_reason(source: SourceFile, text: bytes, reason: str) -> str:
    """Why a CSV line was refused: what its text shows (field and value), else ``reason``."""
    return line_problem(text, detect_layout(source.path)) or reason


def _where(source: SourceFile, line: int) -> str:
    return f"record {line - 1}" if source.layout == "dbn" else f"line {line}"


def _reject_broken_records(con: duckdb.DuckDBPyConnection, source: SourceFile, stage: str) -> None:
    """Move every staged record that breaks a rule to ``stg_rejected``."""
    problems = con.execute(render(f"staging/{stage}_problems.sql", all_rows=True)).fetchall()
    if not problems:
        return
    # A CSV record at position p is on line p + 2 (after the header); a DBN one is record p + 1.
    offset = 1 if source.layout == "dbn" else 2
    reasons = {int(position): reason for position, reason in problems}
    positions = sorted(reasons)
    if source.layout == "dbn":
        texts = {
            int(position): ",".join("" if v is None else str(v) for v in values)
            for position, *values in con.execute(
                f"select position, * exclude (position) from {stage} "
                "where position in (select unnest($positions))",
                {"positions": positions},
            ).fetchall()
        }
    else:
        lines = read_lines(source.path, {p + offset for p in positions})
        layout = detect_layout(source.path)
        for p in positions:
            reasons[p] = line_problem(lines.get(p + offset, b""), layout) or reasons[p]
        texts = {p: _raw_text(lines.get(p + offset, b"")) for p in positions}
    _add_rejected(con, [(p + offset, reasons[p], texts.get(p, "")) for p in positions])
    con.execute(
        f"delete from {stage} where position in (select unnest($positions))",
        {"positions": positions},
    )


def rejected_count(con: duckdb.DuckDBPyConnection) -> int:
    """How many records of the staged file were rejected (``on_bad_rows="skip"``)."""
    exists = con.execute(
        "select count(*) from duckdb_tables() where table_name = $name and temporary",
        {"name": _REJECTED},
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    return int(con.execute(f"select count(*) from {_REJECTED}").fetchone()[0])  # type: ignore[index]
