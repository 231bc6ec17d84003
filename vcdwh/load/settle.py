"""Settle a file's records in the warehouse.

A trades file's records are in ``trades`` (or staged): they are checked, given their occurrence so
identical records stay separate trades, compared with what earlier versions of the same path
loaded (a rewritten file must still hold it) and with the trades already held (conflicts), given
their symbol (symbology), and the records already held are removed so none is added twice. An
ohlcv-1m file's bars are compared the same ways (its path's earlier versions; held bars of the
same minute) before its new bars are added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vcdwh.datafiles import (
    SourceFile,
    earlier_versions,
    forget_files,
    next_file_id,
    record_loaded_file,
)
from vcdwh.errors import DataError
from vcdwh.load.stage import TRADE_IDENTITY, TRADES, check_staged, rejected_count
from vcdwh.warehouse.pieces import fill_by_ranges, midnight, sized_ranges
from vcdwh.warehouse.sqlrender import identifier, render

if TYPE_CHECKING:
    import duckdb


@dataclass
class FileResult:
    """What happened to one file."""

    path: Path
    status: str  # "loaded" or "skipped"
    schema: str = ""
    layout: str = ""
    rows: int = 0
    rows_added: int = 0
    reason: str = ""
    rows_rejected: int = 0
    rows_replaced: int = 0
    rows_backfilled: int = 0
    rows_superseded: int = 0  # records of the file's earlier version removed (--replace)


def add_staged(
    con: duckdb.DuckDBPyConnection,
    source: SourceFile,
    on_bad_rows: str = "error",
    replace: bool = False,
) -> FileResult:
    """Check the staged file, add its new records and record it in ``loaded_files``.

    Trades are checked in the stage (``stg_trades``, where ``--on-bad-rows skip`` removes the
    bad ones), added to ``trades`` and then handled as :func:`add_landed` does.
    """
    rows = check_staged(con, source, on_bad_rows)
    if source.schema == TRADES:
        file_id = next_file_id(con)
        con.execute(
            f"insert into trades {render('staging/file_trades.sql', from_stage=True)}",
            {"file_id": file_id},
        )
        con.execute("drop table stg_trades")
        return add_landed(con, source, file_id, on_bad_rows, replace, checked_rows=rows)
    file_id = next_file_id(con)
    earlier = earlier_versions(con, source.path, source.schema)
    superseded = _supersede_ohlcv(con, source, earlier, replace) if earlier else 0
    replaced = _settle_ohlcv_conflicts(con, source, replace)
    file_symbol = source.file_symbol if _instrument_count(con, "stg_ohlcv_1m") == 1 else None
    new = render("staging/new_ohlcv_1m.sql")
    inserted = con.execute(
        f"insert into ohlcv_1m {new}", {"file_id": file_id, "file_symbol": file_symbol}
    ).fetchone()
    added = int(inserted[0]) if inserted else 0
    backfilled = _record_symbology(con, "stg_ohlcv_1m", "ts_event")
    con.execute("drop table if exists stg_ohlcv_1m")
    return _record_file(
        con,
        source,
        file_id,
        rows,
        added,
        on_bad_rows,
        replaced=replaced,
        backfilled=backfilled,
        superseded=superseded,
    )


def add_landed(
    con: duckdb.DuckDBPyConnection,
    source: SourceFile,
    file_id: int,
    on_bad_rows: str = "error",
    replace: bool = False,
    checked_rows: int | None = None,
) -> FileResult:
    """Settle a trades file whose records were just added to ``trades`` under ``file_id``.

    ``stg_trades`` becomes a view of those rows. They are checked (count and record rules)
    unless ``checked_rows`` says they were checked in the stage already, given their
    occurrence (``stg_trades_repeats``, in pieces of at most a day), compared with the trades
    loaded from earlier versions of the file's path (a file that lost some stops the build
    unless ``replace``) and with the trades already held (a conflict stops the build unless
    ``replace``), given their symbol (the file name for a single-instrument file without
    symbols, else any load that names it); the records the warehouse already held are removed
    (``stg_trades_held``) and the file is recorded in ``loaded_files``.
    """
    con.execute(
        "create or replace temp view stg_trades as"
        f" select *, null::varchar as unreadable from trades where file_id = {int(file_id)}"
    )
    rows = check_staged(con, source) if checked_rows is None else checked_rows
    repeats = render("staging/stg_trades_repeats.sql", identity=TRADE_IDENTITY, bounded=True)
    days = con.execute("select distinct ts_recv::date from stg_trades order by 1").fetchall()
    whole_days = [(midnight(day), midnight(day) + timedelta(days=1)) for (day,) in days]
    ranges = sized_ranges(con, "stg_trades", whole_days, step_seconds=1)
    pieces = [{"from_ts": start, "to_ts": end} for start, end in ranges]
    fill_by_ranges(con, "stg_trades_repeats", repeats, pieces)
    con.execute(
        "update trades set occurrence = repeats.occurrence from stg_trades_repeats as repeats"
        " where trades.file_id = $id and trades.position = repeats.position",
        {"id": file_id},
    )
    con.execute("drop table stg_trades_repeats")
    earlier = earlier_versions(con, source.path, source.schema)
    superseded = _supersede_trades(con, source, earlier, replace) if earlier else 0
    overlap = _holds_trades_between(con, "stg_trades", file_id)
    replaced = resolve_conflicts(con, source, replace, file_id) if overlap else 0
    # Symbols from every record of the file, including those already held.
    file_symbol = source.file_symbol if _instrument_count(con, "stg_trades") == 1 else None
    backfilled = _record_symbology(con, "stg_trades", "ts_recv", file_id, file_symbol)
    added = rows
    if overlap:
        held = render("staging/stg_trades_held.sql", identity=TRADE_IDENTITY)
        deleted = con.execute(
            f"delete from trades where file_id = $id and position in ({held})",
            {"file_id": file_id, "id": file_id},
        ).fetchone()
        added -= int(deleted[0]) if deleted else 0
    con.execute("drop view stg_trades")
    return _record_file(
        con,
        source,
        file_id,
        rows,
        added,
        on_bad_rows,
        replaced=replaced,
        backfilled=backfilled,
        superseded=superseded,
    )


def _instrument_count(con: duckdb.DuckDBPyConnection, stage: str) -> int:
    row = con.execute(f"select count(distinct instrument_id) from {identifier(stage)}").fetchone()
    return int(row[0]) if row else 0


def _record_file(
    con: duckdb.DuckDBPyConnection,
    source: SourceFile,
    file_id: int,
    rows: int,
    added: int,
    on_bad_rows: str,
    replaced: int = 0,
    backfilled: int = 0,
    superseded: int = 0,
) -> FileResult:
    """Add the file to ``loaded_files`` (and its rejected lines to ``rejected_rows``)."""
    record_loaded_file(con, source, file_id, rows, added)
    rejected = rejected_count(con) if on_bad_rows == "skip" else 0
    if rejected:
        con.execute(
            "insert into rejected_rows select $file_id, $path, line, reason, raw, "
            "now()::timestamp from stg_rejected order by line",
            {"file_id": file_id, "path": str(source.path)},
        )
    return FileResult(
        source.path,
        "loaded",
        source.schema,
        source.layout,
        rows,
        added,
        rows_rejected=rejected,
        rows_replaced=replaced,
        rows_backfilled=backfilled,
        rows_superseded=superseded,
    )


def resolve_conflicts(
    con: duckdb.DuckDBPyConnection, source: SourceFile, replace: bool, file_id: int
) -> int:
    """Stop at the file's trades that contradict held ones, or (``replace``) drop the held ones.

    The file's records are ``stg_trades`` (its rows of ``trades``, ``file_id``); held trades
    are those of earlier files, and the caller found some within the file's time range.

    With ``replace`` the held trades of the file's instruments within its time range are
    deleted, so the file's records take their place. Returns how many were deleted.

    Raises
    ------
    DataError
        Naming the file, the first conflicting record and both versions of it.
    """
    conflict = con.execute(
        render("staging/stg_trades_conflicts.sql", identity=TRADE_IDENTITY), {"file_id": file_id}
    ).fetchone()
    if conflict is None:
        return 0
    if replace:
        replaced = con.execute(
            "delete from trades using"
            f" ({render('staging/stg_trades_replaced.sql')}) as replaced"
            " where trades.file_id = replaced.file_id and trades.position = replaced.position",
            {"file_id": file_id},
        ).fetchone()
        return int(replaced[0]) if replaced else 0
    position, instrument, ts_recv, sequence, side, size, price = conflict[:7]
    held_side, held_size, held_price, held_file_id = conflict[7:]
    held_path = con.execute(
        "select path from loaded_files where file_id = $id", {"id": held_file_id}
    ).fetchone()
    where = f"line {position + 2}" if source.layout != "dbn" else f"record {position + 1}"
    raise DataError(
        f"{source.path}: {where}: conflicts with a trade already loaded from "
        f"{held_path[0] if held_path else 'an earlier file'}: instrument {instrument} at "
        f"{ts_recv} sequence {sequence} is {side} {size} @ {_price(price)} here but "
        f"{held_side} {held_size} @ {_price(held_price)} there; if this file is the corrected "
        "one, build again with --replace, otherwise remove it"
    )


def _supersede_trades(
    con: duckdb.DuckDBPyConnection, source: SourceFile, earlier: list[int], replace: bool
) -> int:
    """Refuse a file whose path was loaded before and which no longer holds the trades loaded
    from it, or (``replace``) delete those earlier versions' trades and forget them.

    A re-download that only adds records misses none and loads as any file does. Returns how
    many trades were deleted.

    Raises
    ------
    DataError
        Naming the file, how many of its earlier trades are missing, the first one and the ways
        out.
    """
    found = con.execute(
        render("staging/stg_trades_missing.sql", identity=TRADE_IDENTITY), {"earlier": earlier}
    ).fetchall()
    held, missing, instrument, ts_recv, sequence, side, size, price = found[0]
    if not missing:
        return 0
    if not replace:
        raise DataError(
            f"{source.path}: loaded before with other contents: {missing:,} of the {held:,} "
            f"trades loaded from it are not in it now (the first: instrument {instrument} at "
            f"{ts_recv} sequence {sequence}, {side} {size} @ {_price(price)}); "
            + _WAYS_OUT.format(records="trades")
        )
    _refuse_if_shared_later(con, source, earlier, "trades")
    return _forget(con, "trades", earlier)


def _supersede_ohlcv(
    con: duckdb.DuckDBPyConnection, source: SourceFile, earlier: list[int], replace: bool
) -> int:
    """As :func:`_supersede_trades`, for an ohlcv-1m file (staged in ``stg_ohlcv_1m``): refuse
    it when a bar loaded from its path is absent or other now, or (``replace``) delete those
    earlier versions' bars. Returns how many bars were deleted."""
    found = con.execute(render("staging/stg_ohlcv_1m_missing.sql"), {"earlier": earlier}).fetchall()
    held, missing, instrument, ts_event = found[0][:4]
    then, now, still_there = found[0][4:9], found[0][9:14], found[0][14]
    if not missing:
        return 0
    if not replace:
        if still_there:
            field, before, after = next(
                (name, b, a) for name, b, a in zip(_BAR_FIELDS, then, now, strict=True) if a != b
            )
            how = f"{field} {_price(before)} then, {_price(after)} now"
        else:
            how = "absent now"
        raise DataError(
            f"{source.path}: loaded before with other contents: {missing:,} of the {held:,} "
            "ohlcv-1m bars loaded from it are absent or differ now (the first: instrument "
            f"{instrument} at {ts_event}: {how}); " + _WAYS_OUT.format(records="bars")
        )
    _refuse_if_shared_later(con, source, earlier, "bars")
    return _forget(con, "ohlcv_1m", earlier)


def _refuse_if_shared_later(
    con: duckdb.DuckDBPyConnection, source: SourceFile, earlier: list[int], records: str
) -> None:
    """Stop a replacement that could drop records a file loaded later also holds.

    A record held by several files is stored once, under the first file that brought it; a
    file loaded after an earlier version whose records were partly held already (``rows_added <
    rows``) may share records with it, and deleting that version's records would lose them.

    Raises
    ------
    DataError
        Naming the later file and the exact way out (a fresh build from the files).
    """
    later = con.execute(
        "select path, rows - rows_added from loaded_files where schema = $schema"
        " and file_id > $first and rows_added < rows and not list_contains($earlier, file_id)"
        " order by file_id limit 1",
        {"schema": source.schema, "first": min(earlier), "earlier": earlier},
    ).fetchall()
    if later:
        path, shared = later[0]
        raise DataError(
            f"{source.path}: --replace would delete {records} that {path}, loaded after it, may "
            f"also hold ({shared:,} of its records were held already when it loaded, and each is "
            "stored once); build a fresh warehouse from the files instead: move the warehouse "
            "aside and run `vcdwh build`"
        )


_WAYS_OUT = (
    "if this file is the corrected one, build again with --replace to swap the old version's "
    "{records} for this file's; if it holds other data, give it another name"
)
_BAR_FIELDS = ("open", "high", "low", "close", "volume")


def _forget(con: duckdb.DuckDBPyConnection, table: str, file_ids: list[int]) -> int:
    """Delete the records of ``file_ids`` from ``table`` and the files from the ledger."""
    deleted = con.execute(
        f"delete from {identifier(table)} where list_contains($ids, file_id)", {"ids": file_ids}
    ).fetchall()
    forget_files(con, file_ids)
    return int(deleted[0][0]) if deleted else 0


def _settle_ohlcv_conflicts(
    con: duckdb.DuckDBPyConnection, source: SourceFile, replace: bool
) -> int:
    """Stop at the staged bars that differ from bars already held for the same minute, or
    (``replace``) delete those held bars so the file's take their place. Returns how many were
    deleted.

    Raises
    ------
    DataError
        Naming the file, the line, the instrument, the minute, the field and both values.
    """
    conflicts = render("staging/stg_ohlcv_1m_conflicts.sql")
    if replace:
        deleted = con.execute(
            f"delete from ohlcv_1m using ({conflicts}) as differing"
            " where ohlcv_1m.instrument_id = differing.instrument_id"
            " and ohlcv_1m.ts_event = differing.ts_event and ohlcv_1m.rtype = differing.rtype"
            " and ohlcv_1m.file_id = differing.held_file_id"
        ).fetchall()
        return int(deleted[0][0]) if deleted else 0
    found = con.execute(f"select *, count(*) over () as differing from ({conflicts}) limit 1")
    rows = found.fetchall()
    if not rows:
        return 0
    position, instrument, ts_event, rtype, field = rows[0][:5]
    here = dict(zip(_BAR_FIELDS, rows[0][5:10], strict=True))
    there = dict(zip(_BAR_FIELDS, rows[0][10:15], strict=True))
    held_file_id, differing = rows[0][15], rows[0][16]
    held_path = con.execute(
        "select path from loaded_files where file_id = $id", {"id": held_file_id}
    ).fetchall()
    where = f"line {position + 2}" if source.layout != "dbn" else f"record {position + 1}"
    more = f" ({differing - 1:,} more bar(s) differ)" if differing > 1 else ""
    raise DataError(
        f"{source.path}: {where}: the 1-minute bar of instrument {instrument} at {ts_event} "
        f"(rtype {rtype}) differs from the one already loaded from "
        f"{held_path[0][0] if held_path else 'an earlier file'}: {field} "
        f"{_price(here[field])} here but {_price(there[field])} there{more}; if this file is "
        "the corrected one, build again with --replace, otherwise remove it"
    )


def _price(value: Any) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _holds_trades_between(con: duckdb.DuckDBPyConnection, stage: str, file_id: int) -> bool:
    """True when earlier files' trades lie inside the time range of ``stage`` (file ``file_id``)."""
    row = con.execute(
        render("staging/stg_trades_overlap.sql", stage=identifier(stage)), {"file_id": file_id}
    ).fetchone()
    return bool(row and row[0])


def _record_symbology(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    ts_column: str,
    file_id: int | None = None,
    file_symbol: str | None = None,
) -> int:
    """Remember which symbol each instrument carried in a file that names symbols.

    For a trades file (``file_id``: its rows are already in ``trades``, those without a symbol
    carrying their instrument_id) the rows without a symbol take ``file_symbol`` (the file
    name's, for a single-instrument file), else the symbol learned from any load. Returns how
    many trades of earlier files learned their symbol (their bars change).
    """
    learned = render("intermediate/int_learned_symbols.sql")
    known = {i for (i,) in con.execute(f"select instrument_id from ({learned})").fetchall()}
    named = render("staging/stg_symbology.sql", stage=identifier(stage), ts=identifier(ts_column))
    con.execute(f"insert into symbology by name {named}")
    if file_id is not None and file_symbol is not None:
        con.execute(
            "update trades set symbol = $symbol"
            " where file_id = $id and symbol = instrument_id::varchar",
            {"symbol": file_symbol, "id": file_id},
        )
    # Earlier rows without a symbol took it when they were loaded, if any load had named their
    # instrument: only an instrument named for the first time now can teach them one.
    first_named = sorted(
        {i for (i,) in con.execute(f"select instrument_id from ({learned})").fetchall()} - known
    )

    # Rows without a symbol (raw CSV) learn it from any file that names it.
    def learn(table: str, which: str = "") -> int:
        updated = con.execute(
            f"update {table} set symbol = named.symbol from ({learned}) as named"
            f" where {table}.instrument_id = named.instrument_id"
            f" and {table}.symbol = {table}.instrument_id::varchar{which}"
        ).fetchone()
        return int(updated[0]) if updated else 0

    earlier = f" and trades.instrument_id in ({', '.join(str(int(i)) for i in first_named)})"
    if file_id is None:
        backfilled = learn("trades", earlier) if first_named else 0
    else:
        learn("trades", f" and trades.file_id = {int(file_id)}")  # the file's own: not counted
        backfilled = (
            learn("trades", f" and trades.file_id <> {int(file_id)}{earlier}") if first_named else 0
        )
    learn("ohlcv_1m")
    return backfilled
