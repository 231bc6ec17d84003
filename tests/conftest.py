"""Shared fixtures: fresh warehouses in tmp_path and the real Databento samples in ../shared/data."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import pytest

from vcdwh.build import BuildReport, build_warehouse
from vcdwh.config import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
DATABENTO = SHARED_DATA / "databento"

ESU4_TRADES = "glbx-mdp3_ESU4_trades_2024-07-01T2358_2024-07-02T0002"
ESU4_OHLCV = "glbx-mdp3_ESU4-NQU4_ohlcv-1m_2024-07-01T2340_2024-07-02T0010"
ESH4_DERIVED = "glbx-mdp3_ESH4_trades_2023-12-25_DERIVED-from-mbo"


@pytest.fixture(name="shared")
def fixture_shared() -> Path:
    """The real Databento samples (skip when ../shared/data is absent)."""
    if not DATABENTO.is_dir():
        pytest.skip(f"real Databento samples not found at {DATABENTO}")
    return DATABENTO


@pytest.fixture(name="settings")
def fixture_settings(tmp_path: Path) -> Settings:
    """Settings for a fresh data folder and warehouse in tmp_path."""
    data = tmp_path / "Data"
    data.mkdir()
    return Settings(data_dir=data, db_path=data / "vcdwh.duckdb")


@pytest.fixture(name="build")
def fixture_build(settings: Settings) -> Callable[..., BuildReport]:
    """Build the test warehouse from the given files."""

    def run(
        files: Sequence[Path | str] = (), frequencies: Sequence[str] | None = None
    ) -> BuildReport:
        return build_warehouse(settings, files, frequencies)

    return run


@pytest.fixture(name="query")
def fixture_query(settings: Settings) -> Callable[..., list[tuple]]:
    """Run a read-only query on the test warehouse."""

    def run(sql: str, params: dict | None = None) -> list[tuple]:
        con = duckdb.connect(str(settings.db_path), read_only=True)
        try:
            return con.execute(sql, params or {}).fetchall()
        finally:
            con.close()

    return run


def snapshot(db_path: Path) -> dict[str, object]:
    """Every table's row count and a checksum of its rows: equal snapshots = same warehouse."""
    if not db_path.exists():
        return {}
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'main' order by 1"
            ).fetchall()
        ]
        return {
            t: con.execute(f'select count(*), sum(hash(columns(*))) from "{t}"').fetchall()
            for t in tables
        }
    finally:
        con.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--run-live``: allow tests marked ``live`` that call the real Databento API."""
    parser.addoption(
        "--run-live",
        action="store_true",
        default=False,
        help="run tests marked live (needs DATABENTO_API_KEY; may cost money)",
    )
