"""Values the loader used to accept or misread: each is refused naming file, line and field (exit
1, warehouse unchanged) or, under `--on-bad-rows skip`, kept in `rejected_rows` naming the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import snapshot
from tests.helpers import Trade, ns, write_raw_csv
from vcdwh.cli import cli

LAYOUTS = {
    "pretty": (
        "ts_recv,ts_event,rtype,publisher_id,instrument_id,action,side,depth,price,size,flags,"
        "ts_in_delta,sequence,symbol",
        "2024-07-01T23:58:01.218485389Z,2024-07-01T23:58:01.218218853Z,0,1,118,T,B,0,"
        "5528.750000000,2,0,17664,9060643,ESU4",
    ),
    "raw": (
        "ts_recv,ts_event,rtype,publisher_id,instrument_id,action,side,depth,price,size,flags,"
        "ts_in_delta,sequence",
        "1719878281218485389,1719878281218218853,0,1,118,T,B,0,5528750000000,2,0,17664,9060643",
    ),
    "ohlcv_pretty": (
        "ts_event,rtype,publisher_id,instrument_id,open,high,low,close,volume,symbol",
        "2024-07-01T23:40:00.000000000Z,33,1,118,5527.250000000,5527.500000000,"
        "5527.000000000,5527.500000000,180,ESU4",
    ),
    "ohlcv_raw": (
        "ts_event,rtype,publisher_id,instrument_id,open,high,low,close,volume",
        "1719877200000000000,33,1,118,5527250000000,5527500000000,5527000000000,5527500000000,180",
    ),
}

# case: (layout, the fields line 3 changes from the good line 2, what the error says of it)
BAD_VALUES = {
    "raw_price_with_a_decimal_point": (
        "raw",
        {"price": "5528.75"},
        "price '5528.75' is not an integer (the raw layout writes prices in units of 1e-9)",
    ),
    "raw_ts_recv_in_exponent_notation": (
        "raw",
        {"ts_recv": "1.7e18"},
        "ts_recv '1.7e18' is not an integer (the raw layout writes nanoseconds since 1970)",
    ),
    "raw_ts_event_before_1990": (
        "raw",
        {"ts_event": "-300000000000000000"},
        "ts_event -300000000000000000 is out of range (1990-01-01 to 2200-01-01)",
    ),
    "pretty_ts_recv_with_a_non_utc_offset": (
        "pretty",
        {"ts_recv": "2024-07-01T23:58:02.000000000+05:00"},
        "ts_recv '2024-07-01T23:58:02.000000000+05:00' is not UTC "
        "(Databento writes UTC timestamps ending in Z)",
    ),
    "pretty_ts_event_before_1990": (
        "pretty",
        {"ts_event": "1960-07-01T23:58:02.000000000Z"},
        "ts_event '1960-07-01T23:58:02.000000000Z' is out of range (1990-01-01 to 2200-01-01)",
    ),
    "pretty_ts_recv_before_1990": (
        "pretty",
        {"ts_recv": "1960-07-01T23:58:02.000000000Z"},
        "ts_recv '1960-07-01T23:58:02.000000000Z' is out of range (1990-01-01 to 2200-01-01)",
    ),
    "nul_bytes_in_a_symbol": (
        "pretty",
        {"symbol": "ES\x00U4"},
        "symbol 'ES\\x00U4' holds control characters",
    ),
    "a_control_character_at_the_end_of_a_symbol": (
        "pretty",
        {"symbol": "ESU4\x1f"},
        "symbol 'ESU4\\x1f' holds control characters",
    ),
    "negative_instrument_id": ("pretty", {"instrument_id": "-1"}, "instrument_id -1 is negative"),
    "price_beyond_decimal_18_9": (
        "pretty",
        {"price": "12345678901.5"},
        "price '12345678901.5' is out of range (at most 999999999.999999999)",
    ),
    "ts_recv_in_2263": (
        "pretty",
        {"ts_recv": "2263-01-01T00:00:00.000000000Z"},
        "ts_recv '2263-01-01T00:00:00.000000000Z' is out of range (1990-01-01 to 2200-01-01)",
    ),
    "ts_recv_in_9999": (
        "pretty",
        {"ts_recv": "9999-01-01T00:00:00.000000000Z"},
        "ts_recv '9999-01-01T00:00:00.000000000Z' is out of range (1990-01-01 to 2200-01-01)",
    ),
    "ts_recv_in_month_13": (
        "pretty",
        {"ts_recv": "2024-13-01T00:00:00.000000000Z"},
        "ts_recv '2024-13-01T00:00:00.000000000Z' is not a valid date and time",
    ),
    "instrument_id_of_1e23": (
        "pretty",
        {"instrument_id": "1" + "0" * 23},
        "instrument_id 100000000000000000000000 overflows 32 bits",
    ),
    "negative_sequence": ("pretty", {"sequence": "-1"}, "sequence -1 is negative"),
    "sequence_of_2_to_the_64": (
        "pretty",
        {"sequence": str(2**64)},
        "sequence 18446744073709551616 overflows 64 bits",
    ),
    "ohlcv_ts_event_with_a_non_utc_offset": (
        "ohlcv_pretty",
        {"ts_event": "2024-07-01T23:41:00.000000000-05:00"},
        "ts_event '2024-07-01T23:41:00.000000000-05:00' is not UTC",
    ),
    "ohlcv_raw_open_with_a_decimal_point": (
        "ohlcv_raw",
        {"ts_event": "1719877260000000000", "open": "5527.25"},
        "open '5527.25' is not an integer (the raw layout writes prices in units of 1e-9)",
    ),
    "ohlcv_ts_event_before_1990": (
        "ohlcv_pretty",
        {"ts_event": "1960-07-01T23:41:00.000000000Z"},
        "ts_event '1960-07-01T23:41:00.000000000Z' is out of range",
    ),
}


def invoke(settings, *args):
    return CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), *args])


def write_case(folder: Path, case: str) -> Path:
    """A file of the case's layout: a good record on line 2, the bad one on line 3."""
    layout, changes, _ = BAD_VALUES[case]
    header, good = LAYOUTS[layout]
    fields = dict(zip(header.split(","), good.split(","), strict=True))
    fields.update(changes)
    kind = "ohlcv_1m" if layout.startswith("ohlcv") else "trades"
    path = folder / f"{kind}_{case}.csv"
    path.write_bytes(f"{header}\n{good}\n{','.join(fields.values())}\n".encode())
    return path


@pytest.fixture(name="base", scope="module")
def fixture_base(tmp_path_factory) -> Path:
    """A loaded warehouse to copy into each test."""
    from vcdwh.build import build_warehouse
    from vcdwh.config import Settings

    folder = tmp_path_factory.mktemp("base")
    trades = [Trade(ns("2024-03-08 15:00:00") + i * 10**9, 5000 + i / 4, 1, "B") for i in range(5)]
    settings = Settings(folder, folder / "vcdwh.duckdb")
    build_warehouse(settings, [write_raw_csv(folder / "base.csv", trades)])
    return settings.db_path


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_build_given_a_bad_value_names_file_line_field_and_value_and_changes_nothing(
    base, tmp_path, settings, case
):
    # Arrange: a loaded warehouse and a file whose line 3 holds the bad value.
    shutil.copyfile(base, settings.db_path)
    before = snapshot(settings.db_path)
    path = write_case(tmp_path, case)
    # Act
    result = invoke(settings, "build", str(path))
    # Assert: one escaped line naming file, line, field and value; the warehouse as before.
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith(f"Error: {path}: line 3: {BAD_VALUES[case][2]}")
    assert "\x00" not in result.output
    assert snapshot(settings.db_path) == before


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_build_skip_given_a_bad_value_keeps_the_good_record_and_rejects_the_bad_naming_the_field(
    tmp_path, settings, query, case
):
    # Arrange
    path = write_case(tmp_path, case)
    table = "ohlcv_1m" if BAD_VALUES[case][0].startswith("ohlcv") else "trades"
    # Act
    result = invoke(settings, "build", "--on-bad-rows", "skip", str(path))
    # Assert: line 2 loaded, line 3 in rejected_rows with the reason naming the field.
    assert result.exit_code == 0, result.output
    assert "1 bad row(s) skipped (see rejected_rows)" in result.output
    assert query(f"select count(*) from {table}") == [(1,)]
    [(line, reason)] = query("select line, reason from rejected_rows")
    assert line == 3
    assert reason.startswith(BAD_VALUES[case][2])


def test_build_given_pretty_timestamps_in_z_plus_00_00_or_no_offset_reads_them_all_as_utc(
    tmp_path, settings, query
):
    # Databento's pretty CSV writes UTC with `Z`; `+00:00` (pandas) and no offset are UTC too.
    header, good = LAYOUTS["pretty"]
    stamps = [
        "2024-07-01T23:58:01.218485389Z",
        "2024-07-01T23:58:01.218485389+00:00",
        "2024-07-01 23:58:01.218485389",
    ]
    lines = [
        good.replace("2024-07-01T23:58:01.218485389Z", stamp, 1).replace(
            ",9060643,", f",{9060643 + i},"
        )
        for i, stamp in enumerate(stamps)
    ]
    path = tmp_path / "trades_ESU4_2024-07-01_2024-07-02.csv"
    path.write_text("\n".join([header, *lines]) + "\n")
    result = invoke(settings, "build", str(path))
    assert result.exit_code == 0, result.output
    assert query("select distinct epoch_ns(ts_recv) from trades") == [(1719878281218485389,)]
    assert query("select count(*) from trades") == [(3,)]


@pytest.mark.parametrize("mib", [24, 32])
def test_build_given_a_junk_last_line_of_many_mib_refuses_it_whatever_its_length(
    base, tmp_path, settings, mib
):
    # DuckDB's CSV reader drops a last line longer than its read buffer (32 MiB) silently.
    shutil.copyfile(base, settings.db_path)
    before = snapshot(settings.db_path)
    header, good = LAYOUTS["pretty"]
    path = tmp_path / "trades_junk.csv"
    path.write_bytes(f"{header}\n{good}\n{good}\n".encode() + b"x" * (mib * 2**20) + b"\n")
    result = invoke(settings, "build", str(path))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path}: line 4: a line of {mib * 2**20:,} bytes, far longer than any record "
        "(junk at the end of the file?); remove that line and build again\n"
    )
    assert snapshot(settings.db_path) == before


def test_build_skip_given_a_junk_last_line_rejects_it_and_keeps_a_short_excerpt(
    tmp_path, settings, query
):
    header, good = LAYOUTS["pretty"]
    path = tmp_path / "trades_junk.csv"
    path.write_bytes(f"{header}\n{good}\n{good}\n".encode() + b"x" * (32 * 2**20))
    result = invoke(settings, "build", "--on-bad-rows", "skip", str(path))
    assert result.exit_code == 0, result.output
    assert query("select count(*) from trades") == [(2,)]
    [(line, reason, raw)] = query("select line, reason, raw from rejected_rows")
    assert line == 4
    assert reason.startswith("a line of 33,554,432 bytes, far longer than any record")
    assert raw == "x" * 1000 + "…"


# ------------------------------------------------------------------------------- DBN


def _dbn_trades(records: int = 120) -> tuple[bytes, list[bytes]]:
    """A DBN trades file's metadata and records, crafted with Databento's own encoder."""
    import databento_dbn as dbn

    metadata = dbn.Metadata(
        dataset="GLBX.MDP3",
        schema=dbn.Schema.TRADES,
        start=ns("2024-07-01 23:58:00"),
        end=ns("2024-07-02 00:02:00"),
        stype_in=dbn.SType.RAW_SYMBOL,
        stype_out=dbn.SType.INSTRUMENT_ID,
        symbols=["ESU4"],
        partial=[],
        not_found=[],
        mappings=[],
        version=3,
    )
    body = [
        bytes(
            dbn.TradeMsg(
                publisher_id=1,
                instrument_id=118,
                ts_event=ns("2024-07-01 23:58:01") + i * 10**9,
                ts_recv=ns("2024-07-01 23:58:01") + i * 10**9 + 1000,
                price=5_528_750_000_000 + (i % 4) * 250_000_000,
                size=1,
                action=dbn.Action.TRADE,
                side=dbn.Side.BID if i % 2 else dbn.Side.ASK,
                flags=0,
                depth=0,
                ts_in_delta=0,
                sequence=i,
            )
        )
        for i in range(records)
    ]
    return metadata.encode(), body


def write_dbn_zst(path: Path) -> Path:
    """A .dbn.zst as Databento writes one: the metadata in a zstd frame, records in others."""
    import zstandard

    metadata, records = _dbn_trades()
    compressor = zstandard.ZstdCompressor()
    frames = [compressor.compress(metadata)] + [
        compressor.compress(b"".join(records[i : i + 30])) for i in range(0, len(records), 30)
    ]
    path.write_bytes(b"".join(frames))
    return path


def test_build_given_a_complete_crafted_dbn_zst_loads_all_its_records(tmp_path, settings, query):
    path = write_dbn_zst(tmp_path / "glbx-mdp3_ESU4_trades.dbn.zst")
    result = invoke(settings, "build", str(path))
    assert result.exit_code == 0, result.output
    assert query("select count(*) from trades") == [(120,)]


@pytest.mark.parametrize("policy", ["error", "skip"])
def test_build_given_a_dbn_zst_cut_in_half_refuses_the_file_and_says_to_download_it_again(
    base, tmp_path, settings, policy
):
    # Arrange: the databento library decodes the first frames of such a file without a word.
    shutil.copyfile(base, settings.db_path)
    before = snapshot(settings.db_path)
    whole = write_dbn_zst(tmp_path / "whole.dbn.zst").read_bytes()
    path = tmp_path / "glbx-mdp3_ESU4_trades.dbn.zst"
    path.write_bytes(whole[: len(whole) // 2])
    # Act
    result = invoke(settings, "build", "--on-bad-rows", policy, str(path))
    # Assert
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path}: the DBN file is truncated (its last zstd frame is cut short); "
        "delete it and download it again (vcdwh fetch --refresh)\n"
    )
    assert snapshot(settings.db_path) == before


def test_build_given_a_dbn_zst_of_whole_frames_whose_last_record_is_cut_short_refuses_it(
    tmp_path, settings
):
    # Arrange: every zstd frame is whole, but the records inside stop 20 bytes into the last one.
    import zstandard

    metadata, records = _dbn_trades()
    path = tmp_path / "glbx-mdp3_ESU4_trades.dbn.zst"
    compressor = zstandard.ZstdCompressor()
    path.write_bytes(compressor.compress(metadata) + compressor.compress(b"".join(records)[:-20]))
    # Act
    result = invoke(settings, "build", str(path))
    # Assert
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path}: the DBN file is truncated (its last record is cut short); "
        "delete it and download it again (vcdwh fetch --refresh)\n"
    )
    assert not settings.db_path.exists()


def test_build_given_a_dbn_zst_with_a_damaged_block_says_it_is_corrupt_and_to_download_it_again(
    tmp_path, settings
):
    # Arrange: whole frames, but two bytes inside a compressed block of records are changed.
    whole = bytearray(write_dbn_zst(tmp_path / "whole.dbn.zst").read_bytes())
    whole[len(whole) // 2] ^= 0xFF
    whole[len(whole) // 2 + 1] ^= 0x55
    path = tmp_path / "glbx-mdp3_ESU4_trades.dbn.zst"
    path.write_bytes(bytes(whole))
    # Act
    result = invoke(settings, "build", str(path))
    # Assert
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}: the DBN file is corrupt (zstd"), result.output
    assert result.output.endswith("); delete it and download it again (vcdwh fetch --refresh)\n")
    assert not settings.db_path.exists()


@pytest.mark.parametrize(
    "compressor_options",
    [
        {},
        {"write_checksum": True, "write_content_size": False},
        {"write_checksum": True, "write_dict_id": False, "level": 19},
    ],
)
def test_check_dbn_complete_given_a_dbn_zst_cut_anywhere_refuses_it_unless_at_a_frame_end(
    tmp_path, compressor_options
):
    # Arrange: metadata, a skippable frame and three frames of records; every cut inside a
    # frame (its header, a block's header or contents, its checksum) leaves it cut short.
    from types import SimpleNamespace

    import zstandard

    from vcdwh.errors import DataError
    from vcdwh.load.stage import check_dbn_complete

    metadata, records = _dbn_trades()
    compressor = zstandard.ZstdCompressor(**compressor_options)
    skippable = (0x184D2A53).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"notes"
    frames = [compressor.compress(metadata), skippable] + [
        compressor.compress(b"".join(records[i : i + 40])) for i in range(0, len(records), 40)
    ]
    whole = b"".join(frames)
    ends = {sum(len(frame) for frame in frames[: k + 1]) for k in range(len(frames))}
    path = tmp_path / "cut.dbn.zst"
    store = SimpleNamespace(schema="trades")
    refused = []
    # Act: from 4 bytes on, what starts a zstd frame (shorter files are not zstd at all)
    for cut in range(4, len(whole) + 1):
        path.write_bytes(whole[:cut])
        try:
            check_dbn_complete(path, store)
        except DataError as error:
            assert "the DBN file is truncated (its last zstd frame is cut short)" in str(error)
            refused.append(cut)
    # Assert
    assert set(refused) == set(range(4, len(whole) + 1)) - ends


def test_build_given_an_uncompressed_dbn_cut_inside_a_record_refuses_the_file(tmp_path, settings):
    metadata, records = _dbn_trades()
    path = tmp_path / "glbx-mdp3_ESU4_trades.dbn"
    path.write_bytes(metadata + b"".join(records)[:-20])
    result = invoke(settings, "build", str(path))
    assert result.exit_code == 1
    assert result.output.startswith(
        f"Error: {path}: the DBN file is truncated (its last record is cut short after 28 bytes)"
    )
    assert not settings.db_path.exists()
