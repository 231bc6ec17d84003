"""Load Databento instrument definition records (schema ``definition``) from DBN files.

Each record names one contract (``raw_symbol``) with its tick size (``min_price_increment``) and
dollars per point (``unit_of_measure_qty``). They go into ``instrument_definitions`` and override
the root defaults of the ``instruments`` table for that contract in futures backtests.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from vcdwh.datafiles import next_file_id, record_loaded_file
from vcdwh.errors import DataError, error_line
from vcdwh.warehouse.sqlrender import render

if TYPE_CHECKING:
    import duckdb

    from vcdwh.datafiles import SourceFile

DEFINITION = "definition"
FIXED = 1e-9  # Databento fixed-point prices and quantities are in units of 1e-9
UNDEFINED = 2**63 - 1  # INT64_MAX marks an undefined price or quantity


def load_definitions(
    con: duckdb.DuckDBPyConnection, source: SourceFile, store: Any
) -> tuple[int, int]:
    """Add a DBN file's definition records to ``instrument_definitions`` and ``loaded_files``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The build's connection (inside its transaction).
    source : SourceFile
        The file (schema ``definition``).
    store : databento.DBNStore
        The opened file.

    Returns
    -------
    tuple of int
        Records in the file, records added (a record already held is not added again).

    Raises
    ------
    DataError
        If the records cannot be decoded or one lacks a tick size or multiplier.
    """
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            frame = store.to_df(price_type="fixed", pretty_ts=False, map_symbols=False)
        except Exception as exc:
            detail = error_line(exc)
            raise DataError(
                f"{source.path}: cannot decode the definition records ({detail})"
            ) from exc
    frame = frame.reset_index()
    if frame.empty:
        raise DataError(f"{source.path}: the DBN file holds no definition records")
    for position, (tick, quantity) in enumerate(
        zip(frame["min_price_increment"], frame["unit_of_measure_qty"], strict=True)
    ):
        if not 0 < int(tick) < UNDEFINED or not 0 < int(quantity) < UNDEFINED:
            raise DataError(
                f"{source.path}: record {position + 1}: "
                f"{frame['raw_symbol'].iloc[position]} has no "
                "tick size (min_price_increment) or multiplier (unit_of_measure_qty); "
                "remove the file or fetch the definition again"
            )
    expiration = frame["expiration"].astype("int64")
    records = pd.DataFrame(
        {
            "ts_recv": frame["ts_recv"].astype("int64"),
            "instrument_id": frame["instrument_id"].astype("int64"),
            "symbol": frame["raw_symbol"].astype(str),
            "root": frame["asset"].astype(str),
            "instrument_class": frame["instrument_class"].astype(str),
            "tick_units": frame["min_price_increment"].astype("int64"),
            "multiplier_units": frame["unit_of_measure_qty"].astype("int64"),
            "currency": frame["currency"].astype(str),
            "exchange": frame["exchange"].astype(str),
            "expiration": expiration.where((expiration > 0) & (expiration < UNDEFINED)),
        }
    )
    file_id = next_file_id(con)
    con.register("definition_records", records)
    try:
        inserted = con.execute(
            "insert into instrument_definitions by name"
            f" {render('staging/stg_instrument_definitions.sql')}",
            {"file_id": file_id},
        ).fetchone()
    finally:
        con.unregister("definition_records")
    added = int(inserted[0]) if inserted else 0
    record_loaded_file(con, source, file_id, len(records), added)
    return len(records), added
