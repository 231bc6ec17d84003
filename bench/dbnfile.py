"""Write trades as a Databento DBN (``.dbn.zst``) file, for the DBN ingest benchmark.

Records are laid out with numpy in DBN's trade record format (48 bytes each) after metadata
encoded by ``databento_dbn``; the result reads back with ``databento.DBNStore``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import duckdb
import numpy as np

TRADE_DTYPE = np.dtype(
    [
        ("length", "u1"),
        ("rtype", "u1"),
        ("publisher_id", "<u2"),
        ("instrument_id", "<u4"),
        ("ts_event", "<u8"),
        ("price", "<i8"),
        ("size", "<u4"),
        ("action", "S1"),
        ("side", "S1"),
        ("flags", "u1"),
        ("depth", "u1"),
        ("ts_recv", "<u8"),
        ("ts_in_delta", "<i4"),
        ("sequence", "<u4"),
    ]
)
assert TRADE_DTYPE.itemsize == 48


def csv_to_dbn(csv_path: Path, out: Path, chunk_rows: int = 2_000_000) -> int:
    """Convert a Databento pretty trades CSV into a zstd-compressed DBN file; return records."""
    import databento_dbn
    import zstandard

    con = duckdb.connect()
    con.execute(
        "create table t as select epoch_ns(ts_recv::timestamp_ns) as ts_recv,"
        " epoch_ns(ts_event::timestamp_ns) as ts_event, rtype, publisher_id, instrument_id,"
        " action, side, depth,"
        " (price::decimal(18, 9)::decimal(38, 9) * 1000000000)::bigint as price, size, flags,"
        " ts_in_delta, sequence, symbol, row_number() over () as rn from read_csv($p,"
        " types = {'ts_recv': 'VARCHAR', 'ts_event': 'VARCHAR', 'price': 'VARCHAR'})",
        {"p": str(csv_path)},
    )
    symbols = con.execute(
        "select symbol, any_value(instrument_id), min(ts_recv), max(ts_recv) from t group by symbol"
    ).fetchall()
    start, end = con.execute("select min(ts_recv), max(ts_recv) + 1 from t").fetchone()
    mappings = []
    for symbol, instrument_id, lo, hi in symbols:
        first = dt.datetime.fromtimestamp(lo / 1e9, dt.UTC).date()
        last = dt.datetime.fromtimestamp(hi / 1e9, dt.UTC).date() + dt.timedelta(days=1)
        interval = SimpleNamespace(start_date=first, end_date=last, symbol=str(instrument_id))
        mappings.append(SimpleNamespace(raw_symbol=symbol, intervals=[interval]))
    metadata = databento_dbn.Metadata(
        dataset="GLBX.MDP3",
        start=int(start),
        stype_in=databento_dbn.SType.RAW_SYMBOL,
        stype_out=databento_dbn.SType.INSTRUMENT_ID,
        schema=databento_dbn.Schema.TRADES,
        symbols=[s for s, *_ in symbols],
        mappings=mappings,
        end=int(end),
    )
    total = int(con.execute("select count(*) from t").fetchone()[0])
    compressor = zstandard.ZstdCompressor(level=3, threads=-1)
    with out.open("wb") as raw, compressor.stream_writer(raw) as writer:
        writer.write(metadata.encode())
        for offset in range(0, total, chunk_rows):
            cols = con.execute(
                "select * from t where rn > $lo and rn <= $hi order by rn",
                {"lo": offset, "hi": offset + chunk_rows},
            ).fetchnumpy()
            records = np.zeros(len(cols["ts_recv"]), dtype=TRADE_DTYPE)
            records["length"] = 12
            for name in (
                "rtype",
                "publisher_id",
                "instrument_id",
                "ts_event",
                "price",
                "size",
                "flags",
                "depth",
                "ts_recv",
                "ts_in_delta",
                "sequence",
            ):
                records[name] = cols[name]
            records["action"] = np.char.encode(cols["action"].astype(str), "ascii")
            records["side"] = np.char.encode(cols["side"].astype(str), "ascii")
            writer.write(records.tobytes())
    return total
