"""vcdwh: the volume cumulative delta warehouse.

Databento futures trades become order-flow bars (buy/sell volume, delta, cumulative delta) in an
embedded DuckDB file, queried with SQL and backtested with delta-threshold strategies. The seed's
Python API (``DatabentoFetcher``, ``VolumeCalculator``, ``run_full_backtest``) is importable from
here; it is loaded lazily so that ``vcdwh --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

from vcdwh._version import __version__

_SEED_NAMES = ("DatabentoFetcher", "VolumeCalculator", "run_full_backtest")


def __getattr__(name: str) -> Any:
    if name in _SEED_NAMES:
        from vcdwh import seed

        return getattr(seed, name)
    raise AttributeError(f"module 'vcdwh' has no attribute {name!r}")


__all__ = ["__version__", *_SEED_NAMES]
