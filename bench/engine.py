"""Time the backtest engine on a built warehouse: exits on the tape, a large sweep, a walk-forward.

Usage (figures go to bench/RESULTS.md by hand, with the command):

    # ~10M trades in 5 sessions: the stops/targets ratio and the 1,000-run sweep
    vcdwh --data-dir /tmp/week10m sample --trades-per-day 2000000
    vcdwh --data-dir /tmp/week10m build
    python bench/engine.py /tmp/week10m
    # ~10M trades in 22 sessions: 20 walk-forward folds x 100 combinations
    vcdwh --data-dir /tmp/month10m sample --days 30 --trades-per-day 450000
    vcdwh --data-dir /tmp/month10m build
    python bench/engine.py /tmp/month10m --walkforward

Each figure is the median of ``--repeat`` rounds; the stops/targets ratio compares the same
backtest with and without them, timed alternately in the same process.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from vcdwh.backtest.params import BacktestParams
from vcdwh.backtest.run import run_backtest
from vcdwh.backtest.sweep import SweepSpec, parse_thresholds, run_sweep
from vcdwh.backtest.walkforward import WalkForwardSpec, run_walkforward
from vcdwh.config import Settings


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", type=Path, help="a data folder with a built warehouse")
    parser.add_argument("--symbol", default="ES", help="instrument or root (default ES)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--walkforward", action="store_true", help="time the walk-forward only")
    args = parser.parse_args()
    settings = Settings(args.data, args.data / "vcdwh.duckdb")
    base = BacktestParams(args.symbol, threshold=2000, contracts=1, side="both")
    if args.walkforward:
        grid = SweepSpec(parse_thresholds("500:50000:500"), base=base)  # 100 combinations
        spec = WalkForwardSpec(grid, train_sessions=2, test_sessions=1)
        rounds = [timed(lambda: run_walkforward(settings, spec)) for _ in range(args.repeat)]
        result = rounds[-1][1]
        print(
            f"walk-forward: {len(result.folds)} folds x {result.combinations} combinations: "
            f"median {statistics.median(s for s, _ in rounds):.2f} s "
            f"({', '.join(f'{s:.2f}' for s, _ in rounds)})"
        )
        return
    plain: list[float] = []
    exits: list[float] = []
    with_exits = replace(base, stop_ticks=8, target_ticks=16)
    for _ in range(args.repeat):
        seconds, run = timed(lambda: run_backtest(settings, base))
        plain.append(seconds)
        seconds, stopped = timed(lambda: run_backtest(settings, with_exits))
        exits.append(seconds)
    reasons = {t["exit_reason"] for t in stopped.trades}
    print(
        f"backtest {args.symbol}, {run.bar_count:,} bars, {run.metrics['total_trades']} trades: "
        f"median {statistics.median(plain):.2f} s; with --stop-ticks 8 --target-ticks 16 "
        f"({stopped.metrics['total_trades']} trades, exits {sorted(reasons)}): median "
        f"{statistics.median(exits):.2f} s; ratio "
        f"{statistics.median(exits) / statistics.median(plain):.2f}"
    )
    spec = SweepSpec(parse_thresholds("100:100000:100"), base=base)  # 1,000 combinations
    rounds = [timed(lambda: run_sweep(settings, spec)) for _ in range(args.repeat)]
    print(
        f"sweep: {rounds[-1][1].runs} runs: median {statistics.median(s for s, _ in rounds):.2f} s "
        f"({', '.join(f'{s:.2f}' for s, _ in rounds)})"
    )


if __name__ == "__main__":
    main()
