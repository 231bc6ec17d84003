"""Back-adjusted continuous series and roll rules, hand-computed on a crafted two-contract roll."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from tests.helpers import Trade, ns, write_pretty_csv
from vcdwh.build import build_warehouse
from vcdwh.cli import cli
from vcdwh.config import Settings
from vcdwh.errors import BuildError, ConfigError
from vcdwh.marts.continuous import ContinuousOptions, check_ratio_prices, parse_roll_rule

SYMBOLS = {1: "ESU4", 2: "ESZ4"}
# Session (trade date) 09-10: ESU4 has the volume; 09-11: ESZ4; 09-12: ESZ4.
TRADES = [
    Trade(ns("2024-09-10 14:00:10"), 5600.00, 10, "B", 1, 1),
    Trade(ns("2024-09-10 14:01:10"), 5602.00, 10, "A", 1, 2),
    Trade(ns("2024-09-10 14:01:20"), 5650.00, 2, "B", 2, 3),
    Trade(ns("2024-09-11 14:00:10"), 5610.00, 3, "B", 1, 4),
    Trade(ns("2024-09-11 14:00:20"), 5660.00, 10, "B", 2, 5),
    Trade(ns("2024-09-12 14:00:10"), 5670.00, 5, "A", 2, 6),
    Trade(ns("2024-09-12 14:00:20"), 5620.00, 1, "B", 1, 7),
]
DEFINITIONS = [
    # ESU4 expires Friday 2024-09-20 08:30 CT, ESZ4 Friday 2024-12-20.
    (1, "ESU4", datetime(2024, 9, 20, 13, 30)),
    (2, "ESZ4", datetime(2024, 12, 20, 14, 30)),
]


def _settings(folder: Path) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    write_pretty_csv(folder / "trades_ES_2024-09-10_2024-09-12.csv", TRADES, SYMBOLS)
    return Settings(data_dir=folder, db_path=folder / "vcdwh.duckdb")


def _define(settings: Settings) -> None:
    con = duckdb.connect(str(settings.db_path))
    try:
        for instrument_id, symbol, expiration in DEFINITIONS:
            con.execute(
                "insert into instrument_definitions values "
                "(?, ?, ?, 'ES', 'F', 0.25, 50, 'USD', 'XCME', ?, 0)",
                [datetime(2024, 9, 1), instrument_id, symbol, expiration],
            )
    finally:
        con.close()


def _rows(settings: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


CONTINUOUS = (
    "select strftime(bar_start, '%m-%d %H:%M'), contract, close, adj_open, adj_close "
    "from bars_1min_continuous where root = 'ES' order by bar_start"
)
ROLLS = (
    "select strftime(session_date, '%m-%d'), contract, rolled, roll_previous_close, "
    "roll_contract_close, roll_gap, adjustment from rolls where root = 'ES' order by session_date"
)


@pytest.fixture(name="warehouse", scope="module")
def fixture_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = _settings(tmp_path_factory.mktemp("adjusted"))
    build_warehouse(settings, [], ["1min"], adjust="difference")
    return settings


def test_rolls_given_a_volume_roll_store_the_closes_of_the_last_bar_both_traded(warehouse):
    # The last bar before the 09-11 session in which both traded is 09-10 14:01:
    # ESU4 closed 5602, ESZ4 5650, so the gap is +48.
    d = Decimal
    assert _rows(warehouse, ROLLS) == [
        ("09-10", "ESU4", False, None, None, None, d(48)),
        ("09-11", "ESZ4", True, d(5602), d(5650), d(48), d(0)),
        ("09-12", "ESZ4", False, None, None, None, d(0)),
    ]


def test_continuous_given_difference_adds_the_later_gaps_and_keeps_real_prices(warehouse):
    d = Decimal
    assert _rows(warehouse, CONTINUOUS) == [
        ("09-10 14:00", "ESU4", d(5600), d(5648), d(5648)),
        ("09-10 14:01", "ESU4", d(5602), d(5650), d(5650)),
        ("09-11 14:00", "ESZ4", d(5660), d(5660), d(5660)),
        ("09-12 14:00", "ESZ4", d(5670), d(5670), d(5670)),
    ]


def test_continuous_given_ratio_multiplies_by_the_later_ratios(tmp_path):
    settings = _settings(tmp_path / "ratio")
    build_warehouse(settings, [], ["1min"], adjust="ratio")

    rows = _rows(settings, CONTINUOUS)

    ratio = 5650 / 5602
    assert [r[3] for r in rows] == [
        pytest.approx(Decimal(5600 * ratio), abs=Decimal("1e-8")),
        Decimal(5650),
        Decimal(5660),
        Decimal(5670),
    ]
    assert [r[2] for r in rows] == [5600, 5602, 5660, 5670]


def test_build_given_expiry_days_rolls_n_sessions_before_the_expiration(tmp_path):
    # Six CME sessions before Friday 09-20 is Thursday 09-12: ESU4 stays the contract on 09-11
    # although ESZ4 had more volume; the gap is taken at 09-11 14:00 (5610 -> 5660).
    settings = _settings(tmp_path / "expiry")
    build_warehouse(settings, [], ["1min"])
    _define(settings)
    report = build_warehouse(settings, [], ["1min"], roll_rule="expiry-days:6", adjust="difference")

    d = Decimal
    assert report.bars_mode == "full"
    assert _rows(settings, ROLLS) == [
        ("09-10", "ESU4", False, None, None, None, d(50)),
        ("09-11", "ESU4", False, None, None, None, d(50)),
        ("09-12", "ESZ4", True, d(5610), d(5660), d(50), d(0)),
    ]
    [(rule, adjust)] = _rows(
        settings,
        "select max(value) filter (where key = 'roll_rule'), max(value) filter (where key = "
        "'adjust') from build_settings",
    )
    assert (rule, adjust) == ("expiry-days:6", "difference")


def test_build_given_expiry_days_without_definitions_names_the_contracts(tmp_path):
    settings = _settings(tmp_path / "undefined")
    runner = CliRunner()

    result = runner.invoke(
        cli, ["--data-dir", str(settings.data_dir), "build", "--roll-rule", "expiry-days:5"]
    )

    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "Error: --roll-rule expiry-days:5 needs each contract's expiration; no "
        "instrument_definitions record with an expiration for: ESU4, ESZ4; load their "
        "definition files (Databento schema definition) or use --roll-rule volume"
    )
    assert not settings.db_path.exists()


@pytest.mark.parametrize("text", ["expiry-days", "expiry-days:-1", "days:5", "Volume"])
def test_parse_roll_rule_given_bad_text_names_the_option_and_the_forms(text):
    with pytest.raises(ConfigError, match=r"^--roll-rule .* is not a roll rule; give"):
        parse_roll_rule(text)


def test_check_ratio_prices_given_a_nonpositive_price_refuses_with_the_contract():
    con = duckdb.connect()
    con.execute(
        "create table bars_1min as select timestamp_ns '2020-04-20 18:00:00' as bar_start, "
        "'CLK0' as symbol, 1::uinteger as instrument_id, date '2020-04-20' as session_date, "
        "-37.63::decimal(18, 9) as low"
    )
    con.execute(
        "create table rolls as select 'CL' as root, date '2020-04-20' as session_date, "
        "'CLK0' as contract, 1::uinteger as instrument_id, null::varchar as previous_contract, "
        "null::decimal(18, 9) as roll_previous_close, null::decimal(18, 9) as roll_contract_close"
    )

    with pytest.raises(BuildError) as caught:
        check_ratio_prices(con, "bars_1min", ContinuousOptions(adjust="ratio"))

    assert str(caught.value) == (
        "--adjust ratio needs positive prices, but CLK0 trades at -37.630000000 "
        "(bar 2020-04-20 18:00:00); use --adjust difference (or none)"
    )
    check_ratio_prices(con, "bars_1min", ContinuousOptions(adjust="difference"))
