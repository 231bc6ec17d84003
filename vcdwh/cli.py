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

from vcdwh import __version__
from vcdwh.config import Settings
from vcdwh.errors import VcdwhError

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(func: F) -> F:
    """Turn library errors into ``Error: …`` (exit 1)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except VcdwhError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vcdwh")
@click.option("--data-dir", type=click.Path(file_okay=False), envvar="VCDWH_DATA_DIR",
              default=None, help="Folder of CSV/DBN files (env VCDWH_DATA_DIR, default ./Data).")
@click.option("--db", type=click.Path(dir_okay=False), envvar="VCDWH_DB", default=None,
              help="Warehouse file (env VCDWH_DB, default <data-dir>/vcdwh.duckdb).")
@click.pass_context
def cli(ctx: click.Context, data_dir: str | None, db: str | None) -> None:
    """vcdwh: Databento futures trades into order-flow bars in DuckDB, and delta backtests.

    \b
    Example:
        vcdwh sample && vcdwh build && vcdwh backtest
        vcdwh sql "select bar_start, symbol, delta, cumulative_delta from bars_1min limit 5"
    """
    ctx.obj = Settings.resolve(data_dir, db)


# --- fetch --------------------------------------------------------------------------------------

FETCH_SCHEMAS = ("trades", "ohlcv-1m")
FETCH_STYPES = ("raw_symbol", "parent", "continuous", "instrument_id")


@cli.command()
@click.option("--symbol", "symbols", multiple=True, metavar="SYMBOL",
              help="Symbol to fetch; repeat for more (default ES.FUT). ES.FUT is a parent, "
                   "ES.c.0/ES.v.0/ES.n.0 continuous, anything else a raw symbol like ESU4.")
@click.option("--schema", "schemas", multiple=True, type=click.Choice(FETCH_SCHEMAS),
              help="Schema to fetch; repeat for both (default trades and ohlcv-1m).")
@click.option("--start", default=None, metavar="YYYY-MM-DD",
              help="First day (inclusive, UTC). Default: --days before --end.")
@click.option("--end", default=None, metavar="YYYY-MM-DD",
              help="End day (exclusive, UTC); clamped to what Databento has published. "
                   "Default: today.")
@click.option("--days", type=int, default=None,
              help="Days to fetch when --start or --end is missing (default 7).")
@click.option("--dataset", default="GLBX.MDP3", show_default=True,
              help="Databento dataset code.")
@click.option("--stype-in", type=click.Choice(FETCH_STYPES), default=None,
              help="Symbology of every --symbol (default: inferred from each symbol).")
@click.option("--max-cost", type=float, default=5.0, show_default=True,
              help="Stop before downloading if Databento's cost estimate (USD) is above this.")
@click.option("--yes", "assume_yes", is_flag=True,
              help="Download even when the estimate is above --max-cost.")
@click.option("--refresh", is_flag=True,
              help="Download again even when complete files already exist.")
@click.option("--api-key", default=None, metavar="KEY",
              help="Databento API key (default: DATABENTO_API_KEY from the environment or "
                   "./.env; prefer those, a key on the command line is visible to other users).")
@click.pass_obj
@reports_errors
def fetch(settings: Settings, symbols: tuple[str, ...], schemas: tuple[str, ...],
          start: str | None, end: str | None, days: int | None, dataset: str,
          stype_in: str | None, max_cost: float, assume_yes: bool, refresh: bool,
          api_key: str | None) -> None:
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
