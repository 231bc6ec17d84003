"""The warehouse's catalog for BI tools: reporting views and COMMENT ON descriptions.

Every build calls :func:`publish` last: it (re)creates the reporting views of ``sql/views/``
(``daily_delta``, ``backtest_summary``) and writes the descriptions of ``sql/schema.toml`` into
the warehouse as ``COMMENT ON TABLE/VIEW/COLUMN`` for every relation present, so BI tools show
them. :mod:`vcdwh.dictionary` reads them back (``vcdwh schema``).

Descriptions are matched by relation name, or by a pattern such as ``bars_{interval}`` (a
``{placeholder}`` stands for one word of lowercase letters and digits), so relations added
later only need an entry in ``sql/schema.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from vcdwh.errors import ConfigError
from vcdwh.warehouse.schema import check_relation, load_contracts, match_relation, read_schema
from vcdwh.warehouse.sqlrender import identifier, render, templates

if TYPE_CHECKING:
    import duckdb

VIEW_FOLDER = "views"


@dataclass(frozen=True)
class RelationDoc:
    """The description of one relation (or relation pattern) and of its columns."""

    name: str
    description: str
    columns: dict[str, str] = field(default_factory=dict)


@cache
def load_docs() -> dict[str, RelationDoc]:
    """Read the descriptions of ``sql/schema.toml``, keyed by relation name or pattern.

    An entry with ``columns_from = "<entry>"`` takes that entry's column descriptions, then
    its own (which win).
    """
    specs = read_schema().get("relations", {})
    return {
        name: RelationDoc(
            name,
            spec.get("description", ""),
            dict(specs.get(spec.get("columns_from", ""), {}).get("columns", {}))
            | dict(spec.get("columns", {})),
        )
        for name, spec in specs.items()
    }


def doc_for(relation: str, docs: dict[str, RelationDoc] | None = None) -> RelationDoc | None:
    """The description entry of a relation: its own name, else the longest matching pattern."""
    docs = load_docs() if docs is None else docs
    name = match_relation(relation, docs)
    return docs[name] if name is not None else None


def _literal(text: str) -> str:
    """A SQL string literal (COMMENT ON takes no bound parameters)."""
    if any(ord(c) < 32 for c in text):
        raise ConfigError(f"sql/schema.toml: description {text[:40]!r} holds a control character")
    return "'" + text.replace("'", "''") + "'"


def _bars_for_views(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = con.execute(
        "select relation from bar_intervals order by seconds desc limit 1"
    ).fetchall()
    return identifier(str(rows[0][0])) if rows else None


def create_views(con: duckdb.DuckDBPyConnection) -> list[str]:
    """(Re)create every reporting view of ``sql/views/``; return their names.

    ``daily_delta`` reads the coarsest bars table built (the cheapest; every interval gives the
    same session figures). Views whose inputs are missing (no bars built yet) are skipped.
    """
    bars = _bars_for_views(con)
    created = []
    for template in templates(VIEW_FOLDER):
        name = identifier(Path(template).stem)
        if name == "daily_delta" and bars is None:
            continue
        con.execute(f"create or replace view {name} as {render(template, bars=bars)}")
        created.append(name)
    return created


def relations(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Every (name, kind) of the main schema of the open database, tables first, by name."""
    return [(name, kind) for name, kind, _comment in described_relations(con)]


def described_relations(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str | None]]:
    """Every (name, kind, stored comment) of the main schema, tables first, by name."""
    return [
        (str(name), str(kind), comment)
        for name, kind, comment in con.execute(
            """
            select table_name, 'table' as kind, comment from duckdb_tables()
            where database_name = current_database() and schema_name = 'main' and not temporary
            union all
            select view_name, 'view', comment from duckdb_views()
            where database_name = current_database() and schema_name = 'main'
              and not internal and not temporary
            order by kind, 1
            """
        ).fetchall()
    ]


def columns_by_relation(
    con: duckdb.DuckDBPyConnection,
) -> dict[str, list[tuple[str, str, str | None]]]:
    """Every column of the main schema as (name, type, stored comment), by relation, in column
    order: one query for the whole catalog."""
    found: dict[str, list[tuple[str, str, str | None]]] = {}
    for relation, column, data_type, comment in con.execute(
        """
        select table_name, column_name, data_type, comment from duckdb_columns()
        where database_name = current_database() and schema_name = 'main'
        order by table_name, column_index
        """
    ).fetchall():
        found.setdefault(str(relation), []).append((str(column), str(data_type), comment))
    return found


def apply_comments(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Write ``COMMENT ON`` for every relation and column that ``sql/schema.toml`` describes.

    Only comments that differ from the stored ones are written, in one batch of statements.

    Returns
    -------
    list of str
        ``relation`` or ``relation.column`` for everything present without a description
        (empty when the catalog is complete).
    """
    missing: list[str] = []
    statements: list[str] = []
    columns = columns_by_relation(con)
    for name, kind, stored in described_relations(con):
        doc = doc_for(name)
        if doc is None or not doc.description:
            missing.append(name)
            if doc is None:
                continue
        relation = identifier(name)
        if doc.description and stored != doc.description:
            statements.append(f"comment on {kind} {relation} is {_literal(doc.description)}")
        for column, _type, comment in columns.get(name, []):
            text = doc.columns.get(column)
            if not text:
                missing.append(f"{name}.{column}")
                continue
            if comment != text:
                statements.append(
                    f"comment on column {relation}.{identifier(column)} is {_literal(text)}"
                )
    if statements:
        con.execute(";\n".join(statements))
    return missing


def check_views(con: duckdb.DuckDBPyConnection, views: list[str]) -> None:
    """Run the contracts of ``sql/schema.toml`` on the reporting views (grain, not-null, rules)."""
    contracts = load_contracts()
    for view in views:
        if view in contracts:
            check_relation(con, view, contracts[view])


def publish(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create the reporting views, check their contracts and comment every relation.

    Called at the end of every build, inside its transaction. Returns what has no description
    (see :func:`apply_comments`); the build does not fail on it, a test does.
    """
    views = create_views(con)
    check_views(con, views)
    return apply_comments(con)
