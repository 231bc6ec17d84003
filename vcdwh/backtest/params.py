"""A run's parameters, validated once, and the result of a stored run."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from vcdwh.errors import BacktestError
from vcdwh.marts.frequency import Frequency, parse_frequency

RESETS = {"none": "cumulative_delta", "session": "session_cumulative_delta"}


SIDES = ("long", "short", "both")


@dataclass(frozen=True)
class BacktestParams:
    """Everything a run depends on (the seed's defaults)."""

    symbol: str | None = None
    frequency: str = "1min"
    threshold: float = 500
    position_size: float = 0.1
    initial_capital: float = 10_000
    reset: str = "none"
    contracts: int | None = None
    commission: float | None = None
    slippage_ticks: float = 0.0
    side: str = "long"
    flat_at_session_end: bool = False

    @property
    def interval(self) -> Frequency:
        """The bar interval (``frequency`` parsed), which names the relations a run reads."""
        return parse_frequency(self.frequency)

    @property
    def futures(self) -> bool:
        """True in futures mode (whole contracts; see :mod:`vcdwh.backtest.futures`)."""
        return self.contracts is not None

    def validated(self) -> BacktestParams:
        """Check every parameter; return a copy with the frequency in canonical form.

        Raises
        ------
        BacktestError
            Naming the option and the accepted range.
        """
        frequency = parse_frequency(self.frequency).name
        if not _finite(self.threshold) or self.threshold < 0:
            raise BacktestError(f"--threshold {self.threshold} must be a number ≥ 0")
        if not _finite(self.position_size) or not 0 < self.position_size <= 1:
            raise BacktestError(
                f"--position-size {self.position_size} must be a fraction of capital in (0, 1]"
            )
        if not _finite(self.initial_capital) or self.initial_capital <= 0:
            raise BacktestError(f"--initial-capital {self.initial_capital} must be positive")
        if self.reset not in RESETS:
            raise BacktestError(f"--reset {self.reset!r} must be one of: {', '.join(RESETS)}")
        self._validate_futures()
        return replace(
            self,
            frequency=frequency,
            threshold=float(self.threshold),
            position_size=float(self.position_size),
            initial_capital=float(self.initial_capital),
            commission=None if self.commission is None else float(self.commission),
            slippage_ticks=float(self.slippage_ticks),
        )

    def _validate_futures(self) -> None:
        if self.contracts is not None and (
            isinstance(self.contracts, bool)
            or not isinstance(self.contracts, int)
            or self.contracts < 1
        ):
            raise BacktestError(f"--contracts {self.contracts} must be a whole number ≥ 1")
        if self.commission is not None and (not _finite(self.commission) or self.commission < 0):
            raise BacktestError(f"--commission {self.commission} must be a number ≥ 0")
        if not _finite(self.slippage_ticks) or self.slippage_ticks < 0:
            raise BacktestError(f"--slippage-ticks {self.slippage_ticks} must be a number ≥ 0")
        if self.side not in SIDES:
            raise BacktestError(f"--side {self.side!r} must be one of: {', '.join(SIDES)}")
        if self.contracts is None:
            seed_only = {
                "--side": self.side != "long",
                "--commission": self.commission not in (None, 0),
                "--slippage-ticks": self.slippage_ticks != 0,
                "--flat-at-session-end": bool(self.flat_at_session_end),
            }
            for option, given in seed_only.items():
                if given:
                    raise BacktestError(
                        f"{option} needs --contracts N (futures mode); without it the seed's "
                        "long-only fractional-notional walk runs"
                    )


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


@dataclass
class BacktestResult:
    """A stored run: its id, parameters, instrument, data range and metrics."""

    run_id: int
    params: BacktestParams
    symbol: str
    instrument_id: int
    data_start: str
    data_end: str
    bar_count: int
    metrics: dict[str, Any]
    trades: list[dict[str, Any]] = field(default_factory=list)
    spec: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        data = asdict(self)
        data["params"] = asdict(self.params)
        data["metrics"] = {k: _json_number(v) for k, v in self.metrics.items()}
        if self.spec is None:
            del data["spec"]
        return data


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value
