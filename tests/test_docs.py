"""Meta-tests: the generated reference pages match the code, and every command is documented."""

from __future__ import annotations

import inspect
import re

import pytest
from click.testing import CliRunner

from tests.conftest import REPO
from vcdwh import docgen
from vcdwh.cli import cli
from vcdwh.config import Settings

DOCS = REPO / "docs"
COMMANDS = sorted(cli.commands)
DRIFT = f"is out of date: run `{docgen.REGENERATE}` from the repository root and commit it"


def _read(page: str) -> str:
    path = DOCS / page
    assert path.exists(), f"docs/{page} is missing: run `{docgen.REGENERATE}`"
    return path.read_text(encoding="utf-8")


@pytest.fixture(name="sample_warehouse", scope="module")
def fixture_sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A warehouse built through the CLI, exactly as the data dictionary page says."""
    data = tmp_path_factory.mktemp("docs") / "Data"
    runner = CliRunner()
    for args in (
        [
            "sample",
            "--days",
            str(docgen.SAMPLE_DAYS),
            "--trades-per-day",
            str(docgen.SAMPLE_TRADES_PER_DAY),
        ],
        ["build", *docgen.SAMPLE_BUILD_OPTIONS.split()],
    ):
        result = runner.invoke(cli, ["--data-dir", str(data), *args])
        assert result.exit_code == 0, result.output
    return Settings.resolve(data)


def test_cli_page_given_current_commands_has_no_drift():
    # Arrange
    expected = docgen.cli_reference()

    # Act
    page = _read(docgen.CLI_PAGE)

    # Assert
    assert page == expected, f"docs/{docgen.CLI_PAGE} {DRIFT}"


def test_data_dictionary_page_given_sample_warehouse_has_no_drift(sample_warehouse):
    # Arrange
    expected = docgen.data_dictionary(sample_warehouse)

    # Act
    page = _read(docgen.DICTIONARY_PAGE)

    # Assert
    assert page == expected, f"docs/{docgen.DICTIONARY_PAGE} {DRIFT}"


def test_data_dictionary_page_given_schema_command_holds_its_output(sample_warehouse):
    result = CliRunner().invoke(
        cli, ["--data-dir", str(sample_warehouse.data_dir), "schema", "--format", "markdown"]
    )

    assert result.exit_code == 0, result.output
    assert _read(docgen.DICTIONARY_PAGE).endswith("\n\n" + result.output)


def test_data_dictionary_given_two_builds_is_deterministic(sample_warehouse, tmp_path):
    again = docgen.build_sample_warehouse(tmp_path)

    assert docgen.data_dictionary(again) == docgen.data_dictionary(sample_warehouse)


def test_data_dictionary_given_sample_covers_every_sql_relation(sample_warehouse):
    # Arrange: every relation a build makes from sql/, the per-interval ones at 1min.
    per_interval = {
        "bars": "bars_1min",
        "footprint": "footprint_1min",
        "bars_continuous": "bars_1min_continuous",
    }
    expected = {
        per_interval.get(path.stem, path.stem)
        for folder in ("raw", "results", "marts", "views")
        for path in (REPO / "sql" / folder).glob("*.sql")
    }

    # Act
    page = docgen.data_dictionary(sample_warehouse)
    documented = {
        name
        for heading in re.findall(r"^#### (.+) \((?:table|view)\)$", page, re.MULTILINE)
        for name in re.findall(r"`([^`]+)`", heading)
    }

    # Assert
    assert sorted(expected - documented) == []


@pytest.mark.parametrize("name", COMMANDS)
def test_command_given_docstring_has_help_and_example(name):
    command = cli.commands[name]

    assert command.help, f"vcdwh {name} has no help text"
    assert "\b\nExample:\n" in inspect.cleandoc(command.help), (
        f"vcdwh {name}: no \\b Example: block in its docstring"
    )


def test_group_given_docstring_has_example():
    assert cli.help
    assert "\b\nExample:\n" in inspect.cleandoc(cli.help)


@pytest.mark.parametrize("name", COMMANDS)
def test_cli_page_given_command_has_its_section(name):
    page = _read(docgen.CLI_PAGE)

    assert f"\n## vcdwh {name}\n" in page, f"vcdwh {name} is missing from docs/{docgen.CLI_PAGE}"
    assert f"Usage: vcdwh {name} " in page


@pytest.mark.parametrize("name", ["", *COMMANDS])
def test_cli_page_given_command_holds_its_real_help_output(name):
    # The page shows what `vcdwh [name] --help` prints at the page's width.
    args = [name, "--help"] if name else ["--help"]
    width = docgen.HELP_WIDTH

    result = CliRunner().invoke(
        cli, args, prog_name="vcdwh", terminal_width=width, max_content_width=width
    )

    assert result.exit_code == 0, result.output
    assert f"```text\n{result.output}```\n" in _read(docgen.CLI_PAGE)


def test_cli_reference_given_narrow_terminal_is_unchanged(monkeypatch):
    # The page is rendered at a fixed width, whatever the terminal says.
    before = docgen.cli_reference()
    monkeypatch.setenv("COLUMNS", "40")

    assert docgen.cli_reference() == before


def test_docgen_main_given_stale_page_check_exits_1_and_writes_nothing(tmp_path, monkeypatch):
    # Arrange: a current data dictionary (no build needed) and a stale CLI page.
    monkeypatch.setattr(docgen, "data_dictionary", lambda: "dictionary\n")
    (tmp_path / docgen.DICTIONARY_PAGE).write_text("dictionary\n", encoding="utf-8")
    stale = tmp_path / docgen.CLI_PAGE
    stale.write_text("old\n", encoding="utf-8")

    # Act
    checked = docgen.main(["--check", "--docs-dir", str(tmp_path)])
    written = docgen.main(["--docs-dir", str(tmp_path)])

    # Assert
    assert checked == 1
    assert written == 0
    assert stale.read_text(encoding="utf-8") == docgen.cli_reference()
    assert docgen.main(["--check", "--docs-dir", str(tmp_path)]) == 0


def test_help_width_given_commands_fits_page():
    # A fixed width keeps the page stable; no help line is wider than it.
    for line in docgen.cli_reference().splitlines():
        if not line.startswith(("Regenerate", "Generated")):
            assert len(line) <= docgen.HELP_WIDTH, line
