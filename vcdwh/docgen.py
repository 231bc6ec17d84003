"""Generate the reference pages ``docs/cli.md`` and ``docs/data-dictionary.md``.

Both pages are generated, never edited by hand: ``docs/cli.md`` from the ``--help`` of ``vcdwh``
and of every command, ``docs/data-dictionary.md`` from ``vcdwh schema --format markdown`` over
a warehouse built from the offline sample. ``tests/test_docs.py`` fails when either page differs
from what this module produces now.

Run from the repository root::

    python -m vcdwh.docgen            # rewrite both pages
    python -m vcdwh.docgen --check    # exit 1 if a page is out of date
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import click

from vcdwh.config import Settings
from vcdwh.marts.frequency import EventBars

REGENERATE = "python -m vcdwh.docgen"
CLI_PAGE = "cli.md"
DICTIONARY_PAGE = "data-dictionary.md"
HELP_WIDTH = 100

# The smallest offline sample that yields every relation a build makes (both default bar
# intervals, their footprints and continuous series, rolls, the views).
SAMPLE_DAYS = 2
SAMPLE_TRADES_PER_DAY = 200
SAMPLE_EVENT_BARS = (EventBars("t", 100), EventBars("v", 200), EventBars("r", 8))
SAMPLE_BUILD_OPTIONS = " ".join(bars.build_option for bars in SAMPLE_EVENT_BARS)
SAMPLE_START = date(2024, 3, 3)
SAMPLE_SEED = 42


def _context(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
    """The context ``vcdwh ... --help`` renders in, at a fixed width.

    ``make_context`` applies the command's ``context_settings`` (``-h`` as well as ``--help``),
    as the real command line does; the fixed width keeps the page independent of the terminal.
    """
    return command.make_context(
        name,
        [],
        parent=parent,
        resilient_parsing=True,  # parse nothing: no callbacks, no missing-argument errors
        terminal_width=HELP_WIDTH,
        max_content_width=HELP_WIDTH,
    )


def cli_reference() -> str:
    """The text of ``docs/cli.md``: the ``--help`` of ``vcdwh`` and of every command.

    Commands come in the order ``vcdwh --help`` lists them (by name), each rendered at a fixed
    width of 100 columns so the page does not depend on the terminal.

    Returns
    -------
    str
        Markdown ending with one newline.
    """
    from vcdwh.cli import cli

    root = _context(cli, "vcdwh", None)
    out = [
        "# CLI reference",
        "",
        "Generated from `vcdwh --help` and the `--help` of every command; do not edit by hand.",
        f"Regenerate with `{REGENERATE}` from the repository root "
        f"(`{REGENERATE} --check` only checks).",
        "",
        "## vcdwh",
        "",
        "```text",
        cli.get_help(root),
        "```",
    ]
    for name in cli.list_commands(root):
        command = cli.get_command(root, name)
        if command is None:  # pragma: no cover - list_commands only names registered commands
            continue
        text = command.get_help(_context(command, name, root))
        out += ["", f"## vcdwh {name}", "", "```text", text, "```"]
    return "\n".join(out) + "\n"


def build_sample_warehouse(folder: Path) -> Settings:
    """Write the offline sample into ``folder/Data`` and build a warehouse from it.

    The same as ``vcdwh sample --days 2 --trades-per-day 200`` then ``vcdwh build`` with
    ``--data-dir folder/Data``.

    Parameters
    ----------
    folder : Path
        An empty folder (a temporary one).

    Returns
    -------
    Settings
        The data folder and warehouse file that were built.
    """
    from vcdwh.build import build_warehouse
    from vcdwh.sample import generate_sample

    settings = Settings.resolve(folder / "Data")
    generate_sample(
        settings.data_dir,
        days=SAMPLE_DAYS,
        start=SAMPLE_START,
        seed=SAMPLE_SEED,
        trades_per_day=SAMPLE_TRADES_PER_DAY,
    )
    build_warehouse(settings, event_bars=[bars.name for bars in SAMPLE_EVENT_BARS])
    return settings


def data_dictionary(settings: Settings | None = None) -> str:
    """The text of ``docs/data-dictionary.md``: ``vcdwh schema --format markdown`` with a header.

    Parameters
    ----------
    settings : Settings, optional
        A built warehouse to describe. By default the offline sample is built in a temporary
        folder (see :func:`build_sample_warehouse`), which takes about a second.

    Returns
    -------
    str
        Markdown ending with one newline.
    """
    from vcdwh.dictionary import data_dictionary as read_dictionary
    from vcdwh.dictionary import format_dictionary

    if settings is None:
        with tempfile.TemporaryDirectory(prefix="vcdwh-docgen-") as folder:
            return data_dictionary(build_sample_warehouse(Path(folder)))
    body = format_dictionary(read_dictionary(settings.db_path), "markdown")
    header = [
        "# Data dictionary",
        "",
        "Every table and view of a warehouse with its columns, types and descriptions (the",
        "`COMMENT ON` texts every build writes from `sql/schema.toml`, which BI tools show).",
        "Relations of one pattern with the same columns share a section; a build makes",
        "`bars_<interval>`, `footprint_<interval>` and `bars_<interval>_continuous` for each",
        "interval it builds (here the default 1min and 5min), and `bars_<N>t`, `bars_<N>v`,",
        "`bars_<R>r` with their `footprint_…` for each tick, volume and range bar set.",
        "",
        "Generated, do not edit by hand: this is the output of `vcdwh schema --format markdown`",
        f"over a warehouse built by `vcdwh sample --days {SAMPLE_DAYS} --trades-per-day "
        f"{SAMPLE_TRADES_PER_DAY}` and `vcdwh build {SAMPLE_BUILD_OPTIONS}`.",
        f"Regenerate with `{REGENERATE}` from the repository root "
        f"(`{REGENERATE} --check` only checks).",
        "",
    ]
    return "\n".join(header) + "\n" + body + "\n"


def pages() -> dict[str, str]:
    """Every generated page: file name under ``docs/`` to its text."""
    return {CLI_PAGE: cli_reference(), DICTIONARY_PAGE: data_dictionary()}


def main(argv: Sequence[str] | None = None) -> int:
    """Write the generated pages, or with ``--check`` report those that are out of date.

    Returns
    -------
    int
        0 when the pages were written or are up to date, 1 when ``--check`` found drift.
    """
    parser = argparse.ArgumentParser(
        prog="python -m vcdwh.docgen",
        description="Generate docs/cli.md and docs/data-dictionary.md.",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a page is out of date"
    )
    parser.add_argument(
        "--docs-dir", type=Path, default=Path("docs"), help="folder of the pages (default: docs)"
    )
    args = parser.parse_args(argv)
    stale = []
    for name, text in pages().items():
        path = args.docs_dir / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if args.check and stale:
        for path in stale:
            print(f"{path} is out of date; run `{REGENERATE}`", file=sys.stderr)
        return 1
    if not stale:
        print("docs are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
