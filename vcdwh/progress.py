"""Progress of long work (builds, fetches, exports, sweeps, walk-forwards).

Library functions take a :class:`Progress` and report phases and counts to it; the default,
:data:`NO_PROGRESS`, does nothing, so the library never writes to a terminal by itself. The CLI
passes :func:`terminal_progress`, which draws rich's progress bar on standard error when that
is a terminal (never when it is piped, and never with ``--quiet``), and only once the work has
taken about a second.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, TextIO

SHOW_AFTER_SECONDS = 1.0


class Progress:
    """Receives the progress of long work; this base class ignores it."""

    def phase(self, label: str, total: int | None = None, unit: str = "") -> None:
        """A new phase begins: ``label``, and ``total`` units of work if they are known;
        ``unit="bytes"`` counts bytes (shown as sizes)."""

    def advance(self, units: int = 1) -> None:
        """``units`` more units of the current phase are done."""

    def close(self) -> None:
        """The work is over (finished or failed): clear what is drawn."""

    def echo(self, line: str) -> None:
        """Print a line of the command's output to standard output (above a bar, if any)."""
        import click

        click.echo(line)


NO_PROGRESS = Progress()


class TerminalProgress(Progress):
    """rich's progress bar on a terminal, one task per phase, from ``show_after`` seconds on.

    A timer starts the display once the work has lasted ``show_after`` seconds, so short work
    draws nothing. The bar is transient (it disappears when the work ends), and lines the
    command prints meanwhile scroll above it instead of breaking it.
    """

    def __init__(self, stream: TextIO, *, show_after: float = SHOW_AFTER_SECONDS) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self._lock = threading.Lock()
        self._bars = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            count_column(),
            TimeElapsedColumn(),
            console=Console(file=stream),
            transient=True,
        )
        self._task: Any = None
        self._started = False
        self._closed = False
        self._timer = threading.Timer(show_after, self._show)
        self._timer.daemon = True
        self._timer.start()

    def phase(self, label: str, total: int | None = None, unit: str = "") -> None:
        with self._lock:
            if self._task is not None:
                self._bars.remove_task(self._task)
            self._task = self._bars.add_task(label, total=total, unit=unit)

    def advance(self, units: int = 1) -> None:
        with self._lock:
            if self._task is not None:
                self._bars.advance(self._task, units)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._closed = True
            if self._started:
                self._bars.stop()

    def echo(self, line: str) -> None:
        with self._lock:
            if not self._started:
                super().echo(line)
                return
            self._bars.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def _show(self) -> None:
        with self._lock:
            if not self._closed:
                self._started = True
                self._bars.start()


def count_column() -> Any:
    """rich's "done/total" column, in sizes (``1.2/3.4 MB``) for a phase counted in bytes."""
    from rich.filesize import decimal
    from rich.progress import DownloadColumn, MofNCompleteColumn, ProgressColumn

    class CountColumn(ProgressColumn):
        def __init__(self) -> None:
            super().__init__()
            self._units, self._bytes = MofNCompleteColumn(), DownloadColumn()

        def render(self, task: Any) -> Any:
            if task.fields.get("unit") != "bytes":
                return self._units.render(task)
            if task.total is None:
                from rich.text import Text

                return Text(decimal(int(task.completed)), style="progress.download")
            return self._bytes.render(task)

    return CountColumn()


def terminal_progress(quiet: bool = False, stream: TextIO | None = None) -> Progress:
    """A progress bar on ``stream`` (default standard error) when it is a terminal.

    Returns :data:`NO_PROGRESS` when ``quiet`` is set or when the stream or standard output is
    not a terminal, so piped or redirected output and logs carry nothing extra.
    """
    stream = stream or sys.stderr
    if quiet or not stream.isatty() or not sys.stdout.isatty():
        return NO_PROGRESS
    return TerminalProgress(stream)
