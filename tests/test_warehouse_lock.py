"""A warehouse held read-write by another program: vcdwh waits --lock-timeout, then one line."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from tests.conftest import ESU4_TRADES
from vcdwh.cli import cli


@pytest.mark.slow
def test_build_given_warehouse_locked_by_another_process_says_so(shared, build, settings):
    build([shared / "csv" / f"{ESU4_TRADES}.pretty.csv"])
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
            " time.sleep(30)",
            str(settings.db_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        started = time.monotonic()
        result = CliRunner().invoke(
            cli, ["--data-dir", str(settings.data_dir), "build", "--lock-timeout", "1.5"]
        )
        waited = time.monotonic() - started
        assert 1.5 <= waited < 20
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert result.output.startswith(
        f"Error: {settings.db_path} is locked by another process (PID {holder.pid});"
    )
    assert "waited 1.5 s: close that program's connection" in result.output
    assert len(result.output.strip().splitlines()) == 1
