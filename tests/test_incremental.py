"""Incremental builds: adding trades recomputes only what they touch, and equals a full build."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.helpers import (
    Trade,
    mart_differences,
    ns,
    sample_week_parts,
    write_pretty_csv,
    write_raw_csv,
)
from vcdwh.build import build_warehouse
from vcdwh.config import Settings
from vcdwh.marts.orderflow import FlowOverrides

pytestmark = pytest.mark.slow

MARTS = (
    "bars_1min",
    "bars_5min",
    "footprint_1min",
    "footprint_5min",
    "profile_session",
    "profile_session_summary",
    "rolls",
    "bars_1min_continuous",
    "bars_5min_continuous",
)

MINUTE = 60 * 1_000_000_000


@pytest.fixture(name="parts", scope="module")
def fixture_parts(tmp_path_factory) -> list[Path]:
    """The sample week's trades cut into three consecutive files (40% / 30% / 30% of rows)."""
    return sample_week_parts(tmp_path_factory.mktemp("parts"))


def _settings(folder: Path) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    return Settings(folder, folder / "w.duckdb")


def _differences(one: Path, other: Path) -> dict[str, int]:
    return mart_differences(one, other, MARTS)


def _full(tmp_path: Path, parts: list[Path], flow: FlowOverrides | None = None) -> Settings:
    settings = _settings(tmp_path / "full")
    build_warehouse(settings, parts, flow=flow)
    return settings


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 0, 1)], ids=["in_order", "out_of_order"])
def test_incremental_builds_equal_one_full_build(tmp_path, parts, order):
    # Arrange / Act: one file per build, in time order or with the latest file first.
    settings = _settings(tmp_path / "incremental")
    modes = [build_warehouse(settings, [parts[i]]).bars_mode for i in order]
    # Assert
    assert modes == ["full", "incremental", "incremental"]
    assert _differences(settings.db_path, _full(tmp_path, parts).db_path) == dict.fromkeys(MARTS, 0)


def test_incremental_build_with_large_lots_equals_a_full_build(tmp_path, parts):
    flow = FlowOverrides(min_size=5)
    settings = _settings(tmp_path / "incremental")
    build_warehouse(settings, parts[:2], flow=flow)
    assert build_warehouse(settings, parts[2:]).bars_mode == "incremental"
    full = _full(tmp_path, parts, flow)
    assert _differences(settings.db_path, full.db_path) == dict.fromkeys(MARTS, 0)


def test_build_adding_no_trade_keeps_the_marts_and_an_option_change_rebuilds(tmp_path, parts):
    settings = _settings(tmp_path / "w")
    build_warehouse(settings, parts)
    assert build_warehouse(settings, parts).bars_mode == "unchanged"
    assert build_warehouse(settings, flow=FlowOverrides(imbalance_ratio=2.0)).bars_mode == "full"
    assert build_warehouse(settings, flow=FlowOverrides(value_area_pct=60)).bars_mode == "full"
    assert build_warehouse(settings, frequencies=["30s"]).bars_mode == "full"


def test_incremental_build_on_the_real_esh4_session_equals_a_full_build(tmp_path, shared):
    from tests.conftest import ESH4_DERIVED

    header, *rows = (shared / "csv" / f"{ESH4_DERIVED}.pretty.csv").read_text().splitlines(True)
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(header + "".join(rows[:1500]))
    second.write_text(header + "".join(rows[1000:]))  # overlapping, with repeated fills
    settings = _settings(tmp_path / "incremental")
    build_warehouse(settings, [first])
    assert build_warehouse(settings, [second]).bars_mode == "incremental"
    full = _settings(tmp_path / "full")
    build_warehouse(full, [shared / "csv" / f"{ESH4_DERIVED}.pretty.csv"])
    assert _differences(settings.db_path, full.db_path) == dict.fromkeys(MARTS, 0)


def test_build_output_says_how_the_bars_were_refreshed(tmp_path, parts):
    from click.testing import CliRunner

    from vcdwh.cli import cli

    base = ["--data-dir", str(tmp_path / "d"), "build"]
    runner = CliRunner()
    first = runner.invoke(cli, [*base, str(parts[0])])
    second = runner.invoke(cli, [*base, str(parts[1])])
    third = runner.invoke(cli, base)
    assert "bars: bars_1min, bars_5min (rebuilt)" in first.output
    assert "bars: bars_1min, bars_5min (updated where new trades landed)" in second.output
    assert "bars: bars_1min, bars_5min (unchanged: no new trades)" in third.output


def test_symbols_given_raw_files_before_and_after_a_file_naming_the_instrument_are_learned(
    tmp_path,
):
    # A raw CSV has no symbol: its trades carry the instrument id until a file names it; the
    # earlier trades learn the name then, later raw files at their load; another instrument
    # nobody named keeps its id.
    settings = _settings(tmp_path)
    day = ns("2024-03-07 15:00:00")
    raw_one = write_raw_csv(tmp_path / "one.csv", [Trade(day, 5000.0, 1, "B")])
    named = write_pretty_csv(
        tmp_path / "named.csv", [Trade(day + MINUTE, 5001.0, 2, "A")], {1: "ESH4"}
    )
    raw_two = write_raw_csv(
        tmp_path / "two.csv",
        [Trade(day + 2 * MINUTE, 5002.0, 3, "B"), Trade(day + 2 * MINUTE, 5002.0, 4, "B", 2)],
    )

    def symbols() -> list[tuple]:
        con = duckdb.connect(str(settings.db_path), read_only=True)
        try:
            return con.execute(
                "select symbol, sum(size) from trades group by symbol order by symbol"
            ).fetchall()
        finally:
            con.close()

    build_warehouse(settings, [raw_one])
    assert symbols() == [("1", 1)]
    build_warehouse(settings, [named])
    assert symbols() == [("ESH4", 3)]
    build_warehouse(settings, [raw_two])
    assert symbols() == [("2", 4), ("ESH4", 6)]
