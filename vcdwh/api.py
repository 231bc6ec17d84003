"""The notebook API: ``vcdwh.open()`` gives a :class:`Warehouse` to query, build and backtest.

Reads go through one read-only DuckDB connection (external access disabled, configuration
locked) that the :class:`Warehouse` keeps open, so the relations it returns stay usable:
``.df()``, ``.pl()``, ``.arrow()``, ``.fetchall()`` or more relational operations. Writes
(:meth:`Warehouse.build`, :meth:`Warehouse.backtest`) go through the library's write path,
which swaps in a new warehouse file; the read connection is closed first and reopened on the
next read.

Example
-------
>>> import vcdwh
>>> with vcdwh.open("Data") as wh:
...     bars = wh.bars("ESH4", "5min", start="2024-03-04 14:30").df()
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from vcdwh.config import DB_FILENAME, DEFAULT_DATA_DIR, Settings
from vcdwh.errors import (
    ConfigError,
    QueryError,
    UnknownIntervalError,
    UnknownSymbolError,
    WarehouseError,
    error_line,
)
from vcdwh.warehouse.db import connect_read_only, relation_exists

if TYPE_CHECKING:
    from datetime import date, datetime

    import duckdb

    from vcdwh.backtest.params import BacktestResult
    from vcdwh.build import BuildReport
    from vcdwh.marts.frequency import Frequency

    TimeLike = str | date | datetime

__all__ = ["Warehouse", "open"]


def open(
    data_dir: str | os.PathLike[str] = DEFAULT_DATA_DIR,
    db: str | os.PathLike[str] | None = None,
) -> Warehouse:
    """Open the warehouse of a data folder for reading, building and backtesting.

    Nothing is read until the first query, so a folder without a warehouse can be opened
    and built with :meth:`Warehouse.build`.

    Parameters
    ----------
    data_dir : str or PathLike, default "Data"
        Folder of the Databento CSV/DBN files (``vcdwh --data-dir``).
    db : str or PathLike, optional
        Warehouse file (``vcdwh --db``); default ``<data_dir>/vcdwh.duckdb``. Unlike the
        command line, the ``VCDWH_*`` environment variables are not read: pass the paths.

    Returns
    -------
    Warehouse
        Use it as a context manager, or call :meth:`Warehouse.close` when done.

    Examples
    --------
    >>> import vcdwh
    >>> wh = vcdwh.open("Data")
    >>> wh.sql("select count(*) from trades").fetchall()
    [(250000,)]
    """
    data = Path(data_dir)
    db_path = Path(db) if db is not None else data / DB_FILENAME
    return Warehouse(Settings(data_dir=data, db_path=db_path))


class Warehouse:
    """One vcdwh warehouse: read-only SQL, bars, trades and runs; build and backtest.

    Parameters
    ----------
    settings : Settings
        Where the data folder and the warehouse file are (see :func:`open`).

    Notes
    -----
    Relations returned by the read methods run their query each time they are read, on this
    object's connection: they stay valid until :meth:`close`, :meth:`build` or
    :meth:`backtest` (which close the connection, since writes replace the file). Call the
    method again afterwards to read the new data.

    Within one process, DuckDB refuses a write while another connection with a different
    configuration holds the file: close other :class:`Warehouse` objects or DuckDB
    connections on the same file before :meth:`build` or :meth:`backtest`.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._con: duckdb.DuckDBPyConnection | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._con is not None else "not connected"
        return f"<Warehouse {str(self._settings.db_path)!r} ({state})>"

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def settings(self) -> Settings:
        """The data folder and warehouse file (what ``build_warehouse`` and others take)."""
        return self._settings

    @property
    def db_path(self) -> Path:
        """The warehouse file."""
        return self._settings.db_path

    def close(self) -> None:
        """Close the read connection; relations returned earlier can no longer be read."""
        self._release()
        self._closed = True

    def _release(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._closed:
            raise WarehouseError(
                f"this Warehouse of {self.db_path} is closed; open it again with vcdwh.open()"
            )
        if self._con is None:
            self._con = connect_read_only(self.db_path)
        return self._con

    # ------------------------------------------------------------------------------- reading

    def sql(
        self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> duckdb.DuckDBPyRelation:
        """Run a read-only query and return its DuckDB relation.

        Parameters
        ----------
        query : str
            One SQL query (``select``, ``describe``, ``summarize``, ``show tables``, …).
        params : sequence or mapping, optional
            Values bound to ``?`` (a sequence) or ``$name`` (a mapping) placeholders.

        Returns
        -------
        duckdb.DuckDBPyRelation
            Read it with ``.df()``, ``.pl()``, ``.arrow()``, ``.fetchall()``, ``.show()``.

        Raises
        ------
        QueryError
            If DuckDB rejects the query: a syntax error, an unknown relation, or any attempt
            to write, read or write files, attach databases, install extensions or change
            settings.
        WarehouseError
            If there is no warehouse yet, or it cannot be opened.

        Examples
        --------
        >>> wh.sql("select symbol, sum(volume) from bars_1min group by 1").df()
        >>> wh.sql("select * from trades where symbol = $s limit 5", {"s": "ESH4"})
        """
        import duckdb

        con = self._connection()
        try:
            relation = con.sql(query, params=params)
        except duckdb.Error as exc:
            raise QueryError(_query_message(exc)) from exc
        if relation is None:  # DuckDB 1.x gives no relation for statements such as CHECKPOINT
            raise QueryError("the statement returned no rows; Warehouse.sql runs queries")
        return relation

    def bars(
        self,
        symbol: str,
        interval: str = "1min",
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> duckdb.DuckDBPyRelation:
        """The order-flow bars of an instrument, or of a root's continuous series.

        Parameters
        ----------
        symbol : str
            An instrument symbol such as ``"ESH4"`` (reads ``bars_<interval>``), or a futures
            root such as ``"ES"`` that is not itself an instrument (reads its continuous
            front-month series, ``bars_<interval>_continuous``, with ``root`` and ``contract``
            columns instead of ``symbol``).
        interval : str, default "1min"
            A built bar interval: ``"30s"``, ``"1min"``, ``"5min"``, ``"1h"``, …
        start, end : str, date or datetime, optional
            Bars with ``start <= bar_start < end``. Naive values and strings without an offset
            are UTC, like ``bar_start``; aware values are converted to UTC.

        Returns
        -------
        duckdb.DuckDBPyRelation
            Every column of the bars relation, ordered by ``bar_start``.

        Raises
        ------
        UnknownIntervalError
            If ``interval`` is not an interval, or its bars are not built (listing those built).
        UnknownSymbolError
            If ``symbol`` has no bars of that interval (listing the instruments and roots).
        ConfigError
            If ``start`` or ``end`` is not a timestamp.
        """
        frequency = _frequency(interval)
        con = self._connection()
        relation = frequency.bars_relation
        built = _built_intervals(con)
        if frequency.name not in built:
            raise UnknownIntervalError(
                f"interval {interval!r}: {relation} is not built (built: "
                f"{', '.join(built) or 'none'}); build it with "
                f"Warehouse.build(frequencies=[{frequency.name!r}])"
            )
        column = "symbol"
        if not _holds(con, relation, "symbol", symbol):
            continuous = frequency.continuous_relation
            if not _holds(con, continuous, "root", symbol):
                raise UnknownSymbolError(
                    f"symbol {symbol!r} has no {relation}; choose an instrument "
                    f"({_listing(con, relation, 'symbol')}) or a root "
                    f"({_listing(con, continuous, 'root')})"
                )
            relation, column = continuous, "root"
        return self._select(relation, column, symbol, "bar_start", start, end, ("bar_start",))

    def trades(
        self, symbol: str, start: TimeLike | None, end: TimeLike | None
    ) -> duckdb.DuckDBPyRelation:
        """The trade records of an instrument between two times, in trade order.

        Parameters
        ----------
        symbol : str
            An instrument symbol as loaded, such as ``"ESH4"``.
        start, end : str, date, datetime or None
            Trades with ``start <= ts_recv < end`` (``None``: unbounded). Naive values and
            strings without an offset are UTC; aware values are converted to UTC.

        Returns
        -------
        duckdb.DuckDBPyRelation
            Every column of ``trades``, ordered by ``ts_recv``, ``sequence`` and place in file.

        Raises
        ------
        UnknownSymbolError
            If no trade of ``symbol`` is loaded (listing those that are).
        ConfigError
            If ``start`` or ``end`` is not a timestamp.
        """
        con = self._connection()
        if not _holds(con, "trades", "symbol", symbol):
            raise UnknownSymbolError(
                f"symbol {symbol!r} has no trades; choose one of: "
                f"{_listing(con, 'trades', 'symbol')}"
            )
        order = ("ts_recv", "sequence", "file_id", "position")
        return self._select("trades", "symbol", symbol, "ts_recv", start, end, order)

    def runs(self) -> duckdb.DuckDBPyRelation:
        """Every stored backtest run (``backtest_runs``), newest first.

        The metrics are in ``backtest_metrics`` (by ``run_id``); the ``backtest_summary`` view
        puts parameters and metrics side by side.

        Returns
        -------
        duckdb.DuckDBPyRelation
            Every column of ``backtest_runs``, ordered by ``created_at`` then ``run_id``,
            descending.
        """
        return self.sql("select * from backtest_runs order by created_at desc, run_id desc")

    def _select(
        self,
        relation: str,
        column: str,
        symbol: str,
        time_column: str,
        start: TimeLike | None,
        end: TimeLike | None,
        order: Sequence[str],
    ) -> duckdb.DuckDBPyRelation:
        from vcdwh.warehouse.sqlrender import identifier

        where = [f"{identifier(column)} = $symbol"]
        params: dict[str, Any] = {"symbol": symbol}
        for name, value, operator in (("start", start, ">="), ("end", end, "<")):
            stamp = _timestamp(name, value)
            if stamp is not None:
                where.append(f"{identifier(time_column)} {operator} cast(${name} as timestamp_ns)")
                params[name] = stamp
        query = (
            f"select * from {identifier(relation)} where {' and '.join(where)} "
            f"order by {', '.join(identifier(c) for c in order)}"
        )
        return self._connection().sql(query, params=params)

    # ------------------------------------------------------------------------------- writing

    def build(
        self,
        files: Sequence[str | os.PathLike[str]] = (),
        frequencies: Sequence[str] | None = None,
        **options: Any,
    ) -> BuildReport:
        """Load new files and rebuild the bars: :func:`vcdwh.build.build_warehouse`.

        The read connection is closed first (relations returned earlier become unusable) and
        reopened by the next read, which sees the new warehouse.

        Parameters
        ----------
        files : sequence of str or PathLike, optional
            Files to load besides those discovered in the data folder.
        frequencies : sequence of str, optional
            Bar intervals to build (default 1min and 5min, plus any built before).
        **options
            Passed on: ``echo``, ``flow``, ``lock_timeout``, ``on_bad_rows``, ``replace``.

        Returns
        -------
        BuildReport
            What was loaded and built.

        Raises
        ------
        DataError, BuildError, WarehouseError
            As :func:`vcdwh.build.build_warehouse` raises them; the warehouse is unchanged.
        """
        from vcdwh.build import build_warehouse

        self._before_write()
        with _explain_clash(self.db_path):
            return build_warehouse(self._settings, [Path(f) for f in files], frequencies, **options)

    def backtest(self, *, lock_timeout: float | None = None, **params: Any) -> BacktestResult:
        """Run and store one backtest: :func:`vcdwh.backtest.run.run_backtest`.

        The read connection is closed first (relations returned earlier become unusable) and
        reopened by the next read; :meth:`runs` then lists the new run first.

        Parameters
        ----------
        lock_timeout : float, optional
            Seconds to wait for another writer (default: the library's, 30).
        **params
            Fields of :class:`vcdwh.backtest.params.BacktestParams`: ``symbol``,
            ``frequency``, ``threshold``, ``position_size``, ``initial_capital``, ``reset``,
            ``contracts``, ``commission``, ``slippage_ticks``, ``side``,
            ``flat_at_session_end``.

        Returns
        -------
        BacktestResult
            The stored run: ``run_id``, ``metrics``, ``trades``, …

        Raises
        ------
        ConfigError
            A keyword that is not a field of ``BacktestParams``.
        BacktestError
            Invalid parameters, unknown symbol or missing bars.
        WarehouseError
            No warehouse yet, it is locked, or this Warehouse is closed.
        """
        from vcdwh.backtest.params import BacktestParams
        from vcdwh.backtest.run import run_backtest

        try:
            run_params = BacktestParams(**params)
        except TypeError as exc:
            raise ConfigError(f"Warehouse.backtest: {exc}") from exc
        self._before_write()
        options: dict[str, Any] = {} if lock_timeout is None else {"lock_timeout": lock_timeout}
        with _explain_clash(self.db_path):
            return run_backtest(self._settings, run_params, **options)

    def _before_write(self) -> None:
        """Close the read connection before a write.

        A write replaces the file, and DuckDB refuses to open one file with two configurations
        in a process.
        """
        if self._closed:
            self._connection()  # raises: closed
        self._release()


# ----------------------------------------------------------------------------------- helpers


def _frequency(interval: str) -> Frequency:
    from vcdwh.marts.frequency import parse_frequency

    try:
        return parse_frequency(interval)
    except ConfigError as exc:
        raise UnknownIntervalError(
            f"interval {interval!r} is not a bar interval; use a whole number of seconds, "
            "minutes or hours from 1s to 24h such as 30s, 1min, 5min, 1h"
        ) from exc


def _built_intervals(con: duckdb.DuckDBPyConnection) -> list[str]:

    if not relation_exists(con, "bar_intervals"):
        return []
    return [
        str(n) for (n,) in con.execute("select name from bar_intervals order by seconds").fetchall()
    ]


def _holds(con: duckdb.DuckDBPyConnection, relation: str, column: str, value: str) -> bool:
    """True when ``relation`` exists and has a row whose ``column`` is ``value``."""
    from vcdwh.warehouse.sqlrender import identifier

    if not isinstance(value, str) or not relation_exists(con, relation):
        return False
    rows = con.execute(
        f"select exists (select 1 from {identifier(relation)} where {identifier(column)} = $v)",
        {"v": value},
    ).fetchall()
    return bool(rows[0][0])


def _listing(con: duckdb.DuckDBPyConnection, relation: str, column: str) -> str:
    from vcdwh.warehouse.sqlrender import identifier

    if not relation_exists(con, relation):
        return "none"
    names = con.execute(
        f"select distinct {identifier(column)} from {identifier(relation)} order by 1"
    ).fetchall()
    return ", ".join(str(n) for (n,) in names) or "none"


def _timestamp(name: str, value: TimeLike | None) -> str | None:
    """``value`` as a naive UTC ISO timestamp string (nanoseconds kept), or None."""
    if value is None:
        return None
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{name}={value!r} is not a timestamp; use e.g. '2024-03-04 14:30' (UTC) or a datetime"
        ) from exc
    if pd.isna(stamp):
        raise ConfigError(f"{name}={value!r} is not a timestamp")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.isoformat(sep=" ")


def _query_message(exc: Exception) -> str:
    text = error_line(exc)
    lowered = text.lower()
    if "read-only" in lowered or "read only" in lowered:
        return f"{text} (Warehouse.sql is read-only; change the warehouse with build or backtest)"
    if any(
        phrase in lowered
        for phrase in ("external access", "disabled by configuration", "configuration has been")
    ):
        return (
            f"{text} (Warehouse.sql cannot read or write files, attach databases, install "
            "extensions or change settings)"
        )
    return text


@contextmanager
def _explain_clash(db_path: Path) -> Iterator[None]:
    """Say how to fix DuckDB's refusal to open a file twice in one process with two configs."""
    try:
        yield
    except WarehouseError as exc:
        if "different configuration" not in str(exc):
            raise
        raise WarehouseError(
            f"{exc} (another connection of this process holds {db_path}: close other "
            "Warehouse objects and DuckDB connections on it first)"
        ) from exc
