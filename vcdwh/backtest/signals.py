"""Signals are SQL: a built-in of ``sql/signals/`` or a user's own ``.sql`` file.

A signal is one query over the bars of one series (``bars``: an instrument's rows of
``bars_<interval>``, or a root's ``bars_<interval>_continuous``; ``footprint``: their footprint
levels) that returns, per bar, ``bar_start``, ``instrument_id`` (or ``root``) and ``signal`` in
{1, -1, 0 or NULL}. Its named parameters (``$threshold``, ``$lookback``, …) are bound values;
defaults come from a ``-- params: name=value, …`` line in the file. ``$reset`` is bound to the
run's ``--reset`` (``none`` or ``session``).

Signals run on the locked-down read-only connection (no files, no extensions), before the
warehouse is opened for writing, so a user's query can read the warehouse and nothing else.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vcdwh.errors import BacktestError, error_line
from vcdwh.warehouse.sqlrender import render, sql_root, templates

if TYPE_CHECKING:
    import duckdb

FOLDER = "signals"
DEFAULT = "cumulative_delta"
MAX_BYTES = 1_048_576
LOOKAHEAD_CUTS = 8
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_DEFAULTS = re.compile(r"^\s*--\s*params:\s*(.*)$", re.MULTILINE)
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_SERIES = ("series_instrument_id", "series_symbol", "series_root", "series_until")
"""Parameters the engine binds itself: the series and the end of the bars a signal sees."""
BOUND_BY_RUN = ("reset",)
"""Parameters a run binds from its own options."""

ParamValue = int | float | str


@dataclass(frozen=True)
class Signal:
    """A signal's query as written, where it came from, and its parameters' defaults."""

    name: str
    sql: str
    builtin: bool
    defaults: dict[str, ParamValue] = field(default_factory=dict)

    @property
    def parameters(self) -> tuple[str, ...]:
        """The named parameters the query uses (those the engine binds left out)."""
        found = dict.fromkeys(_PARAM.findall(self.sql))
        return tuple(p for p in found if p not in _SERIES)

    @property
    def reads_footprint(self) -> bool:
        """True when the query reads the ``footprint`` levels."""
        return re.search(r"\bfootprint\b", _strip_comments(self.sql)) is not None


def builtin_names() -> tuple[str, ...]:
    """The built-in signals (``sql/signals/*.sql``)."""
    return tuple(sorted(Path(t).stem for t in templates(FOLDER)))


def parse_value(text: str) -> ParamValue:
    """A parameter value: an integer, else a finite number, else the text itself."""
    text = text.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        raise BacktestError(f"--param value {text!r} must be a finite number")
    return value


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def _defaults(sql: str, where: str) -> dict[str, ParamValue]:
    values: dict[str, ParamValue] = {}
    for line in _DEFAULTS.findall(sql):
        for item in filter(None, (part.strip() for part in line.split(","))):
            name, eq, text = item.partition("=")
            if not eq or not _NAME.match(name.strip()):
                raise BacktestError(
                    f"{where}: the '-- params:' line must list name=value pairs, e.g. "
                    "'-- params: lookback=20, k=2'"
                )
            values[name.strip()] = parse_value(text)
    return values


def load_signal(name: str) -> Signal:
    """The built-in signal ``name``, or the query of the ``.sql`` file at that path.

    Raises
    ------
    BacktestError
        An unknown built-in, a missing, unreadable or oversized file, or a bad params line.
    """
    if name in builtin_names():
        sql = (sql_root() / FOLDER / f"{name}.sql").read_text(encoding="utf-8")
        return Signal(name, sql, True, _defaults(sql, f"sql/signals/{name}.sql"))
    if not name.endswith(".sql"):
        raise BacktestError(
            f"--signal {name!r} is neither a built-in signal ({', '.join(builtin_names())}) "
            "nor a .sql file; give a built-in name or the path of your query"
        )
    path = Path(name)
    if not path.is_file():
        raise BacktestError(f"--signal {name}: no such file; give the path of your .sql query")
    if path.stat().st_size > MAX_BYTES:
        raise BacktestError(f"--signal {name}: larger than 1 MiB; a signal is one SQL query")
    try:
        sql = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BacktestError(
            f"--signal {name}: cannot read it as UTF-8 text ({type(exc).__name__})"
        ) from None
    if "\x00" in sql or not _strip_comments(sql).strip():
        raise BacktestError(f"--signal {name}: not a SQL query; write one select statement")
    return Signal(str(path), sql, False, _defaults(sql, str(path)))


def bind(
    signal: Signal, overrides: dict[str, ParamValue], run_values: dict[str, ParamValue]
) -> dict[str, ParamValue]:
    """The values of every parameter the signal's query uses.

    ``overrides`` are the user's (``--param``, ``--threshold``); ``run_values`` the run's own
    (``reset``). A value given for a parameter the query does not use, or a parameter without
    a default or a given value, is refused.

    Raises
    ------
    BacktestError
        Naming the parameter and the signal.
    """
    used = signal.parameters
    for name in overrides:
        if name not in used:
            listed = ", ".join(p for p in used if p not in BOUND_BY_RUN) or "none"
            raise BacktestError(
                f"--param {name} is not a parameter of signal {signal.name} (its parameters: "
                f"{listed})"
            )
    values: dict[str, ParamValue] = {}
    for name in used:
        if name in overrides:
            values[name] = overrides[name]
        elif name in run_values:
            values[name] = run_values[name]
        elif name in signal.defaults:
            values[name] = signal.defaults[name]
        else:
            raise BacktestError(
                f"signal {signal.name} needs ${name}: give it with --param {name}=VALUE "
                "(or a default on a '-- params:' line in the file)"
            )
    return values


@dataclass(frozen=True)
class Series:
    """The series a signal runs over: its bars relation and how its rows are selected."""

    bars: str
    footprint: str
    continuous: bool
    key: dict[str, Any]  # series_root, or series_instrument_id and series_symbol


def signal_sql(signal: Signal, series: Series) -> str:
    """The full query of ``signal`` over ``series`` (``sql/queries/signal_run.sql``)."""
    query = signal.sql.strip()
    while query.endswith(";"):
        query = query[:-1].rstrip()
    return render(
        "queries/signal_run.sql",
        bars=series.bars,
        footprint=series.footprint if signal.reads_footprint else None,
        continuous=series.continuous,
        query=query,
    )


def evaluate(
    con: duckdb.DuckDBPyConnection,
    signal: Signal,
    series: Series,
    values: dict[str, ParamValue],
    bar_start: np.ndarray,
    until: Any = None,
) -> np.ndarray:
    """The signal at every bar of the series (+1, -1, 0), in the bars' order.

    ``until``: the last bar the query may see (all of them when None). Bars the query returns
    no row for get 0.

    Raises
    ------
    BacktestError
        The query fails, lacks a column, returns a value outside {1, -1, 0, NULL}, a bar twice,
        or a bar that is not in the series.
    """
    import duckdb

    sql = signal_sql(signal, series)
    params: dict[str, Any] = {**values, **series.key}
    params["series_until"] = None if until is None else np.datetime64(until, "us").item()
    try:
        relation = con.execute(sql, params)
        columns = [d[0] for d in relation.description or ()]
        data = relation.fetchnumpy()
    except duckdb.Error as exc:
        raise BacktestError(f"signal {signal.name} failed: {error_line(exc)}") from exc
    missing = [c for c in ("bar_start", "signal") if c not in columns]
    if not ({"instrument_id", "root"} & set(columns)):
        missing.append("instrument_id (or root)")
    if missing:
        raise BacktestError(
            f"signal {signal.name} must return bar_start, instrument_id (or root) and signal; "
            f"missing: {', '.join(missing)}"
        )
    starts = np.asarray(data["bar_start"])
    if starts.dtype.kind != "M":
        raise BacktestError(f"signal {signal.name}: bar_start must be the bars' timestamp")
    raw: Any = data["signal"]
    mask = np.ma.getmaskarray(raw)
    try:
        values_ = np.asarray(np.ma.filled(raw.astype(float), 0.0) if mask.any() else raw, float)
    except (TypeError, ValueError):
        raise BacktestError(
            f"signal {signal.name}: signal must be a number in {{1, -1, 0}} or NULL"
        ) from None
    values_[mask] = 0.0
    if not np.all(np.isin(values_, (-1.0, 0.0, 1.0))):
        bad = values_[~np.isin(values_, (-1.0, 0.0, 1.0))][0]
        raise BacktestError(
            f"signal {signal.name}: signal must be 1, -1, 0 or NULL; it returned {bad:g}"
        )
    wanted = np.asarray(bar_start).astype("datetime64[ns]").astype(np.int64)
    got = starts.astype("datetime64[ns]").astype(np.int64)
    if len(got) == len(wanted) and np.array_equal(got, wanted):  # one row a bar, in order
        return values_.astype(np.int8)
    if len(np.unique(got)) != len(got):
        raise BacktestError(
            f"signal {signal.name} returned a bar_start twice; return one row a bar"
        )
    where = np.searchsorted(wanted, got)
    inside = (where < len(wanted)) & (wanted[np.minimum(where, len(wanted) - 1)] == got)
    if len(wanted) == 0 or not np.all(inside):
        raise BacktestError(
            f"signal {signal.name} returned a bar_start that is not a bar of the series; "
            "select the rows of `bars`"
        )
    out = np.zeros(len(wanted), dtype=np.int8)
    out[where] = values_.astype(np.int8)
    return out


def check_lookahead(
    con: duckdb.DuckDBPyConnection,
    signal: Signal,
    series: Series,
    values: dict[str, ParamValue],
    bar_start: np.ndarray,
    full: np.ndarray,
    cuts: int = LOOKAHEAD_CUTS,
) -> None:
    """Refuse a signal whose value at a bar changes when the bars after it are removed.

    The signal is evaluated again on the data cut after each of ``cuts`` bars spread over the
    series (and after the second-to-last); every bar up to a cut must keep its value.

    Raises
    ------
    BacktestError
        Naming the first bar whose value depends on later bars.
    """
    n = len(bar_start)
    points = sorted({max(0, min(n - 2, (n * k) // (cuts + 1))) for k in range(1, cuts + 1)})
    if n >= 2:
        points.append(n - 2)
    for cut in sorted(set(points)):
        until = bar_start[cut]
        partial = evaluate(con, signal, series, values, bar_start[: cut + 1], until)
        differs = np.flatnonzero(partial != full[: cut + 1])
        if len(differs):
            first = str(np.datetime_as_string(bar_start[differs[0]], unit="s")).replace("T", " ")
            raise BacktestError(
                f"signal {signal.name} looks ahead: its value at the bar of {first} changes "
                f"when the bars after {str(until).replace('T', ' ')[:19]} are removed; use "
                "only the bar and the bars before it"
            )
