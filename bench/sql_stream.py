"""Time to first byte, total time and peak RSS of `vcdwh sql` printing many short rows.

Usage: python bench/sql_stream.py DB [--rows 5000000] [--format csv --format json ...]
       [--without-timeout]

Runs ``python -m vcdwh --db DB sql --timeout 0 --format F "select range from range(N)"`` in a
child process for each format, reads its output through a pipe, and prints one line each:
seconds to the first byte, seconds in all, bytes and the child's peak RSS (``getrusage``).
The query reads no table: any warehouse file will do.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path


def measure(db: Path, rows: int, fmt: str, timeout_option: bool = True) -> str:
    query = f"select range from range({rows})"
    command = [sys.executable, "-m", "vcdwh", "--db", str(db), "sql"]
    if timeout_option:
        command += ["--timeout", "0"]
    started = time.monotonic()
    child = subprocess.Popen([*command, "--format", fmt, query], stdout=subprocess.PIPE)
    assert child.stdout is not None
    first = child.stdout.read(1)
    first_byte = time.monotonic() - started
    size = len(first)
    while chunk := child.stdout.read(1 << 20):
        size += len(chunk)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    total = time.monotonic() - started
    peak_mib = usage.ru_maxrss / 1024  # KiB on Linux
    return (
        f"{fmt:5}  first byte {first_byte:6.2f} s  total {total:6.2f} s  "
        f"{size:>13,} bytes  peak RSS {peak_mib:7.0f} MiB  exit {child.returncode}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--format", dest="formats", action="append")
    parser.add_argument(
        "--without-timeout", action="store_true", help="for versions before --timeout"
    )
    args = parser.parse_args()
    for fmt in args.formats or ["csv", "json", "table"]:
        print(measure(args.db, args.rows, fmt, not args.without_timeout), flush=True)


if __name__ == "__main__":
    main()
