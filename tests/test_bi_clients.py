"""Real BI client stacks read the warehouse: the DuckDB CLI 1.5.6 (what lagging BI tools bundle)
and SQLAlchemy with duckdb_engine (Superset's driver), both read-only."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from tests.bi_helpers import build_sample_warehouse
from tests.conftest import REPO
from vcdwh.config import Settings

pytestmark = pytest.mark.slow

# .ci/run installs duckdb-cli==1.5.6 into .ci/cli156 and exports its path here.
CLI_ENV = "VCDWH_DUCKDB_CLI"
DEFAULT_CLI = REPO / ".ci" / "cli156" / "bin" / "duckdb"


@pytest.fixture(name="sample", scope="module")
def fixture_sample(tmp_path_factory) -> Settings:
    """A sample warehouse written with the default storage version."""
    return build_sample_warehouse(tmp_path_factory.mktemp("clients"))


@pytest.fixture(name="duckdb_cli")
def fixture_duckdb_cli() -> Path:
    """The DuckDB 1.5.6 CLI binary (skip with the reason when it is not installed)."""
    path = Path(os.environ.get(CLI_ENV) or DEFAULT_CLI)
    if not path.is_file():
        pytest.skip(
            f"DuckDB CLI 1.5.6 not found at {path}; install it with "
            f"`python3 -m venv .ci/cli156 && .ci/cli156/bin/pip install duckdb-cli==1.5.6` "
            f"or set {CLI_ENV}"
        )
    return path


def _relations(settings: Settings) -> list[str]:
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        return [
            name
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'main' "
                "union all select view_name from duckdb_views() "
                "where schema_name = 'main' and not internal order by 1"
            ).fetchall()
        ]
    finally:
        con.close()


def _cli(binary: Path, db: Path, sql: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), "-readonly", "-csv", "-noheader", str(db), "-c", sql],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_duckdb_cli_156_given_default_build_reads_every_relation(sample, duckdb_cli, tmp_path):
    version = subprocess.run(
        [str(duckdb_cli), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert version.startswith("v1.5.6")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    relations = _relations(sample)
    assert {"daily_delta", "backtest_summary", "bars_1min", "trades"} <= set(relations)
    con = duckdb.connect(str(sample.db_path), read_only=True)
    try:
        expected = {
            r: con.execute(f'select count(*) from "{r}"').fetchall()[0][0] for r in relations
        }
    finally:
        con.close()
    counted = {}
    for relation in relations:
        done = _cli(duckdb_cli, sample.db_path, f'select count(*) from "{relation}"', elsewhere)
        assert done.returncode == 0, f"{relation}: {done.stderr}"
        counted[relation] = int(done.stdout.strip())
    assert counted == expected


def test_duckdb_cli_156_given_views_returns_same_rows_as_library(sample, duckdb_cli, tmp_path):
    sql = (
        "select root, symbol, session_date, volume, delta, open, close, close_cumulative_delta "
        "from daily_delta order by symbol, session_date"
    )
    done = _cli(duckdb_cli, sample.db_path, sql, tmp_path)
    assert done.returncode == 0, done.stderr
    con = duckdb.connect(str(sample.db_path), read_only=True)
    try:
        rows = con.execute(sql).fetchall()
    finally:
        con.close()
    assert len(done.stdout.splitlines()) == len(rows) == 15
    first = done.stdout.splitlines()[0].split(",")
    assert first[:5] == [rows[0][0], rows[0][1], str(rows[0][2]), str(rows[0][3]), str(rows[0][4])]


def test_duckdb_cli_156_given_latest_storage_version_cannot_open(tmp_path, duckdb_cli):
    """Why the default is v1.4.0: DuckDB 2.x's own format is unreadable by 1.5.6."""
    settings = build_sample_warehouse(tmp_path / "latest", storage_version="latest")
    done = _cli(duckdb_cli, settings.db_path, "select count(*) from trades", tmp_path)
    assert done.returncode != 0
    assert "version number" in done.stderr


def test_sqlalchemy_duckdb_engine_given_read_only_lists_views_and_reads_bars(sample):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    pytest.importorskip("duckdb_engine")
    engine = sqlalchemy.create_engine(
        f"duckdb:///{sample.db_path}", connect_args={"read_only": True}
    )
    try:
        inspector = sqlalchemy.inspect(engine)
        assert {"daily_delta", "backtest_summary"} <= set(inspector.get_view_names())
        assert "bars_1min" in inspector.get_table_names()
        columns = [c["name"] for c in inspector.get_columns("bars_1min")]
        assert columns[:4] == ["bar_start", "symbol", "instrument_id", "session_date"]
        with engine.connect() as connection:
            rows = connection.execute(
                sqlalchemy.text(
                    "select symbol, sum(volume), sum(delta) from bars_1min "
                    "where symbol = :symbol group by symbol"
                ),
                {"symbol": "ESH4"},
            ).fetchall()
            with pytest.raises(sqlalchemy.exc.DBAPIError, match="read-only"):
                connection.execute(sqlalchemy.text("delete from bars_1min"))
    finally:
        engine.dispose()
    con = duckdb.connect(str(sample.db_path), read_only=True)
    try:
        expected = con.execute(
            "select symbol, sum(size), sum(case side when 'B' then size when 'A' then -size "
            "else 0 end) from trades where symbol = 'ESH4' group by symbol"
        ).fetchall()
    finally:
        con.close()
    assert [tuple(r) for r in rows] == expected
