"""The seed's Python API, kept working as thin wrappers over the warehouse SQL.

``DatabentoFetcher`` (``fetch``, ``load_csv``, ``list_available_data``),
``VolumeCalculator.process_trades_to_bars`` and ``run_full_backtest`` run the same staging,
bar and backtest code as the CLI; there is no second implementation.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vcdwh.backtest.params import BacktestParams
from vcdwh.backtest.run import run_backtest
from vcdwh.build import build_warehouse
from vcdwh.config import Settings
from vcdwh.datafiles import TRADES_COLUMNS, SourceFile, discover
from vcdwh.errors import ConfigError, DataError
from vcdwh.load.settle import add_staged
from vcdwh.load.stage import TRADES, detect_layout, stage_csv
from vcdwh.marts.bars import build_bars
from vcdwh.marts.frequency import parse_frequency
from vcdwh.warehouse.db import connect_read_only, ensure_tables
from vcdwh.warehouse.sqlrender import identifier, render

BAR_COLUMNS = (
    "close",
    "buy_volume",
    "sell_volume",
    "delta",
    "cumulative_delta",
)


class DatabentoFetcher:
    """The seed's fetcher: Databento downloads and the CSVs in the data folder.

    Parameters
    ----------
    api_key
        Databento key; if omitted ``DATABENTO_API_KEY`` (environment or ``.env``) is used when
        :meth:`fetch` runs. Reading local files needs no key.
    data_dir
        The data folder (default: ``VCDWH_DATA_DIR`` or ``./Data``).
    client
        An injected ``databento.Historical``-like client (tests).
    """

    def __init__(
        self,
        api_key: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        client: Any = None,
    ) -> None:
        self.settings = Settings.resolve(data_dir)
        self.data_dir = str(self.settings.data_dir)
        self._api_key = api_key
        self._client = client

    def fetch(
        self,
        symbols: Sequence[str] = ("ES.FUT",),
        start_date: str | None = None,
        end_date: str | None = None,
        dataset: str = "GLBX.MDP3",
        schemas: Sequence[str] = ("trades", "ohlcv-1m"),
        days: int = 7,
        **options: Any,
    ) -> Any:
        """Download trades and OHLCV-1m into the data folder (see ``vcdwh fetch``)."""
        from vcdwh import fetch as fetch_module

        return fetch_module.fetch_data(
            self.settings,
            symbols=tuple(symbols),
            schemas=tuple(schemas),
            start=start_date,
            end=end_date,
            days=days,
            dataset=dataset,
            api_key=self._api_key,
            client=self._client,
            **options,
        )

    def list_available_data(self) -> list[str]:
        """Names of the trades/OHLCV CSV and DBN files in the data folder."""
        return [p.name for p in discover(self.settings.data_dir)]

    def load_csv(self, filename: str) -> pd.DataFrame:
        """Read a Databento CSV (either layout) from the data folder, typed exactly.

        Returns a DataFrame indexed by ``ts_recv`` (trades) or ``ts_event`` (OHLCV), UTC.
        """
        path = Path(filename)
        if not path.is_absolute():
            path = self.settings.data_dir / path
        if not path.is_file():
            raise DataError(f"{path}: no such file; see list_available_data()")
        import duckdb

        layout = detect_layout(path)
        source = SourceFile(path, "", path.stat().st_size, layout.schema, layout.name, None)
        con = duckdb.connect()
        try:
            stage_csv(con, source, layout)
            stage = "stg_trades" if layout.schema == TRADES else "stg_ohlcv_1m"
            frame = con.execute(
                f"select * exclude (position, unreadable) from {stage} order by position"
            ).df()
        finally:
            con.close()
        index = "ts_recv" if layout.schema == TRADES else "ts_event"
        for column in ("ts_recv", "ts_event"):
            if column in frame:
                frame[column] = pd.to_datetime(frame[column]).dt.tz_localize("UTC")
        return frame.set_index(index)


class VolumeCalculator:
    """The seed's bar builder, running the warehouse's bar SQL on a DataFrame."""

    @staticmethod
    def process_trades_to_bars(
        trades_df: pd.DataFrame, frequency: str = "1min", symbol: str | None = None
    ) -> pd.DataFrame:
        """Turn Databento trades into order-flow bars with the same SQL as ``vcdwh build``.

        Parameters
        ----------
        trades_df
            Trades as ``DBNStore.to_df()`` or :meth:`DatabentoFetcher.load_csv` return them:
            indexed by ``ts_recv`` (or with a ``ts_recv`` column), with ``price``, ``size`` and
            ``side`` (B/A/N); other Databento columns are used when present.
        frequency
            Bar interval (``1min``, ``5min``, ``30s``, ``1h`` …).
        symbol
            Instrument to return when the trades hold several (default: most volume, outrights
            first).

        Returns
        -------
        pandas.DataFrame
            Indexed by ``bar_start`` with ``close, buy_volume, sell_volume, delta,
            cumulative_delta`` and every other bar column.
        """
        import duckdb

        interval = parse_frequency(frequency)
        frame = _normalise_trades(trades_df)
        con = duckdb.connect()
        try:
            ensure_tables(con)
            con.register("trades_frame", frame)
            sql = render(
                "staging/stg_trades.sql",
                source="relation",
                relation="trades_frame",
                columns=[],
                ts_kind="ns",
                px_kind="decimal",
                has_symbol=True,
            )
            con.execute(f"create temp table stg_trades as {sql}")
            add_staged(con, SourceFile(Path("<DataFrame>"), "", 0, TRADES, "dataframe", None))
            build_bars(con, [interval])
            from vcdwh.backtest.inputs import choose_instrument

            chosen, instrument_id = choose_instrument(con, interval.bars_relation, symbol)
            bars = con.execute(
                f"select * from {identifier(interval.bars_relation)} "
                "where symbol = $symbol and instrument_id = $id order by bar_start",
                {"symbol": chosen, "id": instrument_id},
            ).df()
        finally:
            con.close()
        ordered = [*BAR_COLUMNS, *[c for c in bars.columns if c not in BAR_COLUMNS]]
        return bars[ordered].set_index("bar_start")


def _normalise_trades(trades_df: pd.DataFrame) -> pd.DataFrame:
    df = trades_df.copy()
    if "ts_recv" not in df.columns:
        df = df.reset_index()
        first = df.columns[0]
        df = df.rename(columns={first: "ts_recv"})
    missing = [c for c in ("ts_recv", "price", "size", "side") if c not in df.columns]
    if missing:
        raise DataError(
            f"trades_df: missing column(s) {', '.join(missing)}; "
            "pass Databento trades (DBNStore.to_df() or DatabentoFetcher.load_csv())"
        )
    for column in ("ts_recv", "ts_event"):
        if column in df.columns:
            df[column] = _to_ns(df[column])
    if "ts_event" not in df.columns:
        df["ts_event"] = df["ts_recv"]
    defaults: dict[str, Any] = {
        "rtype": 0,
        "publisher_id": 0,
        "instrument_id": 0,
        "action": "T",
        "depth": 0,
        "flags": 0,
        "ts_in_delta": 0,
        "sequence": 0,
    }
    for column, value in defaults.items():
        if column not in df.columns:
            df[column] = value
    if "symbol" not in df.columns:
        df["symbol"] = None
    df["price"] = df["price"].astype(str)
    out = df[[*TRADES_COLUMNS, "symbol"]].copy()
    out["size"] = out["size"].astype("int64")
    out["position"] = np.arange(len(out), dtype=np.int64)
    return out


def _to_ns(values: pd.Series) -> pd.Series:
    if pd.api.types.is_integer_dtype(values):
        return values.astype("int64")
    stamps = pd.to_datetime(values, utc=True)
    return stamps.astype("datetime64[ns, UTC]").astype("int64")


def run_full_backtest(
    symbols: Sequence[str] = ("ES.FUT",),
    days_back: int = 7,
    dataset: str = "GLBX.MDP3",
    frequency: str = "1min",
    threshold: float = 500,
    position_size: float = 0.1,
    initial_capital: float = 10_000,
    use_cached: bool = True,
    data_dir: str | os.PathLike[str] | None = None,
    db: str | os.PathLike[str] | None = None,
    symbol: str | None = None,
    client: Any = None,
) -> dict[str, Any]:
    """The seed's pipeline: (fetch) → build → backtest, returning the metrics and the data.

    With ``use_cached`` and a ``trades_<symbol>_*.csv`` already in the data folder nothing is
    downloaded; otherwise ``vcdwh fetch`` runs first (needs ``DATABENTO_API_KEY``).

    Returns
    -------
    dict
        ``metrics`` (the stored run's metrics), ``run_id``, ``bars`` (DataFrame), ``trades``
        and ``equity_curve``.
    """
    settings = Settings.resolve(data_dir, db)
    if not symbols:
        raise ConfigError("symbols must name at least one symbol, e.g. ['ES.FUT']")
    cached = [p for p in discover(settings.data_dir) if p.name.startswith(f"trades_{symbols[0]}_")]
    if not (use_cached and cached):
        DatabentoFetcher(data_dir=settings.data_dir, client=client).fetch(
            symbols=symbols, dataset=dataset, days=days_back, refresh=not use_cached
        )
    build_warehouse(settings, frequencies=[frequency])
    result = run_backtest(
        settings,
        BacktestParams(symbol, frequency, threshold, position_size, initial_capital, "none"),
    )
    con = connect_read_only(settings.db_path)
    try:
        bars = (
            con.execute(
                f"select * from {identifier(parse_frequency(frequency).bars_relation)} "
                "where symbol = $symbol order by bar_start",
                {"symbol": result.symbol},
            )
            .df()
            .set_index("bar_start")
        )
        equity = con.execute(
            "select bar_start, equity from backtest_equity where run_id = $run order by bar_start",
            {"run": result.run_id},
        ).df()
    finally:
        con.close()
    return {
        "metrics": result.metrics,
        "run_id": result.run_id,
        "symbol": result.symbol,
        "bars": bars,
        "trades": result.trades,
        "equity_curve": equity.to_dict("records"),
    }


__all__ = ["DatabentoFetcher", "VolumeCalculator", "run_full_backtest"]
