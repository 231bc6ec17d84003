"""The ``vcdwh`` command line: thin click commands over the library.

Each command parses its options, calls one library function and prints. Library errors
(:class:`vcdwh.errors.VcdwhError`) become ``Error: …`` with exit code 1; usage errors exit 2.
Heavy modules (pandas, databento, duckdb) are imported inside the commands so that
``vcdwh --help`` starts fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from vcdwh._version import __version__
from vcdwh.config import (
    DEFAULT_SQL_TIMEOUT,
    DEFAULT_STORAGE_VERSION,
    STORAGE_VERSIONS,
    Settings,
)
from vcdwh.errors import VcdwhError, error_line, printable

F = TypeVar("F", bound=Callable[..., Any])


class _Interrupted(click.ClickException):
    """``Error: …`` with exit code 130, as a shell reports a command stopped by Ctrl-C."""

    exit_code = 130


def reports_errors(func: F) -> F:
    """Turn library errors into ``Error: …`` (exit 1)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except VcdwhError as exc:
            failure = _Interrupted if getattr(exc, "exit_code", 1) == 130 else click.ClickException
            raise failure(printable(str(exc))) from exc
        except Exception as exc:
            # A DuckDB failure that no check anticipated still gets one line, not a traceback.
            if type(exc).__module__ not in ("_duckdb", "duckdb"):
                raise
            first = printable(error_line(exc))
            raise click.ClickException(f"{first} (unexpected: please report it)") from exc

    return wrapper  # type: ignore[return-value]


def _progress() -> Any:
    """A progress bar on a terminal's standard error, unless ``vcdwh --quiet``."""
    from vcdwh.progress import terminal_progress

    return terminal_progress(quiet=click.get_current_context().find_root().params["quiet"])


def _bar_set_option(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Validate a backtest's bars at parse time: a time interval or a tick/volume/range set."""
    from vcdwh.errors import ConfigError
    from vcdwh.marts.frequency import parse_bar_set

    try:
        parse_bar_set(value)
    except ConfigError as exc:
        raise click.BadParameter(
            f"{value!r} is not a bar interval from 1s to 24h (30s, 1min, 5min, 1h, …) "
            "nor a tick, volume or range bar set (1000t, 500v, 8r)"
        ) from exc
    return value


def _frequency_option(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Validate bar intervals at parse time, so a bad one is a usage error (exit 2)."""
    from vcdwh.errors import ConfigError
    from vcdwh.marts.frequency import parse_frequency

    for item in value if isinstance(value, tuple) else (value,):
        try:
            parse_frequency(item)
        except ConfigError as exc:
            raise click.BadParameter(
                f"{item!r} is not a bar interval from 1s to 24h (30s, 1min, 5min, 1h, …)"
            ) from exc
    return value


def _timestamp_option(value: str | None, option: str) -> Any:
    """Parse ``--from``/``--to`` at parse time, so a bad timestamp is a usage error (exit 2)."""
    if value is None:
        return None
    from vcdwh.errors import ConfigError
    from vcdwh.report import parse_timestamp

    try:
        return parse_timestamp(value, option)
    except ConfigError as exc:
        raise click.BadParameter(printable(str(exc))) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vcdwh")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    envvar="VCDWH_DATA_DIR",
    default=None,
    help="Folder of CSV/DBN files (env VCDWH_DATA_DIR, default ./Data).",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    envvar="VCDWH_DB",
    default=None,
    help="Warehouse file (env VCDWH_DB, default <data-dir>/vcdwh.duckdb).",
)
@click.option(
    "--storage-version",
    type=click.Choice(STORAGE_VERSIONS),
    envvar="VCDWH_STORAGE_VERSION",
    default=None,
    help=f"DuckDB storage version of a NEW warehouse file (env VCDWH_STORAGE_VERSION, default "
    f"{DEFAULT_STORAGE_VERSION}: readable by DuckDB 1.4+; 'latest' needs DuckDB 2.x readers).",
)
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="No progress bars (they are drawn on standard error only when it is a terminal and "
    "the work lasts more than a second).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    data_dir: str | None,
    db: str | None,
    storage_version: str | None,
    quiet: bool,
) -> None:
    """vcdwh: Databento futures trades into order-flow bars in DuckDB, and delta backtests.

    \b
    Example:
        vcdwh sample && vcdwh build && vcdwh backtest
        vcdwh sql "select bar_start, symbol, delta, cumulative_delta from bars_1min limit 5"
    """
    ctx.obj = Settings.resolve(data_dir, db, storage_version)


@cli.command()
@click.option(
    "--symbol",
    default="ES.FUT",
    show_default=True,
    help="Parent symbol ROOT.FUT of a known root (ES, NQ, YM, RTY, GC, CL, MES, MNQ).",
)
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d"]),
    default="2024-03-03",
    show_default=True,
    help="First calendar day (UTC date).",
)
@click.option("--days", type=int, default=7, show_default=True, help="Calendar days (1..3660).")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed (≥ 0).")
@click.option(
    "--trades-per-day",
    type=int,
    default=50_000,
    show_default=True,
    help="Trade records per full session (all instruments).",
)
@click.pass_obj
@reports_errors
def sample(
    settings: Settings, symbol: str, start: Any, days: int, seed: int, trades_per_day: int
) -> None:
    """Write deterministic synthetic Databento CSVs (trades + ohlcv-1m) into the data folder.

    A parent-symbol week as Databento returns it: the front contract, the next expiry and
    their calendar spread, CME Globex sessions, a roll, A/B aggressor sides with a few N
    auction prints, and 1-minute bars that reconcile exactly with the trades.

    \b
    Example:
        vcdwh sample
        vcdwh sample --symbol NQ.FUT --start 2024-03-07 --days 7 --seed 1
        vcdwh sample --trades-per-day 2000000      # ~10M trades for benchmarks
    """
    from vcdwh.sample import format_sample, generate_sample

    report = generate_sample(
        settings.data_dir,
        symbol=symbol,
        days=days,
        start=start.date(),
        seed=seed,
        trades_per_day=trades_per_day,
    )
    click.echo(format_sample(report))


def _lock_timeout_option(func: F) -> F:
    """``--lock-timeout``: seconds to wait while another process writes the warehouse."""
    return click.option(
        "--lock-timeout",
        type=click.FloatRange(min=0),
        default=30,
        show_default=True,
        metavar="SECONDS",
        help="Wait this long for another writer (vcdwh, or a read-write DuckDB client) "
        "to finish, then exit 1 naming it.",
    )(func)


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option(
    "--frequency",
    "-f",
    "frequencies",
    callback=_frequency_option,
    multiple=True,
    metavar="INTERVAL",
    help="Bar interval to build (repeatable; default 1min and 5min): 30s, 1min, 5min, 1h …",
)
@click.option(
    "--unknown-side",
    type=click.Choice(["exclude", "tick-rule"]),
    default=None,
    help="Side-N trades: exclude (stay unknown, the default) or tick-rule (tick test). Stored.",
)
@click.option(
    "--min-size",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Add large-lot columns for aggressor events of at least N contracts (0: off). Stored.",
)
@click.option(
    "--max-size",
    type=click.IntRange(min=0),
    default=None,
    metavar="M",
    help="Upper bound of the large-lot filter (0: none). Stored.",
)
@click.option(
    "--imbalance-ratio",
    type=click.FloatRange(min=1),
    default=None,
    metavar="RATIO",
    help="Footprint diagonal imbalance ratio (default 3.0). Stored.",
)
@click.option(
    "--value-area-pct",
    type=click.FloatRange(min=1, max=100),
    default=None,
    metavar="P",
    help="Share of a session's volume its value area holds, in percent (1-100, default 70). "
    "Stored.",
)
@click.option(
    "--ticks-per-level",
    type=click.IntRange(min=1),
    default=None,
    metavar="K",
    help="Footprint level size in ticks (default 1: every price). Stored.",
)
@click.option(
    "--imbalance-min-volume",
    type=click.IntRange(min=0),
    default=None,
    metavar="V",
    help="A footprint imbalance also needs the dominant side's volume >= V (default 0). Stored.",
)
@click.option(
    "--on-bad-rows",
    type=click.Choice(["error", "skip"]),
    default="error",
    show_default=True,
    help="error: a bad record stops the build (nothing changes). skip: load the good "
    "records and keep the bad ones in the rejected_rows table.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="A file that contradicts what is loaded replaces it instead of stopping the build: "
    "a file loaded before under the same path whose new contents lack records loaded from it "
    "replaces that earlier version's records; conflicting trades replace the held trades "
    "(its instruments, over its time range); ohlcv-1m bars that differ replace the held ones.",
)
@click.option(
    "--rth",
    multiple=True,
    metavar="ROOT=HH:MM-HH:MM",
    help="Regular trading hours of a root in Chicago time (repeatable), e.g. ES=08:30-15:15. "
    "Stored in rth_hours.",
)
@click.option(
    "--adjust",
    type=click.Choice(["none", "difference", "ratio"]),
    default=None,
    help="Back-adjust the continuous series' adj_open/high/low/close onto the latest "
    "contract (default none). Stored.",
)
@click.option(
    "--roll-rule",
    default=None,
    metavar="volume|expiry-days:N",
    help="Contract of each session of a continuous series: most volume (default), or the front "
    "until N CME sessions before its expiration (needs definition records). Stored.",
)
@click.option(
    "--tick-bars",
    type=click.IntRange(min=1, max=1_000_000_000),
    multiple=True,
    metavar="N",
    help="Also build bars_<N>t: a bar every N trade records of a session (repeatable). Kept.",
)
@click.option(
    "--volume-bars",
    type=click.IntRange(min=1, max=1_000_000_000),
    multiple=True,
    metavar="N",
    help="Also build bars_<N>v: a bar closes at the trade that brings it to >= N contracts "
    "(repeatable). Kept.",
)
@click.option(
    "--range-bars",
    type=click.IntRange(min=1, max=1_000_000_000),
    multiple=True,
    metavar="R",
    help="Also build bars_<R>r: a trade that would make high - low exceed R ticks opens the "
    "next bar (repeatable). Kept.",
)
@_lock_timeout_option
@click.pass_obj
@reports_errors
def build(
    settings: Settings,
    files: tuple[str, ...],
    frequencies: tuple[str, ...],
    unknown_side: str | None,
    min_size: int | None,
    max_size: int | None,
    imbalance_ratio: float | None,
    value_area_pct: float | None,
    ticks_per_level: int | None,
    imbalance_min_volume: int | None,
    on_bad_rows: str,
    replace: bool,
    rth: tuple[str, ...],
    adjust: str | None,
    roll_rule: str | None,
    tick_bars: tuple[int, ...],
    volume_bars: tuple[int, ...],
    range_bars: tuple[int, ...],
    lock_timeout: float,
) -> None:
    """Load new trades/OHLCV files (CSV or DBN) and rebuild the order-flow bars.

    Loads every trades_*.csv, ohlcv_1m_*.csv, *.dbn and *.dbn.zst in the data folder
    that is not loaded yet, plus any FILES given, into the warehouse, then builds per
    interval bars_<interval>, footprint_<interval> and bars_<interval>_continuous, and
    rolls, and the CME calendar (sessions, session_hours: holidays, early closes, RTH).
    All in one transaction (in place, or on a copy while a reader holds the
    warehouse open): open readers keep working, and on any error or crash nothing
    changes.
    --unknown-side, --min-size/--max-size, --imbalance-ratio, --value-area-pct,
    --ticks-per-level, --imbalance-min-volume, --rth, --adjust and --roll-rule are stored;
    later builds keep them (changing one rebuilds every mart).
    --tick-bars N, --volume-bars N and --range-bars R add bars_<N>t, bars_<N>v and
    bars_<R>r (R in ticks) with their footprints; later builds refresh them too.

    \b
    Example:
        vcdwh build
        vcdwh build --frequency 1min --frequency 5min --frequency 30s
        vcdwh build ~/downloads/glbx-mdp3-20240701.trades.dbn.zst
        vcdwh build --unknown-side tick-rule --min-size 20 --imbalance-ratio 4
        vcdwh build --value-area-pct 68 --ticks-per-level 4 --imbalance-min-volume 20
        vcdwh build --on-bad-rows skip --lock-timeout 120
        vcdwh build --rth ES=08:30-15:00
        vcdwh build --adjust difference --roll-rule expiry-days:8
        vcdwh build --tick-bars 1000 --volume-bars 500 --range-bars 8
    """
    from vcdwh.build import build_warehouse, format_build, format_file_line
    from vcdwh.marts.orderflow import FlowOverrides

    flow = FlowOverrides(
        unknown_side,
        min_size,
        max_size,
        imbalance_ratio,
        value_area_pct,
        ticks_per_level,
        imbalance_min_volume,
    )
    progress = _progress()
    report = build_warehouse(
        settings,
        files,
        frequencies or None,
        on_file=lambda result: progress.echo(format_file_line(result)),
        flow=flow,
        lock_timeout=lock_timeout,
        on_bad_rows=on_bad_rows,
        replace=replace,
        progress=progress,
        rth=rth,
        adjust=adjust,
        roll_rule=roll_rule,
        event_bars=[f"{n}t" for n in tick_bars]
        + [f"{n}v" for n in volume_bars]
        + [f"{n}r" for n in range_bars],
    )
    click.echo(format_build(report))


@cli.command()
@click.argument("query")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=DEFAULT_SQL_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Stop the query (and its output) after this many seconds; 0 for no limit.",
)
@click.pass_obj
@reports_errors
def sql(settings: Settings, query: str, fmt: str, timeout: float) -> None:
    """Run one read-only SQL query against the warehouse and print the result.

    csv and json rows are written as they come; the table shows at most the first 10,000
    rows. The query runs under the builds' memory cap (VCDWH_MEMORY_LIMIT, default 1GB).
    Ctrl-C stops it (exit 130).

    \b
    Example:
        vcdwh sql "select bar_start, symbol, delta, cumulative_delta from bars_1min limit 5"
        vcdwh sql --format csv "select * from bars_5min where symbol = 'ESH4'" > esh4.csv
        vcdwh sql --timeout 0 --format csv "select * from trades" > trades.csv
    """
    from vcdwh.query import stream_query

    for piece in stream_query(settings.db_path, query, fmt, timeout=timeout):
        click.echo(piece, nl=False)


@cli.command()
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 1 when anything does not reconcile (default: report it and exit 0).",
)
@click.pass_obj
@reports_errors
def check(settings: Settings, strict: bool) -> None:
    """Reconcile the loaded data: trades vs ohlcv_1m and the CME calendar.

    Prints a table per instrument, one line per CME session: trades against Databento's
    1-minute bars (open, high, low, close, volume) for every minute both cover, minutes
    with bar volume but no trades (and trades without a bar), trades on a holiday or
    outside the Globex hours of the root's calendar, and sessions the calendar says
    traded that hold no data. Then the problem minutes and a summary.

    \b
    Example:
        vcdwh check
        vcdwh check --strict && vcdwh backtest
    """
    from vcdwh.check import check_warehouse, format_check

    report = check_warehouse(settings)
    click.echo(format_check(report))
    if strict and report.discrepancies:
        raise SystemExit(1)


@cli.command(name="list")
@click.pass_obj
@reports_errors
def list_(settings: Settings) -> None:
    """List the data files on disk and what the warehouse holds.

    \b
    Example:
        vcdwh list
    """
    from vcdwh.inventory import format_inventory, take_inventory

    click.echo(format_inventory(take_inventory(settings)))


def run_options(func: F) -> F:
    """Sizing, costs, sides, signal and execution options of backtest, sweep and walkforward."""
    options = [
        click.option(
            "--position-size",
            type=float,
            default=None,
            help="The seed's sizing: this fraction of current capital per position, long only "
            "(the default, 0.1, when vcdwh has no contract spec for the instrument).",
        ),
        click.option(
            "--initial-capital",
            type=float,
            default=10_000,
            show_default=True,
            help="Starting capital.",
        ),
        click.option(
            "--contracts",
            type=click.IntRange(min=1),
            default=None,
            help="Whole contracts per position (P&L = points x multiplier x contracts). Default: "
            "1 on an instrument or root whose contract spec vcdwh knows.",
        ),
        click.option(
            "--commission",
            type=click.FloatRange(min=0),
            default=None,
            help="Dollars per contract per side (default from the instruments table: $2.50 for "
            "standard contracts, $0.85 for micros).",
        ),
        click.option(
            "--slippage-ticks",
            type=click.FloatRange(min=0),
            default=0.0,
            show_default=True,
            help="Ticks lost on every market fill (entries, signal exits, stops), against the "
            "trader.",
        ),
        click.option(
            "--side",
            type=click.Choice(["long", "short", "both"]),
            default="long",
            show_default=True,
            help="long: 1 opens, -1 closes; short: -1 opens, 1 closes; both: either opens from "
            "flat.",
        ),
        click.option(
            "--flat-at-session-end",
            "flat_at",
            is_flag=False,
            flag_value="session",
            default=None,
            type=click.Choice(["session", "rth"]),
            help="Close any position at the last bar of each session, or with `rth` at the "
            "last RTH bar of each session.",
        ),
        click.option(
            "--hours",
            type=click.Choice(["all", "rth", "eth"]),
            default="all",
            show_default=True,
            help="Bars that may open a position: all, RTH only (is_rth) or outside RTH only.",
        ),
        click.option(
            "--signal",
            default="cumulative_delta",
            show_default=True,
            help="A built-in signal (cumulative_delta, session_delta, delta_zscore, "
            "cvd_divergence, stacked_imbalance) or the path of your .sql query.",
        ),
        click.option(
            "--entry",
            type=click.Choice(["close", "next-open"]),
            default="close",
            show_default=True,
            help="Fill entries and signal exits at the signal bar's close or the next bar's open.",
        ),
        click.option(
            "--stop-ticks",
            type=float,
            default=None,
            help="Stop-market order this many ticks from the entry fill, on the trade tape.",
        ),
        click.option(
            "--target-ticks",
            type=float,
            default=None,
            help="Limit order this many ticks from the entry fill, on the trade tape.",
        ),
        click.option(
            "--trail-ticks",
            type=float,
            default=None,
            help="Trailing stop this many ticks behind the best price since the entry.",
        ),
        click.option(
            "--target-fill",
            type=click.Choice(["through", "touch"]),
            default="through",
            show_default=True,
            help="A target fills when a trade prints through it, or at it.",
        ),
        click.option(
            "--max-bars",
            type=click.IntRange(min=1),
            default=None,
            help="Time stop: close at the close of the N-th bar the position sees.",
        ),
        click.option(
            "--check-lookahead",
            is_flag=True,
            help="Refuse a signal whose value at a bar changes when later bars are removed.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _base_params(
    symbol: str | None, options: dict[str, Any], signal_params: tuple[tuple[str, Any], ...] = ()
) -> Any:
    """The run options as :class:`BacktestParams` (threshold, frequency, reset: the caller's)."""
    from vcdwh.backtest.params import BacktestParams

    position_size, contracts = options["position_size"], options["contracts"]
    if position_size is not None and contracts is not None:
        raise click.UsageError("give --position-size (the seed's sizing) or --contracts, not both")
    if position_size is not None:
        sizing = "seed"
    else:
        sizing = "contracts" if contracts is not None else "auto"
    return BacktestParams(
        symbol,
        position_size=0.1 if position_size is None else position_size,
        initial_capital=options["initial_capital"],
        contracts=contracts,
        commission=options["commission"],
        slippage_ticks=options["slippage_ticks"],
        side=options["side"],
        flat_at_session_end=options["flat_at"] == "session",
        flat_at_rth_end=options["flat_at"] == "rth",
        hours=options["hours"],
        signal=options["signal"],
        signal_params=signal_params,
        entry=options["entry"],
        stop_ticks=options["stop_ticks"],
        target_ticks=options["target_ticks"],
        trail_ticks=options["trail_ticks"],
        max_bars=options["max_bars"],
        target_fill=options["target_fill"],
        sizing=sizing,
    )


def _name_value(item: str) -> tuple[str, str]:
    name, eq, value = item.partition("=")
    if not eq or not name.strip() or not value.strip():
        raise click.BadParameter(f"{item!r} must be NAME=VALUE", param_hint="--param")
    return name.strip(), value.strip()


@cli.command()
@click.option(
    "--symbol",
    "-s",
    default=None,
    help="Instrument or root to trade (default: the outright with the most volume).",
)
@click.option(
    "--frequency",
    "-f",
    default="1min",
    show_default=True,
    callback=_bar_set_option,
    help="Bar interval (5min), or tick, volume or range bars built with vcdwh build (500v).",
)
@click.option(
    "--threshold",
    "-t",
    type=float,
    default=500,
    show_default=True,
    help="The signal's $threshold (cumulative_delta: 1 above it, -1 below minus it).",
)
@click.option(
    "--reset",
    type=click.Choice(["none", "session", "rth"]),
    default="none",
    show_default=True,
    help="none: cumulative delta over all data (seed); session: reset at each 17:00 CT open; "
    "rth: reset at each RTH open, no signal outside RTH.",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter of the signal, e.g. --param lookback=30; repeat for more.",
)
@run_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_lock_timeout_option
@click.pass_obj
@reports_errors
def backtest(
    settings: Settings,
    symbol: str | None,
    frequency: str,
    threshold: float,
    reset: str,
    params: tuple[str, ...],
    as_json: bool,
    lock_timeout: float,
    check_lookahead: bool,
    **options: Any,
) -> None:
    """Backtest a signal and store the run.

    On a futures instrument or root vcdwh knows, it trades 1 contract with the real
    multiplier and commission, so results are in dollars; --position-size F runs the
    seed's fraction-of-capital, long-only sizing instead. Stops, targets and trails are
    resolved on the exact trade sequence.

    \b
    Example:
        vcdwh backtest --symbol ES
        vcdwh backtest --symbol ESH4 --frequency 5min --threshold 300 --reset session
        vcdwh backtest --position-size 0.1          # the seed's sizing and metrics
        vcdwh backtest --symbol ES --side both --stop-ticks 8 --target-ticks 16
        vcdwh backtest --signal delta_zscore --param lookback=30 --param k=2.5
        vcdwh backtest --signal my_signal.sql --check-lookahead --json
    """
    import json
    from dataclasses import replace

    from vcdwh.backtest.run import run_backtest
    from vcdwh.backtest.signals import parse_value
    from vcdwh.backtest.text import format_run

    given = tuple((name, parse_value(value)) for name, value in map(_name_value, params))
    base = _base_params(symbol, options, given)
    run = replace(base, frequency=frequency, threshold=threshold, reset=reset)
    result = run_backtest(settings, run, lock_timeout=lock_timeout, check_lookahead=check_lookahead)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return
    click.echo(format_run(result, chosen_by_default=symbol is None))


def grid_options(func: F) -> F:
    """The grid of sweep and walkforward: symbol, thresholds, frequencies, resets, params."""
    options = [
        click.option(
            "--symbol",
            "-s",
            default=None,
            help="Instrument or root (default: the outright with the most volume).",
        ),
        click.option(
            "--threshold",
            "-t",
            "thresholds",
            default="100:2000:100",
            show_default=True,
            help="Thresholds: START:STOP:STEP (STOP included) or a list 100,200,500.",
        ),
        click.option(
            "--frequency",
            "-f",
            "frequencies",
            default="1min",
            show_default=True,
            help="Bar intervals or tick/volume/range bar sets, comma-separated (each must be "
            "built), e.g. 1min,5min,500v.",
        ),
        click.option(
            "--reset",
            "resets",
            default="none",
            show_default=True,
            help="Cumulative delta resets, comma-separated: none, session, rth.",
        ),
        click.option(
            "--param",
            "params",
            multiple=True,
            metavar="NAME=VALUES",
            help="Values of a signal parameter to cross: NAME=V1,V2 or NAME=START:STOP:STEP.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _grid(
    symbol: str | None,
    thresholds: str,
    frequencies: str,
    resets: str,
    params: tuple[str, ...],
    options: dict[str, Any],
    **extra: Any,
) -> Any:
    from vcdwh.backtest.sweep import SweepSpec, parse_choices, parse_param_grid, parse_thresholds

    return SweepSpec(
        thresholds=parse_thresholds(thresholds),
        frequencies=parse_choices("--frequency", frequencies),
        resets=parse_choices("--reset", resets, ("none", "session")),
        base=_base_params(symbol, options),
        params=parse_param_grid(params),
        **extra,
    )


@cli.command()
@grid_options
@run_options
@click.option(
    "--split",
    type=float,
    default=None,
    help="Fraction of bars in-sample, e.g. 0.7: rank on the first part, show the rest beside.",
)
@click.option(
    "--by",
    default="net_pnl",
    show_default=True,
    help="Metric to rank by: net_pnl, sharpe, sortino, profit_factor, calmar, sqn, expectancy, "
    "win_rate_pct, total_return_pct, max_drawdown, total_trades.",
)
@click.option("--top", type=int, default=10, show_default=True, help="Rows to print.")
@click.option("--json", "as_json", is_flag=True, help="Print every combination as JSON.")
@_lock_timeout_option
@click.pass_obj
@reports_errors
def sweep(
    settings: Settings,
    symbol: str | None,
    thresholds: str,
    frequencies: str,
    resets: str,
    params: tuple[str, ...],
    split: float | None,
    by: str,
    top: int,
    as_json: bool,
    lock_timeout: float,
    check_lookahead: bool,
    **options: Any,
) -> None:
    """Backtest every combination of a grid and print the best.

    The grid is threshold x frequency x reset x every --param list. Each combination is
    the same run as `vcdwh backtest` with those parameters, stored as a normal run
    tagged with the sweep id (see backtest_runs.sweep_id and backtest_sweeps); the bars
    are read once per frequency, and all runs are written in one transaction.

    \b
    Example:
        vcdwh sweep --symbol ES --threshold 100:2000:100 --frequency 1min,5min --reset none,session
        vcdwh sweep --signal delta_zscore --param lookback=10,20,40 --param k=1.5:3:0.5
        vcdwh sweep --side both --stop-ticks 8 --split 0.7 --by sharpe
        vcdwh report --sweep sweep-1 --out sweep.html
    """
    import json

    from vcdwh.backtest.sweep import format_sweep, run_sweep

    spec = _grid(
        symbol, thresholds, frequencies, resets, params, options, split=split, by=by, top=top
    )
    result = run_sweep(
        settings,
        spec,
        lock_timeout=lock_timeout,
        check_lookahead=check_lookahead,
        progress=_progress(),
    )
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return
    click.echo(format_sweep(result, top))


@cli.command()
@grid_options
@run_options
@click.option(
    "--train-sessions",
    type=int,
    required=True,
    help="Sessions each fold chooses the best combination on.",
)
@click.option(
    "--test-sessions",
    type=int,
    required=True,
    help="Sessions after them that each fold trades the chosen combination on.",
)
@click.option("--anchored", is_flag=True, help="Every training window starts at the first session.")
@click.option(
    "--metric",
    default="net_pnl",
    show_default=True,
    help="Metric that chooses: net_pnl, sharpe, sortino, profit_factor, calmar, sqn, "
    "expectancy, win_rate_pct, total_return_pct, max_drawdown, total_trades (sharpe, sortino "
    "and calmar need --train-sessions of at least 20: annualised ratios need 20 sessions).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the walk-forward as JSON.")
@_lock_timeout_option
@click.pass_obj
@reports_errors
def walkforward(
    settings: Settings,
    symbol: str | None,
    thresholds: str,
    frequencies: str,
    resets: str,
    params: tuple[str, ...],
    train_sessions: int,
    test_sessions: int,
    anchored: bool,
    metric: str,
    as_json: bool,
    lock_timeout: float,
    check_lookahead: bool,
    **options: Any,
) -> None:
    """Walk-forward: choose on N sessions, trade the choice on the next M, move on M.

    Per fold every combination of the grid (the options of `vcdwh sweep`) runs on the
    training sessions; the best by --metric runs on the test sessions. Both runs of each
    fold are stored (backtest_runs.walkforward_id), with the folds, the stitched
    out-of-sample equity, the walk-forward efficiency and how often the choice changed.

    \b
    Example:
        vcdwh walkforward --symbol ES --train-sessions 3 --test-sessions 1 \\
            --threshold 100:1000:100
        vcdwh walkforward --train-sessions 20 --test-sessions 5 --anchored --metric sharpe
        vcdwh report --walkforward wf-1 --out wf.html
    """
    import json

    from vcdwh.backtest.walkforward import WalkForwardSpec, format_walkforward, run_walkforward

    grid = _grid(symbol, thresholds, frequencies, resets, params, options)
    spec = WalkForwardSpec(grid, train_sessions, test_sessions, anchored, metric)
    result = run_walkforward(
        settings,
        spec,
        lock_timeout=lock_timeout,
        check_lookahead=check_lookahead,
        progress=_progress(),
    )
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return
    click.echo(format_walkforward(result))


@cli.command()
@click.argument("run_id", type=int, required=False)
@click.option("--sweep", "sweep_id", default=None, help="Report a sweep instead of one run.")
@click.option(
    "--walkforward",
    "walkforward_id",
    default=None,
    help="Report a walk-forward: its folds and stitched out-of-sample equity.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    default="report.html",
    show_default=True,
    help="HTML file to write.",
)
@click.option(
    "--by", default=None, help="Sweep heatmap metric (default: the metric the sweep ranked by)."
)
@click.option(
    "--footprint",
    is_flag=True,
    help="Report the order flow of a window instead: each bar's footprint (bid x ask per level, "
    "POC, imbalances, stacked runs) and its session's price, VWAP bands and volume profile.",
)
@click.option(
    "--symbol",
    default=None,
    help="With --footprint: the contract (default: the outright with the most volume in the "
    "latest session).",
)
@click.option(
    "--frequency",
    "-f",
    default=None,
    callback=lambda ctx, param, value: value and _frequency_option(ctx, param, value),
    metavar="INTERVAL",
    help="With --footprint: the bars to draw (default 5min; built by vcdwh build).",
)
@click.option(
    "--from",
    "start",
    default=None,
    callback=lambda ctx, param, value: _timestamp_option(value, "--from"),
    metavar="TIMESTAMP",
    help="With --footprint: the first bar start drawn, ISO 8601, UTC unless an offset is given "
    "(default: the busiest hour of the latest session; alone: one hour from it).",
)
@click.option(
    "--to",
    "end",
    default=None,
    callback=lambda ctx, param, value: _timestamp_option(value, "--to"),
    metavar="TIMESTAMP",
    help="With --footprint: bars starting before it (alone: the hour before it).",
)
@click.pass_obj
@reports_errors
def report(
    settings: Settings,
    run_id: int | None,
    sweep_id: str | None,
    walkforward_id: str | None,
    out: str,
    by: str | None,
    footprint: bool,
    symbol: str | None,
    frequency: str | None,
    start: Any,
    end: Any,
) -> None:
    """Write a self-contained HTML report: a run, sweep, walk-forward or footprint.

    A run (default: the latest outside sweeps): price candles, cumulative delta beneath,
    entries and exits, equity and drawdown, the metrics and the trade list. A sweep: a
    heatmap of a metric over threshold x frequency per reset, and every run. A
    walk-forward: the stitched out-of-sample equity, each fold's metric in and out of
    sample, and the folds. --footprint: the footprint of each bar in a window (at most
    60 bars), then the session's candles with the VWAP and its +/-1 and 2 sd bands beside
    its volume profile, with the POC, VAH and VAL. Works offline (plotly inlined).

    \b
    Example:
        vcdwh report --out report.html
        vcdwh report 12 --out run12.html
        vcdwh report --sweep sweep-1 --by sharpe --out sweep.html
        vcdwh report --walkforward wf-1 --out wf.html
        vcdwh report --footprint --symbol ESH4 --out fp.html
        vcdwh report --footprint -f 1min --from '2024-03-08 14:30' --to '2024-03-08 15:00'
    """
    from pathlib import Path

    from vcdwh.report import DEFAULT_FOOTPRINT_FREQUENCY, write_footprint_report, write_report

    window = {"--symbol": symbol, "--frequency": frequency, "--from": start, "--to": end}
    if footprint:
        if run_id is not None or sweep_id is not None or walkforward_id is not None:
            raise click.UsageError("give --footprint, or a RUN_ID, --sweep or --walkforward")
        written = write_footprint_report(
            settings,
            Path(out),
            symbol=symbol,
            frequency=frequency or DEFAULT_FOOTPRINT_FREQUENCY,
            start=start,
            end=end,
        )
    else:
        given = [name for name, value in window.items() if value is not None]
        if given:
            raise click.UsageError(f"{given[0]} needs --footprint")
        written = write_report(
            settings,
            Path(out),
            run_id=run_id,
            sweep_id=sweep_id,
            by=by,
            walkforward_id=walkforward_id,
        )
    click.echo(f"wrote {written.path} ({written.bytes / 1_048_576:.1f} MB): {written.summary}")


# --- fetch --------------------------------------------------------------------------------------

FETCH_SCHEMAS = ("trades", "ohlcv-1m")
FETCH_STYPES = ("raw_symbol", "parent", "continuous", "instrument_id")


@cli.command()
@click.option(
    "--symbol",
    "symbols",
    multiple=True,
    metavar="SYMBOL",
    help="Symbol to fetch; repeat for more (default ES.FUT). ES.FUT is a parent, "
    "ES.c.0/ES.v.0/ES.n.0 continuous, anything else a raw symbol like ESU4.",
)
@click.option(
    "--schema",
    "schemas",
    multiple=True,
    type=click.Choice(FETCH_SCHEMAS),
    help="Schema to fetch; repeat for both (default trades and ohlcv-1m).",
)
@click.option(
    "--start",
    default=None,
    metavar="YYYY-MM-DD",
    help="First day (inclusive, UTC). Default: --days before --end.",
)
@click.option(
    "--end",
    default=None,
    metavar="YYYY-MM-DD",
    help="End day (exclusive, UTC); clamped to what Databento has published. Default: today.",
)
@click.option(
    "--days",
    type=int,
    default=None,
    help="Days to fetch when --start or --end is missing (default 7).",
)
@click.option("--dataset", default="GLBX.MDP3", show_default=True, help="Databento dataset code.")
@click.option(
    "--stype-in",
    type=click.Choice(FETCH_STYPES),
    default=None,
    help="Symbology of every --symbol (default: inferred from each symbol).",
)
@click.option(
    "--max-cost",
    type=float,
    default=5.0,
    show_default=True,
    help="Stop before downloading if Databento's cost estimate (USD) is above this.",
)
@click.option(
    "--yes", "assume_yes", is_flag=True, help="Download even when the estimate is above --max-cost."
)
@click.option(
    "--refresh", is_flag=True, help="Download again even when complete files already exist."
)
@click.option(
    "--batch-above",
    type=click.IntRange(min=0),
    default=1 << 30,
    show_default=True,
    metavar="BYTES",
    help="A request larger than this (Databento's billable size) is downloaded as a batch job "
    "(submit, poll, download, verify) instead of one stream.",
)
@click.option(
    "--api-key",
    default=None,
    metavar="KEY",
    help="Databento API key (default: DATABENTO_API_KEY from the environment or "
    "./.env; prefer those, a key on the command line is visible to other users).",
)
@click.pass_obj
@reports_errors
def fetch(
    settings: Settings,
    symbols: tuple[str, ...],
    schemas: tuple[str, ...],
    start: str | None,
    end: str | None,
    days: int | None,
    dataset: str,
    stype_in: str | None,
    max_cost: float,
    assume_yes: bool,
    refresh: bool,
    batch_above: int,
    api_key: str | None,
) -> None:
    """Download Databento trades and 1-minute bars into seed-named CSVs.

    Prices each request with Databento first and stops above --max-cost, then reports
    Databento's condition of the requested days (degraded, pending, missing). Requests above
    --batch-above bytes become batch jobs. Keeps the DBN as received under <data-dir>/raw/
    and writes trades_{SYMBOL}_{START}_{END}.csv and ohlcv_1m_{SYMBOL}_{START}_{END}.csv in
    <data-dir>; complete files are reused.

    \b
    Example:
        cp .env.example .env    # then set DATABENTO_API_KEY=...
        vcdwh fetch
        vcdwh fetch --symbol NQ.FUT --symbol ES.c.0 --schema trades --days 3
        vcdwh fetch --start 2024-07-01 --end 2024-07-08
        vcdwh fetch --max-cost 20 --yes
        vcdwh build && vcdwh backtest
    """
    from vcdwh.fetch import DEFAULT_SCHEMAS, DEFAULT_SYMBOLS, fetch_data

    progress = _progress()
    report = fetch_data(
        settings,
        symbols=symbols or DEFAULT_SYMBOLS,
        schemas=schemas or DEFAULT_SCHEMAS,
        start=start,
        end=end,
        days=days,
        dataset=dataset,
        stype_in=stype_in,
        max_cost=max_cost,
        assume_yes=assume_yes,
        refresh=refresh,
        api_key=api_key,
        echo=progress.echo,
        batch_above=batch_above,
        progress=progress,
    )
    click.echo(report.summary())


# --- BI and scale-out ---------------------------------------------------------------------------


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown"]),
    default="table",
    show_default=True,
    help="table: one line per relation and column; markdown: one section per relation.",
)
@click.pass_obj
@reports_errors
def schema(settings: Settings, fmt: str) -> None:
    """Print the data dictionary: every relation and column with its type and description.

    Read-only; the descriptions are the COMMENT ON texts that every build writes from
    sql/schema.toml (what BI tools show).

    \b
    Example:
        vcdwh schema
        vcdwh schema --format markdown > dictionary.md
    """
    from vcdwh.dictionary import data_dictionary, format_dictionary

    click.echo(format_dictionary(data_dictionary(settings.db_path), fmt))


@cli.command()
@click.argument("out_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet"]),
    default="parquet",
    show_default=True,
    help="Output format.",
)
@click.option("--overwrite", is_flag=True, help="Replace DIR when it is not empty.")
@click.pass_obj
@reports_errors
def export(settings: Settings, out_dir: str, fmt: str, overwrite: bool) -> None:
    """Export trades, sessions and every bars table as Hive-partitioned Parquet.

    Writes DIR/trades/ and DIR/bars_<interval>/ partitioned by root= and session_date=, and
    DIR/sessions/sessions.parquet: the layout Spark, Trino and Athena read. All or nothing.

    \b
    Example:
        vcdwh export --format parquet /data/vcdwh-parquet
        vcdwh export --overwrite /data/vcdwh-parquet
    """
    from vcdwh.export import export_parquet, format_export

    report = export_parquet(settings, out_dir, overwrite=overwrite, progress=_progress())
    click.echo(format_export(report))


@cli.command(name="spark-bars")
@click.argument("parquet_dir", type=click.Path(file_okay=False, exists=True))
@click.option(
    "--frequency",
    "-f",
    default="1min",
    show_default=True,
    callback=_frequency_option,
    help="Bar interval.",
)
@click.option(
    "--master",
    default="local[2]",
    show_default=True,
    help="Spark master URL: local[N], spark://HOST:PORT, yarn, k8s://https://HOST:PORT.",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False),
    default=None,
    help="Write the bars here as Parquet (partitioned by session_date); a new or empty folder.",
)
@click.option("--show-sql", is_flag=True, help="Print the Spark SQL and exit (no Spark needed).")
@reports_errors
def spark_bars(
    parquet_dir: str, frequency: str, master: str, output: str | None, show_sql: bool
) -> None:
    """Build order-flow bars with Apache Spark from a `vcdwh export` Parquet folder.

    Runs the warehouse's own bar SQL (sql/marts/bars.sql), transpiled to Spark SQL with
    sqlglot, on PySpark. Needs the [spark] extra and Java 17.

    \b
    Example:
        vcdwh export --format parquet /data/pq
        vcdwh spark-bars /data/pq --frequency 1min --master local[2]
        vcdwh spark-bars /data/pq -f 5min --output /data/spark-bars-5min
        vcdwh spark-bars /data/pq --show-sql
    """
    from vcdwh.marts.frequency import parse_frequency
    from vcdwh.spark import format_spark_bars, run_spark_bars, spark_job_sql

    interval = parse_frequency(frequency)
    if show_sql:
        click.echo(spark_job_sql(interval))
        return
    click.echo(format_spark_bars(run_spark_bars(parquet_dir, interval, master, output)))
