"""A quarter of ES and NQ (about 100M trades) on one machine: build, append, query, backtest.

Generates with ``vcdwh sample`` a week of ES (the 10M reference) and a quarter of ES and NQ
(``--trades-per-day`` per root and session; the default gives about 100M trades), writes the
quarter as DBN too, then runs each step in its own process and prints wall seconds and peak RSS:

- the 10M week build, and the quarter's CSV and DBN builds, with the time ratio to the week
  (target ≤ 11x for 10x the trades, peak RSS ≤ 1.5 GiB) and the warehouse bytes per trade;
- the quarter's first tenth (its first 9 days, generated the same way: about 10M trades with
  the quarter's trades per session and price ranges), to compare the quarter with data of its
  own shape (the week packs more trades into fewer bars and price levels);
- a day built alone and the same day appended to the quarter (target ≤ 1.5x the day alone);
- a one-session 1min query on the quarter, warm (median of 20; target ≤ 50 ms);
- a backtest and a 200-run sweep on the quarter, and the cost of storing a run there (the write
  alone: no copy when nobody else has the file open; target ≤ 1 s, no disk beyond the results).

    python bench/quarter.py --workdir /tmp/q100m                   # about 100M trades
    python bench/quarter.py --workdir /tmp/qsmall --trades-per-day 20000   # a smoke run
    python bench/quarter.py --workdir /tmp/q100m --csv-only --steps week,tenth,quarter_csv

The workdir keeps the generated files between runs (the slowest part); warehouses are rebuilt.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
QUARTER_START = date(2024, 1, 2)
QUARTER_DAYS = 89  # to 31 March
TENTH_DAYS = 9  # the quarter's first tenth: 7 sessions of its 64
APPENDED_DAY = date(2024, 4, 2)
ROOTS = ("ES.FUT", "NQ.FUT")
# What prepare generates of each root: (folder, first day, days)
ROOT_SAMPLES = (
    ("quarter", QUARTER_START, QUARTER_DAYS),
    ("tenth", QUARTER_START, TENTH_DAYS),
    ("day", APPENDED_DAY, 1),
)
WARM_REPEATS = 20


def _settings(data: Path, db: Path) -> Any:
    sys.path.insert(0, str(REPO))
    from vcdwh.config import Settings

    return Settings(data, db)


def _fresh(work: Path, name: str) -> Path:
    db = work / "dbs" / f"{name}.duckdb"
    db.parent.mkdir(exist_ok=True)
    for stale in db.parent.glob(f"{name}.duckdb*"):
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink()
    return db


def _build(data: Path, db: Path) -> dict[str, Any]:
    from vcdwh.build import build_warehouse

    report = build_warehouse(_settings(data, db))
    return {"trades": report.trades, "bytes": db.stat().st_size}


def step_week(work: Path) -> dict[str, Any]:
    return _build(work / "week", _fresh(work, "week"))


def step_quarter_csv(work: Path) -> dict[str, Any]:
    return _build(work / "quarter", _fresh(work, "quarter"))


def step_tenth(work: Path) -> dict[str, Any]:
    return _build(work / "tenth", _fresh(work, "tenth"))


def step_quarter_dbn(work: Path) -> dict[str, Any]:
    return _build(work / "quarter_dbn", _fresh(work, "quarter_dbn"))


def step_day_alone(work: Path) -> dict[str, Any]:
    return _build(work / "day", _fresh(work, "day_alone"))


def step_append_day(work: Path) -> dict[str, Any]:
    """The day appended to the quarter's warehouse, in place (nobody else has it open)."""
    return _build(work / "day", work / "dbs" / "quarter.duckdb")


def step_warm_query(work: Path) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(str(work / "dbs" / "quarter.duckdb"), read_only=True)
    [(symbol, session)] = con.execute(
        "select symbol, session_date from bars_1min where symbol like 'ES%'"
        " group by all order by sum(volume) desc limit 1"
    ).fetchall()
    sql = "select * from bars_1min where symbol = $s and session_date = $d order by bar_start"
    times = []
    for _ in range(WARM_REPEATS + 1):
        started = time.perf_counter()
        con.execute(sql, {"s": symbol, "d": session}).fetchnumpy()
        times.append(time.perf_counter() - started)
    return {"median_ms": statistics.median(times[1:]) * 1000}


def step_backtest(work: Path) -> dict[str, Any]:
    from vcdwh.backtest.params import BacktestParams
    from vcdwh.backtest.run import read_and_walk, store_runs

    settings = _settings(work / "quarter", work / "dbs" / "quarter.duckdb")
    started = time.perf_counter()
    _inputs, sim = read_and_walk(settings, BacktestParams(symbol="ES").validated())
    walked = time.perf_counter() - started
    before = settings.db_path.stat().st_size
    started = time.perf_counter()
    store_runs(settings, [sim])
    stored = time.perf_counter() - started
    return {
        "walk_s": walked,
        "store_s": stored,
        "file_growth_bytes": settings.db_path.stat().st_size - before,
    }


def step_sweep(work: Path) -> dict[str, Any]:
    from vcdwh.backtest.params import BacktestParams
    from vcdwh.backtest.sweep import SweepSpec, parse_thresholds, run_sweep

    settings = _settings(work / "quarter", work / "dbs" / "quarter.duckdb")
    spec = SweepSpec(
        parse_thresholds("100:5000:100"),
        ("1min", "5min"),
        ("none", "session"),
        base=BacktestParams(symbol="ES"),
    )
    return {"runs": run_sweep(settings, spec).runs}


def step_prepare(work: Path) -> dict[str, Any]:
    per_day, dbn = (work / "per_day.txt").read_text().split()
    prepare(work, int(per_day), dbn=dbn == "dbn")
    return {}


STEPS = {
    "prepare": step_prepare,
    "week": step_week,
    "tenth": step_tenth,
    "quarter_csv": step_quarter_csv,
    "quarter_dbn": step_quarter_dbn,
    "day_alone": step_day_alone,
    "append_day": step_append_day,
    "warm_query": step_warm_query,
    "backtest": step_backtest,
    "sweep": step_sweep,
}


def run_step(name: str, work: Path) -> tuple[float, float, dict[str, Any]]:
    """One step of this script in its own process (``bench/run.py``'s runner)."""
    sys.path.insert(0, str(BENCH))
    from run import run_step as run_script_step

    return run_script_step(name, work, BENCH / "quarter.py")


def prepare(work: Path, per_day: int, *, dbn: bool = True) -> None:
    """Generate the week, the quarter (CSV, and DBN unless ``dbn`` is false), its first tenth
    and the appended day, unless present."""
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(BENCH))
    from dbnfile import csv_to_dbn

    from vcdwh.sample import generate_sample

    marker = work / "prepared.txt"
    wanted = f"{per_day} {'dbn' if dbn else 'csv'}"
    if marker.exists() and marker.read_text() in (wanted, f"{per_day} dbn"):
        return
    for folder in ("week", "quarter", "quarter_dbn", "tenth", "day"):
        shutil.rmtree(work / folder, ignore_errors=True)
    generate_sample(work / "week", trades_per_day=2_000_000 * per_day // 780_000)
    for seed, root in enumerate(ROOTS):
        samples = {
            folder: generate_sample(
                work / folder,
                symbol=root,
                start=start,
                days=days,
                seed=seed,
                trades_per_day=per_day,
            )
            for folder, start, days in ROOT_SAMPLES
        }
        if dbn:
            (work / "quarter_dbn").mkdir(exist_ok=True)
            csv_to_dbn(
                samples["quarter"].trades_path, work / "quarter_dbn" / f"trades_{root}.dbn.zst"
            )
        samples["day"].ohlcv_path.unlink()
    marker.write_text(wanted)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument(
        "--trades-per-day", type=int, default=780_000, help="per root and session (default 780k)"
    )
    parser.add_argument(
        "--steps", help="comma-separated steps to run (default all), on what the workdir holds"
    )
    parser.add_argument(
        "--csv-only", action="store_true", help="write no DBN copy (no quarter_dbn step)"
    )
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()
    work: Path = args.workdir
    if args.step:
        print(json.dumps(STEPS[args.step](work)))
        return
    chosen = args.steps.split(",") if args.steps else [n for n in STEPS if n != "prepare"]
    if args.csv_only and "quarter_dbn" in chosen:
        if args.steps:
            parser.error("--csv-only writes no DBN copy for the quarter_dbn step")
        chosen.remove("quarter_dbn")
    unknown = sorted(set(chosen) - set(STEPS) | ({"prepare"} & set(chosen)))
    if unknown:
        parser.error(f"unknown step(s): {', '.join(unknown)}")
    work.mkdir(parents=True, exist_ok=True)
    # Prepared in a child process: the parent stays small, so each child's peak RSS (which on
    # Linux starts from its parent's size at fork) is its own.
    (work / "per_day.txt").write_text(f"{args.trades_per_day} {'csv' if args.csv_only else 'dbn'}")
    print(f"prepared in {run_step('prepare', work)[0]:.0f} s", flush=True)
    results = {}
    for name in chosen:
        results[name] = run_step(name, work)
        seconds, rss, out = results[name]
        print(f"| {name} | {seconds:.2f} | {rss:,.0f} | {json.dumps(out)} |", flush=True)
    if {"tenth", "quarter_csv"} <= set(results):
        tenth, quarter = results["tenth"], results["quarter_csv"]
        print(
            f"\nquarter: {quarter[2]['trades'] / tenth[2]['trades']:.2f}x the trades of its first "
            f"tenth, built in {quarter[0] / tenth[0]:.2f}x its time"
        )
    if not {"week", "quarter_csv", "quarter_dbn", "day_alone", "append_day"} <= set(results):
        return
    week, quarter = results["week"], results["quarter_csv"]
    ratio = quarter[0] / week[0]
    scale = quarter[2]["trades"] / week[2]["trades"]
    print(
        f"\nquarter: {quarter[2]['trades']:,} trades, {scale:.1f}x the week; CSV build "
        f"{ratio:.2f}x the week's time (target ≤ 11), peak RSS {quarter[1] / 1024:.2f} GiB "
        f"(target ≤ 1.5); DBN build {results['quarter_dbn'][0] / week[0]:.2f}x, peak RSS "
        f"{results['quarter_dbn'][1] / 1024:.2f} GiB; warehouse "
        f"{quarter[2]['bytes'] / quarter[2]['trades']:.1f} bytes per trade; appended day "
        f"{results['append_day'][0] / results['day_alone'][0]:.2f}x the day alone (target ≤ 1.5)"
    )


if __name__ == "__main__":
    main()
