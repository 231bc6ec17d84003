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
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vcdwh.config import Settings
from vcdwh.datafiles import check_regular, content_hash, discover, next_file_id
from vcdwh.errors import BuildError, ConfigError, DataError, VcdwhError, error_line
from vcdwh.load.definitions import DEFINITION
from vcdwh.load.files import identify, load_file
from vcdwh.load.settle import FileResult
from vcdwh.load.stage import BAD_ROW_POLICIES, OHLCV_1M, TRADES
from vcdwh.marts.bars import build_bars, known_frequencies
from vcdwh.marts.continuous import (
    ContinuousOptions,
    store_continuous,
    stored_continuous,
)
from vcdwh.marts.eventbars import store_event_bars, stored_event_bars
from vcdwh.marts.exchange_calendar import apply_rth_overrides, parse_rth
from vcdwh.marts.frequency import (
    DEFAULT_FREQUENCIES,
    Frequency,
    parse_event_bars,
    parse_frequency,
)
from vcdwh.marts.orderflow import (
    FlowOptions,
    FlowOverrides,
    describe,
    store_options,
    stored_options,
)
from vcdwh.progress import NO_PROGRESS, Progress
from vcdwh.warehouse.catalog import publish as publish_catalog
from vcdwh.warehouse.db import DEFAULT_LOCK_TIMEOUT, ensure_tables, relation_exists, write_session

if TYPE_CHECKING:
    import duckdb

LOADABLE_SCHEMAS = (TRADES, OHLCV_1M, DEFINITION)
# Rows one statement of the grain and repeat passes aggregates at most (about).


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
    continuous: ContinuousOptions = field(default_factory=ContinuousOptions)
    bars_mode: str = "full"

    @property
    def loaded(self) -> list[FileResult]:
        """Files loaded by this build."""
        return [f for f in self.files if f.status == "loaded"]

    @property
    def skipped(self) -> list[FileResult]:
        """Files skipped by this build (already loaded, or not a loadable schema)."""
        return [f for f in self.files if f.status == "skipped"]


def _resolve_files(settings: Settings, files: Sequence[str | Path]) -> list[Path]:
    paths: list[Path] = []
    for item in files:
        path = Path(item)
        if ".." in path.parts:
            raise DataError(f"{item}: refusing a path with '..'; give the file's real location")
        if not path.exists() and not path.is_symlink():
            raise DataError(f"{item}: no such file")
        check_regular(path)
        paths.append(path)
    paths.extend(discover(settings.data_dir))
    unique: dict[Path, Path] = {}
    for path in paths:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


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
    on_file: Callable[[FileResult], Any] | None = None,
    flow: FlowOverrides | None = None,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    on_bad_rows: str = "error",
    replace: bool = False,
    progress: Progress = NO_PROGRESS,
    rth: Sequence[str] = (),
    adjust: str | None = None,
    roll_rule: str | None = None,
    event_bars: Sequence[str] = (),
) -> BuildReport:
    """Load every new file and rebuild the bars, in one transaction on the warehouse.

    The write is committed only when everything succeeded (see
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
    on_file
        Called with each file's result as soon as it is loaded or skipped
        (:func:`format_file_line` turns it into the line ``vcdwh build`` prints).
    flow
        Changes to the stored build settings (unknown-side policy, large-lot filter,
        imbalance ratio); what it leaves None keeps its stored value.
    lock_timeout
        Seconds to wait for another writer (vcdwh or a read-write DuckDB client) to finish.
    on_bad_rows
        ``error`` (default): a bad record stops the build. ``skip``: load the good records and
        keep the bad ones in ``rejected_rows``.
    replace
        A file that contradicts what is held replaces it instead of stopping the build: a file
        loaded before from the same path that no longer holds the records loaded from it
        replaces that earlier version's records; trades that conflict with held ones replace
        the held trades of the file's instruments over its time range; ohlcv-1m bars that
        differ from held ones replace them. The marts are then rebuilt in full.
    progress
        Receives the phases (files, bars, catalog) and each file done.
    rth
        Regular trading hours overrides, ``ROOT=HH:MM-HH:MM`` in Chicago time, stored in
        ``rth_hours`` (see :func:`vcdwh.marts.exchange_calendar.parse_rth`).
    adjust
        Back-adjustment of the continuous series: ``none``, ``difference`` or ``ratio``
        (None keeps the stored value, at first ``none``).
    roll_rule
        ``volume`` or ``expiry-days:N`` (None keeps the stored value, at first ``volume``).
    event_bars
        Tick, volume and range bar sets to build (``1000t``, ``500v``, ``8r``); sets built
        before are refreshed too (kept in ``build_settings``).

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
    for item in rth:
        parse_rth(item)
    ContinuousOptions().changed(adjust, roll_rule)
    started = time.perf_counter()
    wanted = [parse_frequency(f) for f in (frequencies or DEFAULT_FREQUENCIES)]
    wanted_events = [parse_event_bars(e) for e in event_bars]
    overrides = (flow or FlowOverrides()).checked()
    paths = _resolve_files(settings, files)
    db_path = settings.db_path
    if not paths and not db_path.exists():
        raise DataError(
            f"no data files in {settings.data_dir} (trades_*.csv, ohlcv_1m_*.csv, *.dbn, "
            "*.dbn.zst) and no warehouse yet; write sample data with `vcdwh sample`, download "
            "with `vcdwh fetch`, or give files: `vcdwh build FILE…`"
        )
    report = BuildReport(db_path=db_path)
    with (
        contextlib.closing(progress),
        _build_errors(),
        ThreadPoolExecutor(max_workers=1) as hasher,
        write_session(
            db_path,
            lock_timeout,
            settings.storage_version,
            expected_growth=_input_bytes(paths),
        ) as con,
    ):
        ensure_tables(con)
        apply_rth_overrides(con, rth)
        before = stored_options(con)
        report.options = overrides.apply(before)
        store_options(con, report.options)
        continuous_before = stored_continuous(con)
        report.continuous = continuous_before.changed(adjust, roll_rule)
        store_continuous(con, report.continuous)
        first_new_file = next_file_id(con)
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
        progress.phase("loading files", len(paths))
        for path in paths:
            stat = path.stat()
            schema = unchanged.get((str(path), stat.st_size, stat.st_mtime_ns))
            if schema is not None:
                result = FileResult(path, "skipped", schema, reason="already loaded (unchanged)")
                report.files.append(result)
                if on_file:
                    on_file(result)
                progress.advance()
                continue
            pending_hash = None
            if stat.st_size in known_sizes:
                source, detail = identify(path)
            else:
                # No file of this size was loaded, so its content is new: it is hashed
                # (for loaded_files) while it loads.
                source, detail = identify(path, hashed=False)
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
                result = load_file(con, source, detail, on_bad_rows, replace, pending_hash)
                known_hashes.add(pending_hash.result() if pending_hash else source.content_hash)
                known_sizes.add(stat.st_size)
                if result.rows_superseded:
                    # The file's earlier version was forgotten: its content is new again.
                    known_hashes = {
                        h
                        for (h,) in con.execute("select content_hash from loaded_files").fetchall()
                    }
            report.files.append(result)
            if on_file:
                on_file(result)
            progress.advance()
        progress.phase("building bars and footprints")
        known = set(known_frequencies(con))
        frequencies_to_build = set(wanted) | known
        known_events = set(stored_event_bars(con))
        events_to_build = sorted(set(wanted_events) | known_events)
        store_event_bars(con, events_to_build)
        report.bars_mode = _bars_mode(con, report, before, known, frequencies_to_build)
        if report.bars_mode == "incremental" and not all(
            relation_exists(con, relation)
            for e in events_to_build
            for relation in (e.bars_relation, e.footprint_relation)
        ):
            report.bars_mode = "full"
        if report.bars_mode == "unchanged" and set(events_to_build) != known_events:
            report.bars_mode = "full"
        if report.bars_mode == "unchanged" and report.continuous != continuous_before:
            report.bars_mode = "full"
        report.bar_relations = build_bars(
            con,
            frequencies_to_build,
            report.options,
            since_file_id=first_new_file if report.bars_mode == "incremental" else None,
            rebuild=report.bars_mode != "unchanged",
            continuous_options=report.continuous,
            event_bars=events_to_build,
        )
        report.bar_relations += [e.bars_relation for e in events_to_build]
        progress.phase("publishing the catalog")
        publish_catalog(con)
        _summarise(con, report)
        progress.phase("writing the warehouse")
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
    rewritten = any(f.rows_replaced or f.rows_backfilled or f.rows_superseded for f in loaded)
    built = all(
        relation_exists(con, relation)
        for f in frequencies
        for relation in (f.bars_relation, f.footprint_relation, f.continuous_relation)
    ) and all(
        relation_exists(con, relation)
        for relation in ("rolls", "profile_session", "profile_session_summary")
    )
    # Bars built before they had the RTH columns cannot be appended to: rebuild them.
    [(without_rth,)] = con.execute(
        "select count(*) from duckdb_tables() t where t.table_name = any($names) and not exists "
        "(select 1 from duckdb_columns() c where c.table_name = t.table_name "
        "and c.column_name = 'is_rth')",
        {"names": [f.bars_relation for f in frequencies]},
    ).fetchall()
    built = built and not without_rth
    if report.options != before or frequencies != known or not built or rewritten:
        return "full"
    if not added:
        return "unchanged"
    return "incremental" if report.options.unknown_side == "exclude" else "full"


def _input_bytes(paths: Sequence[Path]) -> int:
    """About the room a build needs beyond the warehouse's copy, for a full disk's estimate:
    the input files' size and a quarter (CSV shrinks in DuckDB but passes through the WAL on
    the way; a 17.9 MB trades CSV needed between 20 and 24 MB), and a DBN file's size twice (its
    records take more room in DuckDB than compressed in a ``.dbn.zst``: a 120 MB file of 10M
    trades made a 211 MB warehouse)."""
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            size = path.stat().st_size
            total += size * 2 if path.name.endswith((".dbn", ".dbn.zst")) else size
    return total * 5 // 4


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


def format_file_line(result: FileResult) -> str:
    """One line per file of a build: loaded (rows, new, skipped, replaced) or skipped (why)."""
    if result.status == "loaded":
        records = "trade(s)" if result.schema == TRADES else "bar(s)"
        return (
            f"loaded  {result.path.name}: {result.schema} ({result.layout}), "
            f"{result.rows:,} rows, {result.rows_added:,} new"
            + (
                f", {result.rows_rejected:,} bad row(s) skipped (see rejected_rows)"
                if result.rows_rejected
                else ""
            )
            + (
                f", replaced the {result.rows_superseded:,} {records} of its earlier version"
                if result.rows_superseded
                else ""
            )
            + (
                f", replaced {result.rows_replaced:,} conflicting held {records}"
                if result.rows_replaced
                else ""
            )
        )
    return f"skipped {result.path.name}: {result.reason}"


def format_build(report: BuildReport) -> str:
    """The summary ``vcdwh build`` prints after the per-file lines."""
    lines = [
        f"{len(report.loaded)} file(s) loaded, {len(report.skipped)} skipped; "
        f"warehouse {report.db_path}",
        f"trades: {report.trades:,}  ohlcv_1m bars: {report.ohlcv_bars:,}  "
        f"instruments: {', '.join(report.instruments) or '-'}",
    ]
    if report.first_ts is not None:
        lines.append(f"time range: {report.first_ts} → {report.last_ts} UTC")
    how = {
        "full": "rebuilt",
        "incremental": "updated where new trades landed",
        "unchanged": "unchanged: no new trades",
    }[report.bars_mode]
    lines.append(f"bars: {', '.join(report.bar_relations)} ({how})  ({report.seconds:.2f} s)")
    lines.append(
        f"settings: {describe(report.options)}  adjust={report.continuous.adjust}  "
        f"roll_rule={report.continuous.roll_rule}"
    )
    rejected = sum(f.rows_rejected for f in report.files)
    if rejected:
        lines.append(
            f'{rejected:,} bad row(s) skipped; see them with: vcdwh sql "select * from '
            'rejected_rows order by file_id, line"'
        )
    return "\n".join(lines)
