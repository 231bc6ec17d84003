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
