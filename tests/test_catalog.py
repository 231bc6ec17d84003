"""The BI catalog: COMMENT ON for every relation and column, reporting views, `vcdwh schema`,
and the storage version of new warehouse files."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import jinja2
import pytest
from click.testing import CliRunner

from tests.bi_helpers import build_sample_warehouse
from vcdwh.cli import cli
from vcdwh.config import Settings
from vcdwh.errors import ConfigError
from vcdwh.warehouse.catalog import RelationDoc, doc_for, load_docs
from vcdwh.warehouse.db import (
    connect,
    connect_read_only,
    new_database_config,
    storage_version,
)
from vcdwh.warehouse.sqlrender import sql_root

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(name="sample", scope="module")
def fixture_sample(tmp_path_factory) -> Settings:
    """A built sample warehouse with one backtest run (every relation vcdwh makes)."""
    return build_sample_warehouse(tmp_path_factory.mktemp("catalog"))


def _read(settings: Settings, sql: str, params: dict | None = None) -> list[tuple]:
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        return con.execute(sql, params or {}).fetchall()
    finally:
        con.close()


# --------------------------------------------------------------------------- comments


def test_catalog_given_full_sample_build_every_relation_has_a_comment(sample):
    relations = _read(
        sample,
        "select table_name, comment from duckdb_tables() where schema_name = 'main' "
        "union all select view_name, comment from duckdb_views() "
        "where schema_name = 'main' and not internal",
    )
    names = {name for name, _ in relations}
    assert {"trades", "bars_1min", "bars_5min", "daily_delta", "backtest_summary"} <= names
    assert [name for name, comment in relations if not comment] == []


def test_catalog_given_full_sample_build_every_column_has_a_comment(sample):
    columns = _read(
        sample,
        "select table_name, column_name, comment from duckdb_columns() "
        "where schema_name = 'main' and database_name = current_database() order by all",
    )
    assert len(columns) > 100
    assert [f"{t}.{c}" for t, c, comment in columns if not comment] == []


def test_catalog_given_schema_toml_describes_only_columns_that_exist(sample):
    present = _read(
        sample,
        "select table_name, list(column_name) from duckdb_columns() "
        "where schema_name = 'main' and database_name = current_database() group by table_name",
    )
    stale = []
    for relation, columns in present:
        doc = doc_for(relation)
        assert doc is not None, relation
        stale += [f"{relation}.{c}" for c in doc.columns if c not in columns]
    assert stale == []


def test_catalog_given_bars_table_comment_equals_schema_toml(sample):
    comment = _read(sample, "select comment from duckdb_tables() where table_name = 'bars_5min'")
    column = _read(
        sample,
        "select comment from duckdb_columns() where table_name = 'bars_5min' "
        "and column_name = 'delta'",
    )
    assert comment == [(load_docs()["bars_{interval}"].description,)]
    assert column == [("buy_volume - sell_volume (signed 64-bit).",)]


def test_catalog_given_a_changed_comment_the_next_build_restores_every_description(settings, build):
    day = DATA / "trades_ESH4_2024-03-05_2024-03-06.csv"
    build([day])
    con = connect(settings.db_path)
    try:
        con.execute("comment on column bars_5min.delta is 'edited by hand'")
        con.execute("comment on table trades is null")
    finally:
        con.close()
    # nothing new to load: the marts are kept, and the comments are checked all the same
    build([day])
    columns = _read(
        settings,
        "select table_name, column_name, comment from duckdb_columns() "
        "where schema_name = 'main' and database_name = current_database() order by all",
    )
    assert [f"{t}.{c}" for t, c, comment in columns if not comment] == []
    assert ("bars_5min", "delta", "buy_volume - sell_volume (signed 64-bit).") in columns
    trades = _read(settings, "select comment from duckdb_tables() where table_name = 'trades'")
    assert trades == [(load_docs()["trades"].description,)]


@pytest.mark.parametrize(
    ("relation", "entry"),
    [
        ("bars_1min", "bars_{interval}"),
        ("bars_30s", "bars_{interval}"),
        ("bars_4h", "bars_{interval}"),
        ("trades", "trades"),
        ("bars_1min_extra", None),
        ("continuous_bars_1min", None),
    ],
)
def test_doc_for_given_relation_name_matches_exact_or_pattern_entry(relation, entry):
    doc = doc_for(relation)
    assert (doc.name if doc else None) == entry


def test_doc_for_given_longer_pattern_prefers_it():
    docs = {
        "bars_{interval}": RelationDoc("bars_{interval}", "plain"),
        "bars_{interval}_footprint": RelationDoc("bars_{interval}_footprint", "footprint"),
    }
    assert doc_for("bars_1min_footprint", docs).description == "footprint"
    assert doc_for("bars_1min", docs).description == "plain"


# --------------------------------------------------------------------------- views


def test_daily_delta_given_sample_equals_session_totals_from_trades(sample):
    from_trades = _read(
        sample,
        """
        select t.symbol, s.session_date, sum(t.size), sum(t.size) filter (where side = 'B'),
               sum(t.size) filter (where side = 'A'),
               coalesce(sum(t.size) filter (where side = 'B'), 0)
                 - coalesce(sum(t.size) filter (where side = 'A'), 0),
               arg_min(t.price, (t.ts_recv, t.sequence, t.position)),
               arg_max(t.price, (t.ts_recv, t.sequence, t.position)),
               count(*)
        from trades t asof join sessions s on t.ts_recv >= s.session_start
        group by all order by all
        """,
    )
    from_view = _read(
        sample,
        "select symbol, session_date, volume, buy_volume, sell_volume, delta, open, close, trades "
        "from daily_delta order by all",
    )
    assert len(from_view) == 15  # three instruments over five sessions
    assert from_view == from_trades


def test_daily_delta_given_sample_closing_cumulative_delta_is_running_total(sample):
    rows = _read(
        sample,
        "select symbol, delta, close_cumulative_delta, session_close_cumulative_delta "
        "from daily_delta order by symbol, session_date",
    )
    running: dict[str, int] = {}
    for symbol, delta, close_cd, session_cd in rows:
        running[symbol] = running.get(symbol, 0) + delta
        assert (close_cd, session_cd) == (running[symbol], delta)


@pytest.mark.parametrize(
    ("symbol", "root"),
    [
        ("ESH4", "ES"),
        ("ESH24", "ES"),
        ("MESM4", "MES"),
        ("NQZ5", "NQ"),
        ("SR3H4", "SR3"),
        ("6EM4", "6E"),
        ("ESH4-ESM4", "ES"),
        ("1071306", "UNKNOWN"),
        ("ES", "UNKNOWN"),
    ],
)
def test_root_macro_given_symbol_gives_product_root(symbol, root):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(sql_root())))
    sql = env.from_string(
        "{% from 'macros/root.sql' import root %}select {{ root('$symbol') }}"
    ).render()
    assert duckdb.execute(sql, {"symbol": symbol}).fetchall() == [(root,)]


def test_backtest_summary_given_one_run_joins_parameters_and_metrics(sample):
    assert _read(
        sample,
        "select run_id, symbol, threshold, final_capital, total_trades from backtest_summary",
    ) == _read(
        sample,
        "select r.run_id, r.symbol, r.threshold, m.final_capital, m.total_trades "
        "from backtest_runs r join backtest_metrics m using (run_id)",
    )
    assert _read(sample, "select threshold from backtest_summary") == [(100.0,)]


# --------------------------------------------------------------------------- vcdwh schema


def _schema(settings: Settings, *args: str):
    return CliRunner().invoke(cli, ["--db", str(settings.db_path), "schema", *args])


def test_schema_cli_given_table_format_lists_relations_and_columns(sample):
    result = _schema(sample)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["relation", "column", "type", "description"]
    assert re.search(r"^bars_1min\s+delta\s+BIGINT\s+buy_volume - sell_volume", result.output, re.M)
    assert re.search(r"^daily_delta\s+view\s+Reporting view", result.output, re.M)


def test_schema_cli_given_markdown_groups_bars_intervals(sample):
    result = _schema(sample, "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert "#### `bars_1min`, `bars_5min` (table)" in result.output
    assert "| `delta` | BIGINT | buy_volume - sell_volume (signed 64-bit). |" in result.output


def test_schema_cli_given_no_warehouse_exits_1(settings):
    result = CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), "schema"])
    assert result.exit_code == 1
    assert result.output == f"Error: no warehouse at {settings.db_path}; run `vcdwh build` first\n"


# --------------------------------------------------------------------------- storage version


def test_build_given_default_storage_version_writes_v1_4_file(sample):
    con = connect_read_only(sample.db_path)
    try:
        assert storage_version(con) == "v1.4.0+"
    finally:
        con.close()


def test_build_given_storage_version_latest_writes_newest_format(tmp_path):
    settings = Settings(tmp_path, tmp_path / "new.duckdb", "latest")
    con = connect(settings.db_path, storage_version=settings.storage_version)
    try:
        assert storage_version(con) not in ("v1.4.0+", "unknown")
    finally:
        con.close()


def test_connect_given_existing_file_keeps_its_storage_version(tmp_path):
    path = tmp_path / "w.duckdb"
    connect(path, storage_version="v1.2.0").close()
    con = connect(path, storage_version="latest")
    try:
        assert storage_version(con) == "v1.2.0+"
    finally:
        con.close()


def test_new_database_config_given_unknown_version_raises_one_line():
    with pytest.raises(ConfigError) as info:
        new_database_config("v0.9")
    assert str(info.value) == (
        "--storage-version 'v0.9' is not supported; use one of "
        "v1.0.0, v1.1.0, v1.2.0, v1.3.0, v1.4.0, v1.5.0, latest"
    )


def test_cli_given_unknown_storage_version_is_usage_error(tmp_path):
    result = CliRunner().invoke(
        cli, ["--data-dir", str(tmp_path), "--storage-version", "v9", "build"]
    )
    assert result.exit_code == 2
    assert "Invalid value for '--storage-version'" in result.output
    assert not (tmp_path / "vcdwh.duckdb").exists()


def test_cli_given_storage_version_option_creates_file_with_it(tmp_path):
    from vcdwh.sample import generate_sample

    data = tmp_path / "Data"
    generate_sample(data, days=2, trades_per_day=100)  # a build needs something to load
    result = CliRunner().invoke(
        cli, ["--data-dir", str(data), "--storage-version", "v1.5.0", "build"]
    )
    assert result.exit_code == 0, result.output
    con = connect_read_only(data / "vcdwh.duckdb")
    try:
        assert storage_version(con) == "v1.5.0+"
    finally:
        con.close()
