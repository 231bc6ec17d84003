"""Check the contracts in ``sql/schema.toml`` (grain, not-null columns, row rules)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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


def load_contracts() -> dict[str, Contract]:
    """Read ``sql/schema.toml`` into contracts keyed by relation name (or name pattern).

    Column sets (``[column_sets.<name>]``: checks of columns that only some builds add, such
    as the large-lot columns) are included under their own name.
    """
    with (sql_root() / "schema.toml").open("rb") as handle:
        data = tomllib.load(handle)
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
    """The contract of a relation, matching ``bars_{interval}`` style patterns.

    When several patterns match (``bars_{interval}`` and ``bars_{interval}_continuous`` both
    match ``bars_1min_continuous``), the most specific one (longest fixed text) wins.
    """
    if relation in contracts:
        return contracts[relation]
    matches = []
    for name, contract in contracts.items():
        prefix, found, suffix = name.partition("{interval}")
        if (
            found
            and len(relation) > len(prefix) + len(suffix)
            and relation.startswith(prefix)
            and relation.endswith(suffix)
        ):
            matches.append((len(prefix) + len(suffix), contract))
    return max(matches, key=lambda item: item[0])[1] if matches else None


def check_relation(con: duckdb.DuckDBPyConnection, relation: str, contract: Contract) -> None:
    """Run one relation's checks.

    Raises
    ------
    BuildError
        Naming the relation, the check and how many rows break it.
    """
    table = identifier(relation)
    if contract.grain:
        keys = ", ".join(identifier(c) for c in contract.grain)
        dupes = con.execute(
            f"select count(*) from (select {keys} from {table} group by {keys} having count(*) > 1)"
        ).fetchone()[0]  # type: ignore[index]
        if dupes:
            raise BuildError(f"{relation}: {dupes} duplicate key(s) on ({keys}); this is a bug")
    for column in contract.not_null:
        nulls = con.execute(
            f"select count(*) from {table} where {identifier(column)} is null"
        ).fetchone()[0]  # type: ignore[index]
        if nulls:
            raise BuildError(f"{relation}: {nulls} row(s) with {column} null; this is a bug")
    for rule in contract.rules:
        broken = con.execute(f"select count(*) from {table} where not ({rule})").fetchone()[0]  # type: ignore[index]
        if broken:
            raise BuildError(f"{relation}: {broken} row(s) break the rule `{rule}`")
