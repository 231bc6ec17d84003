"""Time a 200-run sweep (50 thresholds x 1min,5min x none,session) on a built warehouse.

Usage (the performance target is ≤ 10 s on a 10M-trade warehouse):

    vcdwh --data-dir /tmp/fut10m sample --trades-per-day 2000000
    vcdwh --data-dir /tmp/fut10m build
    python bench/sweep.py /tmp/fut10m            # seed mode
    python bench/sweep.py /tmp/fut10m --contracts 1
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from vcdwh.backtest.params import BacktestParams
from vcdwh.backtest.sweep import SweepSpec, parse_thresholds, run_sweep
from vcdwh.config import Settings


def main(argv: list[str]) -> None:
    """Run the sweep once and print its wall time."""
    data = Path(argv[0])
    contracts = int(argv[argv.index("--contracts") + 1]) if "--contracts" in argv else None
    settings = Settings(data_dir=data, db_path=data / "vcdwh.duckdb")
    spec = SweepSpec(
        parse_thresholds("100:5000:100"),
        ("1min", "5min"),
        ("none", "session"),
        base=BacktestParams(contracts=contracts, side="both" if contracts else "long"),
    )
    started = time.perf_counter()
    result = run_sweep(settings, spec)
    seconds = time.perf_counter() - started
    [(trades,)] = (
        __import__("duckdb")
        .connect(str(settings.db_path), read_only=True)
        .execute("select count(*) from trades")
        .fetchall()
    )
    print(f"{result.sweep_id}: {result.runs} runs on {trades:,} trades in {seconds:.2f} s wall")


if __name__ == "__main__":
    main(sys.argv[1:])
