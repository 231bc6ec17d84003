"""The contract checks a build runs on every relation it writes (sql/schema.toml)."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from vcdwh.errors import BuildError
from vcdwh.warehouse.schema import Contract, check_relation

CONTRACT = Contract(
    name="bars_x",
    description="",
    grain=("instrument_id", "symbol", "bar_start"),
    not_null=("volume",),
    rules=("delta = buy_volume - sell_volume",),
)
EARLY, LATE = datetime(2024, 3, 7, 23), datetime(2024, 3, 8, 23)


@pytest.fixture(name="con")
def fixture_con():
    con = duckdb.connect()
    con.execute(
        "create table bars_x (instrument_id int, symbol varchar, bar_start timestamp_ns,"
        " volume bigint, buy_volume bigint, sell_volume bigint, delta bigint)"
    )
    con.execute(
        "create temp table affected as"
        " select 1 as instrument_id, 'ESH4' as symbol, $late::timestamp_ns as from_start",
        {"late": LATE},
    )
    yield con
    con.close()


def _add(con, start: datetime, volume: int | None = 5, delta: int = 1, instrument: int = 1):
    con.execute(
        "insert into bars_x values ($id, 'ESH4', $start, $volume, 3, 2, $delta)",
        {"id": instrument, "start": start, "volume": volume, "delta": delta},
    )


def test_check_given_rows_that_keep_the_contract_passes(con):
    _add(con, EARLY)
    _add(con, LATE)
    check_relation(con, "bars_x", CONTRACT)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(EARLY, 5, 1), (EARLY, 5, 1)], r"bars_x: 1 duplicate key\(s\) on \(instrument_id"),
        ([(EARLY, None, 1), (LATE, None, 1)], "bars_x: 2 row\\(s\\) with volume null"),
        ([(EARLY, 5, 7)], "bars_x: 1 row\\(s\\) break the rule `delta = buy_volume - sell_volume`"),
    ],
)
def test_check_given_a_broken_contract_names_the_relation_the_check_and_the_count(
    con, rows, message
):
    for start, volume, delta in rows:
        _add(con, start, volume, delta)
    with pytest.raises(BuildError, match=message):
        check_relation(con, "bars_x", CONTRACT)


def test_check_of_the_written_rows_given_a_bad_row_before_the_new_session_passes(con):
    # the rows an incremental build kept were checked when they were written
    _add(con, EARLY, delta=7)
    _add(con, LATE)
    _add(con, LATE, delta=7, instrument=2)  # an instrument the build did not touch
    check_relation(con, "bars_x", CONTRACT, written_only=True)
    with pytest.raises(BuildError, match="2 row"):
        check_relation(con, "bars_x", CONTRACT)


def test_check_of_the_written_rows_given_a_bad_new_row_fails(con):
    _add(con, EARLY)
    _add(con, LATE, delta=7)
    with pytest.raises(BuildError, match="1 row\\(s\\) break the rule"):
        check_relation(con, "bars_x", CONTRACT, written_only=True)
