"""``vcdwh check``: reconcile what is loaded, per instrument and CME session.

Trades are checked against Databento's own ``ohlcv_1m`` bars minute by minute (open, high, low,
close, volume) where both cover a minute; minutes with bar volume but no trade, and trades
without a bar, are listed; sessions the CME calendar says traded but that hold no data (between an
instrument's first and last session), and trades on a holiday of the root's calendar or outside
its Globex hours, count as discrepancies too. The SQL is ``sql/queries/check_sessions.sql`` and
``check_minutes.sql``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vcdwh.config import Settings
from vcdwh.errors import WarehouseError
from vcdwh.warehouse.db import connect_read_only, relation_exists
from vcdwh.warehouse.sqlrender import render

PROBLEM_MINUTES_SHOWN = 20
"""Problem minutes ``vcdwh check`` prints in detail (all are counted)."""

DISCREPANCY_COLUMNS = (
    "mismatched_minutes",
    "ohlcv_without_trades",
    "trades_without_ohlcv",
    "trades_on_holiday",
    "trades_outside_hours",
)


@dataclass
class CheckReport:
    """What ``vcdwh check`` found: one row per instrument and session, and the problem minutes."""

    db_path: Path
    sessions: list[dict[str, Any]] = field(default_factory=list)
    problem_minutes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def discrepancies(self) -> int:
        """Every discrepancy counted: problem minutes, calendar breaches, missing sessions."""
        return sum(int(row["discrepancies"]) for row in self.sessions)


def _dicts(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def check_warehouse(settings: Settings) -> CheckReport:
    """Reconcile the loaded trades, 1-minute bars and the CME calendar (read-only).

    Raises
    ------
    WarehouseError
        There is no warehouse, or it was built before the calendar existed (rebuild it).
    """
    db_path = settings.db_path
    if not db_path.exists():
        raise WarehouseError(f"no warehouse at {db_path}; build one with `vcdwh build`")
    con = connect_read_only(db_path)
    try:
        if not relation_exists(con, "session_hours"):
            raise WarehouseError(
                f"{db_path} has no session_hours (built by an older vcdwh); run `vcdwh build`"
            )
        report = CheckReport(db_path)
        report.sessions = _dicts(con.execute(render("queries/check_sessions.sql")))
        minutes = render("queries/check_minutes.sql")
        report.problem_minutes = _dicts(
            con.execute(
                f"select * from ({minutes}) where problem is not null "
                "order by symbol, instrument_id, minute"
            )
        )
    finally:
        con.close()
    return report


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def _price(value: Any) -> str:
    return "-" if value is None else f"{value.normalize():f}"


def _ohlcv(minute: dict[str, Any], prefix: str) -> str:
    prices = "/".join(_price(minute[prefix + k]) for k in ("open", "high", "low", "close"))
    return f"{prices} {_number(minute[prefix + 'volume'])}"


def format_check(report: CheckReport) -> str:
    """What ``vcdwh check`` prints: a table per instrument (one line per session), the problem
    minutes, and a one-line summary."""
    if not report.sessions:
        return f"nothing to check: no trades or 1-minute bars in {report.db_path}"
    header = (
        "session     trades  bars  compared  mismatch  bars-no-trades  trades-no-bar  "
        "on-holiday  outside-hours  status"
    )
    lines: list[str] = []
    current = None
    for row in report.sessions:
        instrument = (row["symbol"], row["instrument_id"])
        if instrument != current:
            current = instrument
            if lines:
                lines.append("")
            lines += [f"{row['symbol']} (instrument_id {row['instrument_id']})", header]
        if row["missing"]:
            status = "MISSING: the calendar says it traded, no data"
        elif row["discrepancies"]:
            status = "DISCREPANCY"
        else:
            status = "ok" + (" (holiday)" if row["holiday"] else "")
        lines.append(
            f"{row['session_date']}  {row['trades']:>7,}  {row['ohlcv_bars']:>4,}  "
            f"{row['compared_minutes']:>8,}  {row['mismatched_minutes']:>8,}  "
            f"{row['ohlcv_without_trades']:>14,}  {row['trades_without_ohlcv']:>13,}  "
            f"{row['trades_on_holiday']:>10,}  {row['trades_outside_hours']:>13,}  {status}"
        )
    if report.problem_minutes:
        lines += ["", "problem minutes (trades vs ohlcv_1m: open/high/low/close volume):"]
        for m in report.problem_minutes[:PROBLEM_MINUTES_SHOWN]:
            lines.append(
                f"  {m['symbol']} {m['minute']} {m['problem']}: trades {_ohlcv(m, '')}  "
                f"ohlcv {_ohlcv(m, 'ohlcv_')}"
            )
        hidden = len(report.problem_minutes) - PROBLEM_MINUTES_SHOWN
        if hidden > 0:
            lines.append(f"  … and {hidden:,} more")
    instruments = len({(r["symbol"], r["instrument_id"]) for r in report.sessions})
    compared = sum(int(r["compared_minutes"]) for r in report.sessions)
    summary = (
        f"{instruments} instrument(s), {len(report.sessions)} session(s), "
        f"{compared:,} minute(s) compared: "
    )
    if report.discrepancies:
        kinds = {name: sum(int(r[name]) for r in report.sessions) for name in DISCREPANCY_COLUMNS}
        kinds["missing_sessions"] = sum(1 for r in report.sessions if r["missing"])
        detail = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in kinds.items() if v)
        summary += f"{report.discrepancies:,} discrepancy(ies) ({detail})"
    else:
        summary += "everything reconciles"
    lines += ["", summary]
    return "\n".join(lines)
