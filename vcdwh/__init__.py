"""vcdwh: the volume cumulative delta warehouse.

Databento futures trades become order-flow bars (buy/sell volume, delta, cumulative delta) in an
embedded DuckDB file, queried with SQL and backtested with delta-threshold strategies. The seed's
Python API (``DatabentoFetcher``, ``VolumeCalculator``, ``run_full_backtest``) and the notebook API
(``vcdwh.open`` and its ``Warehouse``, see :mod:`vcdwh.api`) are importable from here; they are
loaded lazily so that ``vcdwh --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

from vcdwh._version import __version__

_SEED_NAMES = ("DatabentoFetcher", "VolumeCalculator", "run_full_backtest")
_API_NAMES = ("open", "Warehouse")


def __getattr__(name: str) -> Any:
    if name in _SEED_NAMES:
        from vcdwh import seed

        return getattr(seed, name)
    if name in _API_NAMES:
        from vcdwh import api

        return getattr(api, name)
    raise AttributeError(f"module 'vcdwh' has no attribute {name!r}")


# ``open`` is left out of ``__all__`` so that ``from vcdwh import *`` cannot shadow the builtin.
__all__ = ["Warehouse", "__version__", *_SEED_NAMES]
