"""What the order-flow analytics add to a build: ``vcdwh build`` timed with and without them.

Generates a synthetic ES week once (``vcdwh sample --trades-per-day N``), then times a fresh
``vcdwh build`` of it for each configuration, each in its own process, alternating the
configurations over ``--repeat`` rounds, and prints a markdown table of medians (wall seconds and
the child's CPU seconds, user + system) with ratios to the first configuration, and for the others
to the second (``--ref`` without options): of the medians, and paired, the median over rounds of
each round's ratio.

The first configuration is the build without the analytics: ``--base-ref REF`` exports that
commit's package (``git archive``) and runs it; the others run ``--ref`` (default HEAD), exported
the same way (so editing the checkout meanwhile changes nothing), with the build options each
``--config LABEL=OPTIONS`` names.

    python bench/orderflow.py --base-ref 6413aa1                       # 10M trades, 3 rounds
    python bench/orderflow.py --base-ref 6413aa1 --trades-per-day 200000 --repeat 1
    python bench/orderflow.py --base-ref 6413aa1 --config "4 ticks a level=--ticks-per-level 4"
    python bench/orderflow.py --base-ref HEAD --floor-ticks 1000

``--floor-ticks N`` also times, after each round's ``--ref`` build, the least SQL any N-tick bar
set needs on that warehouse, in its own process: number every trade in trade order within its
instrument and session (a cheaper session key than the calendar's: the UTC day of ts_recv + 1
hour), then store the bars (open, high, low, close, volume, buy and sell volume, trades) and
their footprint (buy and sell volume per price) in one aggregation and checkpoint, with none of
the other columns a set carries. Its ratio to the ``--ref`` build is the least a set can add.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _export(ref: str, into: Path) -> Path:
    """The package of commit ``ref``, unpacked into ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _build(code: Path, data: Path, args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh ``vcdwh build`` run from ``code``."""
    db = data / "bench.duckdb"
    db.unlink(missing_ok=True)
    env = os.environ | {"PYTHONPATH": str(code)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "vcdwh", "--data-dir", str(data), "--db", str(db), "build", *args],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


# The least an N-tick set needs: the trade order within each instrument's session, and the bars
# and their footprint cut from it in one aggregation (grouping sets: one pass over the ordered
# trades for both), then checkpoint.
_FLOOR_TICKS = (
    """
    create or replace table floor_ticks as
    with flow as (
        select
            instrument_id,
            date_trunc('day', ts_recv + interval 1 hour) as session_key,
            price,
            size,
            side,
            row_number() over (
                partition by instrument_id, session_key order by ts_recv, sequence, position
            ) as trade_no
        from trades
    )

    select
        instrument_id,
        session_key,
        (trade_no - 1) // {n} + 1 as bar_index,
        price,
        grouping(price) = 1 as is_bar,
        arg_min(price, trade_no) as open,
        max(price) as high,
        min(price) as low,
        arg_max(price, trade_no) as close,
        sum(size) as volume,
        coalesce(sum(size) filter (where side = 'B'), 0) as buy_volume,
        coalesce(sum(size) filter (where side = 'A'), 0) as sell_volume,
        count(*) as trades
    from flow
    group by grouping sets (
        (instrument_id, session_key, bar_index), (instrument_id, session_key, bar_index, price)
    )
    """,
    "checkpoint",
)


def _floor_ticks(db: Path, n: int) -> tuple[float, float]:
    """Wall and CPU seconds of the least N-tick set's statements on ``db``."""
    import duckdb

    con = duckdb.connect(str(db))
    con.execute("set memory_limit = '1GB'")
    wall, cpu = time.perf_counter(), time.process_time()
    for statement in _FLOOR_TICKS:
        con.execute(statement.format(n=n))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    con.close()
    return wall, cpu


def _time_floor(data: Path, n: int) -> tuple[float, float]:
    """Wall and CPU seconds of the least N-tick set on the last build, in its own process
    (timed there, so neither start-up counts)."""
    out = subprocess.run(
        [
            *(sys.executable, __file__, "--floor-step", str(n)),
            *("--work", str(data.parent)),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-ref", help="commit without the analytics (required)")
    parser.add_argument("--ref", default="HEAD", help="commit with the analytics")
    parser.add_argument("--trades-per-day", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None, help="folder to keep the sample in")
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="LABEL=ARGS",
        help="extra configuration of this checkout: a label and its build options",
    )
    parser.add_argument(
        "--floor-ticks", type=int, metavar="N", help="also time the least an N-tick set needs"
    )
    parser.add_argument("--floor-step", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.floor_step:
        print(*_floor_ticks(options.work / "data" / "bench.duckdb", options.floor_step))
        return
    if not options.base_ref:
        parser.error("the following arguments are required: --base-ref")
    work = options.work or Path(tempfile.mkdtemp(prefix="vcdwh-orderflow-"))
    data = work / "data"
    if not any(data.glob("trades_*.csv")):
        data.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                *(sys.executable, "-m", "vcdwh", "--data-dir", str(data), "sample"),
                *("--trades-per-day", str(options.trades_per_day)),
            ],
            check=True,
            env=os.environ | {"PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
        )
    base = _export(options.base_ref, work / "base")
    head = _export(options.ref, work / "head")
    configs: list[tuple[str, Path, list[str]]] = [
        (f"{options.base_ref}: without", base, []),
        (f"{options.ref}: profile, VWAP, footprint columns", head, []),
    ]
    for item in options.config:
        label, _, args = item.partition("=")
        configs.append((f"{options.ref}: {label}", head, args.split()))
    times: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in configs}
    floor = f"least SQL of a {options.floor_ticks}-tick set, after {options.ref}'s build"
    floors: list[tuple[float, float]] = []
    for _ in range(options.repeat):
        for i, (label, code, args) in enumerate(configs):
            times[label].append(_build(code, data, args))
            wall, cpu = times[label][-1]
            print(f"{label}: {wall:.2f} s wall, {cpu:.2f} s CPU", file=sys.stderr, flush=True)
            if i == 1 and options.floor_ticks:
                floors.append(_time_floor(data, options.floor_ticks))
                print(f"{floor}: {floors[-1][0]:.2f} s wall", file=sys.stderr, flush=True)
    trades = sum(1 for _ in next(data.glob("trades_*.csv")).open()) - 1
    print(f"{trades:,} trades, {options.repeat} round(s), medians\n")
    # ratios to the base build, and (for the --config rows) to --ref's build without options:
    # of the medians, and paired (the median over rounds of each round's own ratio, which
    # cancels the machine's slower and faster spells that outlast a round)
    print(
        "| build | wall s | CPU s | wall ratio | CPU ratio | wall vs ref | CPU vs ref "
        "| paired wall vs ref | paired CPU vs ref |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    medians = [
        (
            statistics.median(w for w, _ in times[label]),
            statistics.median(c for _, c in times[label]),
        )
        for label, _, _ in configs
    ]
    (base_wall, base_cpu), (ref_wall, ref_cpu) = medians[0], medians[1]
    ref_times = times[configs[1][0]]
    for i, ((label, _, _), (wall, cpu)) in enumerate(zip(configs, medians, strict=True)):
        versus = " | | | "
        if i >= 1:
            pairs = list(zip(times[label], ref_times, strict=True))
            paired_wall = statistics.median(w / rw for (w, _), (rw, _) in pairs)
            paired_cpu = statistics.median(c / rc for (_, c), (_, rc) in pairs)
            versus = (
                f"{wall / ref_wall:.2f}x | {cpu / ref_cpu:.2f}x | "
                f"{paired_wall:.2f}x | {paired_cpu:.2f}x"
            )
        print(
            f"| {label} | {wall:.2f} | {cpu:.2f} | {wall / base_wall:.2f}x | "
            f"{cpu / base_cpu:.2f}x | {versus} |"
        )
    if floors:
        wall = statistics.median(w for w, _ in floors)
        cpu = statistics.median(c for _, c in floors)
        paired = statistics.median(
            f / rw for (f, _), (rw, _) in zip(floors, ref_times, strict=True)
        )
        print(
            f"| {floor} | {wall:.2f} | {cpu:.2f} | | | "
            f"+{wall / ref_wall:.0%} | +{cpu / ref_cpu:.0%} | +{paired:.0%} | |"
        )
    if options.work is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
