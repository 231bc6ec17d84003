"""Build options that change what the order-flow marts mean, kept in ``build_settings``.

``--unknown-side`` (how side-N trades are counted), ``--min-size``/``--max-size`` (the large-lot
filter on aggressor events), ``--imbalance-ratio`` (footprint diagonal imbalances) and
``--value-area-pct`` (the share of a session's volume its value area holds), ``--ticks-per-level``
(footprint level size) and ``--imbalance-min-volume`` (footprint imbalance floor) are stored
in the warehouse, one row per key. A later ``vcdwh build`` without them keeps the stored values;
giving one changes only that key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from vcdwh.errors import ConfigError
from vcdwh.warehouse.settings import read_settings, write_settings

if TYPE_CHECKING:
    import duckdb

UNKNOWN_SIDE_POLICIES = ("exclude", "tick-rule")
DEFAULT_IMBALANCE_RATIO = 3.0
DEFAULT_VALUE_AREA_PCT = 70.0
OFF = "off"


@dataclass(frozen=True)
class FlowOptions:
    """The settings the bars, footprint and continuous marts are built with.

    Parameters
    ----------
    unknown_side : str
        ``exclude`` (side N stays unknown, the Databento truth) or ``tick-rule``.
    min_size : int or None
        Smallest aggressor event counted as a large lot; None turns the large-lot columns off.
    max_size : int or None
        Largest aggressor event counted as a large lot; None means no upper bound.
    imbalance_ratio : float
        Footprint diagonal imbalance ratio (≥ 1).
    value_area_pct : float
        Share of a session's volume its value area holds, in percent (1 to 100).
    ticks_per_level : int
        Footprint level size in ticks (≥ 1).
    imbalance_min_volume : int
        Smallest dominant-side volume of a footprint imbalance (≥ 0).
    """

    unknown_side: str = "exclude"
    min_size: int | None = None
    max_size: int | None = None
    imbalance_ratio: float = DEFAULT_IMBALANCE_RATIO
    value_area_pct: float = DEFAULT_VALUE_AREA_PCT
    ticks_per_level: int = 1
    imbalance_min_volume: int = 0

    @property
    def large_lot(self) -> bool:
        """True when the large-lot columns are built."""
        return self.min_size is not None

    @property
    def whole_history(self) -> bool:
        """True when placing a trade needs windows over its instrument's whole history (the tick
        rule, the large-lot filter's aggressor events), not one session at a time."""
        return self.unknown_side == "tick-rule" or self.large_lot

    @property
    def large_lot_params(self) -> dict[str, Any]:
        """The ``$min_size`` / ``$max_size`` parameters of ``int_bar_grain`` (none without the
        large-lot filter, no ``$max_size`` without an upper bound)."""
        params: dict[str, Any] = {}
        if self.min_size is not None:
            params["min_size"] = self.min_size
            if self.max_size is not None:
                params["max_size"] = self.max_size
        return params

    def validated(self) -> FlowOptions:
        """Check the combination; return self.

        Raises
        ------
        ConfigError
            Naming the option and the fix.
        """
        if self.unknown_side not in UNKNOWN_SIDE_POLICIES:
            raise ConfigError(
                f"--unknown-side {self.unknown_side!r} must be one of: "
                f"{', '.join(UNKNOWN_SIDE_POLICIES)}"
            )
        if self.min_size is not None and self.min_size < 1:
            raise ConfigError(f"--min-size {self.min_size} must be ≥ 1 (0 turns it off)")
        if self.max_size is not None:
            if self.min_size is None:
                raise ConfigError(
                    f"--max-size {self.max_size} needs --min-size: the large-lot filter is off; "
                    "give --min-size N too"
                )
            if self.max_size < self.min_size:
                raise ConfigError(
                    f"--max-size {self.max_size} is below --min-size {self.min_size}; "
                    "raise it, or pass --max-size 0 for no upper bound"
                )
        if not _finite(self.imbalance_ratio) or self.imbalance_ratio < 1:
            raise ConfigError(f"--imbalance-ratio {self.imbalance_ratio} must be a number ≥ 1")
        _check_value_area_pct(self.value_area_pct)
        _check_whole("--ticks-per-level", self.ticks_per_level, 1)
        _check_whole("--imbalance-min-volume", self.imbalance_min_volume, 0)
        return self

    def as_rows(self) -> dict[str, str]:
        """The settings as the text stored in ``build_settings``."""
        return {
            "unknown_side": self.unknown_side,
            "min_size": OFF if self.min_size is None else str(self.min_size),
            "max_size": OFF if self.max_size is None else str(self.max_size),
            "imbalance_ratio": repr(float(self.imbalance_ratio)),
            "value_area_pct": f"{float(self.value_area_pct):g}",
            "ticks_per_level": str(self.ticks_per_level),
            "imbalance_min_volume": str(self.imbalance_min_volume),
        }


@dataclass(frozen=True)
class FlowOverrides:
    """What one ``vcdwh build`` command line asks to change (None keeps the stored value).

    ``min_size=0`` turns the large-lot columns off; ``max_size=0`` removes the upper bound.
    """

    unknown_side: str | None = None
    min_size: int | None = None
    max_size: int | None = None
    imbalance_ratio: float | None = None
    value_area_pct: float | None = None
    ticks_per_level: int | None = None
    imbalance_min_volume: int | None = None

    def checked(self) -> FlowOverrides:
        """Check each value on its own, before the warehouse is opened.

        Raises
        ------
        ConfigError
            Naming the option and the fix.
        """
        if self.unknown_side is not None and self.unknown_side not in UNKNOWN_SIDE_POLICIES:
            raise ConfigError(
                f"--unknown-side {self.unknown_side!r} must be one of: "
                f"{', '.join(UNKNOWN_SIDE_POLICIES)}"
            )
        for name, value in (("--min-size", self.min_size), ("--max-size", self.max_size)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise ConfigError(f"{name} {value} must be a whole number ≥ 0 (0 turns it off)")
        ratio = self.imbalance_ratio
        if ratio is not None and (not _finite(ratio) or ratio < 1):
            raise ConfigError(f"--imbalance-ratio {ratio} must be a number ≥ 1")
        if self.value_area_pct is not None:
            _check_value_area_pct(self.value_area_pct)
        if self.ticks_per_level is not None:
            _check_whole("--ticks-per-level", self.ticks_per_level, 1)
        if self.imbalance_min_volume is not None:
            _check_whole("--imbalance-min-volume", self.imbalance_min_volume, 0)
        return self

    def apply(self, stored: FlowOptions) -> FlowOptions:
        """The stored options with these changes, validated as a whole."""
        changes: dict[str, Any] = {}
        if self.unknown_side is not None:
            changes["unknown_side"] = self.unknown_side
        if self.min_size is not None:
            changes["min_size"] = self.min_size or None
            if self.min_size == 0 and self.max_size is None:
                changes["max_size"] = None  # turning the filter off clears its upper bound
        if self.max_size is not None:
            changes["max_size"] = self.max_size or None
        if self.imbalance_ratio is not None:
            changes["imbalance_ratio"] = float(self.imbalance_ratio)
        if self.value_area_pct is not None:
            changes["value_area_pct"] = float(self.value_area_pct)
        if self.ticks_per_level is not None:
            changes["ticks_per_level"] = self.ticks_per_level
        if self.imbalance_min_volume is not None:
            changes["imbalance_min_volume"] = self.imbalance_min_volume
        return replace(stored, **changes).validated()


def _check_whole(name: str, value: Any, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{name} {value} must be a whole number ≥ {least}")


def _check_value_area_pct(pct: Any) -> None:
    if not _finite(pct) or not 1 <= pct <= 100:
        raise ConfigError(f"--value-area-pct {pct} must be a number from 1 to 100")


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def stored_options(con: duckdb.DuckDBPyConnection) -> FlowOptions:
    """Read ``build_settings`` (defaults for keys not stored yet).

    Raises
    ------
    ConfigError
        If a stored value cannot be read back.
    """
    rows = read_settings(con)
    defaults = FlowOptions()
    try:
        options = FlowOptions(
            unknown_side=rows.get("unknown_side", defaults.unknown_side),
            min_size=_optional_int(rows.get("min_size", OFF)),
            max_size=_optional_int(rows.get("max_size", OFF)),
            imbalance_ratio=float(rows.get("imbalance_ratio", defaults.imbalance_ratio)),
            value_area_pct=float(rows.get("value_area_pct", defaults.value_area_pct)),
            ticks_per_level=int(rows.get("ticks_per_level", defaults.ticks_per_level)),
            imbalance_min_volume=int(
                rows.get("imbalance_min_volume", defaults.imbalance_min_volume)
            ),
        )
        return options.validated()
    except (ValueError, ConfigError) as exc:
        raise ConfigError(
            f"build_settings holds an unreadable value ({exc}); pass the option to "
            "`vcdwh build` again to replace it"
        ) from exc


def _optional_int(text: str) -> int | None:
    return None if text == OFF else int(text)


def store_options(con: duckdb.DuckDBPyConnection, options: FlowOptions) -> None:
    """Write every key; ``set_at`` changes only for keys whose value changed."""
    write_settings(con, options.as_rows())


def describe(options: FlowOptions) -> str:
    """One line for ``vcdwh build`` and ``vcdwh list``."""
    rows = options.as_rows()
    return "  ".join(f"{key}={value}" for key, value in rows.items())
