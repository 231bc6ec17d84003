"""Nothing runs that the user didn't ask for: read-only SQL, validated symbols/intervals/numbers.

(The Databento key is kept out of output, files and the warehouse by tests in test_fetch.py:
test_fetch_given_key_in_env_never_shows_it_in_output_or_files,
test_fetch_given_server_message_echoing_the_key_scrubs_it and
test_fetch_then_build_reproduces_golden_esu4_bars_and_keeps_key_out_of_warehouse.)
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tests.conftest import snapshot
from tests.helpers import Trade, ns, write_raw_csv
from vcdwh.build import build_warehouse
from vcdwh.cli import cli
from vcdwh.config import Settings
from vcdwh.errors import ConfigError
from vcdwh.warehouse.sqlrender import identifier

READ_ONLY = "(vcdwh sql is read-only; use vcdwh build/backtest to change the warehouse)"
NO_FILES = (
    "(vcdwh sql cannot read or write files, attach databases, install extensions"
    " or change settings)"
)


@pytest.fixture(name="loaded", scope="module")
def fixture_loaded(tmp_path_factory) -> Settings:
    """One warehouse for the module: every test here checks that it stays unchanged."""
    folder = tmp_path_factory.mktemp("hostile")
    trades = [
        Trade(ns("2024-03-08 15:00:00") + i * 61 * 10**9, 5000 + (i % 3) / 4, 5, "BA"[i % 2])
        for i in range(20)
    ]
    settings = Settings(folder, folder / "vcdwh.duckdb")
    build_warehouse(
        settings, [write_raw_csv(folder / "trades_ESH4_2024-03-08_2024-03-09.csv", trades)]
    )
    return settings


def invoke(settings, *args):
    return CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), *args])


@pytest.mark.parametrize(
    ("statement", "hint"),
    [
        ("drop table trades", READ_ONLY),
        ("insert into trades select * from trades", READ_ONLY),
        ("delete from trades", READ_ONLY),
        ("create table x (a int)", READ_ONLY),
        ("copy trades to 'out.csv'", NO_FILES),
        ("copy (select 1) to '/tmp/vcdwh-out.parquet' (format parquet)", NO_FILES),
        ("attach 'other.duckdb' as other", NO_FILES),
        ("install httpfs", NO_FILES),
        ("load httpfs", NO_FILES),
        ("set enable_external_access = true", NO_FILES),
        ("select * from read_csv('/etc/passwd')", NO_FILES),
    ],
)
def test_sql_given_write_or_file_access_refuses_with_a_clear_line(
    loaded, tmp_path, statement, hint
):
    before = snapshot(loaded.db_path)
    result = invoke(loaded, "sql", statement)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert result.output.rstrip("\n").endswith(hint)
    assert result.output.count("\n") == 1
    assert snapshot(loaded.db_path) == before
    assert not (tmp_path / "out.csv").exists()
    assert not (loaded.data_dir / "out.csv").exists()


@pytest.mark.parametrize(
    "symbol", ["ESH4'; drop table trades; --", 'ESH4" or 1=1 --', "../../etc/passwd"]
)
def test_backtest_given_hostile_symbol_is_refused_as_unknown(loaded, symbol):
    before = snapshot(loaded.db_path)
    result = invoke(loaded, "backtest", "--symbol", symbol)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: --symbol {symbol!r} is not loaded; choose one of: ESH4"
        " (or a root for its continuous series: ES)\n"
    )
    assert snapshot(loaded.db_path) == before


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--threshold", "nan", "Error: --threshold nan must be a number ≥ 0\n"),
        ("--threshold", "-5", "Error: --threshold -5.0 must be a number ≥ 0\n"),
        (
            "--position-size",
            "inf",
            "Error: --position-size inf must be a fraction of capital in (0, 1]\n",
        ),
        ("--initial-capital", "0", "Error: --initial-capital 0.0 must be positive\n"),
    ],
)
def test_backtest_given_bad_number_is_refused_before_any_write(loaded, option, value, message):
    before = snapshot(loaded.db_path)
    result = invoke(loaded, "backtest", option, value)
    assert result.output == message
    assert result.exit_code == 1
    assert snapshot(loaded.db_path) == before
    assert not list(loaded.data_dir.glob(".vcdwh.duckdb.*"))


@pytest.mark.parametrize(
    "frequency", ["1min; drop table trades", "1min/../../x", "bars_1min", "0s", "25h"]
)
@pytest.mark.parametrize("command", ["build", "backtest"])
def test_frequency_given_anything_but_an_interval_is_a_usage_error(loaded, command, frequency):
    before = snapshot(loaded.db_path)
    result = invoke(loaded, command, "--frequency", frequency)
    assert result.exit_code == 2
    assert "Invalid value for '--frequency'" in result.output
    assert snapshot(loaded.db_path) == before


@pytest.mark.parametrize("name", ["trades; drop table x", "Bars", "a-b", "x" * 64, ""])
def test_identifier_given_anything_but_a_plain_name_refuses(name):
    with pytest.raises(ConfigError, match="refusing to use"):
        identifier(name)
