"""How continuous series are made: the roll rule and the back-adjustment (in ``build_settings``).

``vcdwh build --roll-rule volume|expiry-days:N`` picks the contract of each session (``rolls``):
the outright with the most volume, or the front contract until N CME sessions before its
expiration (from ``instrument_definitions``). ``--adjust none|difference|ratio`` fills
``adj_open/high/low/close`` of ``bars_<interval>_continuous``: back-adjusted from the latest
contract by the gap stored at each roll. Like the flow options, a later build without them
keeps the stored values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from vcdwh.errors import BuildError, ConfigError
from vcdwh.warehouse.settings import read_settings, write_settings
from vcdwh.warehouse.sqlrender import render

if TYPE_CHECKING:
    import duckdb

ADJUSTMENTS = ("none", "difference", "ratio")
VOLUME = "volume"
_EXPIRY_RE = re.compile(r"^expiry-days:(\d{1,3})$")
_ROLL_FIX = "give --roll-rule volume or --roll-rule expiry-days:N (N sessions, 0-999)"


def parse_roll_rule(text: str) -> int | None:
    """The sessions before expiry of ``expiry-days:N`` (None for ``volume``).

    Raises
    ------
    ConfigError
        Neither form.
    """
    if text == VOLUME:
        return None
    match = _EXPIRY_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ConfigError(f"--roll-rule {text!r} is not a roll rule; {_ROLL_FIX}")
    return int(match.group(1))


@dataclass(frozen=True)
class ContinuousOptions:
    """The roll rule and the back-adjustment of the continuous series.

    Parameters
    ----------
    adjust : str
        ``none`` (default), ``difference`` or ``ratio``.
    roll_rule : str
        ``volume`` (default) or ``expiry-days:N``.
    """

    adjust: str = "none"
    roll_rule: str = VOLUME

    @property
    def expiry_days(self) -> int | None:
        """N of ``expiry-days:N``; None for the volume rule."""
        return parse_roll_rule(self.roll_rule)

    def validated(self) -> ContinuousOptions:
        """Check both values; return self.

        Raises
        ------
        ConfigError
            Naming the option and the fix.
        """
        if self.adjust not in ADJUSTMENTS:
            raise ConfigError(f"--adjust {self.adjust!r} must be one of: {', '.join(ADJUSTMENTS)}")
        parse_roll_rule(self.roll_rule)
        return self

    def changed(self, adjust: str | None, roll_rule: str | None) -> ContinuousOptions:
        """These options with the values a command line gives (None keeps), validated."""
        changes = {
            key: value
            for key, value in (("adjust", adjust), ("roll_rule", roll_rule))
            if value is not None
        }
        return replace(self, **changes).validated()


def stored_continuous(con: duckdb.DuckDBPyConnection) -> ContinuousOptions:
    """The options in ``build_settings`` (defaults for keys not stored yet).

    Raises
    ------
    ConfigError
        A stored value cannot be read back.
    """
    rows = read_settings(con)
    options = ContinuousOptions(
        adjust=rows.get("adjust", "none"), roll_rule=rows.get("roll_rule", VOLUME)
    )
    try:
        return options.validated()
    except ConfigError as exc:
        raise ConfigError(
            f"build_settings holds an unreadable value ({exc}); pass the option to "
            "`vcdwh build` again to replace it"
        ) from exc


def store_continuous(con: duckdb.DuckDBPyConnection, options: ContinuousOptions) -> None:
    """Write both keys; ``set_at`` changes only for a key whose value changed."""
    write_settings(con, {"adjust": options.adjust, "roll_rule": options.roll_rule})


def check_expirations(
    con: duckdb.DuckDBPyConnection, bars: str, options: ContinuousOptions
) -> None:
    """With ``expiry-days:N``, every outright in ``bars`` needs an expiration and a calendar.

    Raises
    ------
    ConfigError
        Naming the contracts without a definition record (or whose root has no calendar).
    """
    if options.expiry_days is None:
        return
    rows = con.execute(render("queries/roll_expiry_gaps.sql", bars=bars)).fetchall()
    undefined = [symbol for symbol, reason in rows if reason == "definition"]
    uncalendared = sorted({root for root, reason in rows if reason == "calendar"})
    if undefined:
        shown = ", ".join(undefined[:10]) + (
            f" and {len(undefined) - 10} more" if len(undefined) > 10 else ""
        )
        raise ConfigError(
            f"--roll-rule {options.roll_rule} needs each contract's expiration; no "
            f"instrument_definitions record with an expiration for: {shown}; load their "
            "definition files (Databento schema definition) or use --roll-rule volume"
        )
    if uncalendared:
        raise ConfigError(
            f"--roll-rule {options.roll_rule} counts CME sessions, but root(s) "
            f"{', '.join(uncalendared)} have no exchange calendar in rth_hours; add a row there "
            "or use --roll-rule volume"
        )


def check_ratio_prices(
    con: duckdb.DuckDBPyConnection, bars: str, options: ContinuousOptions
) -> None:
    """With ``--adjust ratio``, every price a continuous series uses must be positive.

    Raises
    ------
    BuildError
        Naming the contract, the bar and the price.
    """
    if options.adjust != "ratio":
        return
    rows = con.execute(render("queries/ratio_nonpositive.sql", bars=bars)).fetchall()
    if rows:
        contract, bar_start, price = rows[0]
        raise BuildError(
            f"--adjust ratio needs positive prices, but {contract} trades at {price} "
            f"(bar {bar_start}); use --adjust difference (or none)"
        )
