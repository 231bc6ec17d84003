"""Bar intervals: parse ``1min``, ``5min``, ``30s``, ``1h`` and give the canonical relation name;
the tick, volume and range bar sets (``1000t``, ``500v``, ``8r``) are named here too."""

from __future__ import annotations

import re
from dataclasses import dataclass

from vcdwh.errors import ConfigError

_PATTERN = re.compile(
    r"^\s*(\d+)\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours)\s*$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
_EVENT_PATTERN = re.compile(r"^\s*(\d+)\s*([tvr])\s*$", re.IGNORECASE)
EVENT_OPTIONS = {"t": "--tick-bars", "v": "--volume-bars", "r": "--range-bars"}
MAX_EVENT_SIZE = 1_000_000_000
MAX_SECONDS = 24 * 3600
DEFAULT_FREQUENCIES = ("1min", "5min")


class BarSet:
    """A set of bars built together: named by :attr:`name`, stored as ``bars_<name>`` and
    ``footprint_<name>``."""

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def bars_relation(self) -> str:
        """Name of the bars relation, e.g. ``bars_5min``, ``bars_500v``."""
        return f"bars_{self.name}"

    @property
    def footprint_relation(self) -> str:
        """Name of the footprint relation, e.g. ``footprint_5min``, ``footprint_500v``."""
        return f"footprint_{self.name}"


@dataclass(frozen=True, order=True)
class Frequency(BarSet):
    """A bar interval of a whole number of seconds."""

    seconds: int

    @property
    def name(self) -> str:
        """Canonical name: ``30s``, ``5min``, ``1h``."""
        if self.seconds % 3600 == 0:
            return f"{self.seconds // 3600}h"
        if self.seconds % 60 == 0:
            return f"{self.seconds // 60}min"
        return f"{self.seconds}s"

    @property
    def nanoseconds(self) -> int:
        """The interval in nanoseconds."""
        return self.seconds * 1_000_000_000

    @property
    def continuous_relation(self) -> str:
        """Name of the roots' continuous bars for this interval, e.g. ``bars_5min_continuous``."""
        return f"{self.bars_relation}_continuous"


def parse_frequency(text: str) -> Frequency:
    """Parse a bar interval such as ``1min``, ``5min``, ``30s`` or ``1h``.

    Raises
    ------
    ConfigError
        If the text is not a whole number of seconds, minutes or hours between 1s and 24h.
    """
    match = _PATTERN.match(str(text))
    if not match:
        raise ConfigError(
            f"--frequency {text!r} is not a bar interval; use a whole number of seconds, "
            "minutes or hours such as 30s, 1min, 5min, 1h"
        )
    count, unit = int(match.group(1)), match.group(2).lower()[0]
    seconds = count * _UNIT_SECONDS[unit]
    if not 1 <= seconds <= MAX_SECONDS:
        raise ConfigError(f"--frequency {text!r} must be between 1s and 24h")
    return Frequency(seconds)


@dataclass(frozen=True, order=True)
class EventBars(BarSet):
    """A set of tick (``t``), volume (``v``) or range (``r``, in ticks) bars of a given size."""

    kind: str
    size: int

    @property
    def name(self) -> str:
        """Canonical name: ``1000t``, ``500v``, ``8r``."""
        return f"{self.size}{self.kind}"

    @property
    def build_option(self) -> str:
        """The ``vcdwh build`` option that builds this set, e.g. ``--volume-bars 500``."""
        return f"{EVENT_OPTIONS[self.kind]} {self.size}"


def parse_event_bars(text: str) -> EventBars:
    """Parse a tick, volume or range bar set such as ``1000t``, ``500v`` or ``8r``.

    Raises
    ------
    ConfigError
        If the text is not a whole number ≥ 1 followed by t, v or r.
    """
    match = _EVENT_PATTERN.match(str(text))
    if not match:
        raise ConfigError(
            f"{text!r} is not a tick, volume or range bar set; use a whole number and t, v or r "
            "such as 1000t, 500v, 8r"
        )
    size = int(match.group(1))
    if not 1 <= size <= MAX_EVENT_SIZE:
        raise ConfigError(f"{text!r}: the bar size must be from 1 to {MAX_EVENT_SIZE}")
    return EventBars(match.group(2).lower(), size)


def parse_bar_set(text: str) -> Frequency | EventBars:
    """A time interval (``5min``) or a tick, volume or range bar set (``1000t``, ``500v``, ``8r``),
    as the backtest and sweep take them.

    Raises
    ------
    ConfigError
        If the text is neither.
    """
    if _EVENT_PATTERN.match(str(text)):
        return parse_event_bars(text)
    return parse_frequency(text)
