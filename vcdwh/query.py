"""``vcdwh sql``: run one query on a read-only connection and stream the formatted result.

The connection is opened read-only with external access disabled and the configuration
locked, so a query can read the warehouse but cannot write it, touch files, attach other
databases or install extensions. It runs under the writers' memory cap (``VCDWH_MEMORY_LIMIT``)
and spills to a private temporary folder (mode 0700, removed on exit) that DuckDB lets the
connection's own queries reach; so before anything runs, every table function and table name
of the query is checked: only functions that read nothing but the warehouse and DuckDB's own
state run, and a name that looks like a file path is refused.

The query runs on a worker thread while the main thread writes rows as batches arrive, so
Ctrl-C and ``--timeout`` interrupt DuckDB (``interrupt()``) at once, even inside a long join.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import queue
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from vcdwh.config import DEFAULT_SQL_TIMEOUT
from vcdwh.errors import QueryError, QueryInterruptedError, error_line
from vcdwh.warehouse.db import MEMORY_LIMIT_ENV, connect_read_only, memory_limit

if TYPE_CHECKING:
    import duckdb

FORMATS = ("table", "csv", "json")
READING_STATEMENTS = ("SELECT", "EXPLAIN", "PRAGMA")
"""Statement types ``vcdwh sql`` runs (``describe`` and ``show`` are selects); others are
refused before they reach DuckDB (``load``, ``create temp``, ``checkpoint``, ``vacuum``,
``analyze``, ``attach``, …)."""
READING = ("select", "explain", "pragma")
TABLE_ROW_LIMIT = 10_000
"""Rows the aligned table shows (it must see every row to align them); csv and json stream all."""
READING_TABLE_FUNCTIONS = frozenset(
    (
        "range",
        "generate_series",
        "unnest",
        "repeat",
        "repeat_row",
        "summary",
        "json_each",
        "json_tree",
        "histogram",
        "histogram_values",
        "test_all_types",
        "test_vector_types",
        "pg_timezone_names",
        "icu_calendar_names",
        "show",
        "show_tables",
        "show_tables_expanded",
        "show_databases",
        "database_list",
        "table_info",
        "storage_info",
        "database_size",
        "metadata_info",
        "functions",
        "collations",
        "version",
        "platform",
        "user_agent",
    )
)
"""Table functions a query may call besides ``duckdb_*`` and ``pragma_*`` (catalog and
settings views): none reads a file. ``read_*``, ``glob``, ``parquet_*``, ``sniff_csv``,
``query``, ``query_table`` and every function not listed are refused."""
READING_PRAGMAS = frozenset(
    (
        "version",
        "platform",
        "user_agent",
        "database_size",
        "storage_info",
        "table_info",
        "show",
        "show_tables",
        "show_tables_expanded",
        "show_databases",
        "database_list",
        "functions",
        "collations",
        "metadata_info",
    )
)
"""``pragma`` statements that only read the catalog; others are refused."""
_CHANGING_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "MERGE_INTO")
_READ_ONLY_HINT = "(vcdwh sql is read-only; use vcdwh build/backtest to change the warehouse)"
_NO_FILES_HINT = (
    "(vcdwh sql cannot read or write files, attach databases, install extensions"
    " or change settings)"
)
_PATH_CHARACTERS = re.compile(r"[/\\.:*?~]")
_BATCH_ROWS = 20_000
_POLL_SECONDS = 0.1
_END = object()
_INTEGER_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
)
_FLOAT_TYPES = ("FLOAT", "DOUBLE", "DECIMAL")


@dataclass(frozen=True)
class QueryResult:
    """Column names, DuckDB type names and rows rendered as text (``None`` for NULL)."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[str | None, ...]]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def check_statements(query: str) -> list[str]:
    """The query's statements, each checked to read only the warehouse; refuse the rest.

    Refused: a statement kind other than select, explain and pragma; a pragma outside
    :data:`READING_PRAGMAS`; a table function outside :data:`READING_TABLE_FUNCTIONS` (and the
    ``duckdb_*``/``pragma_*`` catalog functions); a table name that looks like a file path
    (DuckDB reads ``from 'x.csv'`` as a file). The query is parsed on a private in-memory
    database, so nothing is bound or read before it passes.

    Raises
    ------
    QueryError
        Naming the statement kind, function or name refused, and why.
    """
    import duckdb

    parser = duckdb.connect(":memory:")
    try:
        try:
            statements = parser.extract_statements(query)
        except duckdb.Error as exc:
            raise QueryError(_one_line(exc)) from exc
        texts = []
        for statement in statements:
            kind = statement.type.name
            if kind not in READING_STATEMENTS:
                hint = _READ_ONLY_HINT if kind in _CHANGING_STATEMENTS else _NO_FILES_HINT
                raise QueryError(
                    f"vcdwh sql is read-only and runs only statements that read the warehouse "
                    f"({', '.join(READING)}); {_statement_word(statement.query, kind)} "
                    f"statements are refused {hint}"
                )
            _check_statement(parser, statement.query, kind)
            texts.append(statement.query)
        return texts
    finally:
        parser.close()


def _statement_word(text: str, kind: str) -> str:
    """The statement as the user wrote it (``checkpoint``, ``analyze``, ``load``), which DuckDB
    may file under another kind (a call, a vacuum); DuckDB's kind after a ``with`` clause."""
    match = re.match(r"\s*([a-z_]+)", text, re.IGNORECASE)
    word = match.group(1).lower() if match else ""
    return word if word and word != "with" else kind.lower()


def _check_statement(parser: duckdb.DuckDBPyConnection, text: str, kind: str) -> None:
    if kind == "PRAGMA":
        match = re.match(r"\s*pragma\s+(\w+)", text, re.IGNORECASE)
        name = match.group(1).lower() if match else ""
        if name not in READING_PRAGMAS:
            raise QueryError(
                f"pragma {name or text.strip()!r} is refused: vcdwh sql runs only pragmas that "
                f"read the catalog (version, table_info, storage_info, …) {_NO_FILES_HINT}"
            )
        return
    if kind == "EXPLAIN":
        match = re.match(
            r"\s*explain\s+(?:analy[sz]e\s+)?(?:\([^)]*\)\s*)?(.*)\Z",
            text,
            re.IGNORECASE | re.DOTALL,
        )
        inner = parser.extract_statements(match.group(1)) if match else []
        if len(inner) != 1 or inner[0].type.name != "SELECT":
            raise QueryError(f"vcdwh sql explains only select statements {_NO_FILES_HINT}")
        text = inner[0].query
    [(serialized,)] = parser.execute("select json_serialize_sql($q)", {"q": text}).fetchall()
    tree = json.loads(serialized)
    if tree.get("error"):
        raise QueryError(f"{tree.get('error_message', 'cannot parse the query')}")
    for node in _nodes(tree):
        ref = node.get("type")
        if ref == "TABLE_FUNCTION":
            function = node.get("function") or {}
            name = str(function.get("function_name", "")).lower()
            if not _reads_only_the_warehouse(name):
                raise QueryError(
                    f"table function {name}() is refused: vcdwh sql reads only the warehouse "
                    f"{_NO_FILES_HINT}"
                )
        elif ref == "BASE_TABLE":
            name = str(node.get("table_name", ""))
            if _PATH_CHARACTERS.search(name):
                raise QueryError(
                    f"{name!r} looks like a file, not a table or view: vcdwh sql reads only the "
                    f"warehouse {_NO_FILES_HINT}"
                )


def _reads_only_the_warehouse(function: str) -> bool:
    return (
        function in READING_TABLE_FUNCTIONS
        or function.startswith("duckdb_")
        or function.startswith("pragma_")
    )


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in a parse tree, depth first."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


@dataclass
class _Header:
    columns: list[str]
    types: list[str]


class _Run:
    """One query on a worker thread, its rows handed over in batches through a small queue.

    DuckDB holds the interpreter's attention while it runs; running it on a worker keeps the
    main thread free to notice Ctrl-C and the deadline and to ``interrupt()`` the connection.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, statements: list[str]) -> None:
        self.con = con
        self.statements = statements
        self.items: queue.Queue[Any] = queue.Queue(maxsize=2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._work, name="vcdwh-sql", daemon=True)

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.items.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        try:
            relation = self.con.sql(";\n".join(self.statements))
            if relation is None:
                self._put(_Header([], []))
                self._put(_END)
                return
            columns = list(relation.columns)
            types = [str(t) for t in relation.types]
            if not self._put(_Header(columns, types)):
                return
            if columns:
                projection = ", ".join(f"cast({_quote(c)} as varchar)" for c in columns)
                text = relation.project(projection).sql_query()
                cursor = self.con.execute(text)
                while not self.stop.is_set():
                    rows = cursor.fetchmany(_BATCH_ROWS)
                    if not rows or not self._put(rows):
                        break
            self._put(_END)
        except BaseException as exc:  # handed to the main thread, which reports it
            self._put(exc)


@contextlib.contextmanager
def _spill_folder() -> Iterator[Path]:
    """A private folder (mode 0700) for DuckDB to spill to; removed with what is in it."""
    folder = Path(tempfile.mkdtemp(prefix="vcdwh-sql-"))
    try:
        os.chmod(folder, 0o700)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _interrupt_on_sigint(flag: threading.Event, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """While inside, Ctrl-C interrupts the query (on the main thread; elsewhere: nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        flag.set()
        con.interrupt()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def stream_rows(
    db_path: Path, query: str, *, timeout: float = DEFAULT_SQL_TIMEOUT
) -> Generator[_Header | list[tuple[str | None, ...]], None, None]:
    """Run ``query`` read-only: yield its header, then its rows (text, ``None`` for NULL) in
    batches as DuckDB produces them.

    Raises
    ------
    QueryError
        When the query is refused, fails, runs out of memory or passes ``timeout`` seconds.
    QueryInterruptedError
        On Ctrl-C.
    """
    import duckdb

    statements = check_statements(query)
    deadline = time.monotonic() + timeout if timeout > 0 else math.inf
    interrupted = threading.Event()
    with _spill_folder() as spill:
        con = connect_read_only(db_path, spill_directory=spill)
        run = _Run(con, statements)
        try:
            with _interrupt_on_sigint(interrupted, con):
                run.thread.start()
                while True:
                    try:
                        item = run.items.get(timeout=_POLL_SECONDS)
                    except queue.Empty:
                        item = None
                    if interrupted.is_set():
                        raise QueryInterruptedError("query interrupted (Ctrl-C)")
                    if time.monotonic() >= deadline:
                        con.interrupt()
                        raise QueryError(
                            f"query stopped after {timeout:g} s (--timeout); add a LIMIT or "
                            "narrow it, or allow longer with --timeout SECONDS (0: no limit)"
                        )
                    if item is None:
                        continue
                    if item is _END:
                        return
                    if isinstance(item, duckdb.InterruptException):
                        raise QueryInterruptedError("query interrupted (Ctrl-C)")
                    if isinstance(item, MemoryError | duckdb.OutOfMemoryException):
                        raise _out_of_memory(item)
                    if isinstance(item, duckdb.Error):
                        raise QueryError(_one_line(item)) from item
                    if isinstance(item, BaseException):
                        raise item
                    yield item
        finally:
            run.stop.set()
            with contextlib.suppress(Exception):
                con.interrupt()
            if run.thread.is_alive():
                run.thread.join(timeout=5)
            con.close()


def _out_of_memory(exc: BaseException) -> QueryError:
    cause = error_line(exc) if str(exc) else "Python ran out of memory"
    return QueryError(
        f"out of memory ({cause}); add a LIMIT or narrow the query, or raise "
        f"{MEMORY_LIMIT_ENV} (now {memory_limit()})"
    )


def stream_query(
    db_path: Path, query: str, fmt: str = "table", *, timeout: float = DEFAULT_SQL_TIMEOUT
) -> Iterator[str]:
    """Run ``query`` read-only and yield its formatted text piece by piece (csv and json one
    batch of rows at a time; the table, which must see its rows to align them, at most
    :data:`TABLE_ROW_LIMIT` rows). The pieces joined are the whole output, ending in a newline.

    Raises
    ------
    QueryError
        When the query is refused, fails, runs out of memory (also while formatting) or passes
        ``timeout`` seconds (0: no limit).
    QueryInterruptedError
        On Ctrl-C.
    """
    items = stream_rows(db_path, query, timeout=timeout)
    try:
        header = next(items)
        assert isinstance(header, _Header)
        batches: Iterator[list[tuple[str | None, ...]]] = (
            batch for batch in items if not isinstance(batch, _Header)
        )
        if fmt == "csv":
            yield from _csv_pieces(header.columns, batches)
        elif fmt == "json":
            yield from _json_pieces(header.columns, header.types, batches)
        else:
            yield _table_text(header, batches) + "\n"
    except MemoryError as exc:
        raise _out_of_memory(exc) from None
    finally:
        items.close()


def run_query(db_path: Path, query: str, *, timeout: float = DEFAULT_SQL_TIMEOUT) -> QueryResult:
    """Run ``query`` read-only and keep every row (as :func:`stream_rows` reads them).

    Raises
    ------
    QueryError
        With DuckDB's message when the query is refused or fails.
    """
    items = stream_rows(db_path, query, timeout=timeout)
    header = next(items)
    assert isinstance(header, _Header)
    rows = [row for batch in items if not isinstance(batch, _Header) for row in batch]
    return QueryResult(header.columns, header.types, rows)


def _csv_pieces(
    columns: list[str], batches: Iterable[list[tuple[str | None, ...]]]
) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    yield buffer.getvalue()
    for batch in batches:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows(["" if v is None else v for v in row] for row in batch)
        yield buffer.getvalue()


def _json_pieces(
    columns: list[str], types: list[str], batches: Iterable[list[tuple[str | None, ...]]]
) -> Iterator[str]:
    """The rows as one JSON array of objects, written an object at a time."""
    names = [json.dumps(c) for c in columns]
    first = True
    for batch in batches:
        pieces = []
        for row in batch:
            pieces.append("[\n" if first else ",\n")
            pieces.append(_json_object(names, types, row))
            first = False
        yield "".join(pieces)
    yield "[]\n" if first else "\n]\n"


def _json_object(names: list[str], types: list[str], row: tuple[str | None, ...]) -> str:
    fields = [
        f"    {name}: {_json_value(v, t)}" for name, v, t in zip(names, row, types, strict=True)
    ]
    return "  {\n" + ",\n".join(fields) + "\n  }" if fields else "  {}"


def _table_text(header: _Header, batches: Iterable[list[tuple[str | None, ...]]]) -> str:
    rows: list[tuple[str | None, ...]] = []
    more = False
    for batch in batches:
        room = TABLE_ROW_LIMIT - len(rows)
        if len(batch) > room:
            rows.extend(batch[:room])
            more = True
            break
        rows.extend(batch)
    text = format_result(QueryResult(header.columns, header.types, rows), "table")
    if more:
        text += (
            f"\n(only the first {TABLE_ROW_LIMIT:,} rows are shown; add a LIMIT, or use "
            "--format csv or json for every row)"
        )
    return text


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = " ".join(lines[:2]) if lines else type(exc).__name__
    if "read-only" in text.lower() or "read only" in text.lower():
        text += " " + _READ_ONLY_HINT
    elif any(
        phrase in text.lower()
        for phrase in (
            "external access",
            "disabled by configuration",
            "disabled through configuration",
            "configuration has been locked",
        )
    ):
        text += " " + _NO_FILES_HINT
    return text


def _is_numeric(type_name: str) -> bool:
    base = type_name.upper().split("(")[0]
    return base in _INTEGER_TYPES or base in _FLOAT_TYPES


def format_result(result: QueryResult, fmt: str = "table") -> str:
    """Render a result as an aligned table, CSV or JSON (a list of objects)."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(["" if v is None else v for v in row] for row in result.rows)
        return buffer.getvalue().rstrip("\n")
    if fmt == "json":
        return _json_document(result)
    if not result.columns:
        return "OK"
    cells = [["NULL" if v is None else v for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(result.columns)]
    numeric = [_is_numeric(t) for t in result.types]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [line(list(result.columns)), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells)
    out.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return "\n".join(out)


def _json_document(result: QueryResult) -> str:
    """The rows as a JSON list of objects, laid out as ``json.dumps(indent=2)`` does.

    Valid JSON whatever the values: exact decimals are written as the number DuckDB printed (no
    float rounding), and infinities and NaN become null.
    """
    if not result.rows:
        return "[]"
    names = [json.dumps(c) for c in result.columns]
    objects = [_json_object(names, result.types, row) for row in result.rows]
    return "[\n" + ",\n".join(objects) + "\n]"


def _json_value(value: str | None, type_name: str) -> str:
    """One value as JSON text."""
    if value is None:
        return "null"
    base = type_name.upper().split("(")[0]
    if base in _INTEGER_TYPES:
        return str(int(value))
    if base == "DECIMAL":
        # Exact: the digits DuckDB printed, with the leading zero JSON needs (".5" -> "0.5").
        negative = value.startswith("-")
        digits = value[1:] if negative else value
        return ("-" if negative else "") + ("0" + digits if digits.startswith(".") else digits)
    if base in _FLOAT_TYPES:
        number = float(value)
        return json.dumps(number) if math.isfinite(number) else "null"
    if base == "BOOLEAN":
        return "true" if value == "true" else "false"
    return json.dumps(value)
