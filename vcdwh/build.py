"""``vcdwh build``: load new Databento files and (re)build the order-flow bars.

One build is one transaction: every new file is added and validated (a trades file goes
straight into ``trades`` and is settled there: checked, its repeated records numbered so
identical records stay separate trades, and the records already held removed so none is added
twice), then the session calendar and every bars relation are rebuilt and their contracts
checked. Any failure rolls everything back, so the warehouse is exactly as it was before the
command.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vcdwh.config import Settings
from vcdwh.errors import BuildError, ConfigError, DataError, VcdwhError, error_line
from vcdwh.instruments import SPECS
from vcdwh.load.definitions import DEFINITION, load_definitions
from vcdwh.load.stage import (
    BAD_ROW_POLICIES,
    OHLCV_1M,
    TRADE_IDENTITY,
    TRADES,
    SourceFile,
    check_staged,
    content_hash,
    dbn_schema,
    detect_layout,
    is_dbn,
    land_trades,
    open_dbn,
    record_loaded_file,
    rejected_count,
    seed_symbol,
    stage_csv,
    stage_dbn,
)
from vcdwh.marts.frequency import DEFAULT_FREQUENCIES, Frequency, parse_frequency
from vcdwh.marts.orderflow import FlowOptions, FlowOverrides, store_options, stored_options
from vcdwh.warehouse.catalog import publish as publish_catalog
from vcdwh.warehouse.db import (
    DEFAULT_LOCK_TIMEOUT,
    ensure_tables,
    relation_exists,
    write_session,
)
from vcdwh.warehouse.schema import check_relation, contract_for, load_contracts
from vcdwh.warehouse.sqlrender import identifier, render

if TYPE_CHECKING:
    import duckdb

LOADABLE_SCHEMAS = (TRADES, OHLCV_1M, DEFINITION)
_EPOCH = datetime(1970, 1, 1)
# Rows one statement of the grain and repeat passes aggregates at most (about).
RANGE_ROWS = 1_000_000


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


@dataclass
class BuildReport:
    """Summary of one build."""

    db_path: Path
    files: list[FileResult] = field(default_factory=list)
    bar_relations: list[str] = field(default_factory=list)
    trades: int = 0
    ohlcv_bars: int = 0
    instruments: list[str] = field(default_factory=list)
    first_ts: str | None = None
    last_ts: str | None = None
    seconds: float = 0.0
    options: FlowOptions = field(default_factory=FlowOptions)
    bars_mode: str = "full"

    @property
    def loaded(self) -> list[FileResult]:
        """Files loaded by this build."""
        return [f for f in self.files if f.status == "loaded"]

    @property
    def skipped(self) -> list[FileResult]:
        """Files skipped by this build (already loaded, or not a loadable schema)."""
        return [f for f in self.files if f.status == "skipped"]


def discover(data_dir: Path) -> list[Path]:
    """Data files in ``data_dir`` (not recursive): seed-named CSVs and DBN files."""
    if not data_dir.is_dir():
        return []
    found = [
        p
        for p in data_dir.iterdir()
        if p.is_file()
        and (
            (p.suffix.lower() == ".csv" and p.name.startswith(("trades_", "ohlcv_1m_")))
            or is_dbn(p)
        )
    ]
    return sorted(found)


def _resolve_files(settings: Settings, files: Sequence[str | Path]) -> list[Path]:
    paths: list[Path] = []
    for item in files:
        path = Path(item)
        if ".." in path.parts:
            raise DataError(f"{item}: refusing a path with '..'; give the file's real location")
        if not path.is_file():
            raise DataError(f"{item}: no such file")
        paths.append(path)
    paths.extend(discover(settings.data_dir))
    unique: dict[Path, Path] = {}
    for path in paths:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def _identify(path: Path, hashed: bool = True) -> tuple[SourceFile, Any]:
    """Hash (unless ``hashed`` is False) and inspect one file.

    Returns it with its CSV layout or open DBN store.
    """
    digest = content_hash(path) if hashed else ""
    stat = path.stat()
    if is_dbn(path):
        store = open_dbn(path)
        source = SourceFile(
            path, digest, stat.st_size, dbn_schema(store), "dbn", None, stat.st_mtime_ns
        )
        return source, store
    layout = detect_layout(path)
    source = SourceFile(
        path, digest, stat.st_size, layout.schema, layout.name, seed_symbol(path), stat.st_mtime_ns
    )
    return source, layout


def _next_file_id(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("select coalesce(max(file_id), 0) + 1 from loaded_files").fetchone()[0])  # type: ignore[index]


def _load_file(
    con: duckdb.DuckDBPyConnection,
    source: SourceFile,
    detail: Any,
    on_bad_rows: str = "error",
    replace: bool = False,
    pending_hash: Future[str] | None = None,
) -> FileResult:
    """Load one file; ``pending_hash``: its content hash, still being computed meanwhile."""

    def hashed(source: SourceFile) -> SourceFile:
        if pending_hash is None:
            return source
        return dataclasses.replace(source, content_hash=pending_hash.result())

    if source.schema == DEFINITION:
        rows, added = load_definitions(con, hashed(source), detail)
        return FileResult(source.path, "loaded", source.schema, source.layout, rows, added)
    if source.schema == TRADES and on_bad_rows == "error":
        # The records go straight into `trades`; a bad file fails the build (rolled back).
        file_id = _next_file_id(con)
        land_trades(con, source, detail, file_id)
        return add_landed(con, hashed(source), file_id, on_bad_rows, replace)
    source = hashed(source)
    if source.layout == "dbn":
        stage_dbn(con, source, detail)
    else:
        stage_csv(con, source, detail, on_bad_rows)
    return add_staged(con, source, on_bad_rows, replace)


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
        file_id = _next_file_id(con)
        con.execute(
            f"insert into trades {render('staging/file_trades.sql', from_stage=True)}",
            {"file_id": file_id},
        )
        con.execute("drop table stg_trades")
        return add_landed(con, source, file_id, on_bad_rows, replace, checked_rows=rows)
    file_id = _next_file_id(con)
    file_symbol = source.file_symbol if _instrument_count(con, "stg_ohlcv_1m") == 1 else None
    new = render("staging/new_ohlcv_1m.sql")
    inserted = con.execute(
        f"insert into ohlcv_1m {new}", {"file_id": file_id, "file_symbol": file_symbol}
    ).fetchone()
    added = int(inserted[0]) if inserted else 0
    backfilled = _record_symbology(con, "stg_ohlcv_1m", "ts_event")
    con.execute("drop table if exists stg_ohlcv_1m")
    return _record_file(con, source, file_id, rows, added, on_bad_rows, backfilled=backfilled)


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
    unless ``checked_rows`` says they were checked in the stage already, compared with the
    trades already held (a conflict stops the build unless ``replace``), given their
    occurrence (``stg_trades_repeats``, in pieces of at most a day) and their symbol (the file
    name for a single-instrument file without symbols, else any load that names it); the
    records the warehouse already held are removed (``stg_trades_held``) and the file is
    recorded in ``loaded_files``.
    """
    con.execute(
        "create or replace temp view stg_trades as"
        f" select * from trades where file_id = {int(file_id)}"
    )
    rows = check_staged(con, source) if checked_rows is None else checked_rows
    overlap = _holds_trades_between(con, "stg_trades", file_id)
    replaced = resolve_conflicts(con, source, replace, file_id) if overlap else 0
    repeats = render("staging/stg_trades_repeats.sql", identity=TRADE_IDENTITY, bounded=True)
    days = con.execute("select distinct ts_recv::date from stg_trades order by 1").fetchall()
    whole_days = [(_midnight(day), _midnight(day) + timedelta(days=1)) for (day,) in days]
    ranges = _sized_ranges(con, "stg_trades", whole_days, step_seconds=1)
    pieces = [{"from_ts": start, "to_ts": end} for start, end in ranges]
    _fill_by_ranges(con, "stg_trades_repeats", repeats, pieces)
    con.execute(
        "update trades set occurrence = repeats.occurrence from stg_trades_repeats as repeats"
        " where trades.file_id = $id and trades.position = repeats.position",
        {"id": file_id},
    )
    con.execute("drop table stg_trades_repeats")
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
        con, source, file_id, rows, added, on_bad_rows, replaced=replaced, backfilled=backfilled
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
        return int(
            con.execute(
                """
                delete from trades
                where file_id < $file_id
                  and instrument_id in (select instrument_id from stg_trades)
                  and ts_recv between (select min(ts_recv) from stg_trades)
                                  and (select max(ts_recv) from stg_trades)
                """,
                {"file_id": file_id},
            ).fetchone()[0]  # type: ignore[index]
        )
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


def _price(value: Any) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _holds_trades_between(con: duckdb.DuckDBPyConnection, stage: str, file_id: int) -> bool:
    """True when earlier files' trades lie inside the time range of ``stage`` (file ``file_id``)."""
    row = con.execute(
        f"""
        select exists (
            select 1 from trades
            where file_id < $file_id
              and ts_recv between (select min(ts_recv) from {identifier(stage)})
                              and (select max(ts_recv) from {identifier(stage)})
        )
        """,
        {"file_id": file_id},
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
    ts = identifier(ts_column)
    con.execute(
        f"""
        insert into symbology
        select instrument_id, symbol, min({ts}), max({ts})
        from {identifier(stage)}
        where symbol is not null and symbol <> instrument_id::varchar
        group by instrument_id, symbol
        """
    )
    if file_id is not None and file_symbol is not None:
        con.execute(
            "update trades set symbol = $symbol"
            " where file_id = $id and symbol = instrument_id::varchar",
            {"symbol": file_symbol, "id": file_id},
        )

    # Rows without a symbol (raw CSV) learn it from any file that names it.
    def learn(table: str, which: str = "") -> int:
        updated = con.execute(
            f"""
            update {table} set symbol = named.symbol
            from (
                select instrument_id, arg_max(symbol, last_ts) as symbol
                from symbology group by instrument_id
            ) as named
            where {table}.instrument_id = named.instrument_id
              and {table}.symbol = {table}.instrument_id::varchar{which}
            """
        ).fetchone()
        return int(updated[0]) if updated else 0

    if file_id is None:
        backfilled = learn("trades")
    else:
        learn("trades", f" and trades.file_id = {int(file_id)}")  # the file's own: not counted
        backfilled = learn("trades", f" and trades.file_id <> {int(file_id)}")
    learn("ohlcv_1m")
    return backfilled


def build_bars(
    con: duckdb.DuckDBPyConnection,
    frequencies: Iterable[Frequency],
    options: FlowOptions | None = None,
    since_file_id: int | None = None,
    rebuild: bool = True,
) -> list[str]:
    """Refresh the session calendar, the per-interval marts and rolls; check their contracts.

    Every trade is placed in its session and given its effective side (``int_trade_flow``);
    each session's trades are aggregated once into the finest bars and price levels the
    intervals share (``int_bar_grain``, ``int_level_grain``: the greatest common divisor of
    the intervals); each interval's ``bars_<interval>`` and ``footprint_<interval>`` roll
    those up; ``rolls`` and ``bars_<interval>_continuous`` are built from the bars.

    Parameters
    ----------
    con
        An open connection inside the build's transaction.
    frequencies
        The bar intervals to build.
    options
        Unknown-side policy, large-lot filter and imbalance ratio (default: those stored in
        ``build_settings``, or the defaults).
    since_file_id
        Incremental: the trades of files from this id on are new. Only the instruments they
        touch are recomputed, from the session where their new trades start, continuing the
        running sums of the bars before it (``sql/intermediate/int_affected.sql``).
    rebuild
        False when no trade changed: the marts are kept as they are.

    Returns
    -------
    list of str
        The ``bars_<interval>`` relations.
    """
    if options is None:
        options = stored_options(con)
    ordered = sorted(set(frequencies))
    con.execute(f"create or replace table sessions as {render('marts/sessions.sql')}")
    if not rebuild:
        return [f.bars_relation for f in ordered]
    contracts = load_contracts()
    partial = since_file_id is not None
    if partial:
        affected = render(
            "intermediate/int_affected.sql",
            bars=identifier(ordered[0].bars_relation),
            large_lot=options.large_lot,
        )
        con.execute(
            f"create or replace temp table affected as {affected}",
            {"since_file_id": since_file_id},
        )
    _build_grains(con, ordered, options, partial)
    checked: list[tuple[str, str]] = [("sessions", "sessions")]
    roots = sorted(SPECS)
    footprint_params = {
        "roots": roots,
        "tick_sizes": [str(SPECS[root].tick_size) for root in roots],
        "imbalance_ratio": options.imbalance_ratio,
    }
    built = []
    for frequency in ordered:
        relation = identifier(frequency.bars_relation)
        footprint = identifier(f"footprint_{frequency.name}")
        bars_sql = render(
            "marts/bars.sql",
            interval_ns=frequency.nanoseconds,
            large_lot=options.large_lot,
            partial=partial,
        )
        footprint_sql = render("marts/footprint.sql", interval_ns=frequency.nanoseconds)
        if partial:
            for table in (relation, footprint):
                con.execute(
                    f"delete from {table} using affected"
                    f" where {table}.instrument_id = affected.instrument_id"
                    f" and {table}.symbol = affected.symbol"
                    f" and {table}.bar_start >= affected.from_start"
                )
            con.execute(f"insert into {relation} {bars_sql}")
            con.execute(f"insert into {footprint} {footprint_sql}", footprint_params)
        else:
            con.execute(f"create or replace table {relation} as {bars_sql}")
            con.execute(f"create or replace table {footprint} as {footprint_sql}", footprint_params)
        con.execute(
            "insert or replace into bar_intervals "
            "values ($name, $seconds, $relation, now()::timestamp)",
            {"name": frequency.name, "seconds": frequency.seconds, "relation": relation},
        )
        built.append(relation)
        checked += [(relation, "bars"), (footprint, "footprint")]
    for temporary in ("int_bar_grain", "int_level_grain", "affected"):
        con.execute(f"drop table if exists {temporary}")
    rolls = render("marts/rolls.sql", bars=identifier(built[0]))
    con.execute(f"create or replace table rolls as {rolls}")
    checked.append(("rolls", "rolls"))
    for relation in built:
        continuous = identifier(f"{relation}_continuous")
        sql = render("marts/bars_continuous.sql", bars=relation, large_lot=options.large_lot)
        con.execute(f"create or replace table {continuous} as {sql}")
        checked.append((continuous, "continuous"))
    for relation, kind in checked:
        contract = contract_for(relation, contracts)
        if contract is not None:
            check_relation(con, relation, contract)
        if options.large_lot and kind in ("bars", "continuous"):
            check_relation(con, relation, contracts["large_lot"].renamed(relation))
    return built


def grain_nanoseconds(frequencies: Iterable[Frequency]) -> int:
    """The finest grain every interval is a whole number of: their greatest common divisor."""
    return math.gcd(*(f.nanoseconds for f in frequencies))


def _build_grains(
    con: duckdb.DuckDBPyConnection,
    frequencies: Sequence[Frequency],
    options: FlowOptions,
    partial: bool,
) -> None:
    """Fill the temporary ``int_bar_grain`` and ``int_level_grain``, a piece at a time.

    ``int_trade_flow`` is a view over the trades, unless the tick rule or the large-lot filter
    needs windows over an instrument's whole history: then it is a temporary table. Either way
    each piece of a session (whole grains, about ``RANGE_ROWS`` trades) is aggregated by its own
    statement, so a build sorts a bounded number of trades at once and its memory does not grow
    with the history loaded.
    """
    whole_history = options.unknown_side == "tick-rule" or options.large_lot
    if whole_history:
        flow = render(
            "intermediate/int_trade_flow.sql",
            tick_rule=options.unknown_side == "tick-rule",
            large_lot=options.large_lot,
            partial=partial,
            one_session=False,
        )
        con.execute(f"create or replace temp table int_trade_flow as {flow}")
    grain = {
        "grain_ns": grain_nanoseconds(frequencies),
        "session_bounds": True,
        "one_session": not whole_history,
        "tick_rule": False,
        "partial": partial,
    }
    bar_grain = render(
        "intermediate/int_bar_grain.sql",
        large_lot=options.large_lot,
        has_max_size=options.max_size is not None,
        **grain,
    )
    level_grain = render("intermediate/int_level_grain.sql", large_lot=False, **grain)
    bar_params: dict[str, Any] = {}
    if options.large_lot:
        bar_params["min_size"] = options.min_size
        if options.max_size is not None:
            bar_params["max_size"] = options.max_size
    first = "select min(from_start) from affected" if partial else "select min(ts_recv) from trades"
    sessions = con.execute(
        f"""
        with bounded as (
            select
                session_start,
                coalesce(next_session_start, last.ts_recv + interval 1 second) as session_end,
                session_date,
                epoch_ns(session_start) as session_start_ns
            from sessions, (select max(ts_recv) as ts_recv from trades) as last
            where session_start <= last.ts_recv
        )
        select session_start, session_end, session_date, session_start_ns
        from bounded
        where session_end > ({first})
        order by session_start
        """
    ).fetchall()
    # Pieces of sessions that are whole grains, so no grain is split between two statements.
    cut = _sized_ranges(con, "trades", sessions, step_seconds=grain["grain_ns"] // 10**9)
    pieces = [
        {"from_ts": start, "to_ts": end}
        | ({"session_date": day, "session_start_ns": start_ns} if not whole_history else {})
        for start, end, day, start_ns in cut
    ]
    # A piece of one session names the session, which its statement places the trades in.
    session = {} if whole_history else {"session_date": _EPOCH.date(), "session_start_ns": 0}
    _fill_by_ranges(con, "int_bar_grain", bar_grain, pieces, bar_params, session)
    _fill_by_ranges(con, "int_level_grain", level_grain, pieces, placeholders=session)
    if whole_history:
        con.execute("drop table int_trade_flow")


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _sized_ranges(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    ranges: Sequence[tuple[Any, ...]],
    step_seconds: int,
) -> list[tuple[Any, ...]]:
    """Cut each ``(start, end, *rest)`` range of ``ts_recv`` into pieces of ~RANGE_ROWS rows.

    A range is cut into equal pieces whose length is a whole number of ``step_seconds``
    counted from its start (rows are counted per hour of ``relation``; ranges start on whole
    hours), so a statement per piece sorts or hashes a bounded number of rows however dense
    the data: memory stays flat and nothing spills. Each piece keeps the range's ``rest``.
    """
    hours = con.execute(
        f"select date_trunc('hour', ts_recv), count(*) from {identifier(relation)} group by 1"
    ).fetchall()
    pieces: list[tuple[Any, ...]] = []
    for start, end, *rest in ranges:
        rows = sum(count for hour, count in hours if start <= hour < end)
        parts = max(1, math.ceil(rows / RANGE_ROWS))
        steps = math.ceil((end - start).total_seconds() / parts / step_seconds)
        length = timedelta(seconds=steps * step_seconds)
        cut = start
        while cut < end:
            pieces.append((cut, min(cut + length, end), *rest))
            cut += length
    return pieces


def _fill_by_ranges(
    con: duckdb.DuckDBPyConnection,
    table: str,
    sql: str,
    pieces: Sequence[dict[str, Any]],
    params: dict[str, Any] | None = None,
    placeholders: dict[str, Any] | None = None,
) -> None:
    """Create the temporary ``table`` from ``sql`` one piece at a time.

    A piece is the parameters of one statement: ``$from_ts <= ts_recv < $to_ts`` and any
    others of its own (``placeholders`` gives them values for an empty range). The table is
    created empty, so it exists when there are no pieces, then each piece is inserted by its
    own statement, so no statement holds more than one piece's rows.
    """
    params = params or {}
    name = identifier(table)
    nothing = (placeholders or {}) | {"from_ts": _EPOCH, "to_ts": _EPOCH}
    con.execute(f"create or replace temp table {name} as {sql}", nothing | params)
    for piece in pieces:
        con.execute(f"insert into {name} {sql}", piece | params)


def _known_frequencies(con: duckdb.DuckDBPyConnection) -> list[Frequency]:
    return [
        Frequency(int(s)) for (s,) in con.execute("select seconds from bar_intervals").fetchall()
    ]


def _summarise(con: duckdb.DuckDBPyConnection, report: BuildReport) -> None:
    trades, first, last = con.execute(
        "select count(*), min(ts_recv)::varchar, max(ts_recv)::varchar from trades"
    ).fetchone()  # type: ignore[misc]
    report.trades = int(trades)
    report.first_ts, report.last_ts = first, last
    report.ohlcv_bars = int(con.execute("select count(*) from ohlcv_1m").fetchone()[0])  # type: ignore[index]
    report.instruments = [
        s
        for (s,) in con.execute(
            "select symbol from trades group by symbol order by sum(size) desc"
        ).fetchall()
    ]


def build_warehouse(
    settings: Settings,
    files: Sequence[str | Path] = (),
    frequencies: Sequence[str] | None = None,
    echo: Callable[[str], Any] | None = None,
    flow: FlowOverrides | None = None,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_bad_rows: str = "error",
    replace: bool = False,
) -> BuildReport:
    """Load every new file and rebuild the bars, in one transaction on a copy of the warehouse.

    The copy replaces the warehouse only when everything succeeded (see
    :func:`vcdwh.warehouse.db.write_session`), so open readers are never blocked and a failed or
    killed build leaves the warehouse exactly as it was (a new warehouse is not created).

    Parameters
    ----------
    settings
        Where the data folder and the warehouse file are.
    files
        Extra files to load besides those discovered in the data folder.
    frequencies
        Bar intervals to build (default 1min and 5min); intervals built before are refreshed too.
    echo
        Called with a progress line per file.
    flow
        Changes to the stored build settings (unknown-side policy, large-lot filter,
        imbalance ratio); what it leaves None keeps its stored value.
    lock_timeout
        Seconds to wait for another writer (vcdwh or a read-write DuckDB client) to finish.
    on_bad_rows
        ``error`` (default): a bad record stops the build. ``skip``: load the good records and
        keep the bad ones in ``rejected_rows``.
    replace
        A file whose trades conflict with trades already held replaces them (same instruments,
        the file's time range) instead of stopping the build.

    Returns
    -------
    BuildReport

    Raises
    ------
    DataError
        A file is malformed (nothing is changed).
    BuildError
        A contract check failed (nothing is changed).
    WarehouseError
        The warehouse stayed locked by another writer for ``lock_timeout`` seconds.
    """
    if on_bad_rows not in BAD_ROW_POLICIES:
        raise ConfigError(
            f"--on-bad-rows {on_bad_rows!r} must be one of: {', '.join(BAD_ROW_POLICIES)}"
        )
    started = time.perf_counter()
    wanted = [parse_frequency(f) for f in (frequencies or DEFAULT_FREQUENCIES)]
    overrides = (flow or FlowOverrides()).checked()
    paths = _resolve_files(settings, files)
    db_path = settings.db_path
    report = BuildReport(db_path=db_path)
    with (
        _build_errors(),
        ThreadPoolExecutor(max_workers=1) as hasher,
        write_session(db_path, lock_timeout, settings.storage_version) as con,
    ):
        con.execute("begin transaction")
        try:
            ensure_tables(con)
            before = stored_options(con)
            report.options = overrides.apply(before)
            store_options(con, report.options)
            first_new_file = _next_file_id(con)
            known_hashes = {
                h for (h,) in con.execute("select content_hash from loaded_files").fetchall()
            }
            unchanged = {
                (p, b, m): s
                for p, b, m, s in con.execute(
                    "select path, bytes, mtime_ns, schema from loaded_files"
                ).fetchall()
            }
            known_sizes = {b for (b,) in con.execute("select bytes from loaded_files").fetchall()}
            for path in paths:
                stat = path.stat()
                schema = unchanged.get((str(path), stat.st_size, stat.st_mtime_ns))
                if schema is not None:
                    result = FileResult(
                        path, "skipped", schema, reason="already loaded (unchanged)"
                    )
                    report.files.append(result)
                    if echo:
                        echo(_file_line(result))
                    continue
                pending_hash = None
                if stat.st_size in known_sizes:
                    source, detail = _identify(path)
                else:
                    # No file of this size was loaded, so its content is new: it is hashed
                    # (for loaded_files) while it loads.
                    source, detail = _identify(path, hashed=False)
                    pending_hash = hasher.submit(content_hash, path)
                if pending_hash is None and source.content_hash in known_hashes:
                    result = FileResult(
                        path, "skipped", source.schema, source.layout, reason="already loaded"
                    )
                elif source.schema not in LOADABLE_SCHEMAS:
                    result = FileResult(
                        path,
                        "skipped",
                        source.schema,
                        source.layout,
                        reason=f"schema {source.schema} is not loaded "
                        "(only trades, ohlcv-1m and definition)",
                    )
                else:
                    result = _load_file(con, source, detail, on_bad_rows, replace, pending_hash)
                    known_hashes.add(pending_hash.result() if pending_hash else source.content_hash)
                    known_sizes.add(stat.st_size)
                report.files.append(result)
                if echo:
                    echo(_file_line(result))
            known = set(_known_frequencies(con))
            frequencies_to_build = set(wanted) | known
            report.bars_mode = _bars_mode(con, report, before, known, frequencies_to_build)
            report.bar_relations = build_bars(
                con,
                frequencies_to_build,
                report.options,
                since_file_id=first_new_file if report.bars_mode == "incremental" else None,
                rebuild=report.bars_mode != "unchanged",
            )
            publish_catalog(con)
            _summarise(con, report)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    report.seconds = time.perf_counter() - started
    return report


def _bars_mode(
    con: duckdb.DuckDBPyConnection,
    report: BuildReport,
    before: FlowOptions,
    known: set[Frequency],
    frequencies: set[Frequency],
) -> str:
    """How the marts must be refreshed: ``unchanged``, ``incremental`` or ``full``.

    Incremental when trades were only added (no option change, no new interval, no trade
    replaced or renamed, side N excluded): only the affected instruments from the session
    where their new trades start are recomputed.
    """
    loaded = [f for f in report.files if f.status == "loaded"]
    added = any(f.rows_added for f in loaded if f.schema == TRADES)
    # Trades replaced, or earlier trades that learned their symbol from any file.
    rewritten = any(f.rows_replaced or f.rows_backfilled for f in loaded)
    built = all(
        relation_exists(con, relation)
        for f in frequencies
        for relation in (f.bars_relation, f"footprint_{f.name}", f"{f.bars_relation}_continuous")
    ) and relation_exists(con, "rolls")
    if report.options != before or frequencies != known or not built or rewritten:
        return "full"
    if not added:
        return "unchanged"
    return "incremental" if report.options.unknown_side == "exclude" else "full"


@contextlib.contextmanager
def _build_errors() -> Iterator[None]:
    """Report an unexpected failure as one ``build failed: …`` line."""
    try:
        yield
    except VcdwhError:
        raise
    except Exception as exc:
        first_line = error_line(exc)
        raise BuildError(f"build failed: {first_line}") from exc


def _file_line(result: FileResult) -> str:
    if result.status == "loaded":
        return (
            f"loaded  {result.path.name}: {result.schema} ({result.layout}), "
            f"{result.rows:,} rows, {result.rows_added:,} new"
            + (
                f", {result.rows_rejected:,} bad row(s) skipped (see rejected_rows)"
                if result.rows_rejected
                else ""
            )
            + (
                f", replaced {result.rows_replaced:,} conflicting held trade(s)"
                if result.rows_replaced
                else ""
            )
        )
    return f"skipped {result.path.name}: {result.reason}"
