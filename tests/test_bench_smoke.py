"""A small run of the benchmark so it never rots: it must finish and its bars must match."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_benchmark_smoke_run_matches_pandas_polars_and_duckdb_floor_bars(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            "--trades",
            "20000",
            "--repeat",
            "1",
            "--quick",
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "pandas: match" in result.stdout
    assert "floor_work: match" in result.stdout
    assert "floor_contract: bars, footprint levels and" in result.stdout
    for step in (
        "floor_parse",
        "floor_store",
        "floor_store_capped",
        "floor_store_unordered",
        "floor_work",
        "floor_work_dbn",
        "floor_contract",
        "floor_contract_dbn",
        "build_csv",
        "build_dbn",
        "dbn_decode",
        "incremental",
        "warm query",
    ):
        assert f"| {step}" in result.stdout
    assert "heavy imports: []" in result.stdout
    if importlib.util.find_spec("polars") is not None:
        assert "polars: match" in result.stdout
        assert "| polars_streamed" in result.stdout and "| polars_eager" in result.stdout
    assert "| warm query: backtest_walk_1m_bars" in result.stdout
