"""A run's parameters, validated once, and the result of a stored run."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from vcdwh.errors import BacktestError
from vcdwh.marts.frequency import EventBars, Frequency, parse_bar_set

RESETS = {
    "none": "cumulative_delta",
    "session": "session_cumulative_delta",
    "rth": "rth_cumulative_delta",
}
SIDES = ("long", "short", "both")
ENTRIES = ("close", "next-open")
TARGET_FILLS = ("through", "touch")
HOURS = ("all", "rth", "eth")
"""``--hours``: the bars that may open a position: all, only RTH bars (``is_rth``), or only
the others (electronic trading hours)."""
SIZINGS = ("seed", "contracts", "auto")
"""``seed``: a fraction of capital per position, long only (the seed's walk); ``contracts``:
whole contracts with the real multiplier and commission; ``auto``: one contract when vcdwh
knows the instrument's contract specification, else the seed's sizing."""


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
    hours: str = "all"
    flat_at_rth_end: bool = False
    signal: str = "cumulative_delta"
    signal_params: tuple[tuple[str, int | float | str], ...] = ()
    entry: str = "close"
    stop_ticks: float | None = None
    target_ticks: float | None = None
    trail_ticks: float | None = None
    max_bars: int | None = None
    target_fill: str = "through"
    sizing: str = "seed"

    @property
    def interval(self) -> Frequency | EventBars:
        """The bar interval or tick/volume/range bar set (``frequency`` parsed), which names the
        relations a run reads."""
        return parse_bar_set(self.frequency)

    @property
    def futures(self) -> bool:
        """True when whole contracts are traded (``sizing`` resolved to ``contracts``)."""
        return self.sizing == "contracts"

    @property
    def tape_exits(self) -> bool:
        """True when an exit is resolved on the trade tape (a stop, target or trailing stop)."""
        return any(v is not None for v in (self.stop_ticks, self.target_ticks, self.trail_ticks))

    @property
    def run_values(self) -> dict[str, int | float | str]:
        """What the run binds to a signal that uses them: ``$threshold`` and ``$reset``."""
        return {"threshold": self.threshold, "reset": self.reset}

    def validated(self) -> BacktestParams:
        """Check every parameter; return a copy in canonical form.

        Raises
        ------
        BacktestError
            Naming the option and the accepted range.
        """
        frequency = parse_bar_set(self.frequency).name
        if not _finite(self.threshold) or self.threshold < 0:
            raise BacktestError(f"--threshold {self.threshold} must be a number ≥ 0")
        if not _finite(self.position_size) or not 0 < self.position_size <= 1:
            raise BacktestError(
                f"--position-size {self.position_size} must be a fraction of capital in (0, 1]"
            )
        if not _finite(self.initial_capital) or self.initial_capital <= 0:
            raise BacktestError(f"--initial-capital {self.initial_capital} must be positive")
        if self.hours not in HOURS:
            raise BacktestError(f"--hours {self.hours!r} must be one of: {', '.join(HOURS)}")
        if self.flat_at_session_end and self.flat_at_rth_end:
            raise BacktestError(
                "--flat-at-session-end takes one value: session (the default) or rth"
            )
        if self.reset not in RESETS:
            raise BacktestError(f"--reset {self.reset!r} must be one of: {', '.join(RESETS)}")
        sizing = self.sizing
        if self.contracts is not None and sizing == "seed":
            sizing = "contracts"  # --contracts N selects whole contracts
        if sizing not in SIZINGS:
            raise BacktestError(f"sizing {sizing!r} must be one of: {', '.join(SIZINGS)}")
        self._validate_execution()
        checked = replace(
            self,
            frequency=frequency,
            threshold=float(self.threshold),
            position_size=float(self.position_size),
            initial_capital=float(self.initial_capital),
            commission=None if self.commission is None else float(self.commission),
            slippage_ticks=float(self.slippage_ticks),
            sizing=sizing,
            signal_params=tuple(sorted(dict(self.signal_params).items())),
        )
        if sizing == "seed":
            checked._validate_seed_only()
        return checked

    def with_sizing(self, known_spec: bool) -> BacktestParams:
        """``auto`` resolved: one contract when the contract spec is known, else the seed's.

        Raises
        ------
        BacktestError
            If options that need contracts were given for an instrument vcdwh has no spec of.
        """
        if self.sizing != "auto":
            return self
        if known_spec:
            return replace(self, sizing="contracts", contracts=self.contracts or 1)
        resolved = replace(self, sizing="seed")
        resolved._validate_seed_only()
        return resolved

    def _validate_execution(self) -> None:
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
        if self.entry not in ENTRIES:
            raise BacktestError(f"--entry {self.entry!r} must be one of: {', '.join(ENTRIES)}")
        if self.target_fill not in TARGET_FILLS:
            raise BacktestError(
                f"--target-fill {self.target_fill!r} must be one of: {', '.join(TARGET_FILLS)}"
            )
        for option, value in (
            ("--stop-ticks", self.stop_ticks),
            ("--target-ticks", self.target_ticks),
            ("--trail-ticks", self.trail_ticks),
        ):
            if value is not None and (not _finite(value) or value <= 0):
                raise BacktestError(f"{option} {value} must be a number of ticks > 0")
        if self.max_bars is not None and (
            isinstance(self.max_bars, bool)
            or not isinstance(self.max_bars, int)
            or self.max_bars < 1
        ):
            raise BacktestError(f"--max-bars {self.max_bars} must be a whole number ≥ 1")
        if not isinstance(self.signal, str) or not self.signal:
            raise BacktestError("--signal must name a built-in signal or a .sql file")

    def _validate_seed_only(self) -> None:
        seed_only = {
            "--side": self.side != "long",
            "--commission": self.commission not in (None, 0),
            "--slippage-ticks": self.slippage_ticks != 0,
            "--flat-at-session-end": bool(self.flat_at_session_end or self.flat_at_rth_end),
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
        data["params"]["signal_params"] = dict(self.params.signal_params)
        data["metrics"] = {k: _json_number(v) for k, v in self.metrics.items()}
        if self.spec is None:
            del data["spec"]
        return data


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value
