"""``vcdwh schema``: the data dictionary, read back from the warehouse's comments.

Every build writes the descriptions of ``sql/schema.toml`` as ``COMMENT ON`` (see
:mod:`vcdwh.warehouse.catalog`); this reader lists every relation and column with its type and
description, as a table or as the markdown of ``docs/data-dictionary.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vcdwh.errors import ConfigError
from vcdwh.query import QueryResult, format_result
from vcdwh.warehouse.catalog import columns_by_relation, described_relations, doc_for
from vcdwh.warehouse.db import connect_read_only

if TYPE_CHECKING:
    import duckdb

FORMATS = ("table", "markdown")


@dataclass(frozen=True)
class ColumnEntry:
    """One column of the data dictionary."""

    name: str
    type: str
    description: str


@dataclass(frozen=True)
class RelationEntry:
    """One relation of the data dictionary, as the warehouse reports it."""

    name: str
    kind: str  # "table" or "view"
    description: str
    columns: tuple[ColumnEntry, ...]


def read_dictionary(con: duckdb.DuckDBPyConnection) -> list[RelationEntry]:
    """The data dictionary of an open warehouse: every relation and column with its comment."""
    columns = columns_by_relation(con)
    return [
        RelationEntry(
            name,
            kind,
            comment or "",
            tuple(ColumnEntry(c, t, d or "") for c, t, d in columns.get(name, [])),
        )
        for name, kind, comment in described_relations(con)
    ]


def data_dictionary(db_path: Path) -> list[RelationEntry]:
    """Open the warehouse read-only and read its data dictionary.

    Raises
    ------
    WarehouseError
        If there is no warehouse at ``db_path`` or it cannot be opened.
    """
    con = connect_read_only(db_path)
    try:
        return read_dictionary(con)
    finally:
        con.close()


def _group(entries: list[RelationEntry]) -> list[tuple[list[str], RelationEntry]]:
    """Merge relations described by one pattern entry with identical columns (bars_1min, …)."""
    groups: list[tuple[list[str], RelationEntry]] = []
    by_key: dict[tuple[object, ...], int] = {}
    for entry in entries:
        doc = doc_for(entry.name)
        pattern = doc.name if doc is not None and doc.name != entry.name else None
        key = (pattern, entry.kind, entry.description, entry.columns)
        if pattern is not None and key in by_key:
            groups[by_key[key]][0].append(entry.name)
            continue
        if pattern is not None:
            by_key[key] = len(groups)
        groups.append(([entry.name], entry))
    return groups


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_dictionary(entries: list[RelationEntry], fmt: str = "table") -> str:
    """Render the data dictionary as an aligned table or as Markdown (for the README).

    ``markdown`` gives one section per relation (relations of one pattern with the same columns,
    such as ``bars_1min`` and ``bars_5min``, share a section); ``table`` gives one line per
    relation (its kind and description) followed by one line per column: relation, column,
    type, description.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r} must be one of: {', '.join(FORMATS)}")
    if fmt == "markdown":
        out: list[str] = []
        for names, entry in _group(entries):
            title = ", ".join(f"`{n}`" for n in names)
            out.append(f"#### {title} ({entry.kind})")
            out.append("")
            if entry.description:
                out.append(entry.description)
                out.append("")
            out.append("| column | type | description |")
            out.append("|---|---|---|")
            for column in entry.columns:
                out.append(
                    f"| `{column.name}` | {_cell(column.type)} | {_cell(column.description)} |"
                )
            out.append("")
        return "\n".join(out).rstrip("\n")
    rows: list[tuple[str | None, ...]] = []
    for entry in entries:
        rows.append((entry.name, "", entry.kind, entry.description))
        rows.extend((entry.name, c.name, c.type, c.description) for c in entry.columns)
    result = QueryResult(["relation", "column", "type", "description"], ["VARCHAR"] * 4, rows)
    return format_result(result, "table")
