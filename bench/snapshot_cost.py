"""What a write costs on a large warehouse, in place and on a copy: extra time and peak disk.

A vcdwh write (build, backtest) goes in place when no other process has the warehouse open, and
otherwise copies it to a temporary file in the same folder, works on the copy and renames it
over the warehouse (``vcdwh.warehouse.db.write_session``; ``VCDWH_WRITE_MODE=copy`` forces the
copy). This script measures, on one data folder (default: a 10-million-trade synthetic week):

1. a clean build (no copy: the warehouse is new);
2. a second build that adds nothing, with the copy and in place;
3. a build that adds a small file, with the copy and in place, from the same starting state;
4. a backtest, with the copy and in place;

and for each the wall time and the peak disk used by the folder (files' allocated blocks,
sampled every 20 ms), plus the time of the bare file copy. Run it with the repository first on
the path::

    PYTHONPATH=. python bench/snapshot_cost.py --data-dir /tmp/rel10m

It generates the sample (``vcdwh sample --trades-per-day 2000000``, 10M trades) when the folder
has no trades file, and deletes and rebuilds ``<data-dir>/vcdwh.duckdb``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from vcdwh.backtest.params import BacktestParams
from vcdwh.backtest.run import run_backtest
from vcdwh.build import build_warehouse
from vcdwh.config import Settings
from vcdwh.sample import generate_sample


def folder_bytes(folder: Path) -> int:
    """Disk blocks allocated by the files directly in ``folder`` (hidden ones included)."""
    total = 0
    for entry in os.scandir(folder):
        with contextlib.suppress(FileNotFoundError):
            if entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_blocks * 512
    return total


@contextlib.contextmanager
def peak_disk(folder: Path) -> Iterator[dict[str, int]]:
    """Sample the folder's size while the body runs; yields a dict filled with before/peak."""
    result = {"before": folder_bytes(folder), "peak": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            result["peak"] = max(result["peak"], folder_bytes(folder))
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        result["peak"] = max(result["peak"], folder_bytes(folder))
        result["after"] = folder_bytes(folder)


@contextlib.contextmanager
def writes_in_place(enabled: bool) -> Iterator[None]:
    """``VCDWH_WRITE_MODE=auto`` (in place: nothing else has the file open) or ``copy``."""
    saved = os.environ.get("VCDWH_WRITE_MODE")
    os.environ["VCDWH_WRITE_MODE"] = "auto" if enabled else "copy"
    try:
        yield
    finally:
        if saved is None:
            del os.environ["VCDWH_WRITE_MODE"]
        else:
            os.environ["VCDWH_WRITE_MODE"] = saved


def measure(label: str, folder: Path, action: Callable[[], Any], in_place: bool = False) -> None:
    with writes_in_place(in_place), peak_disk(folder) as disk:
        started = time.perf_counter()
        action()
        seconds = time.perf_counter() - started
    gib = 1024**3
    print(
        f"{label:<44} {seconds:8.2f} s   folder before {disk['before'] / gib:6.2f} GiB  "
        f"peak {disk['peak'] / gib:6.2f} GiB  (+{(disk['peak'] - disk['before']) / gib:5.2f})  "
        f"after {disk['after'] / gib:6.2f} GiB",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/rel10m"))
    parser.add_argument("--trades-per-day", type=int, default=2_000_000)
    args = parser.parse_args(argv)
    data: Path = args.data_dir
    data.mkdir(parents=True, exist_ok=True)
    if not list(data.glob("trades_*.csv")):
        print(f"generating the sample in {data} …", flush=True)
        generate_sample(data, trades_per_day=args.trades_per_day)
    settings = Settings(data, data / "vcdwh.duckdb")
    for leftover in (settings.db_path, data / "vcdwh.duckdb.wal"):
        leftover.unlink(missing_ok=True)
    small_dir = data / "small"
    if not list(small_dir.glob("trades_*.csv")):
        generate_sample(small_dir, start=date(2024, 3, 11), days=1, trades_per_day=10_000)
    small = sorted(small_dir.glob("trades_*.csv"))[0]

    measure("clean build (new warehouse, no copy)", data, lambda: build_warehouse(settings), True)
    trades = duckdb.connect(str(settings.db_path), read_only=True)
    count = trades.execute("select count(*) from trades").fetchone()[0]  # type: ignore[index]
    trades.close()
    size = settings.db_path.stat().st_size
    print(f"warehouse: {count:,} trades, {size / 1024**3:.2f} GiB file", flush=True)

    copy = data / ".bench-copy.tmp"
    started = time.perf_counter()
    shutil.copyfile(settings.db_path, copy)
    fd = os.open(copy, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    print(f"{'bare copy + fsync of the warehouse file':<44} {time.perf_counter() - started:8.2f} s")
    copy.unlink()

    measure("second build, adds nothing (copy and swap)", data, lambda: build_warehouse(settings))
    measure("second build, adds nothing (in place)", data, lambda: build_warehouse(settings), True)

    saved = data / ".bench-saved.duckdb"
    shutil.copyfile(settings.db_path, saved)
    measure(
        f"build adding {small.name[:22]}… (copy and swap)",
        data,
        lambda: build_warehouse(settings, [small]),
    )
    shutil.copyfile(saved, settings.db_path)
    measure(
        f"build adding {small.name[:22]}… (in place)",
        data,
        lambda: build_warehouse(settings, [small]),
        True,
    )
    saved.unlink()

    params = BacktestParams()
    measure("backtest (copy and swap)", data, lambda: run_backtest(settings, params))
    measure("backtest (in place)", data, lambda: run_backtest(settings, params), True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
