"""A build or backtest killed with SIGKILL at any point leaves the state before or after it.

Writers are killed at each phase of the write (`VCDWH_KILL_AT`, see vcdwh.warehouse.db) and at
several moments of a larger build; then the warehouse must open and equal either the state
before the command or a clean build's, and the next build must complete and equal a clean one.
"""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import duckdb
import pytest

from tests.procs import sample_day, vcdwh
from vcdwh.backtest.params import BacktestParams
from vcdwh.backtest.run import run_backtest
from vcdwh.build import build_warehouse
from vcdwh.config import Settings

pytestmark = pytest.mark.slow

# (write mode, phase, state the kill leaves): in place, a committed transaction survives in
# DuckDB's write-ahead log; on a copy, only the rename publishes it.
PHASES = [
    ("copy", "locked", "before"),
    ("copy", "copied", "before"),
    ("copy", "before_checkpoint", "before"),
    ("copy", "before_replace", "before"),
    ("copy", "replaced", "after"),
    ("auto", "locked", "before"),
    ("auto", "opened_in_place", "before"),
    ("auto", "committed_in_place", "after"),
    ("auto", "checkpointed_in_place", "after"),
]


def fingerprint(db: Path) -> dict[str, object]:
    """What a user can see, minus load times: trades, bars, loaded files and backtest runs."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            "trades": con.execute(
                "select count(*), sum(size), sum(hash(ts_recv, instrument_id, price, size, side,"
                " sequence, occurrence, position)) from trades"
            ).fetchone(),
            "bars_1min": con.execute(
                "select count(*), sum(hash(columns(*))) from bars_1min"
            ).fetchone(),
            "bars_5min": con.execute("select count(*), sum(volume) from bars_5min").fetchone(),
            "loaded_files": con.execute(
                "select list((file_id, parse_filename(path), content_hash, rows, rows_added)"
                " order by file_id) from loaded_files"
            ).fetchone(),
            "backtest_runs": con.execute("select count(*) from backtest_runs").fetchone(),
        }
    finally:
        con.close()


@pytest.fixture(name="states", scope="module")
def fixture_states(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A base warehouse (day 4, small) and the clean result of adding day 5 (150k trades)."""
    root = tmp_path_factory.mktemp("crash")
    small = sample_day(root / "in", 4, 5_000)
    large = sample_day(root / "in", 5, 150_000)
    base = Settings(root / "base", root / "base" / "vcdwh.duckdb")
    build_warehouse(base, [small])
    done = Settings(root / "done", root / "done" / "vcdwh.duckdb")
    shutil.copytree(base.data_dir, done.data_dir)
    build_warehouse(done, [large])
    return {
        "large": large,
        "base_db": base.db_path,
        "before": fingerprint(base.db_path),
        "after": fingerprint(done.db_path),
    }


def _warehouse_from(states: dict[str, object], tmp_path: Path) -> Settings:
    data = tmp_path / "Data"
    data.mkdir(parents=True)
    shutil.copyfile(states["base_db"], data / "vcdwh.duckdb")  # type: ignore[arg-type]
    return Settings(data, data / "vcdwh.duckdb")


def _recover_and_compare(settings: Settings, states: dict[str, object]) -> None:
    """The next build completes, leaves no temp file and equals the clean build."""
    build_warehouse(settings, [states["large"]])  # type: ignore[list-item]
    assert fingerprint(settings.db_path) == states["after"]
    assert not list(settings.data_dir.glob(".vcdwh.duckdb.*"))


@pytest.mark.parametrize(("mode", "phase", "left"), PHASES)
def test_build_killed_at_each_write_phase_leaves_before_or_after(
    states, tmp_path, mode, phase, left
):
    # Arrange
    settings = _warehouse_from(states, tmp_path)
    # Act: SIGKILL the build at that phase.
    build = vcdwh(
        settings.db_path,
        "build",
        str(states["large"]),
        VCDWH_KILL_AT=phase,
        VCDWH_WRITE_MODE=mode,
    )
    build.communicate(timeout=120)
    # Assert: killed; the warehouse opens and is the old state, or the new once published.
    assert build.returncode == -signal.SIGKILL
    assert fingerprint(settings.db_path) == states[left]
    _recover_and_compare(settings, states)


@pytest.mark.parametrize("mode", ["auto", "copy"])
def test_build_killed_at_random_moments_leaves_before_or_after(states, tmp_path, mode):
    # Several kills spread over a ~2 s build (process start included) of 150k trades, each on a fresh copy of the base.
    outcomes = []
    for delay in (0.5, 1.0, 1.5, 2.0):
        settings = _warehouse_from(states, tmp_path / f"kill-{delay}")
        build = vcdwh(settings.db_path, "build", str(states["large"]), VCDWH_WRITE_MODE=mode)
        time.sleep(delay)
        build.send_signal(signal.SIGKILL)
        build.communicate(timeout=120)
        state = fingerprint(settings.db_path)
        assert state in (states["before"], states["after"]), delay
        outcomes.append("after" if state == states["after"] else "before")
        if delay == 1.0:
            _recover_and_compare(settings, states)
    assert "before" in outcomes


@pytest.mark.parametrize(
    ("mode", "phase", "runs"),
    [
        ("copy", "copied", 0),
        ("copy", "before_replace", 0),
        ("copy", "replaced", 1),
        ("auto", "opened_in_place", 0),
        ("auto", "committed_in_place", 1),
    ],
)
def test_backtest_killed_while_writing_leaves_before_or_after(states, tmp_path, mode, phase, runs):
    settings = _warehouse_from(states, tmp_path)
    backtest = vcdwh(
        settings.db_path,
        "backtest",
        "--threshold",
        "50",
        VCDWH_KILL_AT=phase,
        VCDWH_WRITE_MODE=mode,
    )
    backtest.communicate(timeout=120)
    assert backtest.returncode == -signal.SIGKILL
    state = fingerprint(settings.db_path)
    assert state["backtest_runs"] == (runs,)
    assert {k: v for k, v in state.items() if k != "backtest_runs"} == {
        k: v
        for k, v in states["before"].items()
        if k != "backtest_runs"  # type: ignore[union-attr]
    }
    result = run_backtest(settings, BacktestParams(threshold=50))
    assert result.run_id == runs + 1


@pytest.mark.parametrize("mode", ["auto", "copy"])
def test_build_killed_while_spilling_does_not_lock_the_warehouse(tmp_path, mode):
    # Arrange: a warehouse, and a day large enough to spill under a 40MB memory cap.
    data = tmp_path / "Data"
    settings = Settings(data, data / "vcdwh.duckdb")
    build_warehouse(settings, [sample_day(tmp_path / "in", 4, 5_000)])
    before = fingerprint(settings.db_path)
    large = sample_day(tmp_path / "in", 5, 150_000)
    # Act: SIGKILL the build as soon as DuckDB has created its spill folder (beside the copy,
    # or beside the warehouse when it writes in place).
    build = vcdwh(
        settings.db_path, "build", str(large), VCDWH_MEMORY_LIMIT="40MB", VCDWH_WRITE_MODE=mode
    )
    deadline = time.monotonic() + 60
    spill: list[Path] = []
    while not spill and build.poll() is None and time.monotonic() < deadline:
        spill = [p for p in data.glob(".vcdwh.duckdb.*.tmp.*") if p.is_dir()]
        time.sleep(0.01)
    build.send_signal(signal.SIGKILL)
    build.communicate(timeout=60)
    # Assert: it was killed while spilling, leaving the folder and the old warehouse.
    assert spill, "the build never spilled: raise its input or lower VCDWH_MEMORY_LIMIT"
    assert build.returncode == -signal.SIGKILL
    assert spill[0].is_dir()
    assert fingerprint(settings.db_path) == before
    # The next build and a backtest work, and nothing of the dead writer is left.
    for args in (["build", str(large)], ["backtest", "--threshold", "50"]):
        after = vcdwh(settings.db_path, *args)
        out, err = after.communicate(timeout=300)
        assert after.returncode == 0, (args, out, err)
    state = fingerprint(settings.db_path)
    assert state["trades"][0] == before["trades"][0] + 150_000  # type: ignore[index]
    assert state["backtest_runs"] == (1,)
    assert sorted(p.name for p in data.iterdir() if p.name.startswith(".")) == []
