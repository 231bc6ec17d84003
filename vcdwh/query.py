"""``vcdwh sql``: run one query on a read-only connection and format the result.

The connection is opened read-only with external access disabled and the configuration
locked, so a query can read the warehouse but cannot write it, touch files, attach other
databases or install extensions.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

from vcdwh.errors import QueryError
from vcdwh.warehouse.db import connect_read_only

FORMATS = ("table", "csv", "json")
READING_STATEMENTS = ("SELECT", "EXPLAIN", "PRAGMA")
"""Statement types ``vcdwh sql`` runs (``describe`` and ``show`` are selects); others are
refused before they reach DuckDB (``load``, ``create temp``, ``checkpoint``, ``vacuum``,
``analyze``, ``attach``, …)."""
READING = ("select", "explain", "pragma")
_CHANGING_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "MERGE_INTO")
_READ_ONLY_HINT = "(vcdwh sql is read-only; use vcdwh build/backtest to change the warehouse)"
_NO_FILES_HINT = (
    "(vcdwh sql cannot read or write files, attach databases, install extensions"
    " or change settings)"
)
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


def run_query(db_path: Path, query: str) -> QueryResult:
    """Run ``query`` read-only; every value comes back as DuckDB renders it (exact, ns kept).

    Raises
    ------
    QueryError
        With DuckDB's message when the query fails or tries to write.
    """
    import duckdb

    con = connect_read_only(db_path)
    try:
        try:
            statements = con.extract_statements(query)
        except duckdb.Error as exc:
            raise QueryError(_one_line(exc)) from exc
        for statement in statements:
            kind = statement.type.name
            if kind not in READING_STATEMENTS:
                hint = _READ_ONLY_HINT if kind in _CHANGING_STATEMENTS else _NO_FILES_HINT
                raise QueryError(
                    f"vcdwh sql runs only statements that read the warehouse "
                    f"({', '.join(READING)}); {kind.lower()} statements are refused {hint}"
                )
        try:
            relation = con.sql(query)
        except duckdb.Error as exc:
            raise QueryError(_one_line(exc)) from exc
        if relation is None:
            return QueryResult([], [], [])
        columns = list(relation.columns)
        types = [str(t) for t in relation.types]
        projection = ", ".join(f"cast({_quote(c)} as varchar)" for c in columns)
        try:
            rows = relation.project(projection).fetchall() if columns else []
        except duckdb.Error as exc:
            raise QueryError(_one_line(exc)) from exc
        return QueryResult(columns, types, rows)
    finally:
        con.close()


def _one_line(exc: Exception) -> str:
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
    objects = []
    for row in result.rows:
        fields = [
            f"    {name}: {_json_value(v, t)}"
            for name, v, t in zip(names, row, result.types, strict=True)
        ]
        objects.append("  {\n" + ",\n".join(fields) + "\n  }" if fields else "  {}")
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
