"""`vcdwh build` loads regular files only: FIFOs, devices and kernel files are refused unopened.

A symlink is followed wherever it points, and loads when its target is a regular file outside
/proc, /sys and /dev. Each refusal is one line naming the file and what it is. The builds run in
a subprocess with a timeout, so a build that opens a FIFO or reads /dev/zero fails the test
instead of hanging it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import Trade, ns, write_raw_csv
from tests.procs import env

NAME = "trades_ESH4_2024-03-08_2024-03-09.csv"
SECRET = "VCDWH_TEST_SECRET=never-printed"


def vcdwh_build(data: Path, *files: str) -> subprocess.CompletedProcess[str]:
    """``vcdwh --data-dir DATA build FILES`` in a child that must finish within a minute."""
    name, value = SECRET.split("=")
    return subprocess.run(
        [sys.executable, "-m", "vcdwh", "--data-dir", str(data), "build", *files],
        capture_output=True,
        text=True,
        timeout=60,
        env=env(**{name: value}),
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture(name="data")
def fixture_data(tmp_path: Path) -> Path:
    data = tmp_path / "Data"
    data.mkdir()
    return data


def test_build_given_fifo_named_like_a_trades_file_refuses_it_without_opening(data):
    fifo = data / NAME
    os.mkfifo(fifo)
    result = vcdwh_build(data)
    assert result.returncode == 1
    assert result.stderr == f"Error: {fifo}: a FIFO (named pipe); only regular files are loaded\n"
    assert not (data / "vcdwh.duckdb").exists()


def test_build_given_fifo_as_a_file_argument_refuses_it_without_opening(tmp_path, data):
    fifo = tmp_path / "pipe.dbn.zst"
    os.mkfifo(fifo)
    result = vcdwh_build(data, str(fifo))
    assert result.returncode == 1
    assert result.stderr == f"Error: {fifo}: a FIFO (named pipe); only regular files are loaded\n"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_build_given_symlink_to_dev_zero_refuses_it_as_a_device(data):
    link = data / NAME
    link.symlink_to("/dev/zero")
    result = vcdwh_build(data)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {link}: a symlink to /dev/zero, a character device; only regular files are "
        "loaded\n"
    )


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="no /proc")
@pytest.mark.parametrize("given", ["discovered", "argument"])
def test_build_given_symlink_to_proc_environ_refuses_it_without_printing_it(tmp_path, data, given):
    link = (data if given == "discovered" else tmp_path) / NAME
    link.symlink_to("/proc/self/environ")
    result = vcdwh_build(data, *([str(link)] if given == "argument" else []))
    assert result.returncode == 1
    assert "never-printed" not in result.stdout + result.stderr
    assert result.stderr.startswith(f"Error: {link}: a symlink to /proc/")
    assert result.stderr.endswith(
        "/environ, in /proc, a kernel file system, not data; only regular files are loaded\n"
    )
    assert result.stdout == ""


def test_build_given_broken_symlink_names_it(data):
    link = data / NAME
    link.symlink_to(data / "gone.csv")
    result = vcdwh_build(data)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {link}: a symlink to {data / 'gone.csv'}, which cannot be read "
        "(No such file or directory)\n"
    )


def test_build_given_directory_named_like_a_trades_file_refuses_it(data):
    (data / NAME).mkdir()
    result = vcdwh_build(data)
    assert result.returncode == 1
    assert result.stderr == f"Error: {data / NAME}: a directory; only regular files are loaded\n"


def test_build_given_symlink_to_a_regular_file_outside_data_loads_it(tmp_path, data):
    # A data folder may link to files kept on another disk.
    elsewhere = tmp_path / "archive"
    elsewhere.mkdir()
    target = write_raw_csv(
        elsewhere / NAME, [Trade(ns("2024-03-08 15:00:00"), 5000.25, 2, "B", sequence=1)]
    )
    (data / NAME).symlink_to(target)
    result = vcdwh_build(data)
    assert result.returncode == 0, result.stderr
    assert f"loaded  {NAME}: trades (raw), 1 rows, 1 new" in result.stdout
