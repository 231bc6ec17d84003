"""Loading is idempotent and counts occurrences: nothing counted twice, nothing dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ESH4_DERIVED, snapshot


def _lines(shared: Path) -> tuple[str, list[str]]:
    text = (shared / "csv" / f"{ESH4_DERIVED}.pretty.csv").read_text()
    header, *rows = text.splitlines(keepends=True)
    return header, rows


def test_esh4_sample_holds_identical_rows_that_are_separate_trades(shared):
    _, rows = _lines(shared)
    assert len(rows) - len(set(rows)) == 15


def test_build_twice_changes_nothing(shared, build, settings):
    source = shared / "csv" / f"{ESH4_DERIVED}.pretty.csv"
    build([source])
    before = snapshot(settings.db_path)
    report = build([source])
    assert [f.status for f in report.files] == ["skipped"]
    after = snapshot(settings.db_path)
    before.pop("bar_intervals"), after.pop("bar_intervals")
    assert before == after


def test_build_given_same_content_under_another_name_adds_nothing(shared, build, query, tmp_path):
    source = shared / "csv" / f"{ESH4_DERIVED}.pretty.csv"
    copy = tmp_path / "renamed.csv"
    copy.write_bytes(source.read_bytes())
    build([source])
    report = build([copy])
    assert report.files[0].status == "skipped"
    assert query("select count(*), sum(size) from trades") == [(2973, 9892)]


def test_build_given_overlapping_files_counts_each_trade_once(shared, build, query, tmp_path):
    # Arrange: two windows that overlap on 1,000 rows, like a 7-day fetch today and yesterday's.
    header, rows = _lines(shared)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text(header + "".join(rows[:2000]))
    second.write_text(header + "".join(rows[1000:]))
    # Act
    build([first])
    report = build([second])
    # Assert: exactly the trades of the whole session, the 15 repeated fills kept.
    assert report.loaded[0].rows == 1973
    assert report.loaded[0].rows_added == 973
    assert query("select count(*), sum(size) from trades") == [(2973, 9892)]
    assert query("select sum(volume), max_by(cumulative_delta, bar_start) from bars_1min") == [
        (9892, 796)
    ]


def test_build_given_redownload_with_extra_rows_adds_only_the_new_rows(
    shared, build, query, tmp_path
):
    header, rows = _lines(shared)
    path = tmp_path / "trades_ESH4_2023-12-25_2023-12-26.csv"
    path.write_text(header + "".join(rows[:2500]))
    build([path])
    path.write_text(header + "".join(rows))
    report = build([path])
    assert report.loaded[0].rows_added == 473
    assert query("select count(*) from trades") == [(2973,)]


def test_build_given_csv_and_dbn_of_the_same_trades_counts_them_once(shared, build, query):
    build(
        [shared / "csv" / f"{ESH4_DERIVED}.raw.csv", shared / "derived" / f"{ESH4_DERIVED}.dbn.zst"]
    )
    assert query("select count(*), sum(size) from trades") == [(2973, 9892)]
    assert query("select count(*) from loaded_files") == [(2,)]


def test_build_discovers_seed_named_files_in_data_dir(shared, build, query, settings):
    source = shared / "csv" / f"{ESH4_DERIVED}.pretty.csv"
    (settings.data_dir / "trades_ES.FUT_2023-12-25_2023-12-26.csv").write_bytes(source.read_bytes())
    (settings.data_dir / "notes.csv").write_text("not,a,data,file\n")
    report = build()
    assert [f.path.name for f in report.loaded] == ["trades_ES.FUT_2023-12-25_2023-12-26.csv"]
    assert query("select path, schema, layout, rows, rows_added from loaded_files") == [
        (
            str(settings.data_dir / "trades_ES.FUT_2023-12-25_2023-12-26.csv"),
            "trades",
            "pretty",
            2973,
            2973,
        )
    ]


def test_build_given_unchanged_file_skips_it_without_hashing(shared, build, settings, monkeypatch):
    import os

    import vcdwh.build

    target = settings.data_dir / "trades_ESH4_2023-12-25_2023-12-26.csv"
    target.write_bytes((shared / "csv" / f"{ESH4_DERIVED}.pretty.csv").read_bytes())
    build()

    def no_hashing(path):
        raise AssertionError(f"{path} was hashed again")

    monkeypatch.setattr(vcdwh.build, "content_hash", no_hashing)
    report = build()
    assert [(f.status, f.reason) for f in report.files] == [
        ("skipped", "already loaded (unchanged)")
    ]
    # A touched file (same bytes, new mtime) is hashed again and recognised by its content.
    monkeypatch.undo()
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    report = build()
    assert [(f.status, f.reason) for f in report.files] == [("skipped", "already loaded")]


@pytest.mark.slow
def test_build_records_each_trade_position_in_file_order_across_row_groups(settings, build, query):
    # 300k trades span several DuckDB row groups and parallel CSV chunks; the synthetic file is
    # sorted by (ts_recv, sequence), so positions must follow that order exactly, 0..n-1.
    from datetime import date

    from vcdwh.sample import generate_sample

    report = generate_sample(
        settings.data_dir, days=2, start=date(2024, 3, 4), trades_per_day=300_000
    )
    build([report.trades_path])
    assert query(
        "select count(*), count(distinct position), min(position), max(position) from trades"
    ) == [(report.trades, report.trades, 0, report.trades - 1)]
    assert query(
        "select count(*) from (select position, row_number() over"
        " (order by ts_recv, sequence, position) - 1 as expected from trades)"
        " where position <> expected"
    ) == [(0,)]


def test_build_given_a_dbn_file_in_many_chunks_adds_what_its_csv_adds(tmp_path, monkeypatch):
    # The DBN records stream into `trades` a chunk at a time (here 700 records, the last one
    # shorter): the trades, their order and every bar equal a build of the same CSV.
    from bench.dbnfile import csv_to_dbn
    from tests.helpers import mart_differences
    from tests.procs import sample_day
    from vcdwh.build import build_warehouse
    from vcdwh.config import Settings
    from vcdwh.load import stage

    day = sample_day(tmp_path / "csv", 5, 3_000)
    dbn = tmp_path / "dbn" / "day5.dbn.zst"
    dbn.parent.mkdir()
    csv_to_dbn(day, dbn)
    monkeypatch.setattr(stage, "DBN_CHUNK_ROWS", 700)
    from_csv = Settings(day.parent, tmp_path / "csv.duckdb")
    from_dbn = Settings(dbn.parent, tmp_path / "dbn.duckdb")
    assert build_warehouse(from_csv).trades == build_warehouse(from_dbn).trades > 2 * 700
    marts = ["trades", "bars_1min", "footprint_1min", "sessions", "profile_session"]
    assert mart_differences(from_csv.db_path, from_dbn.db_path, marts) == dict.fromkeys(marts, 0)


def test_stage_dbn_given_disabled_optimizers_leaves_them_as_they_were(tmp_path):
    # The insert keeps the records on the probe side of the symbol join for its own statement.
    import duckdb

    from bench.dbnfile import csv_to_dbn
    from tests.procs import sample_day
    from vcdwh.datafiles import SourceFile
    from vcdwh.load.stage import open_dbn, stage_dbn

    dbn = tmp_path / "day5.dbn.zst"
    csv_to_dbn(sample_day(tmp_path / "csv", 5, 500), dbn)
    source = SourceFile(dbn, "", dbn.stat().st_size, "trades", "dbn", None)
    con = duckdb.connect()
    con.execute("set disabled_optimizers = 'join_order'")
    stage_dbn(con, source, open_dbn(dbn))
    assert con.execute("select count(*) from stg_trades").fetchone() == (500,)
    setting = con.execute("select current_setting('disabled_optimizers')").fetchone()
    assert setting == ("join_order",)
