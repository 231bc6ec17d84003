"""Load: 8 reader processes query the bars in a loop while 5 successive builds add data.

Every reader query must succeed and see one consistent snapshot: trades equal the rows the
loaded files added, bar volume equals trade volume, and counts never go down. Bounded: each
reader stops when the builds are done or after 300 s, whichever comes first.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.procs import env, sample_day, vcdwh
from vcdwh.build import build_warehouse

pytestmark = pytest.mark.slow

SOAK_READER = r"""
import json, sys, time
kind, db, done, deadline = sys.argv[1], sys.argv[2], sys.argv[3], time.monotonic() + 300
from pathlib import Path
SQL = ("select (select count(*) from trades), "
       "(select coalesce(sum(rows_added), 0) from loaded_files where schema = 'trades'), "
       "(select coalesce(sum(volume), 0) from bars_1min), "
       "(select coalesce(sum(size), 0) from trades), "
       "(select count(*) from loaded_files)")
stats = {"queries": 0, "errors": [], "inconsistent": 0, "went_back": 0, "states": []}
last = (0, 0)
held = None
if kind == "sqlalchemy":
    import sqlalchemy
    engine = sqlalchemy.create_engine(f"duckdb:///{db}", connect_args={"read_only": True},
                                      poolclass=sqlalchemy.NullPool)
else:
    import duckdb
while time.monotonic() < deadline:
    finished = Path(done).exists()
    try:
        if kind == "sqlalchemy":
            with engine.connect() as conn:
                row = tuple(conn.execute(sqlalchemy.text(SQL)).fetchone())
        elif kind == "held":  # one connection kept open: its snapshot never changes
            held = held or duckdb.connect(db, read_only=True)
            row = held.execute(SQL).fetchone()
        else:
            con = duckdb.connect(db, read_only=True)
            try:
                row = con.execute(SQL).fetchone()
            finally:
                con.close()
    except Exception as exc:
        stats["errors"].append(str(exc).splitlines()[0])
        continue
    stats["queries"] += 1
    trades, added, bar_volume, volume, files = row
    if trades != added or bar_volume != volume:
        stats["inconsistent"] += 1
    if (trades, files) < last:
        stats["went_back"] += 1
    last = max(last, (trades, files))
    if files not in stats["states"]:
        stats["states"].append(files)
    if finished:
        break
print(json.dumps(stats))
"""

KINDS = ["fresh"] * 5 + ["sqlalchemy"] * 2 + ["held"]


def test_soak_given_8_readers_and_5_builds_every_query_succeeds_and_is_consistent(
    tmp_path, settings
):
    # Arrange: a first day loaded, five more days to add, 8 readers started.
    days = [sample_day(tmp_path / f"in{d}", d, 4_000) for d in (4, 5, 6, 7, 8, 11)]
    build_warehouse(settings, [days[0]])
    done = tmp_path / "builds-done"
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", SOAK_READER, kind, str(settings.db_path), str(done)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        for kind in KINDS
    ]
    try:
        # Act: five successive builds, each adding one day.
        for day in days[1:]:
            build = vcdwh(settings.db_path, "build", str(day), "--lock-timeout", "30")
            _, err = build.communicate(timeout=120)
            assert build.returncode == 0, err
    finally:
        done.touch()
        results = [r.communicate(timeout=120) for r in readers]
    # Assert
    stats = []
    for kind, (out, err) in zip(KINDS, results, strict=True):
        assert out, err
        stats.append((kind, json.loads(out)))
    print("reader queries:", [(kind, s["queries"], s["states"]) for kind, s in stats])
    for kind, s in stats:
        assert s["errors"] == [], kind
        assert s["inconsistent"] == 0, kind
        assert s["went_back"] == 0, kind
        assert s["queries"] > 0, kind
    held = [s for kind, s in stats if kind == "held"]
    assert all(s["states"] == [s["states"][0]] for s in held)
    # The readers that reopen saw the warehouse grow while they read.
    seen = set().union(*(s["states"] for kind, s in stats if kind != "held"))
    assert len(seen) >= 3
    assert max(seen) == 6
