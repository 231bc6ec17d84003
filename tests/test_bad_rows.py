"""Hostile input: every bad input changes nothing; `--on-bad-rows skip` keeps the good rows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import snapshot
from tests.helpers import Trade, ns, write_raw_csv
from tests.test_build_errors import BAD_FILES, GOOD, HEADER, _row
from vcdwh.cli import cli

MORE_BAD_FILES = {
    "unexpected_column": (
        HEADER + ",venue\n" + GOOD + ",XCME\n",
        "line 1: not a Databento trades or ohlcv-1m CSV header (unexpected column(s) venue)",
    ),
    "negative_size": (f"{HEADER}\n{_row(size='-3')}\n", "line 2: size -3 is not positive"),
    "non_utf8": (None, "line 3: bytes that are not UTF-8"),
}


def invoke(settings, *args):
    return CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), *args])


@pytest.fixture(name="base", scope="module")
def fixture_base(tmp_path_factory) -> Path:
    """A loaded warehouse to copy into each test."""
    from vcdwh.build import build_warehouse
    from vcdwh.config import Settings

    folder = tmp_path_factory.mktemp("base")
    trades = [Trade(ns("2024-03-08 15:00:00") + i * 10**9, 5000 + i / 4, 1, "B") for i in range(5)]
    settings = Settings(folder, folder / "vcdwh.duckdb")
    build_warehouse(settings, [write_raw_csv(folder / "base.csv", trades)])
    return settings.db_path


@pytest.mark.parametrize("case", sorted({**BAD_FILES, **MORE_BAD_FILES}))
def test_build_given_bad_file_on_loaded_warehouse_changes_nothing(base, tmp_path, settings, case):
    # Arrange: a loaded warehouse and a hostile file.
    shutil.copyfile(base, settings.db_path)
    before = snapshot(settings.db_path)
    content, expected = {**BAD_FILES, **MORE_BAD_FILES}[case]
    path = tmp_path / f"trades_{case}.csv"
    if content is None:
        path.write_bytes(f"{HEADER}\n{GOOD}\n".encode() + "caf\xe9,\n".encode("latin-1"))
    else:
        path.write_text(content)
    # Act
    result = invoke(settings, "build", str(path))
    # Assert: one line, file and problem named, warehouse identical, no copy left behind.
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith(f"Error: {path}: ")
    assert expected in result.output
    assert snapshot(settings.db_path) == before
    assert not list(settings.data_dir.glob(".vcdwh.duckdb.*"))


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.dbn.zst", b"", "the file is empty (0 bytes)"),
        ("junk.dbn.zst", b"<html>502 Bad Gateway</html>", "not a readable DBN file"),
    ],
)
def test_build_given_bad_dbn_on_loaded_warehouse_changes_nothing(
    base, tmp_path, settings, name, content, expected
):
    shutil.copyfile(base, settings.db_path)
    before = snapshot(settings.db_path)
    path = tmp_path / name
    path.write_bytes(content)
    result = invoke(settings, "build", str(path))
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}: ") and expected in result.output
    assert snapshot(settings.db_path) == before


def test_build_given_dotdot_file_name_changes_nothing(base, settings):
    shutil.copyfile(base, settings.db_path)
    before = snapshot(settings.db_path)
    result = invoke(settings, "build", "../../etc/trades_x.csv")
    assert result.exit_code == 1
    assert result.output == (
        "Error: ../../etc/trades_x.csv: refusing a path with '..'; give the file's real location\n"
    )
    assert snapshot(settings.db_path) == before


# A file with good records between bad ones, one of each kind of bad record.
MIXED_LINES = [
    GOOD,  # line 2
    _row(price="55x8.25"),  # 3: not a number
    _row(ts_recv="2024-07-01T23:58:02.000000000Z", size="3"),  # 4: good
    _row(side="X"),  # 5: unknown side
    _row(ts_recv="yesterday"),  # 6: bad timestamp
    _row(size="0"),  # 7: zero size
    # (the test writes a non-UTF-8 line 8 here)
    _row(ts_recv="2024-07-01T23:58:03.000000000Z", side="A", size="5"),  # 9: good
    _row(price="-5528.75"),  # 10: negative price of an outright
    _row(size="99999999999"),  # 11: overflows 32 bits
    GOOD + ",extra",  # 12: too many fields
    GOOD[:40],  # 13: truncated last line
]


def test_build_skip_given_bad_rows_loads_good_ones_and_keeps_the_bad(tmp_path, settings, query):
    # Arrange
    path = tmp_path / "trades_ESU4_2024-07-01_2024-07-02.csv"
    path.write_bytes(
        ("\n".join([HEADER, *MIXED_LINES[:6]]) + "\n").encode()
        + b"caf\xe9,1\n"  # line 8 of the file: not UTF-8
        + ("\n".join(MIXED_LINES[6:])).encode()
    )
    # Act
    result = invoke(settings, "build", "--on-bad-rows", "skip", str(path))
    # Assert: the three good records are loaded at their places, the nine bad ones kept.
    assert result.exit_code == 0, result.output
    assert "3 rows, 3 new, 9 bad row(s) skipped (see rejected_rows)" in result.output
    assert "9 bad row(s) skipped; see them with: vcdwh sql" in result.output
    assert query("select position, size, side from trades order by position") == [
        (0, 2, "B"),
        (2, 3, "B"),
        (7, 5, "A"),
    ]
    rejected = query("select file_id, path, line, reason, raw from rejected_rows order by line")
    assert {(r[0], r[1]) for r in rejected} == {(1, str(path))}
    by_line = {line: (reason, raw) for _, _, line, reason, raw in rejected}
    assert sorted(by_line) == [3, 5, 6, 7, 8, 10, 11, 12, 13]
    assert by_line[3] == ("price '55x8.25' is not a number", MIXED_LINES[1])
    assert by_line[5][0] == "unknown side code 'X' (expected A, B or N)"
    assert by_line[6][0] == "cannot parse ts_recv 'yesterday' as a timestamp"
    assert by_line[7] == ("size 0 is not positive", MIXED_LINES[5])
    assert by_line[8] == ("bytes that are not UTF-8", "caf\\xe9,1")
    assert by_line[10][0] == "non-positive price -5528.750000000 for an outright"
    assert by_line[11][0] == "size 99999999999 overflows 32 bits"
    assert by_line[12][0] == "expected 14 fields, found 15"
    assert by_line[13] == ("expected 14 fields, found 2 (truncated line?)", GOOD[:40])


def test_build_skip_given_only_bad_rows_fails_and_changes_nothing(tmp_path, settings):
    path = tmp_path / "trades_bad.csv"
    path.write_text(f"{HEADER}\n{_row(side='X')}\n{_row(size='0')}\n")
    result = invoke(settings, "build", "--on-bad-rows", "skip", str(path))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path}: every record is bad (first: line 2: unknown side code 'X' "
        "(expected A, B or N)); fix the file and build again\n"
    )
    assert not settings.db_path.exists()


def test_build_skip_given_whole_file_problem_still_fails(tmp_path, settings):
    path = tmp_path / "trades_page.csv"
    path.write_text("<!DOCTYPE html>\n<html><body>502 Bad Gateway</body></html>\n")
    result = invoke(settings, "build", "--on-bad-rows", "skip", str(path))
    assert result.exit_code == 1
    assert "line 1: this is HTML" in result.output


def test_build_skip_given_clean_file_rejects_nothing(tmp_path, settings, query):
    path = tmp_path / "trades_ok.csv"
    path.write_text(f"{HEADER}\n{GOOD}\n")
    result = invoke(settings, "build", "--on-bad-rows", "skip", str(path))
    assert result.exit_code == 0, result.output
    assert "skipped (see rejected_rows)" not in result.output
    assert query("select count(*) from rejected_rows") == [(0,)]
    assert query("select count(*) from trades") == [(1,)]


def test_build_given_unknown_on_bad_rows_is_a_usage_error(settings):
    result = invoke(settings, "build", "--on-bad-rows", "ignore")
    assert result.exit_code == 2
    assert "Invalid value for '--on-bad-rows'" in result.output
