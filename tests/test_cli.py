"""The command line: read-only `sql`, `list`, help texts, and start-up without heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tests.conftest import ESU4_TRADES, REPO
from vcdwh.cli import cli


@pytest.fixture(name="loaded")
def fixture_loaded(shared, build, settings):
    build([shared / "csv" / f"{ESU4_TRADES}.pretty.csv"])
    return settings


def invoke(settings, *args):
    return CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), *args])


@pytest.fixture(name="small", scope="module")
def fixture_small(tmp_path_factory):
    """A warehouse built from two days of the offline sample (no real samples needed)."""
    from vcdwh.build import build_warehouse
    from vcdwh.config import Settings
    from vcdwh.sample import generate_sample

    folder = tmp_path_factory.mktemp("small") / "Data"
    generate_sample(folder, days=2, trades_per_day=100)
    settings = Settings(folder, folder / "vcdwh.duckdb")
    build_warehouse(settings)
    return settings


def test_sql_prints_an_aligned_table(loaded):
    result = invoke(
        loaded,
        "sql",
        "select bar_start, symbol, delta, cumulative_delta from bars_1min order by bar_start limit 2",
    )
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "bar_start            symbol  delta  cumulative_delta",
        "-------------------  ------  -----  ----------------",
        "2024-07-01 23:58:00  ESU4       10                10",
        "2024-07-01 23:59:00  ESU4        1                11",
        "(2 rows)",
    ]


def test_sql_csv_and_json_keep_nanoseconds_and_exact_prices(loaded):
    query = "select ts_recv, price, size from trades order by position limit 1"
    csv_out = invoke(loaded, "sql", "--format", "csv", query).output
    assert csv_out == "ts_recv,price,size\n2024-07-01 23:58:01.218485389,5528.750000000,2\n"
    data = json.loads(invoke(loaded, "sql", "--format", "json", query).output)
    assert data == [{"ts_recv": "2024-07-01 23:58:01.218485389", "price": 5528.75, "size": 2}]


@pytest.mark.parametrize(
    "statement",
    [
        "drop table trades",
        "insert into trades select * from trades",
        "copy trades to 'out.csv'",
        "attach 'other.duckdb' as other",
        "install httpfs",
        "select * from read_csv('/etc/passwd')",
    ],
)
def test_sql_refuses_anything_but_reading_the_warehouse(loaded, statement):
    result = invoke(loaded, "sql", statement)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert len(result.output.strip().splitlines()) == 1


def test_sql_given_bad_query_prints_duckdb_message(loaded):
    result = invoke(loaded, "sql", "select nope from bars_1min")
    assert result.exit_code == 1
    assert result.output.startswith('Error: Binder Error: Referenced column "nope" not found')


def test_sql_without_warehouse_says_build_first(settings):
    result = invoke(settings, "sql", "select 1")
    assert result.output == f"Error: no warehouse at {settings.db_path}; run `vcdwh build` first\n"


def test_list_shows_files_and_what_the_warehouse_holds(shared, settings, build):
    (settings.data_dir / "trades_ESU4_2024-07-01_2024-07-02.csv").write_bytes(
        (shared / "csv" / f"{ESU4_TRADES}.pretty.csv").read_bytes()
    )
    before = invoke(settings, "list").output
    assert "trades_ESU4_2024-07-01_2024-07-02.csv" in before and "[new]" in before
    assert "not built yet" in before
    build()
    after = invoke(settings, "list").output
    assert "[loaded]" in after
    assert "ESU4" in after and "120 trades" in after
    assert "bars_1min" in after


def test_every_command_has_help_with_an_example_and_is_in_the_readme():
    readme = (REPO / "README.md").read_text()
    for name in cli.commands:
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0
        assert "Example:" in result.output, name
        assert f"vcdwh {name}" in readme, name


def test_cli_help_does_not_import_pandas_or_databento():
    code = (
        "import sys; from click.testing import CliRunner; from vcdwh.cli import cli; "
        "CliRunner().invoke(cli, ['--help']); "
        "print(sorted(m for m in ('pandas', 'databento', 'duckdb', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_changelog_version_matches_package_version():
    from vcdwh import __version__

    changelog = (REPO / "CHANGELOG.md").read_text()
    # changes not released yet go under "## Unreleased", above the newest version
    heading = next(
        line
        for line in changelog.splitlines()
        if line.startswith("## ") and line != "## Unreleased"
    )
    assert heading.startswith(f"## {__version__} - ")
    assert 'dynamic = ["version"]' in (REPO / "pyproject.toml").read_text()
    assert f'__version__ = "{__version__}"' in (REPO / "vcdwh" / "_version.py").read_text()


def test_build_runs_from_another_directory(shared, tmp_path):
    # The SQL templates must be found wherever the command runs.
    data = tmp_path / "elsewhere"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vcdwh",
            "--data-dir",
            str(data),
            "build",
            str(shared / "csv" / f"{ESU4_TRADES}.raw.csv"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "1 file(s) loaded" in result.stdout


def test_sql_json_given_infinities_and_decimals_is_valid_json_with_exact_decimals(tmp_path):
    import json

    import duckdb

    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute(
        "create table t as select 0.123456789012345678::decimal(18, 18) as d,"
        " 'inf'::double as f, '-inf'::double as g, 'nan'::double as h, 2.5::double as x"
    )
    con.close()
    result = CliRunner().invoke(
        cli, ["--db", str(db), "sql", "--format", "json", "select * from t"]
    )
    assert result.exit_code == 0, result.output
    assert '"d": 0.123456789012345678' in result.output  # no float rounding
    assert json.loads(result.output) == [
        {"d": 0.12345678901234568, "f": None, "g": None, "h": None, "x": 2.5}
    ]


@pytest.mark.parametrize(
    ("statement", "kind"),
    [
        ("load json", "load"),
        ("create temp table x as select 1", "create"),
        ("checkpoint", "call"),
        ("vacuum", "vacuum"),
        ("analyze", "vacuum"),
        ("attach 'elsewhere.duckdb' as other (read_only)", "attach"),
        ("select 1; drop table trades", "drop"),
    ],
)
def test_sql_given_a_statement_that_does_not_read_refuses_it_by_kind(small, statement, kind):
    result = invoke(small, "sql", statement)
    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: vcdwh sql runs only statements that read the warehouse (select, explain, "
        f"pragma); {kind} statements are refused ("
    )
    assert result.output.count("\n") == 1


def test_sql_given_describe_explain_and_pragma_runs_them(small):
    for statement in ("describe trades", "explain select 1", "pragma version"):
        assert invoke(small, "sql", statement).exit_code == 0, statement
