"""A full disk: one line naming the folder and about how much more room the write needs, exit 1,
and the warehouse (or the data folder) as it was."""

from __future__ import annotations

import errno
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from bench.dbnfile import csv_to_dbn
from tests.conftest import snapshot
from tests.procs import env, sample_day
from vcdwh.build import build_warehouse
from vcdwh.cli import cli
from vcdwh.config import Settings
from vcdwh.errors import NoSpaceError, is_no_space, no_space_error
from vcdwh.warehouse import db as db_module
from vcdwh.warehouse.db import write_session

NO_SPACE = re.compile(
    r"^Error: no space left on device at (?P<folder>.+) \(needs about (?P<mb>[\d,]+) MB more\); "
    r"free some space or point --data-dir/--db elsewhere, and run it again\n$"
)


def enospc(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture(name="small")
def fixture_small(tmp_path: Path) -> Settings:
    data = tmp_path / "Data"
    settings = Settings(data, data / "vcdwh.duckdb")
    build_warehouse(settings, [sample_day(tmp_path / "in", 4, 500)])
    return settings


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --------------------------------------------------------------------------- recognising it


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        duckdb.IOException('Could not write file "x.wal": No space left on device'),
        duckdb.FatalException(
            "FATAL Error: Failed to create checkpoint because of error: Could not write file "
            '"x.tmp": No space left on device'
        ),
    ],
)
def test_is_no_space_given_a_full_disk_error_or_one_raised_from_it_is_true(error):
    assert is_no_space(error)
    try:
        try:
            raise error
        except Exception as inner:
            raise RuntimeError("database has been invalidated") from inner
    except RuntimeError as outer:
        assert is_no_space(outer)


def test_is_no_space_given_other_errors_is_false():
    assert not is_no_space(OSError(errno.EACCES, "Permission denied"))
    assert not is_no_space(duckdb.IOException("Could not read file"))


def test_no_space_error_counts_what_is_missing_beyond_the_free_space(tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.disk_usage", lambda _: type("U", (), {"free": 4_000_000})())
    error = no_space_error(tmp_path, 10_500_000)
    assert isinstance(error, NoSpaceError)
    assert str(error).startswith(f"no space left on device at {tmp_path} (needs about 7 MB more)")
    assert "needs about 1 MB more" in str(no_space_error(tmp_path, 0))


# --------------------------------------------------------------------------- build


def test_write_session_given_a_full_disk_in_the_body_raises_no_space_and_keeps_the_file(small):
    before = snapshot(small.db_path)
    with pytest.raises(NoSpaceError, match=r"^no space left on device at .+ MB more\)"):
        with write_session(small.db_path, expected_growth=50_000_000) as con:
            con.execute("delete from trades")
            enospc()
    assert snapshot(small.db_path) == before
    assert leftovers(small.data_dir) == []


def _full_at_phase(phase: str):
    def fault_point(name: str) -> None:
        if name == phase:
            enospc()

    return fault_point


@pytest.mark.parametrize(
    ("mode", "step", "replacement"),
    [
        ("copy", "_fsync", enospc),
        ("copy", "_copy_file", enospc),
        ("auto", "_fault_point", _full_at_phase("opened_in_place")),
    ],
)
def test_build_given_a_full_disk_prints_one_line_and_keeps_the_warehouse(
    small, tmp_path, monkeypatch, mode, step, replacement
):
    # Arrange: a second day to add; the write (on a copy, or in place) fails with ENOSPC.
    before = snapshot(small.db_path)
    day = sample_day(tmp_path / "in", 5, 2_000)
    monkeypatch.setenv("VCDWH_WRITE_MODE", mode)
    monkeypatch.setattr(db_module, step, replacement)
    # Act
    result = CliRunner().invoke(cli, ["--data-dir", str(small.data_dir), "build", str(day)])
    # Assert
    assert result.exit_code == 1
    last = result.output.splitlines()[-1] + "\n"
    match = NO_SPACE.match(last)
    assert match, result.output
    assert match["folder"] == str(small.data_dir)
    assert "Traceback" not in result.output
    assert snapshot(small.db_path) == before
    assert leftovers(small.data_dir) == []


@pytest.mark.parametrize("mode", ["copy", "auto"])
def test_build_given_a_full_disk_while_a_dbn_file_streams_in_prints_one_line_and_keeps_the_warehouse(
    small, tmp_path, monkeypatch, mode
):
    # Arrange: a DBN day to add, in several chunks; the disk fills while its second chunk is
    # decoded, inside the one statement that streams the records into `trades`.
    from vcdwh.load import stage

    before = snapshot(small.db_path)
    day = tmp_path / "day5.dbn.zst"
    csv_to_dbn(sample_day(tmp_path / "csv", 5, 2_000), day)
    monkeypatch.setenv("VCDWH_WRITE_MODE", mode)
    monkeypatch.setattr(stage, "DBN_CHUNK_ROWS", 500)
    decoded = stage._arrow_chunk
    calls = []

    def full_on_the_second_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            enospc()
        return decoded(*args, **kwargs)

    monkeypatch.setattr(stage, "_arrow_chunk", full_on_the_second_chunk)
    # Act
    result = CliRunner().invoke(cli, ["--data-dir", str(small.data_dir), "build", str(day)])
    # Assert
    assert len(calls) == 2  # the error is the decoder's: the file is not staged again
    assert result.exit_code == 1
    assert NO_SPACE.match(result.output.splitlines()[-1] + "\n"), result.output
    assert snapshot(small.db_path) == before
    assert leftovers(small.data_dir) == []


def test_build_given_a_commit_that_fails_keeps_the_commits_error_not_rollbacks(small):
    # A failed commit ends the transaction; the error shown must be the commit's (here: no space).
    before = snapshot(small.db_path)
    failure = duckdb.IOException('Could not write file "x.wal": No space left on device')
    with pytest.raises(NoSpaceError) as raised, write_session(small.db_path) as con:
        con.execute("commit")  # as a failed commit does: no transaction is left to roll back
        raise failure
    assert raised.value.__cause__ is failure
    assert snapshot(small.db_path) == before


# --------------------------------------------------------------------------- sample


def test_sample_given_a_full_disk_prints_one_line_and_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr("vcdwh.sample._write_rows", enospc)
    data = tmp_path / "Data"
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "sample", "--days", "2"])
    assert result.exit_code == 1
    match = NO_SPACE.match(result.output)
    assert match, result.output
    assert match["folder"] == str(data)
    assert list(data.iterdir()) == []


# --------------------------------------------------------------------------- a real full disk


@pytest.fixture(name="tiny_disk")
def fixture_tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 12 MB tmpfs (skip where mounting is not permitted)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def run_vcdwh(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vcdwh", "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        env=env(),
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_build_on_a_disk_that_fills_up_prints_one_line_and_keeps_the_warehouse(tiny_disk, tmp_path):
    data = tiny_disk / "Data"
    settings = Settings(data, data / "vcdwh.duckdb")
    build_warehouse(settings, [sample_day(tmp_path / "in", 4, 2_000)])
    before = snapshot(settings.db_path)
    large = sample_day(tmp_path / "in", 5, 150_000)  # ~18 MB of CSV, outside the tmpfs

    result = run_vcdwh(data, "build", str(large))

    assert result.returncode == 1
    match = NO_SPACE.match(result.stderr)
    assert match, result.stderr
    assert int(match["mb"].replace(",", "")) >= 10
    assert snapshot(settings.db_path) == before
    assert leftovers(data) == []


@pytest.mark.slow
def test_sample_on_a_full_disk_prints_one_line(tiny_disk):
    result = run_vcdwh(tiny_disk / "Data", "sample", "--days", "3", "--trades-per-day", "50000")
    assert result.returncode == 1
    assert NO_SPACE.match(result.stderr), result.stderr
    assert list((tiny_disk / "Data").iterdir()) == []
