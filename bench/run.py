"""Benchmark vcdwh against equal work: DuckDB storing the trades, seed-style pandas, polars.

For each size N (default 1M and 10M trades) the script generates a synthetic ES week with
``vcdwh sample``, writes the same trades as a DBN file, then times every step in its own
process (wall seconds and that process's peak RSS), alternating the steps over ``--repeat``
rounds, and prints a markdown table of medians and same-run ratios (``--write`` also saves it to
bench/RESULTS.md). The equal-work references: ``floor_store`` is DuckDB storing the typed CSV
as a table (``create table as`` + ``checkpoint``), the floor of any build that stores the
trades; ``polars_streamed``/``polars_eager`` write the trades to zstd Parquet and compute 1min and
5min bars with buy/sell volume, delta and cumulative delta of every instrument from it; ``pandas``
is the seed's pipeline. The pandas and polars bars are checked against ``bars_1min``.

More floors bound what the equal-work targets can reach: ``floor_work`` is the polars
script's work done by DuckDB (the trades stored as a table, the same 1min and 5min bars, checked
against ``bars_1min`` too); ``floor_work_dbn`` is that work from the DBN file as vcdwh decodes it;
``floor_store_capped`` and ``floor_store_unordered`` store the trades under a 128 MB memory limit,
in file order and in any order, the least memory DuckDB needs to store them. ``floor_contract``
(and ``floor_contract_dbn``, from the DBN file) is the least a build that meets the warehouse
contract must do, in plain DuckDB SQL: store the trades while hashing the file, number the
repeated records, and write the 1min and 5min bars and footprint levels (checked against the
build's, column by column).

    python bench/run.py                       # 1M and 10M trades, 3 rounds
    python bench/run.py --trades 30000000 --repeat 1
    python bench/run.py --trades 20000 --repeat 1 --quick   # smoke run (used by the tests)

polars is optional (``pip install -e '.[bench]'``); without it the polars step is skipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SESSIONS_IN_DEFAULT_WEEK = 5
WEEK_CSV = "trades_ES.FUT_2024-03-03_2024-03-10.csv"
FRONT = "ESH4"
SESSION = "2024-03-05"
WARM_REPEATS = 20
WALK_BARS = 1_000_000
CAPPED_MEMORY = "128MB"
# In RESULTS.md everything from this marker on was measured by hand; --write keeps it.
KEPT_MARKER = "<!-- measured by hand: kept by bench/run.py --write -->"

# --------------------------------------------------------------------------- steps (child side)


def _typed_read(path: Path) -> str:
    """The CSV read with every column typed, timestamps parsed (``TIMESTAMP_NS``)."""
    sys.path.insert(0, str(REPO))
    from vcdwh.load.stage import detect_layout

    layout = detect_layout(path)
    types = dict(layout.column_types())
    types.update({name: "TIMESTAMP_NS" for name in ("ts_recv", "ts_event")})
    cols = ", ".join(f"'{n}': '{t}'" for n, t in types.items())
    return (
        f"read_csv('{path}', header = true, auto_detect = false, delim = ',', columns = {{{cols}}})"
    )


def step_floor_count(work: Path) -> dict[str, Any]:
    import duckdb

    rows = (
        duckdb.connect()
        .execute(f"select count(*) from read_csv('{work / 'data' / WEEK_CSV}')")
        .fetchone()[0]
    )
    return {"rows": rows}


def step_floor_parse(work: Path) -> dict[str, Any]:
    import duckdb

    source = _typed_read(work / "data" / WEEK_CSV)
    row = (
        duckdb.connect()
        .execute(
            "select count(*), max(ts_recv), max(ts_event), sum(price), sum(size), max(side),"
            " max(action), max(symbol), sum(instrument_id), sum(sequence), sum(flags),"
            f" sum(ts_in_delta), sum(rtype), sum(publisher_id), sum(depth) from {source}"
        )
        .fetchone()
    )
    return {"rows": row[0]}


def _store_trades(work: Path, name: str, *settings: str) -> dict[str, Any]:
    """DuckDB's own ``create table as`` of the typed CSV into a new file ``name``, then
    ``checkpoint``, after the ``set`` statements ``settings``."""
    import duckdb

    con = duckdb.connect(str(_fresh_db(work, name)))
    for setting in settings:
        con.execute(f"set {setting}")
    con.execute(f"create table trades as select * from {_typed_read(work / 'data' / WEEK_CSV)}")
    con.execute("checkpoint")
    rows = con.execute("select count(*) from trades").fetchall()[0][0]
    con.close()
    return {"rows": rows}


def step_floor_store(work: Path) -> dict[str, Any]:
    """The floor of any build that stores the trades: DuckDB's own ``create table as`` of the
    typed CSV into a new file, then ``checkpoint``."""
    return _store_trades(work, "floor_store")


# The polars script's work done by DuckDB itself: store the trades, then 1min and 5min bars of
# every instrument (close, volume, buy/sell volume, delta, cumulative delta), then checkpoint.
# It is the floor of any DuckDB build that does at least the polars script's work; a build that
# must store the trades cannot beat it, so it bounds what the equal-work targets can reach.
_FLOOR_BARS = """
create table bars_{every} as
with bars as (
    select
        {key} as key,
        time_bucket(interval '{interval}', {ts}) as bar_start,
        arg_max(price, rowid) as close,
        sum(size) as volume,
        coalesce(sum(size) filter (where side = {buy}), 0) as buy_volume,
        coalesce(sum(size) filter (where side = {sell}), 0) as sell_volume
    from trades
    group by all
),

final as (
    select
        *,
        buy_volume - sell_volume as delta,
        sum(buy_volume - sell_volume) over (partition by key order by bar_start)
            as cumulative_delta
    from bars
)

select * from final
"""


def _floor_bars(con: Any, *, key: str, ts: str, buy: str, sell: str) -> int:
    bars = 0
    for every, interval in (("1m", "1 minute"), ("5m", "5 minutes")):
        con.execute(
            _FLOOR_BARS.format(every=every, interval=interval, key=key, ts=ts, buy=buy, sell=sell)
        )
        bars += con.execute(f"select count(*) from bars_{every}").fetchone()[0]
    return bars


def step_floor_work(work: Path) -> dict[str, Any]:
    """The polars script's work done by DuckDB: the typed CSV stored as a table, 1min and 5min
    bars of every instrument from it, checkpoint."""
    import duckdb

    source = _typed_read(work / "data" / WEEK_CSV)
    con = duckdb.connect(str(_fresh_db(work, "floor_work")))
    con.execute(f"create table trades as select * from {source}")
    bars = _floor_bars(con, key="symbol", ts="ts_recv", buy="'B'", sell="'A'")
    con.execute("checkpoint")
    con.close()
    return {"bars": bars}


def _dbn_records(path: Path) -> Any:
    """The records of a ``.dbn.zst`` as vcdwh decodes them: a stream of Arrow batches."""
    import pyarrow as pa

    sys.path.insert(0, str(REPO))
    from vcdwh.datafiles import TRADES_COLUMNS
    from vcdwh.load.stage import dbn_batches, open_dbn

    batches = dbn_batches(open_dbn(path), path, TRADES_COLUMNS)
    first = next(batches)
    return pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], batches))


def step_floor_work_dbn(work: Path) -> dict[str, Any]:
    """The same from the ``.dbn.zst``: the records as vcdwh decodes them (Arrow batches) stored
    as a table, the same bars by instrument, checkpoint."""
    import duckdb

    path = next((work / "dbn").glob("*.dbn.zst"))
    con = duckdb.connect(str(_fresh_db(work, "floor_work_dbn")))
    con.register("records", _dbn_records(path))
    con.execute("create table trades as select * from records")
    bars = _floor_bars(
        con,
        key="instrument_id",
        ts="make_timestamp_ns(ts_recv::bigint)",
        buy=str(ord("B")),
        sell=str(ord("A")),
    )
    con.execute("checkpoint")
    con.close()
    return {"bars": bars}


# What the warehouse contract asks of any build beyond storing the trades, each in the least
# DuckDB SQL that does it: the file's content hash (computed while the records are stored, as a
# build does), the occurrence of every record equal to an earlier one on every identity column,
# and per instrument the 1min bars (open/high/low/close in file order, which is trade order within
# a file; volume, buy/sell/unknown volume, trades; the bar's own running delta's extremes,
# max_delta and min_delta, one pass over each bar's signed sizes in file order, the least of the
# delta candle's trade-by-trade path) and the 5min bars rolled up from them, each with
# its session date (17:00 America/Chicago), delta, cumulative delta and session cumulative delta.
# Then footprint_1min and footprint_5min's volumes: per instrument, bar and price, the volume,
# bid/ask/unknown volume, delta and trades, the 1min levels from the trades and the 5min levels
# rolled up from them. No POC, imbalance, value area, VWAP, session or continuous table: a build
# writes those too, so this floor is below what any build meeting the contract can take.
_IDENTITY = "ts_recv, ts_event, instrument_id, sequence, price, size, side, flags"
_CONTRACT_SQL = (
    f"""
create table repeats as
with repeated as (
    select hash({_IDENTITY}) as record_hash
    from trades
    group by record_hash
    having count(*) > 1
),

numbered as (
    select
        rowid as position,
        row_number() over (partition by {_IDENTITY} order by rowid) as occurrence
    from trades
    where hash({_IDENTITY}) in (select record_hash from repeated)
),

final as (
    select * from numbered where occurrence > 1
)

select * from final
""",
    """
create table grain_1m as
with grains as (
    select
        instrument_id,
        any_value({symbol}) as symbol,
        time_bucket(interval '1 minute', {ts}) as bar_start,
        arg_min(price, rowid) as open,
        max(price) as high,
        min(price) as low,
        arg_max(price, rowid) as close,
        sum(size)::bigint as volume,
        coalesce(sum(size) filter (where side = {buy}), 0)::bigint as buy_volume,
        coalesce(sum(size) filter (where side = {sell}), 0)::bigint as sell_volume,
        coalesce(sum(size) filter (where side not in ({buy}, {sell})), 0)::bigint
            as unknown_volume,
        list(
            case
                when side = {buy} then size::bigint
                when side = {sell} then -size::bigint
                else 0
            end
            order by rowid
        ) as signed_sizes,
        count(*) as trades
    from trades
    group by instrument_id, bar_start
),

pathed as (
    select
        * exclude (signed_sizes),
        list_reduce(
            signed_sizes,
            lambda path, step: {{
                'running': path.running + step,
                'high': greatest(path.high, path.running + step),
                'low': least(path.low, path.running + step)
            }},
            {{'running': 0::bigint, 'high': null::bigint, 'low': null::bigint}}
        ) as path
    from grains
),

final as (
    select
        * exclude (path),
        path.high as max_delta,
        path.low as min_delta
    from pathed
)

select * from final
""",
    """
create table bars_{every} as
with rolled as (
    select
        instrument_id,
        any_value(symbol) as symbol,
        time_bucket(interval '{interval}', bar_start) as bar_start,
        arg_min(open, bar_start) as open,
        max(high) as high,
        min(low) as low,
        arg_max(close, bar_start) as close,
        sum(volume) as volume,
        sum(buy_volume) as buy_volume,
        sum(sell_volume) as sell_volume,
        sum(unknown_volume) as unknown_volume,{path}
        sum(trades) as trades
    from grain_1m
    group by instrument_id, 3
),

dated as (
    select
        *,
        (timezone('America/Chicago', timezone('UTC', bar_start)) + interval 7 hour)::date
            as session_date,
        buy_volume - sell_volume as delta
    from rolled
),

final as (
    select
        *,
        sum(delta) over (partition by instrument_id order by bar_start) as cumulative_delta,
        sum(delta) over (partition by instrument_id, session_date order by bar_start)
            as session_cumulative_delta
    from dated
)

select * from final
""",
    """
create table footprint_1m as
select
    instrument_id,
    time_bucket(interval '1 minute', {ts}) as bar_start,
    price,
    sum(size)::bigint as volume,
    coalesce(sum(size) filter (where side = {sell}), 0)::bigint as bid_volume,
    coalesce(sum(size) filter (where side = {buy}), 0)::bigint as ask_volume,
    coalesce(sum(size) filter (where side not in ({buy}, {sell})), 0)::bigint as unknown_volume,
    ask_volume - bid_volume as delta,
    count(*) as trades
from trades
group by instrument_id, bar_start, price
""",
    """
create table footprint_5m as
select
    instrument_id,
    time_bucket(interval '5 minutes', bar_start) as bar_start,
    price,
    sum(volume) as volume,
    sum(bid_volume) as bid_volume,
    sum(ask_volume) as ask_volume,
    sum(unknown_volume) as unknown_volume,
    sum(delta) as delta,
    sum(trades) as trades
from footprint_1m
group by instrument_id, 2, price
""",
)


def _floor_contract(con: Any, path: Path, store: str, **flavour: str) -> dict[str, Any]:
    """Store the trades with ``store`` while hashing ``path``, then the contract's work."""
    import threading

    sys.path.insert(0, str(REPO))
    from vcdwh.datafiles import content_hash

    digest: list[str] = []
    hashing = threading.Thread(target=lambda: digest.append(content_hash(path)))
    hashing.start()
    con.execute(store)
    hashing.join()
    repeats, grain, bars, levels, rolled_levels = _CONTRACT_SQL
    con.execute(repeats)
    con.execute(grain.format(**flavour))
    for every, interval in (("1m", "1 minute"), ("5m", "5 minutes")):
        # The bar's own running delta is the grain's in a 1min bar (rolling it up to longer
        # bars is cheap work on the grains, left out).
        path = "\n        max(max_delta) as max_delta, min(min_delta) as min_delta," * (
            every == "1m"
        )
        con.execute(bars.format(every=every, interval=interval, path=path))
    con.execute(levels.format(**flavour))
    con.execute(rolled_levels)
    con.execute("checkpoint")
    counts = con.execute(
        "select (select count(*) from repeats), (select count(*) from bars_1m),"
        " (select count(*) from bars_5m), (select count(*) from footprint_1m),"
        " (select count(*) from footprint_5m)"
    ).fetchone()
    con.close()
    return {
        "repeats": counts[0],
        "bars": counts[1] + counts[2],
        "levels": counts[3] + counts[4],
        "hash": digest[0][:12],
    }


def step_floor_contract(work: Path) -> dict[str, Any]:
    """What the warehouse contract asks beyond storing the trades, from the typed CSV."""
    import duckdb

    path = work / "data" / WEEK_CSV
    con = duckdb.connect(str(_fresh_db(work, "floor_contract")))
    return _floor_contract(
        con,
        path,
        f"create table trades as select * from {_typed_read(path)}",
        ts="ts_recv",
        symbol="symbol",
        buy="'B'",
        sell="'A'",
    )


def step_floor_contract_dbn(work: Path) -> dict[str, Any]:
    """The same from the ``.dbn.zst`` as vcdwh decodes it."""
    import duckdb

    path = next((work / "dbn").glob("*.dbn.zst"))
    con = duckdb.connect(str(_fresh_db(work, "floor_contract_dbn")))
    con.register("records", _dbn_records(path))
    return _floor_contract(
        con,
        path,
        "create table trades as select * replace (make_timestamp_ns(ts_recv::bigint) as ts_recv)"
        " from records",
        ts="ts_recv",
        symbol="null::varchar",
        buy=str(ord("B")),
        sell=str(ord("A")),
    )


def _floor_store_capped(work: Path, name: str, *, keep_order: bool) -> dict[str, Any]:
    return _store_trades(
        work,
        name,
        f"memory_limit = '{CAPPED_MEMORY}'",
        f"preserve_insertion_order = {str(keep_order).lower()}",
    )


def step_floor_store_capped(work: Path) -> dict[str, Any]:
    """``floor_store`` under a 128 MB DuckDB memory limit, rows kept in file order."""
    return _floor_store_capped(work, "floor_store_capped", keep_order=True)


def step_floor_store_unordered(work: Path) -> dict[str, Any]:
    """``floor_store`` under a 128 MB DuckDB memory limit, rows in any order
    (``preserve_insertion_order = false``): the least memory storing the trades takes."""
    return _floor_store_capped(work, "floor_store_unordered", keep_order=False)


def _vcdwh(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "vcdwh", *args], check=True, cwd=REPO, stdout=subprocess.DEVNULL
    )


def _fresh_db(work: Path, name: str) -> Path:
    db = work / "dbs" / f"{name}.duckdb"
    db.parent.mkdir(exist_ok=True)
    for stale in db.parent.glob(f"{name}.duckdb*"):
        stale.unlink()
    return db


def _build(data: Path, db: Path) -> dict[str, Any]:
    """``vcdwh build`` of the files in ``data`` into ``db``, in-process."""
    sys.path.insert(0, str(REPO))
    from vcdwh.build import build_warehouse
    from vcdwh.config import Settings

    return {"rows": build_warehouse(Settings(data, db)).trades}


def step_build_csv(work: Path) -> dict[str, Any]:
    return _build(work / "data", _fresh_db(work, "build_csv"))


def step_build_dbn(work: Path) -> dict[str, Any]:
    return _build(work / "dbn", _fresh_db(work, "build_dbn"))


def step_dbn_decode(work: Path) -> dict[str, Any]:
    """Decode the ``.dbn.zst`` into the Arrow batches a build stages (no database)."""
    sys.path.insert(0, str(REPO))
    from vcdwh.datafiles import TRADES_COLUMNS
    from vcdwh.load.stage import dbn_batches, open_dbn

    path = next((work / "dbn").glob("*.dbn.zst"))
    rows = sum(b.num_rows for b in dbn_batches(open_dbn(path), path, TRADES_COLUMNS))
    return {"rows": rows}


def step_day_alone(work: Path) -> dict[str, Any]:
    return _build(work / "day", _fresh_db(work, "day_alone"))


def step_incremental(work: Path) -> dict[str, Any]:
    db = _fresh_db(work, "incremental")
    shutil.copyfile(work / "dbs" / "week.duckdb", db)
    return _build(work / "day", db)


def _seed_style_bars(path: Path) -> Any:
    import numpy as np
    import pandas as pd

    df = pd.read_csv(path, index_col=0)
    df.index = pd.to_datetime(df.index)
    df = df[df["symbol"] == FRONT]
    df["buy_volume"] = np.where(df["side"] == "B", df["size"], 0)
    df["sell_volume"] = np.where(df["side"] == "A", df["size"], 0)
    bars = df.resample("1min").agg(
        {"price": "last", "size": "sum", "buy_volume": "sum", "sell_volume": "sum"}
    )
    bars = bars.dropna(subset=["price"])
    bars["delta"] = bars["buy_volume"] - bars["sell_volume"]
    bars["cumulative_delta"] = bars["delta"].cumsum()
    return bars.rename(columns={"price": "close", "size": "volume"})


def step_pandas(work: Path) -> dict[str, Any]:
    bars = _seed_style_bars(work / "data" / WEEK_CSV)
    out = bars.reset_index()
    out["bar_start"] = out["ts_recv"].dt.tz_localize(None).astype("datetime64[ns]")
    out[
        ["bar_start", "close", "volume", "buy_volume", "sell_volume", "delta", "cumulative_delta"]
    ].to_parquet(work / "pandas_bars.parquet")
    return {"bars": len(bars)}


def _polars_bars(trades: Any, every: str) -> Any:
    """Bars of every instrument: close, volume, buy/sell volume, delta, cumulative delta."""
    import polars as pl

    return (
        trades.with_columns(pl.col("ts").dt.truncate(every).alias("bar_start"))
        .group_by("symbol", "bar_start")
        .agg(
            pl.col("price").sort_by("row").last().alias("close"),
            pl.col("size").sum().alias("volume"),
            pl.col("buy_volume").sum(),
            pl.col("sell_volume").sum(),
        )
        .sort("symbol", "bar_start")
        .with_columns((pl.col("buy_volume") - pl.col("sell_volume")).alias("delta"))
        .with_columns(pl.col("delta").cum_sum().over("symbol").alias("cumulative_delta"))
        .with_columns(pl.col("bar_start").dt.replace_time_zone(None))
    )


def _polars_typed(frame: Any) -> Any:
    import polars as pl

    return frame.with_row_index("row").with_columns(
        pl.col("ts_recv").str.to_datetime(time_unit="ns", time_zone="UTC").alias("ts"),
        pl.when(pl.col("side") == "B").then(pl.col("size")).otherwise(0).alias("buy_volume"),
        pl.when(pl.col("side") == "A").then(pl.col("size")).otherwise(0).alias("sell_volume"),
    )


def _polars_work(work: Path, *, streamed: bool) -> dict[str, Any]:
    """The same work as a build, in polars: the trades to zstd Parquet, then 1min and 5min
    bars with buy/sell volume, delta and cumulative delta from that Parquet."""
    import polars as pl

    source = work / "data" / WEEK_CSV
    trades_parquet = work / "polars_trades.parquet"
    if streamed:
        _polars_typed(pl.scan_csv(source)).sink_parquet(trades_parquet, compression="zstd")
        trades = pl.scan_parquet(trades_parquet)
        bars = {e: _polars_bars(trades, e).collect(engine="streaming") for e in ("1m", "5m")}
    else:
        _polars_typed(pl.read_csv(source)).write_parquet(trades_parquet, compression="zstd")
        frame = pl.read_parquet(trades_parquet).lazy()
        bars = {e: _polars_bars(frame, e).collect() for e in ("1m", "5m")}
    bars["1m"].filter(pl.col("symbol") == FRONT).drop("symbol").write_parquet(
        work / "polars_bars.parquet"
    )
    return {"bars": sum(b.height for b in bars.values())}


def step_polars_streamed(work: Path) -> dict[str, Any]:
    return _polars_work(work, streamed=True)


def step_polars_eager(work: Path) -> dict[str, Any]:
    return _polars_work(work, streamed=False)


def step_warm(work: Path) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(str(work / "dbs" / "week.duckdb"), read_only=True)
    queries = {
        "one_session_1min": (
            "select * from bars_1min where symbol = $s and session_date = $d order by bar_start",
            {"s": FRONT, "d": SESSION},
        ),
        "all_bars_5min": ("select * from bars_5min", {}),
    }
    footprint = con.execute(
        "select count(*) from duckdb_tables() where table_name = 'footprint_1min'"
    ).fetchone()[0]
    if footprint:
        queries["footprint_one_bar"] = (
            "select * from footprint_1min where symbol = $s and bar_start = "
            "(select min(bar_start) from bars_1min where symbol = $s and session_date = $d)",
            {"s": FRONT, "d": SESSION},
        )
    medians = {}
    for name, (sql, params) in queries.items():
        times = []
        for _ in range(WARM_REPEATS):
            started = time.perf_counter()
            con.execute(sql, params).fetchnumpy()
            times.append(time.perf_counter() - started)
        medians[name] = statistics.median(times)
    medians["backtest_walk_1m_bars"] = _walk_seconds(WALK_BARS)
    return {"warm": medians}


def _walk_seconds(bars: int) -> float:
    """Median seconds to walk and score ``bars`` synthetic 1-minute bars (the engine's path)."""
    import numpy as np

    from vcdwh.backtest.engine import simulate
    from vcdwh.backtest.inputs import Bars, Inputs
    from vcdwh.backtest.params import BacktestParams
    from vcdwh.backtest.signals import load_signal

    rng = np.random.default_rng(7)
    start = np.datetime64("2024-01-01T23:00", "ns")
    bar_start = start + np.arange(bars) * np.timedelta64(60, "s")
    session = (bar_start - np.timedelta64(23, "h")).astype("datetime64[D]") + np.timedelta64(1, "D")
    close = 5000 + np.cumsum(rng.normal(0, 0.5, bars)).round(2)
    close = np.maximum(close, 1.0)
    cumulative = np.cumsum(rng.integers(-60, 61, bars))
    signal = (cumulative > 500).astype(np.int8) - (cumulative < -500).astype(np.int8)
    series = Bars(
        "SYNTH",
        0,
        "bars_1min",
        False,
        60 * 10**9,
        bar_start,
        session,
        close,
        close,
        close,
        close,
        np.full(bars, "SYNTH", dtype=object),
        np.zeros(bars, np.int64),
    )
    params = BacktestParams("SYNTH").validated()
    inputs = Inputs(params, series, load_signal("cumulative_delta"), {}, signal, None)
    times = []
    for _ in range(WARM_REPEATS):
        started = time.perf_counter()
        simulate(inputs)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def step_sql_process(work: Path) -> dict[str, Any]:
    _vcdwh(
        "--db",
        str(work / "dbs" / "week.duckdb"),
        "sql",
        "--format",
        "csv",
        f"select * from bars_1min where symbol = '{FRONT}' and session_date = '{SESSION}'",
    )
    return {}


def step_help_process(work: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from vcdwh.cli import cli; "
            "sys.argv = ['vcdwh', '--help']\ntry:\n    cli()\nexcept SystemExit:\n    pass\n"
            "print([m for m in ('pandas', 'databento') if m in sys.modules], file=sys.stderr)",
        ],
        check=True,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    return {"heavy_imports": out.stderr.strip()}


def step_backtest(work: Path) -> dict[str, Any]:
    db = _fresh_db(work, "backtest")
    shutil.copyfile(work / "dbs" / "week.duckdb", db)
    _vcdwh("--db", str(db), "backtest", "--symbol", FRONT)
    return {}


def step_sweep(work: Path) -> dict[str, Any]:
    db = _fresh_db(work, "sweep")
    shutil.copyfile(work / "dbs" / "week.duckdb", db)
    _vcdwh("--db", str(db), "sweep", "--threshold", "100:10000:100", "--frequency", "1min,5min")
    return {}


def step_prepare(work: Path) -> dict[str, Any]:
    prepare(work, int((work / "trades.txt").read_text()))
    return {}


STEPS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "prepare": step_prepare,
    "floor_count": step_floor_count,
    "floor_parse": step_floor_parse,
    "floor_store": step_floor_store,
    "floor_store_capped": step_floor_store_capped,
    "floor_store_unordered": step_floor_store_unordered,
    "floor_work": step_floor_work,
    "floor_work_dbn": step_floor_work_dbn,
    "floor_contract": step_floor_contract,
    "floor_contract_dbn": step_floor_contract_dbn,
    "build_csv": step_build_csv,
    "build_dbn": step_build_dbn,
    "dbn_decode": step_dbn_decode,
    "day_alone": step_day_alone,
    "incremental": step_incremental,
    "pandas": step_pandas,
    "polars_streamed": step_polars_streamed,
    "polars_eager": step_polars_eager,
    "warm": step_warm,
    "sql_process": step_sql_process,
    "help_process": step_help_process,
    "backtest": step_backtest,
    "sweep": step_sweep,
}

# --------------------------------------------------------------------------- parent side


def run_step(
    name: str, work: Path, script: Path = BENCH / "run.py"
) -> tuple[float, float, dict[str, Any]]:
    """Run one step of ``script`` (``--step NAME``) in a child process; return wall seconds,
    peak RSS (MiB) and its output."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(script), "--step", name, "--workdir", str(work)],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"step {name} failed with exit code {proc.returncode}")
    return seconds, usage.ru_maxrss / 1024, json.loads(output.decode() or "{}")


def has_command(name: str) -> bool:
    out = subprocess.run(
        [sys.executable, "-m", "vcdwh", name, "--help"], cwd=REPO, capture_output=True
    )
    return out.returncode == 0


def prepare(work: Path, trades: int) -> None:
    """Generate the week, the extra day, the DBN copy and a prebuilt week warehouse."""
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(BENCH))
    from datetime import date

    from dbnfile import csv_to_dbn

    from vcdwh.build import build_warehouse
    from vcdwh.config import Settings
    from vcdwh.sample import generate_sample

    per_day = max(1, trades // SESSIONS_IN_DEFAULT_WEEK)
    generate_sample(work / "data", trades_per_day=per_day)
    generate_sample(work / "day", start=date(2024, 3, 11), days=1, trades_per_day=per_day)
    (work / "day" / "ohlcv_1m_ES.FUT_2024-03-11_2024-03-12.csv").unlink()
    (work / "dbn").mkdir(exist_ok=True)
    csv_to_dbn(work / "data" / WEEK_CSV, work / "dbn" / "trades_week.dbn.zst")
    (work / "dbs").mkdir(exist_ok=True)
    build_warehouse(Settings(work / "data", work / "dbs" / "week.duckdb"))


def check_bars_match(work: Path) -> str:
    """Compare the pandas, polars and DuckDB-floor bars with bars_1min of the front contract."""
    import duckdb

    con = duckdb.connect(str(work / "dbs" / "week.duckdb"), read_only=True)
    ours = (
        "select bar_start::timestamp_ns as bar_start, close::double as close, volume,"
        " buy_volume, sell_volume, delta, cumulative_delta from bars_1min"
        f" where symbol = '{FRONT}'"
    )
    floor_db = work / "dbs" / "floor_work.duckdb"
    sources = {
        name: f"read_parquet('{work / f'{name}_bars.parquet'}')"
        for name in ("pandas", "polars")
        if (work / f"{name}_bars.parquet").exists()
    }
    if floor_db.exists():
        con.execute(f"attach '{floor_db}' as floor_work (read_only)")
        sources["floor_work"] = f"(select * from floor_work.bars_1m where key = '{FRONT}')"
    verdicts = (
        [_check_contract_floor(con, work)]
        if (work / "dbs" / "floor_contract.duckdb").exists()
        else []
    )
    for name, source in sources.items():
        diff = con.execute(
            f"select count(*) from ((select * from ({ours})) except all"
            f" (select bar_start::timestamp_ns, close::double, volume, buy_volume, sell_volume,"
            f" delta, cumulative_delta from {source}))"
        ).fetchone()[0]
        total = con.execute(f"select count(*) from {source}").fetchone()[0]
        verdicts.append(f"{name}: {'match' if diff == 0 else f'{diff} bars differ'} ({total} bars)")
        if diff:
            raise SystemExit(f"{name} bars differ from bars_1min in {diff} rows")
    return "; ".join(verdicts)


# The contract floor's tables against the build's, every column the floor computes.
_CONTRACT_CHECKS = {
    "bars_1m": (
        "bars_1min",
        "instrument_id, bar_start::timestamp_ns, session_date, open::double, high::double,"
        " low::double, close::double, volume, buy_volume, sell_volume, unknown_volume, trades,"
        " delta, cumulative_delta, session_cumulative_delta, max_delta, min_delta",
    ),
    "bars_5m": (
        "bars_5min",
        "instrument_id, bar_start::timestamp_ns, session_date, open::double, high::double,"
        " low::double, close::double, volume, buy_volume, sell_volume, unknown_volume, trades,"
        " delta, cumulative_delta, session_cumulative_delta",
    ),
    "footprint_1m": (
        "footprint_1min",
        "instrument_id, bar_start::timestamp_ns, price::double, volume, bid_volume, ask_volume,"
        " unknown_volume, delta, trades",
    ),
    "footprint_5m": ("footprint_5min", None),
}


def _check_contract_floor(con: Any, work: Path) -> str:
    """Check that ``floor_contract`` computed what the build stored: its bars and footprint
    levels equal the build's on every column it has, and it found as many repeats."""
    con.execute(f"attach '{work / 'dbs' / 'floor_contract.duckdb'}' as floor (read_only)")
    columns = ""
    for floor_table, (ours, listed) in _CONTRACT_CHECKS.items():
        columns = listed or columns
        for a, b in (
            (f"main.{ours}", f"floor.{floor_table}"),
            (f"floor.{floor_table}", f"main.{ours}"),
        ):
            diff = con.execute(
                f"select count(*) from (select {columns} from {a}"
                f" except all select {columns} from {b})"
            ).fetchall()[0][0]
            if diff:
                raise SystemExit(f"floor_contract: {diff} rows of {a} are not in {b}")
    repeats = con.execute(
        "select (select count(*) from floor.repeats),"
        " (select count(*) from main.trades where occurrence > 1)"
    ).fetchone()
    if repeats[0] != repeats[1]:
        raise SystemExit(f"floor_contract: {repeats[0]} repeats against the build's {repeats[1]}")
    con.execute("detach floor")
    return f"floor_contract: bars, footprint levels and {repeats[0]:,} repeats match"


def machine() -> str:
    import duckdb

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Python {platform.python_version()},"
        f" DuckDB {duckdb.__version__}, {platform.system()} {platform.release()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--trades",
        type=int,
        action="append",
        help="trades to generate (repeatable; default 1M and 10M)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds of every step")
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a temp folder)")
    parser.add_argument("--write", action="store_true", help="also write bench/RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="skip the sweep")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(STEPS[args.step](args.workdir)))
        return

    sizes = args.trades or [1_000_000, 10_000_000]
    root = args.workdir or Path(tempfile.mkdtemp(prefix="vcdwh-bench-"))
    report = [
        "# vcdwh benchmark\n\nMachine: MACHINE\n",
        f"Command: `python bench/run.py {' '.join(sys.argv[1:])}`; "
        f"medians of {args.repeat} round(s), each step in its own process.\n",
    ]
    steps = [s for s in STEPS if s != "prepare" and not (args.quick and s == "sweep")]
    if importlib.util.find_spec("polars") is None:
        steps = [s for s in steps if not s.startswith("polars")]
    if "sweep" in steps and not has_command("sweep"):
        steps.remove("sweep")
    for trades in sizes:
        work = root / f"n{trades}"
        work.mkdir(parents=True, exist_ok=True)
        # Prepared in a child process: the parent stays small, so each child's peak RSS
        # (which on Linux starts from its parent's size at fork) is its own.
        (work / "trades.txt").write_text(str(trades))
        run_step("prepare", work)
        results: dict[str, list[tuple[float, float, dict[str, Any]]]] = {s: [] for s in steps}
        for _ in range(args.repeat):
            for step in steps:
                results[step].append(run_step(step, work))
        verdict = check_bars_match(work)
        report.append(render(trades, results, verdict, work))
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(report).replace("MACHINE", machine())
    print(text)
    if args.write:
        write_results(BENCH / "RESULTS.md", text)


def write_results(path: Path, text: str) -> None:
    """Write the generated tables to ``path``, keeping its hand-measured part (from KEPT_MARKER)."""
    kept = ""
    if path.exists():
        old = path.read_text()
        if KEPT_MARKER in old:
            kept = "\n" + old[old.index(KEPT_MARKER) :]
    path.write_text(text + "\n" + kept)


def render(
    trades: int,
    results: dict[str, list[tuple[float, float, dict[str, Any]]]],
    verdict: str,
    work: Path,
) -> str:
    def med(step: str) -> float:
        return statistics.median(r[0] for r in results[step])

    def rss(step: str) -> float:
        return max(r[1] for r in results[step])

    def paired(step: str, reference: str) -> float:
        """The median of the round-by-round ratios of two steps (run side by side)."""
        return statistics.median(
            a[0] / b[0] for a, b in zip(results[step], results[reference], strict=True)
        )

    floor = med("floor_parse")
    store = med("floor_store")
    size_mb = (work / "data" / WEEK_CSV).stat().st_size / 2**20
    lines = [
        f"## {trades:,} trades ({size_mb:,.0f} MB pretty CSV)\n",
        "| step | median s | peak RSS MiB | ratio |",
        "|---|---:|---:|---|",
    ]
    ratios = {
        "floor_store": f"{store / floor:.2f} x parse floor",
        "build_csv": f"{med('build_csv') / store:.2f} x store floor (target ≤ 1.3)",
        "build_dbn": f"{med('build_dbn') / store:.2f} x store floor (target ≤ 1.0)",
        "dbn_decode": f"{med('dbn_decode') / floor:.2f} x CSV parse floor",
        "incremental": f"{med('incremental') / med('day_alone'):.2f} x day alone (target ≤ 1.5)",
    }
    if "pandas" in results:
        ratios["pandas"] = (
            f"vcdwh build is {med('pandas') / med('build_csv'):.1f}x faster, "
            f"{rss('pandas') / rss('build_csv'):.1f}x less memory "
            "(target ≥ 3, ≥ 4)"
        )
    if "polars_streamed" in results:
        ratios["polars_streamed"] = (
            f"build is {med('build_csv') / med('polars_streamed'):.2f} x its time (target ≤ 1.0), "
            f"{rss('build_csv') / rss('polars_streamed'):.2f} x its memory (keep ≤ 0.4)"
        )
    if "polars_streamed" in results and "floor_work" in results:
        ratios["floor_work"] = (
            f"{med('floor_work') / med('polars_streamed'):.2f} x polars_streamed's time, "
            f"{rss('floor_work') / rss('polars_streamed'):.2f} x its memory"
        )
    ratios["floor_work_dbn"] = f"{med('floor_work_dbn') / store:.2f} x store floor"
    for contract in ("floor_contract", "floor_contract_dbn"):
        if contract in results:
            ratios[contract] = (
                f"{med(contract) / store:.2f} x store floor"
                f" (paired by round: {paired(contract, 'floor_store'):.2f})"
            )
    if "floor_contract" in results and "polars_streamed" in results:
        ratios["floor_contract"] += (
            f", {med('floor_contract') / med('polars_streamed'):.2f} x polars_streamed's time"
            f" (paired: {paired('floor_contract', 'polars_streamed'):.2f})"
        )
    for capped in ("floor_store_capped", "floor_store_unordered"):
        ratios[capped] = f"{med(capped) / store:.2f} x store floor's time"
        if "polars_streamed" in results:
            ratios[capped] += f", {rss(capped) / rss('polars_streamed'):.2f} x polars' memory"
    if "pandas" in results:
        ratios["floor_store"] += f"; pandas takes {med('pandas') / store:.1f}x it"
    if "polars_eager" in results:
        ratios["polars_eager"] = (
            f"build is {med('build_csv') / med('polars_eager'):.2f} x its time, "
            f"{rss('build_csv') / rss('polars_eager'):.2f} x its memory"
        )
    for step in results:
        if step == "warm":
            continue
        lines.append(f"| {step} | {med(step):.2f} | {rss(step):,.0f} | {ratios.get(step, '')} |")
    warm = [r[2]["warm"] for r in results["warm"]]
    for name in warm[0]:
        value = statistics.median(w[name] for w in warm) * 1000
        note = {
            "one_session_1min": "target ≤ 50 ms",
            "backtest_walk_1m_bars": f"{WALK_BARS:,} bars, target ≤ 0.5 s",
        }.get(name, "")
        lines.append(f"| warm query: {name} | {value / 1000:.4f} | | {note} |")
    lines.append(
        f"\nBars check: {verdict}. `vcdwh --help` heavy imports: "
        f"{results['help_process'][0][2].get('heavy_imports')}.\n"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
