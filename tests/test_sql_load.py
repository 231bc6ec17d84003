"""vcdwh sql under load: memory cap, streamed output, timeout, Ctrl-C, a private spill folder,
and nothing but the warehouse to read."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from click.testing import CliRunner

from tests.procs import env
from vcdwh import query as query_module
from vcdwh.cli import cli
from vcdwh.query import QueryResult, _spill_folder, format_result, stream_query

HEAVY_JOIN = "select count(*) from range(100000) a, range(100000) b, range(100000) c"
# Groups and sorts two million keys: spills to disk under a 40MB cap.
SPILLING = (
    "select count(*) from (select range % 2000000 k, count(*) from range(10000000) "
    "group by k order by k)"
)


@pytest.fixture(name="small", scope="module")
def fixture_small(tmp_path_factory):
    """A warehouse built from two days of the offline sample."""
    from vcdwh.build import build_warehouse
    from vcdwh.config import Settings
    from vcdwh.sample import generate_sample

    folder = tmp_path_factory.mktemp("small") / "Data"
    generate_sample(folder, days=2, trades_per_day=100)
    settings = Settings(folder, folder / "vcdwh.duckdb")
    build_warehouse(settings)
    return settings


def invoke(settings, *args):
    return CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), "sql", *args])


def one_error_line(result):
    assert result.output.startswith("Error: "), result.output
    assert result.output.count("\n") == 1, result.output
    assert "Traceback" not in result.output
    return result.output


# --------------------------------------------------------------------------- streaming


def test_sql_csv_given_many_rows_yields_them_in_batches_before_the_end(small):
    pieces = stream_query(small.db_path, "select range from range(100000)", "csv")
    assert next(pieces) == "range\n"
    first_batch = next(pieces)
    assert 0 < first_batch.count("\n") < 100000
    rest = "".join(pieces)
    assert (first_batch + rest).splitlines() == [str(i) for i in range(100000)]


def test_sql_json_given_several_batches_is_one_valid_array_laid_out_as_before(small):
    query = (
        "select range id, range / 4 q, range::decimal(18,9) / 8 d, "
        "case when range % 3 = 0 then 'infinity'::double end f from range(45000)"
    )
    text = "".join(stream_query(small.db_path, query, "json"))
    data = json.loads(text)
    assert len(data) == 45000
    assert data[3] == {"id": 3, "q": 0.75, "d": 0.375, "f": None}
    assert data[4]["f"] is None and "f" in data[4]
    result = query_module.run_query(small.db_path, query)
    assert text == format_result(result, "json") + "\n"


def test_sql_json_given_no_rows_prints_an_empty_array(small):
    result = invoke(small, "--format", "json", "select 1 a where false")
    assert result.exit_code == 0
    assert result.output == "[]\n"


def test_sql_csv_given_no_rows_prints_the_header(small):
    result = invoke(small, "--format", "csv", "select 1 a, 2 b where false")
    assert result.output == "a,b\n"


def test_sql_table_given_more_rows_than_it_shows_says_so(small, monkeypatch):
    monkeypatch.setattr(query_module, "TABLE_ROW_LIMIT", 5)
    result = invoke(small, "select range from range(100)")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[2:7] == ["    0", "    1", "    2", "    3", "    4"]
    assert lines[-1] == (
        "(only the first 5 rows are shown; add a LIMIT, or use --format csv or json for every row)"
    )


def test_sql_table_given_exactly_the_rows_it_shows_adds_nothing(small, monkeypatch):
    monkeypatch.setattr(query_module, "TABLE_ROW_LIMIT", 5)
    result = invoke(small, "select range from range(5)")
    assert result.output.splitlines()[-1] == "(5 rows)"


# --------------------------------------------------------------------------- memory


def test_sql_runs_under_the_builds_memory_limit(small, monkeypatch):
    monkeypatch.setenv("VCDWH_MEMORY_LIMIT", "300MB")
    result = invoke(small, "--format", "csv", "select current_setting('memory_limit') m")
    assert result.output == "m\n286.1 MiB\n"


def test_sql_given_a_query_beyond_the_memory_limit_prints_one_line(small, monkeypatch):
    monkeypatch.setenv("VCDWH_MEMORY_LIMIT", "20MB")
    result = invoke(small, "select max(len(l)) from (select list(range) l from range(50000000))")
    assert result.exit_code == 1
    line = one_error_line(result)
    assert line.startswith("Error: out of memory (Out of Memory Error: ")
    assert line.endswith(
        "add a LIMIT or narrow the query, or raise VCDWH_MEMORY_LIMIT (now 20MB)\n"
    )


def test_sql_given_memory_error_while_formatting_prints_one_line(small, monkeypatch):
    def exhausted(*args):
        raise MemoryError

    monkeypatch.setattr(query_module, "_json_object", exhausted)
    result = invoke(small, "--format", "json", "select 1 a")
    assert result.exit_code == 1
    assert one_error_line(result).startswith("Error: out of memory (Python ran out of memory);")


# --------------------------------------------------------------------------- timeout


def test_sql_given_a_query_past_its_timeout_stops_it_with_one_line(small):
    result = invoke(small, "--timeout", "0.5", HEAVY_JOIN)
    assert result.exit_code == 1
    assert one_error_line(result) == (
        "Error: query stopped after 0.5 s (--timeout); add a LIMIT or narrow it, or allow "
        "longer with --timeout SECONDS (0: no limit)\n"
    )


def test_sql_given_timeout_zero_lets_the_query_finish(small):
    result = invoke(small, "--timeout", "0", "--format", "csv", "select 42 a")
    assert result.output == "a\n42\n"


def test_sql_given_a_negative_timeout_is_a_usage_error(small):
    assert invoke(small, "--timeout", "-1", "select 1").exit_code == 2


# --------------------------------------------------------------------------- spill folder


def test_spill_folder_is_private_and_removed_also_after_an_error():
    with pytest.raises(RuntimeError), _spill_folder() as folder:
        assert folder.stat().st_mode & 0o777 == 0o700
        (folder / "spilled").write_bytes(b"x")
        raise RuntimeError
    assert not folder.exists()


def test_sql_spills_to_a_private_folder_outside_the_data_folder_and_removes_it(
    small, monkeypatch, tmp_path
):
    monkeypatch.setenv("VCDWH_MEMORY_LIMIT", "40MB")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    spilled: set[str] = set()
    done = threading.Event()

    def watch():  # what DuckDB writes into the folder while the query runs
        while not done.is_set():
            with contextlib.suppress(OSError):
                spilled.update(p.name for p in tmp_path.glob("vcdwh-sql-*/*"))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        query = f"select current_setting('temp_directory') t, ({SPILLING}) n"
        result = invoke(small, "--format", "csv", query)
    finally:
        done.set()
        watcher.join()
    assert result.exit_code == 0, result.output
    folder, count = result.output.splitlines()[1].split(",")
    assert count == "2000000"
    assert folder.startswith(str(tmp_path / "vcdwh-sql-"))
    assert any(name.startswith("duckdb_temp") for name in spilled)
    assert list(tmp_path.iterdir()) == []
    assert not (small.data_dir / "vcdwh.duckdb.tmp").exists()


@pytest.mark.parametrize(
    "function",
    [
        "read_blob",
        "read_text",
        "read_csv",
        "read_csv_auto",
        "read_parquet",
        "parquet_scan",
        "parquet_metadata",
        "read_json",
        "read_json_auto",
        "read_ndjson",
        "glob",
        "sniff_csv",
        "read_duckdb",
    ],
)
def test_sql_given_a_file_function_on_its_own_spill_folder_refuses_it(small, function):
    query = f"select * from {function}(current_setting('temp_directory') || '/*')"
    result = invoke(small, query)
    assert result.exit_code == 1
    assert one_error_line(result).startswith(
        f"Error: table function {function}() is refused: vcdwh sql reads only the warehouse ("
    )


@pytest.mark.parametrize(
    "query",
    [
        "select * from query('select * from read_blob(''x'')')",
        "select * from query_table('trades')",
        "select * from trades, (select * from read_text('Data/vcdwh.duckdb')) t",
        "with w as (select * from glob('/tmp/*')) select * from w",
        "explain analyze select * from read_blob('x')",
    ],
)
def test_sql_given_a_file_function_hidden_in_a_query_refuses_it(small, query):
    result = invoke(small, query)
    assert result.exit_code == 1
    assert "is refused: vcdwh sql reads only the warehouse" in one_error_line(result)


def test_sql_given_the_old_shared_spill_folder_cannot_write_or_read_it(small):
    shared = small.data_dir / "vcdwh.duckdb.tmp"
    shared.mkdir()
    try:
        (shared / "other.tmp").write_text("another reader's spill")
        copy = invoke(small, f"copy trades to '{shared}/x.csv'")
        blob = invoke(small, f"select * from read_blob('{shared}/*')")
        scan = invoke(small, f"select * from '{shared}/other.tmp'")
        assert [copy.exit_code, blob.exit_code, scan.exit_code] == [1, 1, 1]
        for result in (copy, blob, scan):
            assert "another reader" not in one_error_line(result)
        assert sorted(p.name for p in shared.iterdir()) == ["other.tmp"]
    finally:
        for leftover in shared.iterdir():
            leftover.unlink()
        shared.rmdir()


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ("select size from read_blob('{db}')", "table function read_blob() is refused"),
        ("select * from '{db}'", "looks like a file, not a table or view"),
        ("attach '{db}' as again (read_only)", "attach statements are refused"),
        ("pragma import_database('{data}')", "pragma 'import_database' is refused"),
    ],
)
def test_sql_given_the_warehouse_file_itself_refuses_to_read_it(small, query, refusal):
    text = query.format(db=small.db_path, data=small.data_dir)
    result = invoke(small, text)
    assert result.exit_code == 1
    assert refusal in one_error_line(result)


@pytest.mark.parametrize(
    "query",
    [
        "describe trades",
        "show tables",
        "summarize bars_1min",
        "select * from duckdb_tables()",
        "select * from pragma_table_info('trades')",
        "pragma table_info('trades')",
        "explain select count(*) from trades",
        "select * from range(3), unnest([1, 2])",
        "with t as (select 1 a) select * from t",
    ],
)
def test_sql_given_catalog_and_generator_functions_runs_them(small, query):
    result = invoke(small, query)
    assert result.exit_code == 0, result.output


# --------------------------------------------------------------------------- Ctrl-C


@pytest.mark.slow
def test_sql_given_ctrl_c_during_a_heavy_join_exits_130_with_one_line(small, tmp_path):
    spill_root = tmp_path / "tmp"
    spill_root.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-m", "vcdwh", "--data-dir", str(small.data_dir), "sql", HEAVY_JOIN],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(TMPDIR=str(spill_root)),
    )
    deadline = time.monotonic() + 30
    while not any(spill_root.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any(spill_root.iterdir()), "the query never started"
    time.sleep(1.0)  # well inside the join
    child.send_signal(signal.SIGINT)
    try:
        out, err = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
    assert child.returncode == 130
    assert out == ""
    assert err == "Error: query interrupted (Ctrl-C)\n"
    assert list(spill_root.iterdir()) == []


def test_format_result_unchanged_for_the_data_dictionary():
    result = QueryResult(["a"], ["INTEGER"], [("1",), (None,)])
    assert format_result(result, "table") == "   a\n----\n   1\nNULL\n(2 rows)"
