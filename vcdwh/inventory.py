"""``vcdwh list``: the data files on disk and what the warehouse holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vcdwh.config import Settings
from vcdwh.datafiles import discover
from vcdwh.warehouse.db import connect_read_only


@dataclass(frozen=True)
class DataFile:
    """One data file in the data folder."""

    name: str
    bytes: int
    loaded: bool


@dataclass
class Inventory:
    """Files on disk, and per instrument what the warehouse holds."""

    data_dir: Path
    db_path: Path
    files: list[DataFile] = field(default_factory=list)
    warehouse_exists: bool = False
    instruments: list[dict[str, Any]] = field(default_factory=list)
    relations: list[tuple[str, int]] = field(default_factory=list)
    loaded_files: int = 0
    backtest_runs: int = 0
    build_settings: list[tuple[str, str, str]] = field(default_factory=list)


def take_inventory(settings: Settings) -> Inventory:
    """List data files and summarise the warehouse (read-only)."""
    inventory = Inventory(settings.data_dir, settings.db_path)
    loaded: set[tuple[str, int]] = set()
    if settings.db_path.exists():
        inventory.warehouse_exists = True
        con = connect_read_only(settings.db_path)
        try:
            tables = {
                name
                for (name,) in con.execute(
                    "select table_name from duckdb_tables() where schema_name = 'main'"
                ).fetchall()
            }
            if "loaded_files" in tables:
                loaded = {
                    (Path(p).name, int(b))
                    for p, b in con.execute("select path, bytes from loaded_files").fetchall()
                }
                inventory.loaded_files = len(loaded)
            if "trades" in tables:
                rows = con.execute(
                    """
                    select symbol, instrument_id, count(*) as trades, sum(size)::bigint as volume,
                           min(ts_recv)::varchar as first_trade, max(ts_recv)::varchar as last_trade
                    from trades group by symbol, instrument_id order by volume desc
                    """
                ).fetchall()
                keys = ("symbol", "instrument_id", "trades", "volume", "first_trade", "last_trade")
                inventory.instruments = [dict(zip(keys, r, strict=True)) for r in rows]
            if "build_settings" in tables:
                inventory.build_settings = [
                    (str(k), str(v), str(t))
                    for k, v, t in con.execute(
                        "select key, value, set_at::varchar from build_settings order by key"
                    ).fetchall()
                ]
            for name in sorted(tables):
                count = con.execute(f'select count(*) from "{name}"').fetchone()
                inventory.relations.append((name, int(count[0]) if count else 0))
            if "backtest_runs" in tables:
                inventory.backtest_runs = dict(inventory.relations).get("backtest_runs", 0)
        finally:
            con.close()
    for path in discover(settings.data_dir):
        size = path.stat().st_size
        inventory.files.append(DataFile(path.name, size, (path.name, size) in loaded))
    return inventory


def format_inventory(inv: Inventory) -> str:
    """What ``vcdwh list`` prints: the data files, the warehouse, its instruments and relations."""
    lines = [f"data folder: {inv.data_dir}"]
    if not inv.files:
        lines.append("  (no trades_*/ohlcv_1m_* CSV or DBN files)")
    for item in inv.files:
        state = "loaded" if item.loaded else "new"
        lines.append(f"  {item.name}  {item.bytes / 1_048_576:,.2f} MB  [{state}]")
    if not inv.warehouse_exists:
        lines.append(f"warehouse: {inv.db_path} (not built yet; run `vcdwh build`)")
        return "\n".join(lines)
    lines.append(
        f"warehouse: {inv.db_path} ({inv.loaded_files} file(s) loaded, "
        f"{inv.backtest_runs} backtest run(s))"
    )
    for row in inv.instruments:
        lines.append(
            f"  {row['symbol']:<12} id {row['instrument_id']:<10} "
            f"{row['trades']:>12,} trades {row['volume']:>12,} volume  "
            f"{row['first_trade']} → {row['last_trade']}"
        )
    if inv.build_settings:
        lines.append("build settings:")
        for key, value, set_at in inv.build_settings:
            lines.append(f"  {key:<16} {value:<10} (set {set_at})")
    lines.append("relations:")
    for name, count in inv.relations:
        lines.append(f"  {name:<24} {count:>12,} rows")
    return "\n".join(lines)
