"""How a write reaches the warehouse: in place when nobody else has it open, else on a copy.

The inode of ``vcdwh.duckdb`` tells the two apart: an in-place write keeps the file, a
copy-and-swap write renames a new file over it.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from tests.procs import READER, ask, python, sample_day, vcdwh
from vcdwh.backtest.params import BacktestParams
from vcdwh.backtest.run import run_backtest
from vcdwh.build import build_warehouse
from vcdwh.config import Settings
from vcdwh.errors import ConfigError, WarehouseError
from vcdwh.warehouse.db import connect_read_only, write_session

# Holds vcdwh's write session in place, adds a table, and waits for stdin to close.
IN_PLACE_HOLDER = r"""
import sys
from pathlib import Path
from vcdwh.warehouse.db import write_session
with write_session(Path(sys.argv[1]), 5) as con:
    con.execute("create table marker as select 1 as n")
    print("ready", flush=True)
    sys.stdin.read()
"""


@pytest.fixture(name="days")
def fixture_days(tmp_path: Path) -> list[Path]:
    return [sample_day(tmp_path / f"day{d}", d, 2000) for d in (4, 5)]


def _inode(path: Path) -> int:
    return path.stat().st_ino


def _leftovers(settings: Settings) -> list[Path]:
    return sorted(settings.data_dir.glob(".vcdwh.duckdb.*"))


def test_build_with_no_other_process_on_the_warehouse_writes_in_place(settings, days):
    build_warehouse(settings, [days[0]])
    inode = _inode(settings.db_path)
    build_warehouse(settings, [days[1]])
    assert _inode(settings.db_path) == inode
    assert _leftovers(settings) == []
    con = connect_read_only(settings.db_path)
    try:
        [(files,)] = con.execute("select count(*) from loaded_files").fetchall()
    finally:
        con.close()
    assert files == 2


def test_backtest_with_no_other_process_on_the_warehouse_stores_in_place(settings, days):
    build_warehouse(settings, [days[0]])
    inode = _inode(settings.db_path)
    result = run_backtest(settings, BacktestParams(threshold=50))
    assert result.run_id == 1
    assert _inode(settings.db_path) == inode
    assert _leftovers(settings) == []


def test_write_mode_copy_swaps_a_new_file_in(settings, days, monkeypatch):
    build_warehouse(settings, [days[0]])
    inode = _inode(settings.db_path)
    monkeypatch.setenv("VCDWH_WRITE_MODE", "copy")
    build_warehouse(settings, [days[1]])
    assert _inode(settings.db_path) != inode
    assert _leftovers(settings) == []


def test_failed_write_in_place_leaves_the_warehouse_as_it_was(settings, days):
    build_warehouse(settings, [days[0]])
    with pytest.raises(RuntimeError), write_session(settings.db_path) as con:
        con.execute("delete from trades")
        raise RuntimeError("stop")
    con = connect_read_only(settings.db_path)
    try:
        [(trades,)] = con.execute("select count(*) from trades").fetchall()
    finally:
        con.close()
    assert trades == 2000


@pytest.mark.parametrize("value", ["inplace", "COPY", "copy\x1b[31m"])
def test_unknown_write_mode_is_refused_in_one_line(settings, days, monkeypatch, value):
    build_warehouse(settings, [days[0]])
    monkeypatch.setenv("VCDWH_WRITE_MODE", value)
    with pytest.raises(ConfigError, match=r"VCDWH_WRITE_MODE=.* is not a write mode") as info:
        build_warehouse(settings, [days[1]])
    assert "\n" not in str(info.value) and "\x1b" not in str(info.value)


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "inf"])
def test_read_wait_that_is_not_seconds_is_refused(settings, days, monkeypatch, value):
    build_warehouse(settings, [days[0]])
    monkeypatch.setenv("VCDWH_READ_WAIT", value)
    with pytest.raises(ConfigError, match=r"VCDWH_READ_WAIT=.* is not a number of seconds"):
        connect_read_only(settings.db_path).close()


@pytest.mark.slow
def test_build_beside_an_open_reader_writes_a_copy_and_the_reader_keeps_its_snapshot(
    settings, days
):
    build_warehouse(settings, [days[0]])
    inode = _inode(settings.db_path)
    reader = python(READER, "duckdb", str(settings.db_path))
    try:
        before = [int(v) for v in reader.stdout.readline().split()[1:]]  # type: ignore[union-attr]
        build = vcdwh(settings.db_path, "build", str(days[1]), "--lock-timeout", "5")
        _, err = build.communicate(timeout=120)
        assert build.returncode == 0, err
        assert _inode(settings.db_path) != inode
        assert ask(reader, "count") == before
        assert ask(reader, "reopen")[0] == 4000
    finally:
        reader.kill()
        reader.wait()


@pytest.mark.slow
def test_reader_arriving_during_an_in_place_write_waits_and_sees_the_result(settings, days):
    build_warehouse(settings, [days[0]])
    holder = python(IN_PLACE_HOLDER, str(settings.db_path))
    try:
        assert holder.stdout.readline().strip() == "ready"  # type: ignore[union-attr]
        sql = vcdwh(settings.db_path, "sql", "--format", "csv", "select n from marker")
        time.sleep(1.0)
        assert sql.poll() is None  # waiting for the writer
        holder.stdin.close()  # type: ignore[union-attr]
        out, err = sql.communicate(timeout=60)
    finally:
        holder.kill()
        holder.wait()
    assert sql.returncode == 0, err
    assert out.splitlines() == ["n", "1"]


def test_reader_whose_open_meets_a_writer_just_finishing_opens_once_more(
    settings, days, monkeypatch
):
    # The writer closed the file and cleared ``in-place`` between the reader's failed open
    # and its look at the lock file: the reader must open again, not blame another program.
    build_warehouse(settings, [days[0]])
    real_connect = duckdb.connect
    calls = []

    def connect_once_locked(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise duckdb.IOException('Could not set lock on file "x": Conflicting lock')
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", connect_once_locked)
    con = connect_read_only(settings.db_path)
    try:
        [(files,)] = con.execute("select count(*) from loaded_files").fetchall()
    finally:
        con.close()
    assert (len(calls), files) == (2, 1)


def test_reader_given_a_lock_held_by_another_program_still_names_it(settings, days, monkeypatch):
    build_warehouse(settings, [days[0]])
    calls = []

    def connect_locked(*args, **kwargs):
        calls.append(args)
        raise duckdb.IOException('Could not set lock on file "x": Conflicting lock (PID 4242)')

    monkeypatch.setattr(duckdb, "connect", connect_locked)
    with pytest.raises(WarehouseError, match=r"is locked by another process \(PID 4242\)"):
        connect_read_only(settings.db_path)
    assert len(calls) == 2


@pytest.mark.slow
def test_reader_gives_up_after_read_wait_naming_the_way_out(settings, days):
    build_warehouse(settings, [days[0]])
    holder = python(IN_PLACE_HOLDER, str(settings.db_path))
    try:
        assert holder.stdout.readline().strip() == "ready"  # type: ignore[union-attr]
        sql = vcdwh(settings.db_path, "sql", "select 1", VCDWH_READ_WAIT="0.5")
        _, err = sql.communicate(timeout=60)
    finally:
        holder.stdin.close()  # type: ignore[union-attr]
        holder.wait(timeout=30)
    assert sql.returncode == 1
    assert err.startswith(f"Error: {settings.db_path} is being written in place by vcdwh")
    assert "VCDWH_WRITE_MODE=copy" in err and err.count("\n") == 1
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        assert con.execute("select n from marker").fetchall() == [(1,)]
    finally:
        con.close()
