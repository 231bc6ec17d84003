"""``sql/schema.toml``, read here only: the contracts (grain, not-null columns, row rules) it
states, checked after a build, and the descriptions the catalog publishes."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from vcdwh.errors import BuildError
from vcdwh.warehouse.sqlrender import identifier, sql_root

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class Contract:
    """What one relation promises."""

    name: str
    description: str
    grain: tuple[str, ...] = ()
    not_null: tuple[str, ...] = ()
    rules: tuple[str, ...] = field(default_factory=tuple)

    def renamed(self, name: str) -> Contract:
        """The same checks under another relation's name (for column sets)."""
        return Contract(name, self.description, self.grain, self.not_null, self.rules)


_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


@cache
def read_schema() -> dict[str, Any]:
    """The parsed ``sql/schema.toml``: ``relations`` and ``column_sets`` sections."""
    with (sql_root() / "schema.toml").open("rb") as handle:
        return tomllib.load(handle)


def match_relation(relation: str, names: Iterable[str]) -> str | None:
    """The entry of ``names`` that describes ``relation``: its own name, else a pattern.

    A ``{placeholder}`` in a pattern (``bars_{interval}``) stands for one word of lowercase
    letters and digits; when several patterns match, the longest (most specific) wins.
    """
    names = list(names)
    if relation in names:
        return relation
    patterns = sorted((n for n in names if _PLACEHOLDER.search(n)), key=len, reverse=True)
    for name in patterns:
        parts = _PLACEHOLDER.split(name)
        if re.fullmatch("[a-z0-9]+".join(re.escape(p) for p in parts), relation):
            return name
    return None


def load_contracts() -> dict[str, Contract]:
    """Read ``sql/schema.toml`` into contracts keyed by relation name (or name pattern).

    Column sets (``[column_sets.<name>]``: checks of columns that only some builds add, such
    as the large-lot columns) are included under their own name.
    """
    data = read_schema()
    sections = {**data.get("relations", {}), **data.get("column_sets", {})}
    return {
        name: Contract(
            name=name,
            description=spec.get("description", ""),
            grain=tuple(spec.get("grain", ())),
            not_null=tuple(spec.get("not_null", ())),
            rules=tuple(spec.get("rules", ())),
        )
        for name, spec in sections.items()
    }


def contract_for(relation: str, contracts: dict[str, Contract]) -> Contract | None:
    """The contract of a relation, matching ``bars_{interval}`` style patterns."""
    name = match_relation(relation, contracts)
    return contracts[name] if name is not None else None


def check_relation(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    contract: Contract,
    written_only: bool = False,
) -> None:
    """Run one relation's checks: the grain, then every not-null column and row rule in one scan.

    ``written_only``: check only the rows an incremental build wrote, those of the instruments
    in the temporary ``affected`` table from the session their new trades start
    (``bar_start >= from_start``); the rows before it were checked when they were written, and
    a duplicate key can only be among the new rows, which replaced every row from there on.

    Raises
    ------
    BuildError
        Naming the relation, the check and how many rows break it.
    """
    table = identifier(relation)
    rows = (
        f"(select {table}.* from {table} join affected using (instrument_id, symbol)"
        f" where {table}.bar_start >= affected.from_start) as written"
        if written_only
        else table
    )
    if contract.grain:
        keys = ", ".join(identifier(c) for c in contract.grain)
        dupes = con.execute(
            f"select count(*) from (select {keys} from {rows} group by {keys} having count(*) > 1)"
        ).fetchone()[0]  # type: ignore[index]
        if dupes:
            raise BuildError(f"{relation}: {dupes} duplicate key(s) on ({keys}); this is a bug")
    checks = [
        (f"{identifier(column)} is null", f"with {column} null; this is a bug")
        for column in contract.not_null
    ] + [(f"not ({rule})", f"break the rule `{rule}`") for rule in contract.rules]
    if not checks:
        return
    counts = con.execute(
        "select "
        + ", ".join(f"count(*) filter (where {condition})" for condition, _ in checks)
        + f" from {rows}"
    ).fetchone()
    for count, (_, broken) in zip(counts or (), checks, strict=True):
        if count:
            raise BuildError(f"{relation}: {count} row(s) {broken}")
