"""`vcdwh export --format parquet`: Hive-partitioned trades and bars, all or nothing."""

from __future__ import annotations

import duckdb
import pytest
from click.testing import CliRunner

from tests.bi_helpers import build_sample_warehouse
from vcdwh.cli import cli
from vcdwh.config import Settings
from vcdwh.errors import ConfigError, WarehouseError
from vcdwh.export import export_parquet
from vcdwh.marts.frequency import parse_frequency
from vcdwh.spark import duckdb_bars_from_parquet


@pytest.fixture(name="sample", scope="module")
def fixture_sample(tmp_path_factory) -> Settings:
    return build_sample_warehouse(tmp_path_factory.mktemp("export"))


@pytest.fixture(name="exported", scope="module")
def fixture_exported(sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("parquet") / "it's here"  # a quote in the path: bound, not pasted
    report = export_parquet(sample, out)
    return out, report


def _warehouse(sample: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(sample.db_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_export_given_sample_writes_hive_partitions_per_root_and_session(exported):
    out, report = exported
    assert report.out_dir == out
    assert set(report.relations) == {
        "trades",
        "sessions",
        "session_hours",
        "bars_1min",
        "bars_5min",
    }
    partitions = sorted(
        p.relative_to(out / "trades").as_posix() for p in (out / "trades").glob("*/*")
    )
    assert partitions == [f"root=ES/session_date=2024-03-0{d}" for d in range(4, 9)]
    assert (out / "sessions" / "sessions.parquet").is_file()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_export_given_sample_trades_round_trip_exactly(exported, sample):
    out, report = exported
    columns = "ts_recv, ts_event, instrument_id, side, price, size, sequence, symbol, position"
    back = duckdb.execute(
        f"select {columns}, root, session_date from read_parquet($p, hive_partitioning = true) "
        "order by all",
        {"p": str(out / "trades" / "**" / "*.parquet")},
    ).fetchall()
    expected = _warehouse(
        sample,
        f"select {', '.join('t.' + c.strip() for c in columns.split(','))}, 'ES', s.session_date "
        "from trades t asof join sessions s on t.ts_recv >= s.session_start order by all",
    )
    assert len(back) == report.relations["trades"] == 10_000
    assert back == expected


def test_export_given_bars_duckdb_rebuild_from_parquet_equals_warehouse(exported, sample):
    out, _ = exported
    for name in ("1min", "5min"):
        rebuilt = duckdb_bars_from_parquet(out, parse_frequency(name)).fetchall()
        # The Parquet rebuild runs a plain build's bars (no large-lot columns, none of the
        # profile, VWAP and footprint columns).
        plain = (
            f"select * exclude (large_buy_volume, large_sell_volume, large_delta, "
            f"large_cumulative_delta, session_vwap, session_vwap_sd, session_poc, session_vah, "
            f"session_val, buy_imbalances, sell_imbalances, stacked_buy_imbalances, "
            f"stacked_sell_imbalances, buy_trades, sell_trades, avg_trade_size, delta_since_high, "
            f"delta_since_low) from bars_{name}"
        )
        assert sorted(rebuilt) == sorted(_warehouse(sample, plain))
        assert len(rebuilt) > 100


def test_export_given_bars_partitions_carry_root_and_session(exported, sample):
    out, report = exported
    back = duckdb.execute(
        "select root, session_date, count(*) from read_parquet($p, hive_partitioning = true) "
        "group by all order by all",
        {"p": str(out / "bars_5min" / "**" / "*.parquet")},
    ).fetchall()
    expected = _warehouse(
        sample, "select 'ES', session_date, count(*) from bars_5min group by all order by all"
    )
    assert back == expected
    assert sum(n for _, _, n in back) == report.relations["bars_5min"]


def test_export_given_non_empty_folder_refuses_and_keeps_it(sample, tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError) as info:
        export_parquet(sample, tmp_path)
    assert str(info.value) == (
        f"export folder {tmp_path} is not empty; give a new folder or add --overwrite"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_export_given_overwrite_replaces_folder(sample, tmp_path):
    out = tmp_path / "pq"
    out.mkdir()
    (out / "old.txt").write_text("old")
    export_parquet(sample, out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [
        "bars_1min",
        "bars_5min",
        "session_hours",
        "sessions",
        "trades",
    ]


@pytest.mark.parametrize("bad", ["a\nb", "x\x00y", "../up"])
def test_export_given_unsafe_path_raises_before_writing(sample, tmp_path, bad, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="export folder"):
        export_parquet(sample, bad)
    assert list(tmp_path.iterdir()) == []


def test_export_given_no_warehouse_writes_nothing(settings, tmp_path):
    out = tmp_path / "pq"
    with pytest.raises(WarehouseError):
        export_parquet(settings, out)
    assert not out.exists()


def test_export_cli_given_sample_prints_counts(sample, tmp_path):
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        cli, ["--db", str(sample.db_path), "export", "--format", "parquet", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split() == ["trades", "10,000", "rows"]
    assert f"Parquet file(s) to {out}" in result.output


def test_export_cli_given_other_format_is_usage_error(sample, tmp_path):
    result = CliRunner().invoke(
        cli, ["--db", str(sample.db_path), "export", "--format", "csv", str(tmp_path / "x")]
    )
    assert result.exit_code == 2
    assert not (tmp_path / "x").exists()
