"""A file rewritten under a name already loaded: more records load, other contents are refused.

`vcdwh sample --seed 7` over `vcdwh sample` writes another week under the same names; a build
must not add it to the old one. A re-download that only adds records (a day Databento had not
finished publishing) keeps loading just the new ones. ``--replace`` swaps the old version's
records for the new file's, and the marts come out exactly as a fresh build of the new files.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import databento_dbn
import duckdb
import numpy as np
import pytest
import zstandard
from click.testing import CliRunner

from tests.conftest import snapshot
from tests.helpers import Trade, dbn_trade_records, ns, write_raw_csv
from vcdwh.build import build_warehouse
from vcdwh.cli import cli
from vcdwh.config import Settings
from vcdwh.sample import generate_sample

T0 = ns("2024-03-08 15:00:00")
TRADES = [
    Trade(T0, 5000.00, 2, "B", sequence=10),
    Trade(T0, 5000.25, 1, "B", sequence=10),
    Trade(T0 + 5_000_000_000, 5000.25, 3, "A", sequence=11),
    Trade(T0 + 9_000_000_000, 5000.50, 4, "B", sequence=12),
]
TRADES_NAME = "trades_ESH4_2024-03-08_2024-03-09.csv"
OHLCV_NAME = "ohlcv_1m_ESH4_2024-03-08_2024-03-09.csv"
OHLCV_HEADER = "ts_event,rtype,publisher_id,instrument_id,open,high,low,close,volume"
# (minute, open, high, low, close, volume) of instrument 1.
BARS = [
    ("2024-03-08 15:00:00", 5000.00, 5000.50, 5000.00, 5000.25, 10),
    ("2024-03-08 15:01:00", 5000.25, 5000.75, 5000.00, 5000.50, 7),
    ("2024-03-08 15:02:00", 5000.50, 5000.50, 5000.25, 5000.25, 3),
]


def invoke(settings: Settings, *args: str):
    return CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), *args])


def write_ohlcv(path: Path, bars) -> Path:
    """Databento's raw ohlcv-1m CSV layout (integer ns, 1e-9 fixed-point prices)."""
    lines = [OHLCV_HEADER]
    for minute, *prices, volume in bars:
        fixed = ",".join(str(round(p * 4) * 250_000_000) for p in prices)
        lines.append(f"{ns(minute)},33,1,1,{fixed},{volume}")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_dbn(path: Path, trades: list[Trade]) -> Path:
    """The trades as a zstd DBN file of schema trades (instrument ids, no symbol mapping)."""
    metadata = databento_dbn.Metadata(
        dataset="GLBX.MDP3",
        start=ns("2024-03-08 00:00:00"),
        end=ns("2024-03-09 00:00:00"),
        stype_in=databento_dbn.SType.RAW_SYMBOL,
        stype_out=databento_dbn.SType.INSTRUMENT_ID,
        schema=databento_dbn.Schema.TRADES,
        symbols=["ESH4"],
        mappings=[
            SimpleNamespace(
                raw_symbol="ESH4",
                intervals=[
                    SimpleNamespace(
                        start_date=np.datetime64("2024-03-08").astype(object),
                        end_date=np.datetime64("2024-03-09").astype(object),
                        symbol="1",
                    )
                ],
            )
        ],
    )
    records = dbn_trade_records(len(trades))
    for i, t in enumerate(trades):
        records[i]["instrument_id"] = t.instrument_id
        records[i]["ts_recv"] = t.ts_ns
        records[i]["ts_event"] = t.ts_ns - 1000
        records[i]["price"] = round(t.price * 4) * 250_000_000
        records[i]["size"] = t.size
        records[i]["side"] = t.side.encode()
        records[i]["sequence"] = t.sequence
    path.write_bytes(zstandard.ZstdCompressor().compress(metadata.encode() + records.tobytes()))
    return path


MART_PREFIXES = ("bars_", "footprint_")
COMPARED = ("sessions", "rolls", "trades", "ohlcv_1m")


def differences(db: Path, fresh: Path) -> dict[str, tuple[int, int]]:
    """Per mart (every bars, footprint, continuous table, sessions, rolls) and raw table (without
    file_id), the rows only one warehouse has, counted with ``except all`` both ways."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{db}' as built (read_only)")
        con.execute(f"attach '{fresh}' as fresh (read_only)")
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from duckdb_tables() where database_name = 'fresh' order by 1"
            ).fetchall()
            if t.startswith(MART_PREFIXES) or t in COMPARED
        ]
        assert any(t.startswith("bars_") for t in tables)
        found = {}
        for t in tables:
            columns = "* exclude (file_id)" if t in ("trades", "ohlcv_1m") else "*"
            one = f"select {columns} from built.{t}"
            other = f"select {columns} from fresh.{t}"
            [(extra,)] = con.execute(f"select count(*) from ({one} except all {other})").fetchall()
            [(lost,)] = con.execute(f"select count(*) from ({other} except all {one})").fetchall()
            [(rows,)] = con.execute(f"select count(*) from fresh.{t}").fetchall()
            assert rows > 0 or not t.startswith(MART_PREFIXES), t
            found[t] = (extra, lost)
        return found
    finally:
        con.close()


def fresh_build(tmp_path: Path, *files: Path) -> Path:
    """A warehouse built from just ``files`` (copied into a new data folder)."""
    data = tmp_path / "fresh"
    data.mkdir()
    for f in files:
        (data / f.name).write_bytes(f.read_bytes())
    build_warehouse(Settings(data_dir=data, db_path=data / "vcdwh.duckdb"))
    return data / "vcdwh.duckdb"


def test_build_given_sample_then_sample_of_another_seed_refuses_and_changes_nothing(settings):
    # Arrange: the case: a week, then another week under the same names.
    generate_sample(settings.data_dir, days=2, trades_per_day=300)
    build_warehouse(settings)
    before = snapshot(settings.db_path)
    generate_sample(settings.data_dir, days=2, trades_per_day=300, seed=7)
    # Act
    result = invoke(settings, "build")
    # Assert: one line, exit 1, the warehouse as it was (counts and bars).
    assert result.exit_code == 1
    assert len(result.output.splitlines()) == 1
    assert "loaded before with other contents" in result.output
    assert "--replace" in result.output and "another name" in result.output
    assert snapshot(settings.db_path) == before


def test_build_given_sample_of_another_seed_with_replace_equals_a_fresh_build_of_it(
    tmp_path, settings
):
    generate_sample(settings.data_dir, days=2, trades_per_day=300)
    build_warehouse(settings)
    new = generate_sample(settings.data_dir, days=2, trades_per_day=300, seed=7)
    result = invoke(settings, "build", "--replace")
    assert result.exit_code == 0, result.output
    assert "of its earlier version" in result.output
    fresh = fresh_build(tmp_path, new.trades_path, new.ohlcv_path)
    assert all(v == (0, 0) for v in differences(settings.db_path, fresh).values())


def test_build_given_same_name_with_trades_missing_names_how_many_and_the_first(settings, build):
    path = write_raw_csv(settings.data_dir / TRADES_NAME, TRADES)
    build()
    before = snapshot(settings.db_path)
    # The print of sequence 11 now has another size: the held one (A 3) is missing.
    write_raw_csv(path, [*TRADES[:2], Trade(T0 + 5_000_000_000, 5000.25, 30, "A", 11), TRADES[3]])
    result = invoke(settings, "build")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path}: loaded before with other contents: 1 of the 4 trades loaded from it "
        "are not in it now (the first: instrument 1 at 2024-03-08 15:00:05 sequence 11, "
        "A 3 @ 5000.25); if this file is the corrected one, build again with --replace to swap "
        "the old version's trades for this file's; if it holds other data, give it another name\n"
    )
    assert snapshot(settings.db_path) == before


def test_build_given_same_name_with_more_records_adds_only_those(tmp_path, settings, build, query):
    # A day Databento had not finished publishing, downloaded again: the same records and more,
    # one of them a second identical fill of a held order.
    path = write_raw_csv(settings.data_dir / TRADES_NAME, TRADES[:3])
    build()
    more = [*TRADES[:3], TRADES[2], TRADES[3]]
    write_raw_csv(path, more)
    report = build()
    assert [(f.status, f.rows, f.rows_added) for f in report.files] == [("loaded", 5, 2)]
    assert query("select count(*), sum(size) from trades") == [(5, 13)]
    fresh = fresh_build(tmp_path, path)
    assert all(v == (0, 0) for v in differences(settings.db_path, fresh).values())


def test_build_given_same_name_with_fewer_records_refuses_even_if_the_rest_is_equal(
    settings, build
):
    path = write_raw_csv(settings.data_dir / TRADES_NAME, TRADES)
    build()
    write_raw_csv(path, TRADES[:2])
    result = invoke(settings, "build")
    assert result.exit_code == 1
    assert "2 of the 4 trades loaded from it are not in it now" in result.output


def test_build_given_replaced_version_coming_back_loads_it_again(settings, build, query):
    # The ledger forgets a replaced version, so its content is not "already loaded" any more.
    path = write_raw_csv(settings.data_dir / TRADES_NAME, TRADES)
    build()
    write_raw_csv(path, TRADES[:2])
    assert invoke(settings, "build", "--replace").exit_code == 0
    assert query("select count(*) from trades") == [(2,)]
    write_raw_csv(path, TRADES)
    report = build()
    assert [(f.status, f.rows_added) for f in report.files] == [("loaded", 2)]
    assert query("select count(*), sum(size) from trades") == [(4, 10)]
    assert query("select count(*) from loaded_files") == [(2,)]


def test_build_given_dbn_rewritten_with_other_trades_refuses_then_replace_swaps_them(
    settings, build, query
):
    path = write_dbn(settings.data_dir / "glbx-mdp3_ESH4_trades_2024-03-08.dbn.zst", TRADES)
    build()
    before = snapshot(settings.db_path)
    other = [Trade(T0 + 1_000_000_000, 4999.75, 6, "A", sequence=20)]
    write_dbn(path, other)
    result = invoke(settings, "build")
    assert result.exit_code == 1
    assert "4 of the 4 trades loaded from it are not in it now" in result.output
    assert snapshot(settings.db_path) == before
    result = invoke(settings, "build", "--replace")
    assert result.exit_code == 0, result.output
    assert "1 rows, 1 new, replaced the 4 trade(s) of its earlier version" in result.output
    assert query("select count(*), sum(size) from trades") == [(1, 6)]
    assert query("select sum(volume), sum(delta) from bars_1min") == [(6, -6)]


def test_build_given_ohlcv_bar_differing_from_a_held_one_names_minute_and_field(
    tmp_path, settings, build
):
    first = write_ohlcv(tmp_path / "first.csv", BARS)
    build([first])
    before = snapshot(settings.db_path)
    changed = [BARS[0], (*BARS[1][:4], 5000.75, 7), BARS[2]]
    second = write_ohlcv(tmp_path / "second.csv", changed)
    result = invoke(settings, "build", str(second))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {second}: line 3: the 1-minute bar of instrument 1 at 2024-03-08 15:01:00 "
        f"(rtype 33) differs from the one already loaded from {first}: close 5000.75 here but "
        "5000.5 there; if this file is the corrected one, build again with --replace, "
        "otherwise remove it\n"
    )
    assert snapshot(settings.db_path) == before


def test_build_given_ohlcv_bar_differing_with_replace_keeps_the_new_bar(
    tmp_path, settings, build, query
):
    build([write_ohlcv(tmp_path / "first.csv", BARS)])
    changed = [BARS[0], (*BARS[1][:4], 5000.75, 8), BARS[2]]
    second = write_ohlcv(tmp_path / "second.csv", changed)
    result = invoke(settings, "build", "--replace", str(second))
    assert result.exit_code == 0, result.output
    assert "3 rows, 1 new, replaced 1 conflicting held bar(s)" in result.output
    assert query("select count(*), sum(volume), max(close) from ohlcv_1m") == [(3, 21, 5000.75)]


def test_build_given_ohlcv_file_equal_on_held_minutes_adds_only_new_minutes(
    tmp_path, settings, build, query
):
    path = write_ohlcv(settings.data_dir / OHLCV_NAME, BARS[:2])
    build()
    write_ohlcv(path, BARS)
    report = build()
    assert [(f.status, f.rows, f.rows_added) for f in report.files] == [("loaded", 3, 1)]
    assert query("select count(*), sum(volume) from ohlcv_1m") == [(3, 20)]


@pytest.mark.parametrize(
    ("rewritten", "how"),
    [
        (BARS[:2], "2024-03-08 15:02:00: absent now"),
        ([*BARS[:2], (*BARS[2][:5], 9)], "2024-03-08 15:02:00: volume 3 then, 9 now"),
    ],
)
def test_build_given_ohlcv_file_rewritten_under_its_name_refuses_then_replace_swaps_it(
    settings, build, query, rewritten, how
):
    path = write_ohlcv(settings.data_dir / OHLCV_NAME, BARS)
    build()
    before = snapshot(settings.db_path)
    write_ohlcv(path, rewritten)
    result = invoke(settings, "build")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path}: loaded before with other contents: 1 of the 3 ohlcv-1m bars loaded "
        f"from it are absent or differ now (the first: instrument 1 at {how}); if this file is "
        "the corrected one, build again with --replace to swap the old version's bars for this "
        "file's; if it holds other data, give it another name\n"
    )
    assert snapshot(settings.db_path) == before
    result = invoke(settings, "build", "--replace")
    assert result.exit_code == 0, result.output
    assert query("select count(*), sum(volume) from ohlcv_1m") == [
        (len(rewritten), sum(bar[5] for bar in rewritten))
    ]


def test_build_replace_refuses_when_a_later_file_may_hold_the_records_it_would_delete(
    settings, build, query
):
    # A later download of the same trades under another name shares them with the first file;
    # the first file, rewritten without them and replaced, must not take them out of the
    # warehouse.
    path = write_raw_csv(settings.data_dir / TRADES_NAME, TRADES)
    build()
    write_raw_csv(settings.data_dir / "trades_ESH4_2024-03-08_2024-03-10.csv", [*TRADES, TRADES[0]])
    build()
    before = snapshot(settings.db_path)
    write_raw_csv(path, TRADES[:2])
    result = invoke(settings, "build", "--replace")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}: --replace would delete trades that ")
    assert "trades_ESH4_2024-03-08_2024-03-10.csv, loaded after it, may also hold" in result.output
    assert result.output.count("\n") == 1
    assert snapshot(settings.db_path) == before
