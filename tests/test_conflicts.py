"""A changed file whose trades contradict trades already held is a conflict, not a merge."""

from __future__ import annotations

from click.testing import CliRunner

from tests.conftest import snapshot
from tests.helpers import Trade, ns, write_raw_csv
from vcdwh.cli import cli

T0 = ns("2024-03-08 15:00:00")
TRADES = [
    Trade(T0, 5000.00, 2, "B", sequence=10),
    Trade(T0, 5000.25, 1, "B", sequence=10),  # second fill of the same aggressive order
    Trade(T0 + 5_000_000_000, 5000.25, 3, "A", sequence=11),
    Trade(T0 + 9_000_000_000, 5000.50, 4, "B", sequence=12),
]


def invoke(settings, *args):
    return CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), *args])


def test_build_given_changed_print_reports_conflict_and_changes_nothing(tmp_path, settings, build):
    # Arrange: the first download, then a "corrected" one where one print has another size.
    first = write_raw_csv(tmp_path / "first.csv", TRADES)
    build([first])
    before = snapshot(settings.db_path)
    changed = [*TRADES[:2], Trade(T0 + 5_000_000_000, 5000.25, 30, "A", sequence=11), TRADES[3]]
    second = write_raw_csv(tmp_path / "second.csv", changed)
    # Act
    result = invoke(settings, "build", str(second))
    # Assert: one line naming the file, the line, both versions and the way out.
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {second}: line 4: conflicts with a trade already loaded from {first}: "
        "instrument 1 at 2024-03-08 15:00:05 sequence 11 is A 30 @ 5000.25 here but "
        "A 3 @ 5000.25 there; if this file is the corrected one, build again with --replace, "
        "otherwise remove it\n"
    )
    assert snapshot(settings.db_path) == before


def test_build_given_changed_print_with_replace_keeps_the_new_version(
    tmp_path, settings, build, query
):
    build([write_raw_csv(tmp_path / "first.csv", TRADES)])
    changed = [*TRADES[:2], Trade(T0 + 5_000_000_000, 5000.25, 30, "A", sequence=11), TRADES[3]]
    second = write_raw_csv(tmp_path / "second.csv", changed)
    result = invoke(settings, "build", "--replace", str(second))
    assert result.exit_code == 0, result.output
    assert "4 rows, 4 new, replaced 4 conflicting held trade(s)" in result.output
    assert query("select count(*), sum(size) from trades") == [(4, 37)]
    assert query("select sum(volume), sum(delta) from bars_1min") == [(37, 2 + 1 - 30 + 4)]


def test_build_given_overlap_with_extra_fill_of_a_held_order_is_not_a_conflict(
    tmp_path, build, query
):
    # A file cut in the middle of an order's fills, then the full window: one side holds all.
    build([write_raw_csv(tmp_path / "cut.csv", TRADES[:1])])
    report = build([write_raw_csv(tmp_path / "full.csv", TRADES)])
    assert report.loaded[0].rows_added == 3
    assert query("select count(*), sum(size) from trades") == [(4, 10)]


def test_build_given_identical_rows_in_overlapping_files_counts_occurrences(tmp_path, build, query):
    # The same fill printed twice (two trades) in both files is two trades, not four and not one.
    twice = [TRADES[0], TRADES[0], *TRADES[2:]]
    build([write_raw_csv(tmp_path / "a.csv", twice[:3])])
    build([write_raw_csv(tmp_path / "b.csv", twice)])
    assert query("select count(*), sum(size), max(occurrence) from trades") == [(4, 11, 2)]


def test_build_given_interleaved_files_of_other_prints_is_not_a_conflict(tmp_path, build, query):
    build([write_raw_csv(tmp_path / "a.csv", [TRADES[0], TRADES[3]])])
    build([write_raw_csv(tmp_path / "b.csv", [TRADES[2]])])
    assert query("select count(*) from trades") == [(3,)]
