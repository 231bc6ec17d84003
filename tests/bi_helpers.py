"""A small synthetic ES week built into a warehouse with one backtest: every relation present."""

from __future__ import annotations

from pathlib import Path

from vcdwh.backtest.params import BacktestParams
from vcdwh.backtest.run import run_backtest
from vcdwh.build import build_warehouse
from vcdwh.config import Settings
from vcdwh.marts.orderflow import FlowOverrides
from vcdwh.sample import generate_sample

# Small enough to build in well under a second; still three instruments over five sessions.
SAMPLE_TRADES_PER_DAY = 2000


def build_sample_warehouse(root: Path, storage_version: str | None = None) -> Settings:
    """Generate the sample into ``root/Data``, build it (1min, 5min) and run one backtest.

    Built with ``--min-size 10`` so the optional large-lot columns exist too.
    """
    data = root / "Data"
    data.mkdir(parents=True)
    settings = Settings(data, data / "vcdwh.duckdb", storage_version)
    generate_sample(data, trades_per_day=SAMPLE_TRADES_PER_DAY)
    build_warehouse(settings, flow=FlowOverrides(min_size=10))
    run_backtest(settings, BacktestParams(threshold=100).validated())
    return settings
