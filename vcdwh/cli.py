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
from vcdwh.config import DEFAULT_STORAGE_VERSION, STORAGE_VERSIONS, Settings
from vcdwh.errors import VcdwhError, error_line

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(func: F) -> F:
    """Turn library errors into ``Error: …`` (exit 1)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except VcdwhError as exc:
            raise click.ClickException(str(exc)) from exc
        except Exception as exc:
            # A DuckDB failure that no check anticipated still gets one line, not a traceback.
            if type(exc).__module__ not in ("_duckdb", "duckdb"):
                raise
            first = error_line(exc)
            raise click.ClickException(f"{first} (unexpected: please report it)") from exc

    return wrapper  # type: ignore[return-value]


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
@click.pass_context
def cli(
    ctx: click.Context, data_dir: str | None, db: str | None, storage_version: str | None
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
    help="A file whose trades conflict with trades already loaded replaces them "
    "(its instruments, over its time range) instead of stopping the build.",
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
    on_bad_rows: str,
    replace: bool,
    lock_timeout: float,
) -> None:
    """Load new trades/OHLCV files (CSV or DBN) and rebuild the order-flow bars.

    Loads every trades_*.csv, ohlcv_1m_*.csv, *.dbn and *.dbn.zst in the data folder
    that is not loaded yet, plus any FILES given, into the warehouse, then builds per
    interval bars_<interval>, footprint_<interval> and bars_<interval>_continuous, and
    rolls. All in one transaction on a copy of the warehouse that replaces it only on
    success: open readers keep working, and on any error or crash nothing changes.
    --unknown-side, --min-size/--max-size and --imbalance-ratio are stored; later builds
    keep them.

    \b
    Example:
        vcdwh build
        vcdwh build --frequency 1min --frequency 5min --frequency 30s
        vcdwh build ~/downloads/glbx-mdp3-20240701.trades.dbn.zst
        vcdwh build --unknown-side tick-rule --min-size 20 --imbalance-ratio 4
        vcdwh build --on-bad-rows skip --lock-timeout 120
    """
    from vcdwh.build import build_warehouse, format_build, format_file_line
    from vcdwh.marts.orderflow import FlowOverrides

    flow = FlowOverrides(unknown_side, min_size, max_size, imbalance_ratio)
    report = build_warehouse(
        settings,
        files,
        frequencies or None,
        on_file=lambda result: click.echo(format_file_line(result)),
        flow=flow,
        lock_timeout=lock_timeout,
        on_bad_rows=on_bad_rows,
        replace=replace,
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
@click.pass_obj
@reports_errors
def sql(settings: Settings, query: str, fmt: str) -> None:
    """Run one read-only SQL query against the warehouse and print the result.

    \b
    Example:
        vcdwh sql "select bar_start, symbol, delta, cumulative_delta from bars_1min limit 5"
        vcdwh sql --format csv "select * from bars_5min where symbol = 'ESH4'" > esh4.csv
    """
    from vcdwh.query import format_result, run_query

    click.echo(format_result(run_query(settings.db_path, query), fmt))


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


def futures_options(func: F) -> F:
    """The futures-mode options shared by ``backtest`` and ``sweep``."""
    options = [
        click.option(
            "--contracts",
            type=click.IntRange(min=1),
            default=None,
            help="Futures mode: trade this many whole contracts (P&L = points x multiplier x "
            "contracts). Without it the seed's fractional-notional long-only walk runs.",
        ),
        click.option(
            "--commission",
            type=click.FloatRange(min=0),
            default=None,
            help="Dollars per contract per side (futures mode; default from the instruments "
            "table: $2.50 for standard contracts, $0.85 for micros).",
        ),
        click.option(
            "--slippage-ticks",
            type=click.FloatRange(min=0),
            default=0.0,
            show_default=True,
            help="Ticks lost on every entry and exit fill, against the trader (futures mode).",
        ),
        click.option(
            "--side",
            type=click.Choice(["long", "short", "both"]),
            default="long",
            show_default=True,
            help="long: BUY opens, SELL closes; short: SELL opens, BUY closes; both: either "
            "opens from flat (futures mode).",
        ),
        click.option(
            "--flat-at-session-end",
            is_flag=True,
            help="Close any position at the last bar of each session (futures mode).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@cli.command()
@click.option(
    "--symbol",
    "-s",
    default=None,
    help="Instrument to trade (default: the outright with the most volume).",
)
@click.option(
    "--frequency",
    "-f",
    default="1min",
    show_default=True,
    callback=_frequency_option,
    help="Bar interval.",
)
@click.option(
    "--threshold",
    "-t",
    type=float,
    default=500,
    show_default=True,
    help="BUY when cumulative delta > threshold, SELL when < -threshold.",
)
@click.option(
    "--position-size",
    type=float,
    default=0.1,
    show_default=True,
    help="Fraction of current capital per position (seed mode; ignored with --contracts).",
)
@click.option(
    "--initial-capital", type=float, default=10_000, show_default=True, help="Starting capital."
)
@click.option(
    "--reset",
    type=click.Choice(["none", "session"]),
    default="none",
    show_default=True,
    help="none: cumulative delta over all data (seed); session: reset at each 17:00 CT open.",
)
@futures_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_lock_timeout_option
@click.pass_obj
@reports_errors
def backtest(
    settings: Settings,
    symbol: str | None,
    frequency: str,
    threshold: float,
    position_size: float,
    initial_capital: float,
    reset: str,
    contracts: int | None,
    commission: float | None,
    slippage_ticks: float,
    side: str,
    flat_at_session_end: bool,
    as_json: bool,
    lock_timeout: float,
) -> None:
    """Backtest the cumulative-delta threshold strategy and store the run.

    Seed mode (default) puts a fraction of capital into a long position; futures mode
    (--contracts N) trades whole contracts with commissions, slippage and long/short sides.

    \b
    Example:
        vcdwh backtest
        vcdwh backtest --symbol ESH4 --frequency 5min --threshold 300 \\
            --position-size 0.2 --initial-capital 25000 --reset session
        vcdwh backtest --contracts 1 --slippage-ticks 1 --side both --flat-at-session-end
        vcdwh backtest --json
    """
    import json

    from vcdwh.backtest.params import BacktestParams
    from vcdwh.backtest.run import run_backtest
    from vcdwh.backtest.text import format_run

    params = BacktestParams(
        symbol,
        frequency,
        threshold,
        position_size,
        initial_capital,
        reset,
        contracts=contracts,
        commission=commission,
        slippage_ticks=slippage_ticks,
        side=side,
        flat_at_session_end=flat_at_session_end,
    )
    result = run_backtest(settings, params, lock_timeout=lock_timeout)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    click.echo(format_run(result, chosen_by_default=symbol is None))


@cli.command()
@click.option(
    "--symbol", "-s", default=None, help="Instrument (default: the outright with the most volume)."
)
@click.option(
    "--threshold",
    "-t",
    "thresholds",
    default="100:2000:100",
    show_default=True,
    help="Thresholds: START:STOP:STEP (STOP included) or a list 100,200,500.",
)
@click.option(
    "--frequency",
    "-f",
    "frequencies",
    default="1min",
    show_default=True,
    help="Bar intervals, comma-separated (each must be built), e.g. 1min,5min.",
)
@click.option(
    "--reset",
    "resets",
    default="none",
    show_default=True,
    help="Cumulative delta resets, comma-separated: none, session.",
)
@click.option(
    "--position-size",
    type=float,
    default=0.1,
    show_default=True,
    help="Fraction of current capital per position (seed mode).",
)
@click.option(
    "--initial-capital", type=float, default=10_000, show_default=True, help="Starting capital."
)
@futures_options
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
    position_size: float,
    initial_capital: float,
    contracts: int | None,
    commission: float | None,
    slippage_ticks: float,
    side: str,
    flat_at_session_end: bool,
    split: float | None,
    by: str,
    top: int,
    as_json: bool,
    lock_timeout: float,
) -> None:
    """Backtest every threshold x frequency x reset combination and print the best.

    Each combination is stored as a normal run tagged with the sweep id (see
    backtest_runs.sweep_id and backtest_sweeps); the bars are read once per frequency
    and reset, and all runs are written in one transaction.

    \b
    Example:
        vcdwh sweep --threshold 100:2000:100 --frequency 1min,5min --reset none,session
        vcdwh sweep --contracts 1 --slippage-ticks 1 --side both --split 0.7 --by sharpe
        vcdwh report --sweep sweep-1 --out sweep.html
    """
    import json

    from vcdwh.backtest.params import BacktestParams
    from vcdwh.backtest.sweep import (
        SweepSpec,
        format_sweep,
        parse_choices,
        parse_thresholds,
        run_sweep,
    )

    base = BacktestParams(
        symbol,
        position_size=position_size,
        initial_capital=initial_capital,
        contracts=contracts,
        commission=commission,
        slippage_ticks=slippage_ticks,
        side=side,
        flat_at_session_end=flat_at_session_end,
    )
    spec = SweepSpec(
        thresholds=parse_thresholds(thresholds),
        frequencies=parse_choices("--frequency", frequencies),
        resets=parse_choices("--reset", resets, ("none", "session")),
        base=base,
        split=split,
        by=by,
        top=top,
    )
    result = run_sweep(settings, spec, lock_timeout=lock_timeout)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    click.echo(format_sweep(result, top))


@cli.command()
@click.argument("run_id", type=int, required=False)
@click.option("--sweep", "sweep_id", default=None, help="Report a sweep instead of one run.")
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
@click.pass_obj
@reports_errors
def report(
    settings: Settings, run_id: int | None, sweep_id: str | None, out: str, by: str | None
) -> None:
    """Write a self-contained HTML report of a run (default: the latest outside sweeps) or sweep.

    A run: price candles, cumulative delta beneath, entries and exits, equity and
    drawdown, the metrics and the trade list. A sweep: a heatmap of a metric over
    threshold x frequency per reset, and every run. Works offline (plotly inlined).

    \b
    Example:
        vcdwh report --out report.html
        vcdwh report 12 --out run12.html
        vcdwh report --sweep sweep-1 --by sharpe --out sweep.html
    """
    from pathlib import Path

    from vcdwh.report import write_report

    written = write_report(settings, Path(out), run_id=run_id, sweep_id=sweep_id, by=by)
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
    api_key: str | None,
) -> None:
    """Download Databento trades and 1-minute bars into seed-named CSVs.

    Prices each request with Databento first and stops above --max-cost. Keeps the DBN as
    received under <data-dir>/raw/ and writes trades_{SYMBOL}_{START}_{END}.csv and
    ohlcv_1m_{SYMBOL}_{START}_{END}.csv in <data-dir>; complete files are reused.

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
        echo=click.echo,
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
    from vcdwh.warehouse.catalog import data_dictionary, format_dictionary

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

    click.echo(format_export(export_parquet(settings, out_dir, overwrite=overwrite)))


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
