"""Where a vcdwh command's time goes: every SQL statement it runs, timed and summed.

Runs one ``vcdwh`` command in this process with every DuckDB connection wrapped, then prints
to stderr the total time spent in ``execute`` and the statements that took longest, grouped by
their first 90 characters (the relation a statement builds names it: each ``.sql`` file starts
with a comment naming its relation), with how many times each ran.

    python bench/statements.py --data-dir /tmp/week --db /tmp/w.duckdb build --range-bars 8
    python bench/statements.py --data-dir /tmp/empty --db /tmp/w.duckdb build day.csv

The time outside ``execute`` (Python, fetches, pandas_market_calendars) is the command's wall
time minus the total.
"""

from __future__ import annotations

import atexit
import collections
import sys
import time
from typing import Any

import duckdb

SHOWN = 40

_totals: collections.defaultdict[str, float] = collections.defaultdict(float)
_counts: collections.Counter[str] = collections.Counter()
_connect = duckdb.connect


class _Timed:
    """A DuckDB connection whose ``execute`` calls are timed; everything else passes through."""

    def __init__(self, con: Any) -> None:
        self._con = con

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = self._con.execute(sql, *args, **kwargs)
        key = " ".join(str(sql).split())[:90]
        _totals[key] += time.perf_counter() - started
        _counts[key] += 1
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def __enter__(self) -> _Timed:
        return self

    def __exit__(self, *exc: object) -> Any:
        return self._con.__exit__(*exc)


def _timed_connect(*args: Any, **kwargs: Any) -> _Timed:
    return _Timed(_connect(*args, **kwargs))


@atexit.register
def _report() -> None:
    print(f"total {sum(_totals.values()):.2f} s in execute", file=sys.stderr)
    for key, seconds in sorted(_totals.items(), key=lambda item: -item[1])[:SHOWN]:
        print(f"{seconds:8.2f} {_counts[key]:5d}  {key}", file=sys.stderr)


def main() -> None:
    duckdb.connect = _timed_connect  # type: ignore[assignment]
    from vcdwh.cli import cli

    cli(args=["--quiet", *sys.argv[1:]], prog_name="vcdwh")


if __name__ == "__main__":
    main()
