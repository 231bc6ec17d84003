"""Bad input: one line naming file, line and problem; exit 1; the warehouse exactly as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import ESU4_TRADES, snapshot
from vcdwh.cli import cli
from vcdwh.errors import DataError

HEADER = (
    "ts_recv,ts_event,rtype,publisher_id,instrument_id,action,side,depth,price,size,flags,"
    "ts_in_delta,sequence,symbol"
)
GOOD = (
    "2024-07-01T23:58:01.218485389Z,2024-07-01T23:58:01.218218853Z,0,1,118,T,B,0,"
    "5528.750000000,2,0,17664,9060643,ESU4"
)


def _row(**changes: str) -> str:
    fields = dict(zip(HEADER.split(","), GOOD.split(","), strict=True))
    fields.update(changes)
    return ",".join(fields.values())


BAD_FILES = {
    "missing_column": (
        HEADER.replace(",side", "") + "\n" + GOOD.replace(",B,", ",") + "\n",
        "line 1: not a Databento trades or ohlcv-1m CSV header (missing column(s) side)",
    ),
    "non_numeric_price": (
        f"{HEADER}\n{GOOD}\n{_row(price='55x8.25')}\n",
        "line 3: price '55x8.25' is not a number",
    ),
    "unknown_side": (
        f"{HEADER}\n{GOOD}\n{GOOD}\n{_row(side='X')}\n",
        "line 4: unknown side code 'X' (expected A, B or N)",
    ),
    "truncated_last_line": (
        f"{HEADER}\n{GOOD}\n{GOOD[:40]}",
        "line 3: expected 14 fields, found 2 (truncated line?)",
    ),
    "empty": ("", "the file is empty"),
    "header_only": (f"{HEADER}\n", "no records after the header"),
    "html": (
        "<!DOCTYPE html>\n<html><body>502 Bad Gateway</body></html>\n",
        "line 1: this is HTML",
    ),
    "semicolons": (HEADER.replace(",", ";") + "\n", "the header is not comma-separated"),
    "negative_price": (
        f"{HEADER}\n{_row(price='-5528.75')}\n",
        "line 2: non-positive price -5528.750000000 for an outright",
    ),
    "zero_size": (f"{HEADER}\n{_row(size='0')}\n", "line 2: size 0 is not positive"),
    "overflowing_size": (
        f"{HEADER}\n{_row(size='99999999999')}\n",
        "line 2: size 99999999999 overflows 32 bits",
    ),
    "bad_timestamp": (
        f"{HEADER}\n{GOOD}\n{_row(ts_recv='yesterday')}\n",
        "line 3: cannot parse ts_recv 'yesterday' as a timestamp",
    ),
    # Values that the trades table itself refuses (NOT NULL, 32-bit instrument_id).
    "missing_price": (f"{HEADER}\n{GOOD}\n{_row(price='')}\n", "line 3: missing price"),
    "missing_side": (
        f"{HEADER}\n{_row(side='')}\n",
        "line 2: unknown side code NULL (expected A, B or N)",
    ),
    "missing_ts_event": (f"{HEADER}\n{GOOD}\n{_row(ts_event='')}\n", "line 3: missing timestamp"),
    "overflowing_instrument_id": (
        f"{HEADER}\n{GOOD}\n{_row(instrument_id='99999999999')}\n",
        "line 3: instrument_id 99999999999 overflows 32 bits",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_build_given_bad_csv_names_file_line_and_problem(tmp_path, settings, case):
    # Arrange
    content, expected = BAD_FILES[case]
    path = tmp_path / f"trades_{case}.csv"
    path.write_text(content)
    # Act
    result = CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), "build", str(path)])
    # Assert
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: {path}: ")
    assert expected in lines[0]
    assert not settings.db_path.exists()


def test_build_given_non_utf8_bytes_names_the_line(tmp_path, build):
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"{HEADER}\n{GOOD}\n".encode() + "caf\xe9,\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.csv: line 3: bytes that are not UTF-8"):
        build([path])


def test_build_given_zero_byte_dbn_says_fetch_again(tmp_path, build):
    path = tmp_path / "empty.dbn.zst"
    path.touch()
    with pytest.raises(DataError, match=r"empty.dbn.zst: the file is empty \(0 bytes\)"):
        build([path])


def test_build_given_corrupt_dbn_is_a_data_error(tmp_path, build):
    path = tmp_path / "junk.dbn.zst"
    path.write_bytes(b"this is not zstd at all" * 10)
    with pytest.raises(DataError, match=r"junk.dbn.zst: not a readable DBN file"):
        build([path])


def test_build_given_bad_file_after_good_ones_leaves_warehouse_unchanged(
    shared, tmp_path, build, settings
):
    # Arrange: a loaded warehouse.
    build([shared / "csv" / f"{ESU4_TRADES}.pretty.csv"])
    before = snapshot(settings.db_path)
    good = tmp_path / "good.csv"
    good.write_text(f"{HEADER}\n{_row(ts_recv='2024-07-02T00:05:00.000000000Z')}\n")
    bad = tmp_path / "zbad.csv"
    bad.write_text(f"{HEADER}\n{_row(side='Q')}\n")
    # Act
    result = CliRunner().invoke(
        cli, ["--data-dir", str(settings.data_dir), "build", str(good), str(bad)]
    )
    # Assert: the good file's rows were rolled back with the rest.
    assert result.exit_code == 1
    assert "zbad.csv: line 2: unknown side code 'Q'" in result.output
    assert snapshot(settings.db_path) == before


def test_build_given_dotdot_path_is_refused(settings, build):
    with pytest.raises(DataError, match=r"refusing a path with '\.\.'"):
        build(["../x/trades.csv"])


def test_build_given_missing_file_names_it(settings, build):
    with pytest.raises(DataError, match=r"nope.csv: no such file"):
        build([Path("nope.csv")])


def test_build_given_bad_frequency_is_a_usage_error(settings):
    result = CliRunner().invoke(
        cli, ["--data-dir", str(settings.data_dir), "build", "--frequency", "7 parsecs"]
    )
    assert result.exit_code == 2
    assert (
        "Invalid value for '--frequency' / '-f': '7 parsecs' is not a bar interval" in result.output
    )


def test_build_given_a_killed_writers_spill_folder_removes_it_and_builds(tmp_path):
    # A build killed while DuckDB spilled leaves `.vcdwh.duckdb.<pid>.tmp.spill/`; the next writer
    # removes it (files and folders) instead of failing on it.
    from vcdwh.build import build_warehouse
    from vcdwh.config import Settings
    from vcdwh.sample import generate_sample

    settings = Settings(tmp_path / "Data", tmp_path / "Data" / "vcdwh.duckdb")
    generate_sample(settings.data_dir, days=2, trades_per_day=200)
    spill = settings.data_dir / ".vcdwh.duckdb.999999.tmp.spill"
    spill.mkdir()
    (spill / "duckdb_temp_storage-0.tmp").write_bytes(b"\0" * 1024)
    copy = settings.data_dir / ".vcdwh.duckdb.999999.tmp"
    copy.write_bytes(b"half a copy")
    report = build_warehouse(settings)
    assert report.trades > 0
    assert not spill.exists() and not copy.exists()


def test_build_given_a_file_that_is_not_databento_never_prints_what_it_holds(tmp_path):
    secret = tmp_path / ".env"
    secret.write_text("DATABENTO_API_KEY=db-not-to-be-seen\n")
    data = tmp_path / "Data"
    data.mkdir()
    (data / "trades_X_2024-01-01_2024-01-02.csv").symlink_to(secret)
    for args in (["build", str(secret)], ["build"]):
        result = CliRunner().invoke(cli, ["--data-dir", str(data), *args])
        assert result.exit_code == 1
        assert "db-not-to-be-seen" not in result.output and "DATABENTO_API_KEY" not in result.output
        assert "not a Databento CSV" in result.output
        assert len(result.output.splitlines()) == 1


def test_build_given_control_characters_in_a_name_or_header_shows_them_escaped(tmp_path):
    data = tmp_path / "Data"
    data.mkdir()
    header = (
        "ts_recv,ts_event,rtype,publisher_id,instrument_id,action,side,depth,price,size,flags,"
        "ts_in_delta,sequence,odd\x1b[31mcol"
    )
    (data / "trades_E\nS_2024-01-01_2024-01-02.csv").write_text(header + "\n")
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "build"])
    assert result.exit_code == 1
    assert "\x1b" not in result.output and result.output.count("\n") == 1
    assert "trades_E\\nS_2024" in result.output and "odd\\x1b[31mcol" in result.output


def test_build_given_no_data_and_no_warehouse_exits_1_pointing_to_sample_and_fetch(tmp_path):
    data = tmp_path / "Data"
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "build"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: no data files in {data} ")
    assert "`vcdwh sample`" in result.output and "`vcdwh fetch`" in result.output
    assert not (data / "vcdwh.duckdb").exists()
