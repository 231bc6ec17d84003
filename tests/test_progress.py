"""Progress bars: drawn on a terminal for work that lasts, never when output is piped or quiet."""

from __future__ import annotations

import io
import os
import pty
import re
import sys
import time
from pathlib import Path

import pytest

from tests.procs import env
from vcdwh.progress import NO_PROGRESS, Progress, TerminalProgress, terminal_progress

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run_in_terminal(*args: str) -> str:
    """Run ``python -m vcdwh ARGS`` with stdout and stderr on a pseudo-terminal; its output."""
    pid, fd = pty.fork()
    if pid == 0:  # the child
        os.execve(sys.executable, [sys.executable, "-m", "vcdwh", *args], env())
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return b"".join(chunks).decode(errors="replace")


def test_no_progress_when_standard_error_is_not_a_terminal():
    assert terminal_progress(stream=io.StringIO()) is NO_PROGRESS


def test_no_progress_when_quiet_even_on_a_terminal():
    assert terminal_progress(quiet=True, stream=_Terminal()) is NO_PROGRESS


def test_default_progress_ignores_everything():
    progress = Progress()
    progress.phase("loading files", 3)
    progress.advance()
    progress.close()


def test_terminal_progress_draws_each_phase_once_the_work_lasts():
    stream = _Terminal()
    progress = TerminalProgress(stream, show_after=0.0)
    time.sleep(0.2)
    progress.phase("loading files", 2)
    progress.advance()
    time.sleep(0.3)
    progress.phase("building bars and footprints")
    time.sleep(0.3)
    progress.close()
    drawn = ANSI.sub("", stream.getvalue())
    assert "loading files" in drawn and "1/2" in drawn
    assert "building bars and footprints" in drawn


def test_terminal_progress_draws_nothing_for_short_work():
    stream = _Terminal()
    progress = TerminalProgress(stream, show_after=5.0)
    progress.phase("loading files", 1)
    progress.advance()
    progress.close()
    assert stream.getvalue() == ""


@pytest.fixture(name="sample_dir")
def fixture_sample_dir(tmp_path: Path) -> Path:
    from vcdwh.sample import generate_sample

    generate_sample(tmp_path / "Data", trades_per_day=150_000)
    return tmp_path / "Data"


@pytest.mark.slow
def test_build_on_a_terminal_shows_its_phases_and_keeps_the_file_lines_whole(sample_dir):
    out = _run_in_terminal("--data-dir", str(sample_dir), "build")
    plain = ANSI.sub("", out)
    # The bar appears once the build has lasted a second: by then it is past loading this
    # small sample on a fast machine, but still building the bars.
    assert "building bars and footprints" in plain
    lines = [line.split("\r")[-1] for line in plain.splitlines()]
    assert sum(line.startswith("loaded  ") for line in lines) == 2
    assert any(line.startswith("2 file(s) loaded") for line in lines)


@pytest.mark.slow
def test_build_quiet_on_a_terminal_draws_no_bar(sample_dir):
    out = _run_in_terminal("--data-dir", str(sample_dir), "--quiet", "build")
    assert "\x1b" not in out
    assert "loading files" not in out
    assert "2 file(s) loaded" in out


@pytest.mark.slow
def test_build_piped_prints_only_its_lines(sample_dir):
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "vcdwh", "--data-dir", str(sample_dir), "build"],
        capture_output=True,
        text=True,
        env=env(),
        check=True,
    )
    assert done.stderr == ""
    assert "\x1b" not in done.stdout and "loading files" not in done.stdout


@pytest.mark.parametrize(
    ("unit", "completed", "total", "shown"),
    [
        ("", 3, 10, "3/10"),
        ("bytes", 1_500_000, None, "1.5 MB"),
        ("bytes", 1_500_000, 3_000_000, "1.5/3.0 MB"),
    ],
)
def test_terminalcount_column_given_a_phase_in_bytes_shows_sizes(unit, completed, total, shown):
    from rich.progress import Progress as RichProgress

    from vcdwh.progress import count_column

    bars = RichProgress()
    task_id = bars.add_task("downloading", total=total, unit=unit)
    bars.update(task_id, completed=completed)
    [task] = bars.tasks
    assert count_column().render(task).plain.replace(" ", "") == shown.replace(" ", "")
