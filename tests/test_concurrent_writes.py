"""Readers never block writers and never see a half-built warehouse; writers are serialised.

Every process here is real: readers (the duckdb module, SQLAlchemy with duckdb_engine,
`vcdwh sql`) hold the warehouse open read-only while `vcdwh build` / `vcdwh backtest` run in
other processes.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from tests.procs import READER, WRITER_HOLDER, ask, python, sample_day, vcdwh
from vcdwh.build import build_warehouse


@pytest.fixture(name="days")
def fixture_days(tmp_path: Path) -> list[Path]:
    """Three one-day trades files (Mon 4, Tue 5, Wed 6 March 2024) outside the data folder."""
    return [sample_day(tmp_path / f"day{d}", d, 3000) for d in (4, 5, 6)]


def _counts(db: Path) -> tuple[int, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "select (select count(*) from trades), (select count(*) from loaded_files)"
        ).fetchone()  # type: ignore[return-value]
    finally:
        con.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["duckdb", "sqlalchemy"])
def test_build_given_open_readers_completes_and_each_reader_keeps_its_snapshot(
    settings, days, kind
):
    # Arrange: a warehouse with day 4, and two readers holding it open.
    build_warehouse(settings, [days[0]])
    db = settings.db_path
    readers = [python(READER, kind, str(db)) for _ in range(2)]
    try:
        before = [[int(v) for v in r.stdout.readline().split()[1:]] for r in readers]
        # Act: a build adds day 5 while they hold it; `vcdwh sql` runs meanwhile too.
        build = vcdwh(db, "build", str(days[1]), "--lock-timeout", "5")
        sql = vcdwh(db, "sql", "--format", "csv", "select count(*) as n from trades")
        _out, err = build.communicate(timeout=120)
        sql_out, sql_err = sql.communicate(timeout=60)
        # Assert: the build completed; open readers still see day 4 only, consistently.
        assert build.returncode == 0, err
        assert sql.returncode == 0, sql_err
        assert int(sql_out.splitlines()[1]) in (before[0][0], _counts(db)[0])
        for reader, seen in zip(readers, before, strict=True):
            assert ask(reader, "count") == seen
            assert seen[0] == seen[1] and seen[2] == seen[3]
        # ... and a connection opened after the build sees day 5 as well.
        fresh = ask(readers[0], "reopen")
        assert fresh[0] > before[0][0]
        assert fresh[0] == fresh[1] and fresh[2] == fresh[3]
        assert fresh[0] == _counts(db)[0]
    finally:
        for reader in readers:
            reader.kill()
            reader.wait()


@pytest.mark.slow
def test_backtest_given_open_reader_completes_and_reader_keeps_its_snapshot(settings, days):
    build_warehouse(settings, [days[0]])
    reader = python(READER, "duckdb", str(settings.db_path))
    try:
        ready = reader.stdout.readline().split()
        backtest = vcdwh(settings.db_path, "backtest", "--threshold", "50", "--lock-timeout", "5")
        out, err = backtest.communicate(timeout=120)
        assert backtest.returncode == 0, err
        assert "PERFORMANCE METRICS" in out
        assert ask(reader, "count")[4] == int(ready[5]) == 0
        assert ask(reader, "reopen")[4] == 1
    finally:
        reader.kill()
        reader.wait()


@pytest.mark.slow
def test_build_given_read_write_holder_that_closes_waits_and_completes(settings, days):
    # Arrange: another program holds the warehouse read-write for about 2 seconds.
    build_warehouse(settings, [days[0]])
    holder = python(
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
        " time.sleep(2); c.close(); time.sleep(30)",
        str(settings.db_path),
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        started = time.monotonic()
        # Act
        build = vcdwh(settings.db_path, "build", str(days[1]), "--lock-timeout", "60")
        out, err = build.communicate(timeout=120)
        # Assert: it waited for the holder, then loaded day 5.
        assert build.returncode == 0, err
        assert time.monotonic() - started >= 1.5
        assert "1 file(s) loaded" in out
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_build_given_another_vcdwh_writer_times_out_naming_its_pid(settings, days):
    build_warehouse(settings, [days[0]])
    before = _counts(settings.db_path)
    holder = python(WRITER_HOLDER, str(settings.db_path))
    try:
        assert holder.stdout.readline().strip() == "ready"
        build = vcdwh(settings.db_path, "build", str(days[1]), "--lock-timeout", "1")
        _out, err = build.communicate(timeout=60)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert build.returncode == 1
    assert err == (
        f"Error: {settings.db_path} is being written by another vcdwh process "
        f"(PID {holder.pid}); waited 1 s: let it finish, or retry with a larger --lock-timeout\n"
    )
    assert _counts(settings.db_path) == before


@pytest.mark.slow
def test_concurrent_builds_are_serialised_and_none_is_lost(tmp_path, days):
    # Arrange: three builds of three different days, started at once on a new warehouse.
    db = tmp_path / "Data" / "vcdwh.duckdb"
    db.parent.mkdir()
    expected = 0
    for day in days:
        expected += sum(1 for _ in day.open()) - 1
    # Act
    builds = [vcdwh(db, "build", str(day), "--lock-timeout", "120") for day in days]
    results = [b.communicate(timeout=300) for b in builds]
    # Assert: each succeeded and every file's trades are there (a lost update would drop some).
    for build, (_, err) in zip(builds, results, strict=True):
        assert build.returncode == 0, err
    assert _counts(db) == (expected, 3)
    assert not list(db.parent.glob(".vcdwh.duckdb.*"))


def test_lock_timeout_given_negative_is_a_usage_error(settings):
    process = vcdwh(settings.db_path, "build", "--lock-timeout", "-1")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "Invalid value for '--lock-timeout'" in err


@pytest.mark.slow
def test_stale_temp_copy_of_a_killed_writer_is_removed_by_the_next_build(settings, days):
    build_warehouse(settings, [days[0]])
    stale = settings.db_path.with_name(".vcdwh.duckdb.999999.tmp")
    stale.write_bytes(b"half a copy")
    build_warehouse(settings, [days[1]])
    assert not stale.exists()
