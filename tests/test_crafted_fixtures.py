"""Core behaviours pinned on the project's own crafted fixtures in tests/data (no ../shared needed).

The files are written by ``tests/data/make_crafted.py``; every expected value below was worked
out by hand from the rows listed there.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from tests.conftest import snapshot
from tests.data.make_crafted import crafted_files
from vcdwh.build import build_warehouse
from vcdwh.cli import cli
from vcdwh.config import Settings

DATA = Path(__file__).resolve().parent / "data"
SWEEPS = DATA / "sweeps.pretty.csv"
SWEEPS_RAW = DATA / "trades_ESH4_2024-03-05_2024-03-06.csv"
SWEEPS_OHLCV = DATA / "sweeps_ohlcv_1m.pretty.csv"
SWEEPS_OHLCV_RAW = DATA / "ohlcv_1m_ESH4_2024-03-05_2024-03-06.csv"
SESSIONS = DATA / "sessions.pretty.csv"
SESSIONS_RAW = DATA / "trades_ESM4_2024-03-07_2024-03-12.csv"
ROLL = DATA / "roll_es_fut.pretty.csv"

BAR_COLUMNS = (
    "bar_start::varchar, symbol, instrument_id, session_date::varchar, open, high, low, close,"
    " volume, buy_volume, sell_volume, unknown_volume, delta, cumulative_delta,"
    " session_cumulative_delta, trades"
)


def d(text: str) -> Decimal:
    return Decimal(text)


# Hand-computed from SWEEPS in make_crafted.py (ESH4, session 2024-03-05).
SWEEPS_BARS_1MIN = [
    # 14:30: the sell sweep 4807.00 -> 4806.75 ends the minute; the 10-lot N print is unknown.
    ("2024-03-05 14:30:00", "ESH4", 101, "2024-03-05", d("4807.25"), d("4807.50"), d("4806.75"),
     d("4806.75"), 22, 5, 7, 10, -2, -2, -2, 6),
    # 14:31: a sell sweep 4807.00 -> 4806.75 opens it; three equal 6-lot buy fills all count.
    ("2024-03-05 14:31:00", "ESH4", 101, "2024-03-05", d("4807.00"), d("4807.00"), d("4806.50"),
     d("4806.75"), 34, 19, 7, 8, 12, 10, 10, 7),
    # 14:32 has no trade and no bar; 14:33: a buy sweep 4807.25 -> 4807.50, then a sell.
    ("2024-03-05 14:33:00", "ESH4", 101, "2024-03-05", d("4807.25"), d("4807.50"), d("4807.25"),
     d("4807.25"), 6, 4, 2, 0, 2, 12, 12, 3),
]  # fmt: skip


def read(db_path: Path, sql: str) -> list[tuple]:
    """Run one query on a built warehouse file, read-only."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def built(tmp_path_factory: pytest.TempPathFactory, name: str, path: Path):
    """A warehouse built from one crafted file, and a query function on it."""
    folder = tmp_path_factory.mktemp(name)
    settings = Settings(folder, folder / "w.duckdb")
    build_warehouse(settings, [path])
    return lambda sql: read(settings.db_path, sql)


@pytest.fixture(name="sweeps", scope="module")
def fixture_sweeps(tmp_path_factory):
    """Query the warehouse built from the sweeps fixture (built once, only read)."""
    return built(tmp_path_factory, "sweeps", SWEEPS)


@pytest.fixture(name="sessions", scope="module")
def fixture_sessions(tmp_path_factory):
    """Query the warehouse built from the sessions fixture (built once, only read)."""
    return built(tmp_path_factory, "sessions", SESSIONS)


@pytest.fixture(name="roll", scope="module")
def fixture_roll(tmp_path_factory):
    """Query the warehouse built from the roll fixture (built once, only read)."""
    return built(tmp_path_factory, "roll", ROLL)


def invoke(settings: Settings, *args: str):
    return CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), *args])


def lines_between(path: Path, first: str, last: str) -> str:
    """The header and the records of path whose ts_recv minute is within [first, last]."""
    header, *rows = path.read_text().splitlines(keepends=True)
    return header + "".join(r for r in rows if first <= r[11:16] <= last)


def table_rows(db_path: Path, skip: dict[str, str]) -> dict[str, list[tuple]]:
    """Every main table's rows, sorted; ``skip`` maps a table to a column to leave out."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'main' order by 1"
            ).fetchall()
        ]
        return {
            t: con.execute(
                f'select * {f"exclude ({skip[t]})" if t in skip else ""} from "{t}" order by all'
            ).fetchall()
            for t in tables
        }
    finally:
        con.close()


# --------------------------------------------------------------------------- the fixtures


def test_crafted_files_given_make_crafted_script_are_up_to_date():
    files = crafted_files()
    assert sorted(files) == sorted(p.name for p in DATA.glob("*.csv"))
    for name, text in files.items():
        assert (DATA / name).read_text() == text, f"run python tests/data/make_crafted.py ({name})"
        assert len(text.splitlines()) <= 101


# --------------------------------------------------------------------------- bars from sweeps


def test_bars_1min_given_sweeps_fixture_match_hand_computed_bars(sweeps):
    assert sweeps(f"select {BAR_COLUMNS} from bars_1min order by bar_start") == SWEEPS_BARS_1MIN


def test_bars_5min_given_sweeps_fixture_sum_the_minutes_and_track_the_running_delta(sweeps):
    # Running delta within the bar, trade by trade: 1 3 5 5 2 -2 -4 -9 -3 3 9 9 10 13 14 12.
    assert sweeps(
        f"select {BAR_COLUMNS}, delta_open, delta_close, max_delta, min_delta from bars_5min"
    ) == [
        ("2024-03-05 14:30:00", "ESH4", 101, "2024-03-05", d("4807.25"), d("4807.50"),
         d("4806.50"), d("4807.25"), 62, 28, 16, 18, 12, 12, 12, 16, 0, 12, 14, -9)
    ]  # fmt: skip


# --------------------------------------------------------------------------- (a) repeats, reloads


def test_trades_given_identical_rows_that_are_separate_fills_counts_every_one(sweeps):
    # 16 records, 13 distinct: a pair of 2-lot buys and three 6-lot buys are separate fills.
    records = SWEEPS.read_text().splitlines()[1:]
    assert (len(records), len(set(records))) == (16, 13)
    assert sweeps("select count(*), sum(size) from trades") == [(16, 62)]
    assert sweeps(
        "select sequence, size, list(occurrence order by occurrence) from trades"
        " group by all having count(*) > 1 order by sequence"
    ) == [(1002, 2, [1, 2]), (1006, 6, [1, 2, 3])]
    assert sweeps("select sum(volume), sum(trades) from bars_1min") == [(62, 16)]


def test_build_given_same_file_twice_changes_nothing(settings):
    # Through the CLI: the second build of the same file loads nothing.
    first = invoke(settings, "build", str(SWEEPS))
    assert first.exit_code == 0, first.output
    before = snapshot(settings.db_path)
    again = invoke(settings, "build", str(SWEEPS))
    assert again.exit_code == 0, again.output
    after = snapshot(settings.db_path)
    before.pop("bar_intervals"), after.pop("bar_intervals")
    assert before == after
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        assert con.execute("select count(*), sum(size) from trades").fetchall() == [(16, 62)]
        assert con.execute("select count(*) from loaded_files").fetchall() == [(1,)]
    finally:
        con.close()


def test_build_given_same_content_under_another_name_skips_it(build, query, tmp_path):
    copy = tmp_path / "renamed.csv"
    copy.write_bytes(SWEEPS.read_bytes())
    build([SWEEPS])
    report = build([copy])
    assert [f.status for f in report.files] == ["skipped"]
    assert query("select count(*), sum(size) from trades") == [(16, 62)]


def test_build_given_overlapping_files_counts_each_trade_once(build, query, tmp_path):
    # Arrange: two fetch windows, 14:30-14:31 and 14:31-14:33; both hold minute 14:31 with its
    # three equal 6-lot fills (a record k times in each file is k trades, not 2k, not 1).
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text(lines_between(SWEEPS, "14:30", "14:31"))
    second.write_text(lines_between(SWEEPS, "14:31", "14:33"))
    # Act
    build([first])
    report = build([second])
    # Assert: 7 of the second file's 10 records were held already.
    assert (report.loaded[0].rows, report.loaded[0].rows_added) == (10, 3)
    assert query("select count(*), sum(size) from trades") == [(16, 62)]
    assert query(f"select {BAR_COLUMNS} from bars_1min order by bar_start") == SWEEPS_BARS_1MIN


def test_build_given_file_within_a_loaded_file_adds_nothing(build, query, tmp_path):
    part = tmp_path / "minute.csv"
    part.write_text(lines_between(SWEEPS, "14:31", "14:31"))
    build([SWEEPS])
    report = build([part])
    assert (report.loaded[0].rows, report.loaded[0].rows_added) == (7, 0)
    assert query("select count(*), sum(size) from trades") == [(16, 62)]


# --------------------------------------------------------------------------- (b) file order


def test_trades_given_sweep_fills_share_ts_recv_and_sequence_and_keep_file_order(sweeps):
    assert sweeps(
        "select sequence, count(distinct ts_recv), count(distinct ts_event),"
        " list(price order by position) from trades where sequence in (1004, 1005, 1009)"
        " group by sequence order by sequence"
    ) == [
        (1004, 1, 1, [d("4807.00"), d("4806.75")]),
        (1005, 1, 1, [d("4807.00"), d("4806.75")]),
        (1009, 1, 1, [d("4807.25"), d("4807.50")]),
    ]


def test_bars_given_sell_sweep_at_the_edges_of_minutes_open_and_close_in_file_order(sweeps):
    # The 14:30 sweep (4807.00 then 4806.75) is that minute's last event: close 4806.75, not
    # 4807.00. The 14:31 sweep is its first: open 4807.00, not 4806.75.
    assert sweeps("select bar_start::varchar, open, close from bars_1min order by bar_start") == [
        ("2024-03-05 14:30:00", d("4807.25"), d("4806.75")),
        ("2024-03-05 14:31:00", d("4807.00"), d("4806.75")),
        ("2024-03-05 14:33:00", d("4807.25"), d("4807.25")),
    ]


# --------------------------------------------------------------------------- (c) side N


def test_bars_given_side_n_prints_count_in_volume_and_unknown_never_in_delta(sweeps):
    assert sweeps(
        "select unknown_volume, volume - buy_volume - sell_volume, delta, buy_volume - sell_volume"
        " from bars_1min order by bar_start"
    ) == [(10, 10, -2, -2), (8, 8, 12, 12), (0, 0, 2, 2)]
    # All N volume (18 lots) is in the volume (62) and none of it in the delta (28 - 16).
    assert sweeps("select sum(volume), sum(unknown_volume), sum(delta) from bars_1min") == [
        (62, 18, 12)
    ]
    assert sweeps("select sum(size) from trades where side = 'N'") == [(18,)]


# --------------------------------------------------------------------------- (d), (e) sessions


def test_session_cumulative_delta_given_17_ct_boundaries_across_dst_resets_only_the_session(
    sessions,
):
    assert sessions(
        "select bar_start::varchar, session_date::varchar, volume, unknown_volume, delta,"
        " cumulative_delta, session_cumulative_delta from bars_1min order by bar_start"
    ) == [
        # Thu 16:59:59.999999999 CST: the last nanosecond of the 03-07 session.
        ("2024-03-07 22:59:00", "2024-03-07", 5, 0, 5, 5, 5),
        # Thu 17:00 CST (23:00 UTC): the 03-08 session opens, its running delta restarts.
        ("2024-03-07 23:00:00", "2024-03-08", 7, 0, -7, -2, -7),
        ("2024-03-08 21:59:00", "2024-03-08", 3, 0, 3, 1, -4),
        # Fri 16:00 CST: still the 03-08 session (it lasts until the next open); side N.
        ("2024-03-08 22:00:00", "2024-03-08", 4, 4, 0, 1, -4),
        # Sun 17:00 CDT (22:00 UTC, after the DST change): the 03-11 session opens.
        ("2024-03-10 22:00:00", "2024-03-11", 4, 0, 4, 5, 4),
        ("2024-03-11 21:59:00", "2024-03-11", 2, 0, -2, 3, 2),
        # Mon 17:00 CDT (22:00 UTC): the 03-12 session opens.
        ("2024-03-11 22:00:00", "2024-03-12", 6, 0, 6, 9, 6),
    ]


def test_sessions_given_dst_change_open_at_23_utc_in_winter_and_22_utc_in_summer(sessions):
    assert sessions(
        "select session_date::varchar, session_start::varchar, next_session_start::varchar"
        " from sessions where session_date between '2024-03-07' and '2024-03-12'"
        " order by session_date"
    ) == [
        ("2024-03-07", "2024-03-06 23:00:00", "2024-03-07 23:00:00"),
        ("2024-03-08", "2024-03-07 23:00:00", "2024-03-10 22:00:00"),  # Friday, then the weekend
        ("2024-03-11", "2024-03-10 22:00:00", "2024-03-11 22:00:00"),
        ("2024-03-12", "2024-03-11 22:00:00", "2024-03-12 22:00:00"),
    ]


# --------------------------------------------------------------------------- (f) roll


def test_rolls_given_parent_file_pick_the_front_outright_by_volume_never_the_spread(roll):
    # Per session, volume: 03-05 ESH4 13, ESM4 4; 03-06 ESH4 6, ESM4 11; 03-07 ESH4 1, ESM4 17.
    # The spread ESH4-ESM4 trades the most every session (40, 50, 5) and is never picked.
    assert roll(
        "select root, session_date::varchar, contract, instrument_id, volume, root_volume,"
        " previous_contract, rolled from rolls order by session_date"
    ) == [
        ("ES", "2024-03-05", "ESH4", 101, 13, 17, None, False),
        ("ES", "2024-03-06", "ESM4", 202, 11, 17, "ESH4", True),
        ("ES", "2024-03-07", "ESM4", 202, 17, 18, "ESM4", False),
    ]
    assert roll(
        "select session_date::varchar, sum(volume) from bars_1min"
        " where symbol = 'ESH4-ESM4' group by all order by 1"
    ) == [("2024-03-05", 40), ("2024-03-06", 50), ("2024-03-07", 5)]


def test_continuous_bars_given_roll_use_the_chosen_contract_and_keep_the_delta_running(roll):
    assert roll(
        "select bar_start::varchar, root, contract, session_date::varchar, close, volume, delta,"
        " cumulative_delta, session_cumulative_delta, delta_open, delta_close"
        " from bars_1min_continuous order by bar_start"
    ) == [
        ("2024-03-05 14:30:00", "ES", "ESH4", "2024-03-05", d("5200.00"), 10, 10, 10, 10, 0, 10),
        ("2024-03-05 14:31:00", "ES", "ESH4", "2024-03-05", d("5199.75"), 3, -3, 7, 7, 10, 7),
        # The roll: ESM4's first bar opens at ESH4's last close (7), not at ESM4's own (+4).
        ("2024-03-06 14:30:00", "ES", "ESM4", "2024-03-06", d("5257.00"), 9, 9, 16, 9, 7, 16),
        ("2024-03-06 14:31:00", "ES", "ESM4", "2024-03-06", d("5256.75"), 2, -2, 14, 7, 16, 14),
        ("2024-03-07 14:30:00", "ES", "ESM4", "2024-03-07", d("5260.00"), 12, 12, 26, 12, 14, 26),
        ("2024-03-07 14:32:00", "ES", "ESM4", "2024-03-07", d("5259.75"), 5, -5, 21, 7, 26, 21),
    ]
    # ESM4's own running delta includes its 03-05 trade: 4 + 9 - 2 + 12 - 5.
    assert roll(
        "select max_by(cumulative_delta, bar_start) from bars_1min where symbol = 'ESM4'"
    ) == [(18,)]


@pytest.mark.parametrize("interval", ["1min", "5min"])
def test_continuous_bars_given_roll_equal_the_contract_bars_but_the_running_delta(roll, interval):
    columns = (
        "bar_start, instrument_id, session_date, open, high, low, close, volume, buy_volume,"
        " sell_volume, unknown_volume, delta, session_cumulative_delta, trades"
    )
    mine = roll(f"select contract, {columns} from bars_{interval}_continuous order by bar_start")
    theirs = roll(
        f"""
        select b.symbol, {", ".join("b." + c.strip() for c in columns.split(","))}
        from bars_{interval} b join rolls r
          on r.session_date = b.session_date and r.contract = b.symbol
         and r.instrument_id = b.instrument_id
        order by b.bar_start"""
    )
    assert mine == theirs and len(mine) == {"1min": 6, "5min": 3}[interval]


# --------------------------------------------------------------------------- ohlcv-1m, layouts


@pytest.mark.parametrize("ohlcv", [SWEEPS_OHLCV, SWEEPS_OHLCV_RAW], ids=["pretty", "raw"])
def test_bars_1min_given_crafted_minutes_equal_the_files_ohlcv_1m(build, query, ohlcv):
    build([SWEEPS, ohlcv])
    mismatches = query(
        """
        select b.bar_start, b.open, o.open, b.close, o.close, b.volume, o.volume
        from bars_1min b
        join ohlcv_1m o on o.instrument_id = b.instrument_id and o.ts_event = b.bar_start
        where (b.open, b.high, b.low, b.close, b.volume) <> (o.open, o.high, o.low, o.close, o.volume)
        """
    )
    matched = query(
        "select count(*) from bars_1min b join ohlcv_1m o "
        "on o.instrument_id = b.instrument_id and o.ts_event = b.bar_start"
    )
    assert mismatches == []
    assert matched == [(3,)]
    assert query("select count(*), sum(volume) from ohlcv_1m") == [(3, 62)]


@pytest.mark.parametrize(
    ("pretty", "raw"),
    [((SWEEPS, SWEEPS_OHLCV), (SWEEPS_RAW, SWEEPS_OHLCV_RAW)), ((SESSIONS,), (SESSIONS_RAW,))],
    ids=["sweeps", "sessions"],
)
def test_build_given_raw_and_pretty_layouts_gives_identical_warehouses(tmp_path, pretty, raw):
    # Arrange: the same records in both layouts; the raw files name their symbol in the file name.
    built = {}
    for layout, files in (("pretty", pretty), ("raw", raw)):
        settings = Settings(tmp_path / layout, tmp_path / layout / "w.duckdb")
        settings.data_dir.mkdir()
        # Act
        build_warehouse(settings, list(files))
        built[layout] = table_rows(
            settings.db_path, skip={"bar_intervals": "built_at", "build_settings": "set_at"}
        )
    # Assert: every table but the files' own metadata (loaded_files: path, hash, layout, bytes,
    # times) and the symbology a pretty file states (a raw file states none) is identical.
    for rows in built.values():
        rows.pop("loaded_files")
        rows.pop("symbology")
    assert built["pretty"] == built["raw"]
    assert built["raw"]["trades"] and built["raw"]["bars_1min"]
    assert {row[13] for row in built["raw"]["trades"]} == {
        "ESH4" if raw[0] == SWEEPS_RAW else "ESM4"
    }
