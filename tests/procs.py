"""Helpers for tests that run vcdwh and readers in real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from tests.conftest import REPO

# A reader that opens the warehouse once and answers commands on stdin, one line each:
# "count" → trades, loaded trade rows, bar volume, trade volume and backtest runs, read on its
# open connection; "reopen" → close it and open a new one (DuckDB shares one database per path
# within a process while any connection to it is open), then the same; anything else quits.
# Kinds: duckdb (the module) or sqlalchemy (duckdb_engine, as Superset uses).
READER = r"""
import sys
kind, db = sys.argv[1], sys.argv[2]
SQL = ("select (select count(*) from trades), "
       "(select coalesce(sum(rows_added), 0) from loaded_files where schema = 'trades'), "
       "(select coalesce(sum(volume), 0) from bars_1min), "
       "(select coalesce(sum(size), 0) from trades), "
       "(select count(*) from backtest_runs)")

def connect():
    if kind == "duckdb":
        import duckdb
        con = duckdb.connect(db, read_only=True)
        return (lambda: con.execute(SQL).fetchone()), con.close
    import sqlalchemy
    engine = sqlalchemy.create_engine(
        f"duckdb:///{db}", connect_args={"read_only": True}, poolclass=sqlalchemy.NullPool
    )
    conn = engine.connect()
    return (lambda: tuple(conn.execute(sqlalchemy.text(SQL)).fetchone())), conn.close

query, close = connect()
print("ready", *query(), flush=True)
for line in sys.stdin:
    command = line.strip()
    if command == "count":
        print(*query(), flush=True)
    elif command == "reopen":
        close()
        query, close = connect()
        print(*query(), flush=True)
    else:
        break
"""

# Holds vcdwh's own write session (as a running build would) until its stdin closes.
WRITER_HOLDER = r"""
import sys
from pathlib import Path
from vcdwh.warehouse.db import write_session
with write_session(Path(sys.argv[1]), 5) as con:
    print("ready", flush=True)
    sys.stdin.read()
"""


def env(**extra: str) -> dict[str, str]:
    """The environment for a child: this checkout first on the path."""
    values = dict(os.environ)
    values["PYTHONPATH"] = str(REPO) + os.pathsep + values.get("PYTHONPATH", "")
    values.update(extra)
    return values


def vcdwh(db: Path, *args: str, **extra_env: str) -> subprocess.Popen[str]:
    """Start ``python -m vcdwh --db DB ARGS`` (stdout and stderr captured)."""
    return subprocess.Popen(
        [sys.executable, "-m", "vcdwh", "--data-dir", str(db.parent), "--db", str(db), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(**extra_env),
    )


def python(code: str, *args: str) -> subprocess.Popen[str]:
    """Start ``python -c CODE ARGS`` with pipes on stdin and stdout."""
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )


def ask(process: subprocess.Popen[str], command: str) -> list[int]:
    """Send one command to a READER and parse its answer."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(command + "\n")
    process.stdin.flush()
    return [int(v) for v in process.stdout.readline().split()]


def sample_day(folder: Path, day: int, trades_per_day: int) -> Path:
    """A one-day synthetic trades file for 2024-03-<day> (a weekday session)."""
    from vcdwh.sample import generate_sample

    report = generate_sample(
        folder, start=date(2024, 3, day), days=1, trades_per_day=trades_per_day
    )
    report.ohlcv_path.unlink()
    return report.trades_path
