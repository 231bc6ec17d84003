"""Tests of ``vcdwh fetch`` and :mod:`vcdwh.fetch`, without the network.

A fake Databento client serves the real DBN samples in ../shared/data, so the real decoding path
(``DBNStore`` → ``to_csv``) runs. Parent and continuous requests are also served a small DBN written
here (front ESH4, next ESM4 and the ESH4-ESM4 spread), whose instrument ids the fake
``symbology.resolve`` turns into raw symbols. The one live test is opt-in (``--run-live`` or ``VCDWH_LIVE=1``,
plus ``DATABENTO_API_KEY``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import databento
import databento_dbn
import numpy as np
import pytest
import requests
import zstandard
from click.testing import CliRunner
from databento.common.error import (
    BentoClientError,
    BentoError,
    BentoServerError,
    BentoWarning,
)

from tests.helpers import dbn_trade_records
from vcdwh import cli as cli_module
from vcdwh import fetch as fetch_module
from vcdwh.config import Settings
from vcdwh.errors import ConfigError, FetchError
from vcdwh.fetch import (
    MISSING_KEY_MESSAGE,
    cached_paths,
    fetch_data,
    infer_stype,
    resolve_api_key,
    validate_symbol,
)
from vcdwh.progress import Progress

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DBN_DIR = SHARED_DATA / "databento" / "dbn"
CSV_DIR = SHARED_DATA / "databento" / "csv"
ESU4_TRADES_DBN = DBN_DIR / "glbx-mdp3_ESU4_trades_2024-07-01T2358_2024-07-02T0002.dbn.zst"
ESU4_TRADES_CSV = CSV_DIR / "glbx-mdp3_ESU4_trades_2024-07-01T2358_2024-07-02T0002.pretty.csv"
ESU4_OHLCV_DBN = DBN_DIR / "glbx-mdp3_ESU4-NQU4_ohlcv-1m_2024-07-01T2340_2024-07-02T0010.dbn.zst"
ESU4_OHLCV_CSV = CSV_DIR / "glbx-mdp3_ESU4-NQU4_ohlcv-1m_2024-07-01T2340_2024-07-02T0010.pretty.csv"
SAMPLES = {"trades": ESU4_TRADES_DBN, "ohlcv-1m": ESU4_OHLCV_DBN}

needs_samples = pytest.mark.skipif(
    not all(p.is_file() for p in [*SAMPLES.values(), ESU4_TRADES_CSV, ESU4_OHLCV_CSV]),
    reason=f"real Databento samples not found under {SHARED_DATA} (../shared/data)",
)

KEY = "db-TESTKEY0123456789abcdefGHIJK"  # fake, but shaped like a real key
RANGE_END = "2024-07-08T12:30:00.000000000Z"
COST_LINE_FMT = "{label}: estimated cost ${cost}"


# --- fakes --------------------------------------------------------------------------------------


class FakeTimeseries:
    """``timeseries.get_range`` serving real DBN files, with scripted failures.

    Parameters
    ----------
    files : dict
        Schema → DBN file served for it.
    errors : list
        One entry per call, consumed in order: an exception to raise, or None to succeed.
    partial : bool
        Before raising, write half of the file to ``path`` (as a broken stream does).
    honour_path : bool
        Stream to ``path`` like the real client; otherwise return an in-memory-style store of
        the sample file and ignore ``path``.
    """

    def __init__(
        self,
        files: dict[str, Path],
        errors: list[BaseException | None] | None = None,
        partial: bool = False,
        honour_path: bool = True,
    ) -> None:
        self.files = files
        self.errors = list(errors or [])
        self.partial = partial
        self.honour_path = honour_path
        self.calls: list[dict[str, Any]] = []

    def get_range(
        self,
        dataset: str,
        start: Any,
        end: Any = None,
        symbols: Any = None,
        schema: str = "trades",
        stype_in: str = "raw_symbol",
        stype_out: str = "instrument_id",
        limit: int | None = None,
        path: Any = None,
    ) -> databento.DBNStore:
        self.calls.append(
            {
                "dataset": dataset,
                "start": start,
                "end": end,
                "symbols": symbols,
                "schema": schema,
                "stype_in": stype_in,
                "path": path,
            }
        )
        source = self.files[schema]
        error = self.errors.pop(0) if self.errors else None
        if error is not None:
            if self.partial and path is not None:
                data = source.read_bytes()
                with open(path, "x+b") as writer:
                    writer.write(data[: len(data) // 2])
            raise error
        if path is None or not self.honour_path:
            return databento.DBNStore.from_file(source)
        with open(path, "x+b") as writer:
            writer.write(source.read_bytes())
        return databento.DBNStore.from_file(path)


class FakeMetadata:
    """``metadata.get_dataset_range`` and ``metadata.get_cost`` with fixed answers."""

    def __init__(
        self,
        cost: float = 0.25,
        end: str = RANGE_END,
        errors: list[BaseException | None] | None = None,
        size: int = 2_153,
        conditions: dict[str, str] | None = None,
    ) -> None:
        self.cost = cost
        self.end = end
        self.errors = list(errors or [])
        self.size = size
        self.conditions = conditions or {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_dataset_condition(
        self, dataset: str, start_date: Any = None, end_date: Any = None
    ) -> list[dict[str, str | None]]:
        """Every day from start_date to end_date (inclusive): ``available`` unless scripted."""
        self.calls.append(
            (
                "get_dataset_condition",
                {"dataset": dataset, "start_date": start_date, "end_date": end_date},
            )
        )
        day, last = date.fromisoformat(start_date), date.fromisoformat(end_date)
        answer: list[dict[str, str | None]] = []
        while day <= last:
            condition = self.conditions.get(day.isoformat(), "available")
            modified = None if condition == "missing" else day.isoformat()
            answer.append(
                {"date": day.isoformat(), "condition": condition, "last_modified_date": modified}
            )
            day += timedelta(days=1)
        return answer

    def get_billable_size(
        self,
        dataset: str,
        start: Any,
        end: Any = None,
        symbols: Any = None,
        schema: str = "trades",
        stype_in: str = "raw_symbol",
        limit: int | None = None,
    ) -> int:
        self.calls.append(("get_billable_size", {"symbols": symbols, "schema": schema}))
        return self.size

    def get_dataset_range(self, dataset: str) -> dict[str, Any]:
        self.calls.append(("get_dataset_range", {"dataset": dataset}))
        schema_range = {"start": "2017-05-21T00:00:00.000000000Z", "end": self.end}
        return {
            "start": "2010-06-06T00:00:00.000000000Z",
            "end": self.end,
            "schema": {"trades": schema_range, "ohlcv-1m": schema_range},
        }

    def get_cost(
        self,
        dataset: str,
        start: Any,
        end: Any = None,
        symbols: Any = None,
        schema: str = "trades",
        stype_in: str = "raw_symbol",
        limit: int | None = None,
    ) -> float:
        self.calls.append(
            (
                "get_cost",
                {
                    "dataset": dataset,
                    "start": start,
                    "end": end,
                    "symbols": symbols,
                    "schema": schema,
                    "stype_in": stype_in,
                },
            )
        )
        error = self.errors.pop(0) if self.errors else None
        if error is not None:
            raise error
        return self.cost


#: instrument_id → raw symbol, as Databento resolves them (ESU4/NQU4: the real samples; ESH4,
#: ESM4 and the spread: the ids of the DBN written by ``write_parent_trades``).
RAW_SYMBOLS: dict[int, str] = {
    118: "ESU4",
    4358: "NQU4",
    17077: "ESH4",
    5602: "ESM4",
    17111: "ESH4-ESM4",
}


class FakeSymbology:
    """``symbology.resolve`` from instrument_id to raw_symbol, answering from a table.

    Parameters
    ----------
    table : dict
        instrument_id → raw symbol for the whole requested range, or a list of
        ``(d0, d1, symbol)`` intervals. Ids not in it come back under ``not_found``.
    errors : list
        One entry per call, consumed in order: an exception to raise, or None to answer.
    """

    def __init__(
        self, table: dict[int, Any] | None = None, errors: list[BaseException | None] | None = None
    ) -> None:
        self.table = RAW_SYMBOLS if table is None else table
        self.errors = list(errors or [])
        self.calls: list[dict[str, Any]] = []

    def resolve(
        self,
        dataset: str,
        symbols: Any,
        stype_in: str,
        stype_out: str,
        start_date: Any,
        end_date: Any = None,
    ) -> dict[str, Any]:
        self.calls.append(
            {
                "dataset": dataset,
                "symbols": list(symbols),
                "stype_in": stype_in,
                "stype_out": stype_out,
                "start_date": start_date,
                "end_date": end_date,
            }
        )
        error = self.errors.pop(0) if self.errors else None
        if error is not None:
            raise error
        result: dict[str, list[dict[str, str]]] = {}
        not_found = []
        for symbol in symbols:
            known = self.table.get(int(symbol))
            if known is None:
                not_found.append(symbol)
                continue
            intervals = [(start_date, end_date, known)] if isinstance(known, str) else known
            result[symbol] = [{"d0": d0, "d1": d1, "s": s} for d0, d1, s in intervals]
        return {
            "result": result,
            "symbols": list(symbols),
            "stype_in": stype_in,
            "stype_out": stype_out,
            "start_date": start_date,
            "end_date": end_date,
            "partial": [],
            "not_found": not_found,
            "message": "OK",
            "status": 0,
        }


class FakeBatch:
    """``batch.submit_job``/``list_jobs``/``list_files``/``download`` serving a real DBN file.

    Parameters
    ----------
    files : dict
        Schema → DBN file the job of that schema delivers.
    states : list
        ``(state, progress)`` answered by successive ``list_jobs`` calls (the last one repeats).
    corrupt : bool
        Deliver a file whose bytes differ from the size and hash ``list_files`` announces.
    """

    def __init__(
        self,
        files: dict[str, Path],
        states: list[tuple[str, int | None]] | None = None,
        corrupt: bool = False,
    ) -> None:
        self.files = files
        self.states = list(states or [("queued", None), ("processing", 40), ("done", 100)])
        self.corrupt = corrupt
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.schema = ""

    def submit_job(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("submit_job", kwargs))
        self.schema = kwargs["schema"]
        return {"id": "GLBX-20240701-ABCDEF", "state": "queued"}

    def list_jobs(self, states: Any = None, since: Any = None) -> list[dict[str, Any]]:
        self.calls.append(("list_jobs", {"states": states}))
        state, progress = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return [
            {"id": "GLBX-20231231-OTHER0", "state": "done", "progress": 100},
            {"id": "GLBX-20240701-ABCDEF", "state": state, "progress": progress},
        ]

    def _name(self) -> str:
        return f"glbx-mdp3-20240701-20240702.{self.schema}.dbn.zst"

    def list_files(self, job_id: str) -> list[dict[str, Any]]:
        self.calls.append(("list_files", {"job_id": job_id}))
        data = self.files[self.schema].read_bytes()
        return [
            {"filename": "manifest.json", "size": 2, "hash": "sha256:00"},
            {
                "filename": self._name(),
                "size": len(data),
                "hash": "sha256:" + hashlib.sha256(data).hexdigest(),
            },
        ]

    def download(
        self, job_id: str, output_dir: Any = None, filename_to_download: Any = None
    ) -> list[Path]:
        self.calls.append(("download", {"job_id": job_id, "filename": filename_to_download}))
        folder = Path(output_dir) / job_id
        folder.mkdir(parents=True)
        data = self.files[self.schema].read_bytes()
        target = folder / filename_to_download
        target.write_bytes(data[:-1] + b"\0" if self.corrupt else data)
        return [target]


class FakeHistorical:
    """Stands in for ``databento.Historical``."""

    def __init__(
        self,
        timeseries: FakeTimeseries | None = None,
        metadata: FakeMetadata | None = None,
        symbology: FakeSymbology | None = None,
        batch: FakeBatch | None = None,
    ) -> None:
        self.timeseries = timeseries or FakeTimeseries(SAMPLES)
        self.metadata = metadata or FakeMetadata()
        self.symbology = symbology or FakeSymbology()
        self.batch = batch or FakeBatch(SAMPLES)


#: (instrument_id, ts_recv, price, size, side) of the trades in ``write_parent_trades``:
#: front ESH4 (17077), next ESM4 (5602) and the ESH4-ESM4 calendar spread (17111) on two days.
PARENT_TRADES = [
    (17077, "2024-03-05T14:30:00.000000001", "5100.25", 2, "B"),
    (5602, "2024-03-05T14:30:00.250000000", "5150.50", 1, "A"),
    (17111, "2024-03-05T14:30:01.000000000", "-50.25", 5, "B"),
    (17077, "2024-03-06T15:00:00.000000000", "5105.00", 3, "N"),
    (5602, "2024-03-06T15:00:00.500000000", "5155.75", 4, "A"),
]


def write_parent_trades(path: Path, symbol: str = "ES.FUT", stype_in: str = "parent") -> Path:
    """Write ``PARENT_TRADES`` as a zstd DBN whose metadata maps ``symbol`` to the three ids,
    as Databento does for a parent or continuous request over 2024-03-04..2024-03-09."""

    def ns(text: str) -> int:
        return int(np.datetime64(text, "ns").astype(np.int64))

    ids = sorted({row[0] for row in PARENT_TRADES})
    intervals = [
        SimpleNamespace(start_date=date(2024, 3, 4), end_date=date(2024, 3, 9), symbol=str(i))
        for i in ids
    ]
    metadata = databento_dbn.Metadata(
        dataset="GLBX.MDP3",
        start=ns("2024-03-04"),
        end=ns("2024-03-09"),
        stype_in=databento_dbn.SType(stype_in),
        stype_out=databento_dbn.SType.INSTRUMENT_ID,
        schema=databento_dbn.Schema.TRADES,
        symbols=[symbol],
        mappings=[SimpleNamespace(raw_symbol=symbol, intervals=intervals)],
    )
    records = dbn_trade_records(len(PARENT_TRADES))
    for i, (instrument_id, ts_recv, price, size, side) in enumerate(PARENT_TRADES):
        records[i]["instrument_id"] = instrument_id
        records[i]["ts_recv"] = ns(ts_recv)
        records[i]["ts_event"] = ns(ts_recv) - 250_000
        records[i]["price"] = round(float(price) * 4) * 250_000_000
        records[i]["size"] = size
        records[i]["side"] = side.encode()
        records[i]["ts_in_delta"] = 15_000
        records[i]["sequence"] = 1000 + i
    path.write_bytes(zstandard.ZstdCompressor().compress(metadata.encode() + records.tobytes()))
    return path


def csv_symbols(path: Path) -> list[str]:
    """The ``symbol`` column of a CSV (the last one), rows only."""
    return [line.rsplit(",", 1)[1] for line in path.read_text().splitlines()[1:]]


def without_symbols(path: Path) -> list[str]:
    """Every line of a CSV without its last (``symbol``) column."""
    return [line.rsplit(",", 1)[0] for line in path.read_text().splitlines()]


def http_error(
    status: int, message: str = "", headers: dict[str, str] | None = None
) -> BentoClientError | BentoServerError:
    """A Databento HTTP error as the client raises it."""
    cls = BentoServerError if status >= 500 else BentoClientError
    return cls(http_status=status, message=message or None, headers=headers)


def all_files(root: Path) -> list[Path]:
    """Every file under ``root``, hidden ones included."""
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(name="settings")
def fixture_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "Data", db_path=tmp_path / "Data" / "vcdwh.duckdb")


@pytest.fixture(name="lines")
def fixture_lines() -> list[str]:
    return []


@pytest.fixture(name="no_key_env")
def fixture_no_key_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No key in the environment and a working directory without ``.env``."""
    monkeypatch.delenv("DATABENTO_API_KEY", raising=False)
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    yield workdir


@pytest.fixture(name="factory")
def fixture_factory(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replace the real client factory; record the keys it was given."""
    state: dict[str, Any] = {"keys": [], "client": FakeHistorical()}

    def make_client(key: str) -> FakeHistorical:
        state["keys"].append(key)
        return state["client"]

    monkeypatch.setattr(fetch_module, "make_client", make_client)
    return state


def run_cli(settings: Settings, *args: str) -> Any:
    args = ("--data-dir", str(settings.data_dir), "fetch", *args)
    return CliRunner().invoke(cli_module.cli, list(args))


def fetch(settings: Settings, client: FakeHistorical, lines: list[str], **kwargs: Any) -> Any:
    options: dict[str, Any] = {
        "symbols": ["ESU4"],
        "schemas": ["trades"],
        "start": "2024-07-01",
        "end": "2024-07-02",
    }
    options.update(kwargs)
    return fetch_data(settings, client=client, echo=lines.append, sleep=lambda s: None, **options)


# --- decoding path on real data -----------------------------------------------------------------


@needs_samples
def test_fetch_given_esu4_trades_writes_csv_equal_to_databento_pretty_csv(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange
    client = FakeHistorical()

    # Act
    report = fetch(settings, client, lines)

    # Assert
    csv = settings.data_dir / "trades_ESU4_2024-07-01_2024-07-02.csv"
    dbn = settings.data_dir / "raw" / "glbx-mdp3_ESU4_trades_2024-07-01_2024-07-02.dbn.zst"
    expected = ESU4_TRADES_CSV.read_text().splitlines()
    got = csv.read_text().splitlines()
    assert len(got) == len(expected) == 121
    for row, (got_row, expected_row) in enumerate(zip(got, expected, strict=True)):
        assert got_row == expected_row, f"row {row}"
    assert csv.read_bytes() == ESU4_TRADES_CSV.read_bytes()
    assert dbn.read_bytes() == ESU4_TRADES_DBN.read_bytes()
    assert all_files(settings.data_dir) == sorted([csv, dbn])
    [file] = report.files
    assert (file.symbol, file.schema, file.stype_in, file.status) == (
        "ESU4",
        "trades",
        "raw_symbol",
        "written",
    )
    assert (file.records, file.nbytes, file.cost) == (120, 2153, 0.25)
    assert (report.records, report.nbytes, report.estimated_cost) == (120, 2153, 0.25)
    assert (report.start, report.end) == (date(2024, 7, 1), date(2024, 7, 2))
    assert client.symbology.calls == []  # a raw symbol is already the contract


@needs_samples
def test_fetch_given_client_returning_in_memory_store_keeps_dbn_and_csv(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange: a client that ignores `path` and hands back the store it decoded
    client = FakeHistorical(FakeTimeseries(SAMPLES, honour_path=False))

    # Act
    fetch(settings, client, lines)

    # Assert
    csv = settings.data_dir / "trades_ESU4_2024-07-01_2024-07-02.csv"
    dbn = settings.data_dir / "raw" / "glbx-mdp3_ESU4_trades_2024-07-01_2024-07-02.dbn.zst"
    assert csv.read_bytes() == ESU4_TRADES_CSV.read_bytes()
    assert dbn.read_bytes() == ESU4_TRADES_DBN.read_bytes()
    assert all_files(settings.data_dir) == sorted([csv, dbn])


@needs_samples
def test_fetch_given_ohlcv_1m_writes_seed_named_csv_equal_to_pretty_csv(
    settings: Settings, lines: list[str]
) -> None:
    # Act
    report = fetch(settings, FakeHistorical(), lines, schemas=["ohlcv-1m"])

    # Assert
    csv = settings.data_dir / "ohlcv_1m_ESU4_2024-07-01_2024-07-02.csv"
    assert csv.read_bytes() == ESU4_OHLCV_CSV.read_bytes()
    assert report.files[0].records == 60
    assert (
        settings.data_dir / "raw" / "glbx-mdp3_ESU4_ohlcv-1m_2024-07-01_2024-07-02.dbn.zst"
    ).is_file()


@needs_samples
def test_fetch_given_defaults_requests_es_fut_parent_last_7_days_both_schemas(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange: today is 2024-07-09 but Databento has published up to 2024-07-08 12:30
    client = FakeHistorical()

    # Act
    report = fetch_data(
        settings, client=client, echo=lines.append, sleep=lambda s: None, today=date(2024, 7, 9)
    )

    # Assert
    assert [
        (c["symbols"], c["schema"], c["stype_in"], c["start"], c["end"], c["dataset"])
        for c in client.timeseries.calls
    ] == [
        (["ES.FUT"], "trades", "parent", "2024-07-01", "2024-07-08", "GLBX.MDP3"),
        (["ES.FUT"], "ohlcv-1m", "parent", "2024-07-01", "2024-07-08", "GLBX.MDP3"),
    ]
    assert [f.csv_path.name for f in report.files] == [
        "trades_ES.FUT_2024-07-01_2024-07-08.csv",
        "ohlcv_1m_ES.FUT_2024-07-01_2024-07-08.csv",
    ]
    assert sorted(p.name for p in (settings.data_dir / "raw").iterdir()) == [
        "glbx-mdp3_ES.FUT_ohlcv-1m_2024-07-01_2024-07-08.dbn.zst",
        "glbx-mdp3_ES.FUT_trades_2024-07-01_2024-07-08.dbn.zst",
    ]
    assert lines[:4] == [
        "end 2024-07-09 is past the data Databento has published for GLBX.MDP3 "
        "(up to 2024-07-08 12:30 UTC): using end 2024-07-08",
        "ES.FUT: stype_in=parent inferred (every expiry and calendar spread of the product)",
        "ES.FUT trades 2024-07-01..2024-07-08: estimated cost $0.25",
        "ES.FUT ohlcv-1m 2024-07-01..2024-07-08: estimated cost $0.25",
    ]
    assert lines[4] == "estimated total: $0.50 for 2 request(s) (--max-cost $5.00)"
    assert lines[5] == "GLBX.MDP3 condition 2024-07-01..2024-07-07: available every day"
    # The real samples' ids resolve to ESU4 (118) and NQU4 (4358): the CSVs written through the
    # resolved map are byte-for-byte Databento's own pretty CSVs of the same DBNs.
    assert [(c["symbols"], c["start_date"], c["end_date"]) for c in client.symbology.calls] == [
        (["118"], "2024-07-01", "2024-07-08"),
        (["118", "4358"], "2024-07-01", "2024-07-08"),
    ]
    assert report.files[0].csv_path.read_bytes() == ESU4_TRADES_CSV.read_bytes()
    assert report.files[1].csv_path.read_bytes() == ESU4_OHLCV_CSV.read_bytes()
    assert re.fullmatch(
        r"ES\.FUT trades 2024-07-01\.\.2024-07-08: 120 records, 2,153 bytes, \d+\.\ds -> "
        + re.escape(str(settings.data_dir / "trades_ES.FUT_2024-07-01_2024-07-08.csv")),
        lines[6],
    )


def test_fetch_given_days_and_only_end_counts_back_from_end(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange
    client = FakeHistorical(metadata=FakeMetadata(cost=99.0))

    # Act
    with pytest.raises(FetchError):
        fetch(settings, client, lines, start=None, end="2024-07-05", days=3)

    # Assert
    assert client.metadata.calls[1][1]["start"] == "2024-07-02"
    assert client.metadata.calls[1][1]["end"] == "2024-07-05"


@pytest.mark.parametrize(
    ("symbol", "stype"),
    [
        ("ES.FUT", "parent"),
        ("NQ.FUT", "parent"),
        ("ES.OPT", "parent"),
        ("ES.c.0", "continuous"),
        ("ES.v.0", "continuous"),
        ("ES.n.1", "continuous"),
        ("ESU4", "raw_symbol"),
        ("ESU5-ESZ5", "raw_symbol"),
        ("ES.FUTX", "raw_symbol"),
    ],
)
def test_infer_stype_given_symbol_returns_databento_symbology(symbol: str, stype: str) -> None:
    assert infer_stype(symbol) == stype


@needs_samples
def test_fetch_given_stype_in_override_sends_it_and_says_so(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange
    client = FakeHistorical()

    # Act
    fetch(settings, client, lines, symbols=["ES.FUT"], stype_in="raw_symbol")

    # Assert
    assert client.timeseries.calls[0]["stype_in"] == "raw_symbol"
    assert "ES.FUT: stype_in=raw_symbol from --stype-in (exactly this contract)" in lines


# --- raw symbols for parent, continuous and instrument-id requests -------------------------------


@pytest.fixture(name="parent_dbn")
def fixture_parent_dbn(tmp_path: Path) -> Path:
    return write_parent_trades(tmp_path / "parent.trades.dbn.zst")


def fetch_parent(
    settings: Settings,
    client: FakeHistorical,
    lines: list[str],
    symbol: str = "ES.FUT",
    **kwargs: Any,
) -> Any:
    return fetch(
        settings, client, lines, symbols=[symbol], start="2024-03-04", end="2024-03-09", **kwargs
    )


@pytest.mark.parametrize(("symbol", "stype"), [("ES.FUT", "parent"), ("ES.c.0", "continuous")])
def test_fetch_given_parent_or_continuous_request_writes_each_rows_contract_symbol(
    settings: Settings, lines: list[str], tmp_path: Path, symbol: str, stype: str
) -> None:
    # Arrange: Databento's own mapping labels every row with the requested symbol
    served = write_parent_trades(tmp_path / "served.dbn.zst", symbol, stype)
    databento_csv = tmp_path / "databento.csv"
    databento.DBNStore.from_file(served).to_csv(databento_csv)
    assert csv_symbols(databento_csv) == [symbol] * 5
    client = FakeHistorical(FakeTimeseries({"trades": served}))

    # Act
    [file] = fetch_parent(settings, client, lines, symbol).files

    # Assert: the contracts, and otherwise Databento's pretty CSV byte for byte
    contracts = ["ESH4", "ESM4", "ESH4-ESM4", "ESH4", "ESM4"]
    header, *rows = without_symbols(databento_csv)
    expected = "".join(f"{line},{s}\n" for line, s in zip(rows, contracts, strict=True))
    assert file.csv_path.read_bytes() == f"{header},symbol\n{expected}".encode()
    assert csv_symbols(file.csv_path) == contracts
    assert file.dbn_path.read_bytes() == served.read_bytes()  # kept exactly as received
    assert (file.stype_in, file.records) == (stype, 5)
    assert client.symbology.calls == [
        {
            "dataset": "GLBX.MDP3",
            "symbols": ["5602", "17077", "17111"],
            "stype_in": "instrument_id",
            "stype_out": "raw_symbol",
            "start_date": "2024-03-04",
            "end_date": "2024-03-09",
        }
    ]
    assert not [line for line in lines if "warning" in line]


def test_fetch_given_symbology_request_rejected_falls_back_to_requested_symbol_with_warning(
    settings: Settings, lines: list[str], parent_dbn: Path, tmp_path: Path
) -> None:
    # Arrange
    client = FakeHistorical(
        FakeTimeseries({"trades": parent_dbn}),
        symbology=FakeSymbology(errors=[http_error(400, "bad request")]),
    )
    databento_csv = tmp_path / "databento.csv"
    databento.DBNStore.from_file(parent_dbn).to_csv(databento_csv)

    # Act
    [file] = fetch_parent(settings, client, lines).files

    # Assert: the CSV is written, exactly as Databento's mapping would have it
    assert (
        "ES.FUT trades 2024-03-04..2024-03-09: warning: instrument_id 5602, 17077, 17111 not "
        "resolved to a raw symbol (Databento rejected the raw symbols of ES.FUT trades "
        "2024-03-04..2024-03-09 (HTTP 400): bad request); those rows carry ES.FUT in the "
        "symbol column"
    ) in lines
    assert file.csv_path.read_bytes() == databento_csv.read_bytes()
    assert csv_symbols(file.csv_path) == ["ES.FUT"] * 5
    assert (file.status, file.records) == ("written", 5)
    assert len(client.symbology.calls) == 1
    assert len(client.timeseries.calls) == 1


def test_fetch_given_symbology_unavailable_after_retries_falls_back_with_warning(
    settings: Settings, lines: list[str], parent_dbn: Path
) -> None:
    # Arrange
    client = FakeHistorical(
        FakeTimeseries({"trades": parent_dbn}),
        symbology=FakeSymbology(errors=[http_error(503)] * 4),
    )

    # Act
    [file] = fetch_parent(settings, client, lines).files

    # Assert: retried like every request, then the fallback; the data is not downloaded again
    assert len(client.symbology.calls) == 4
    assert len(client.timeseries.calls) == 1
    assert (
        "the raw symbols of ES.FUT trades 2024-03-04..2024-03-09: retrying in 4s (HTTP 503), "
        "attempt 4 of 4"
    ) in lines
    assert (
        "ES.FUT trades 2024-03-04..2024-03-09: warning: instrument_id 5602, 17077, 17111 not "
        "resolved to a raw symbol (Databento request for the raw symbols of ES.FUT trades "
        "2024-03-04..2024-03-09 still failing after 4 attempts (HTTP 503): try again later); "
        "those rows carry ES.FUT in the symbol column"
    ) in lines
    assert csv_symbols(file.csv_path) == ["ES.FUT"] * 5


def test_fetch_given_symbology_503_then_answer_retries_and_resolves(
    settings: Settings, lines: list[str], parent_dbn: Path
) -> None:
    # Arrange
    client = FakeHistorical(
        FakeTimeseries({"trades": parent_dbn}),
        symbology=FakeSymbology(errors=[http_error(503), None]),
    )

    # Act
    [file] = fetch_parent(settings, client, lines).files

    # Assert
    assert (
        "the raw symbols of ES.FUT trades 2024-03-04..2024-03-09: retrying in 1s (HTTP 503), "
        "attempt 2 of 4"
    ) in lines
    assert csv_symbols(file.csv_path) == ["ESH4", "ESM4", "ESH4-ESM4", "ESH4", "ESM4"]
    assert len(client.timeseries.calls) == 1
    assert not [line for line in lines if "warning" in line]


def test_fetch_given_id_missing_from_symbology_answer_keeps_requested_symbol_for_it_only(
    settings: Settings, lines: list[str], parent_dbn: Path
) -> None:
    # Arrange: Databento does not know the spread's id
    table = {17077: "ESH4", 5602: "ESM4"}
    client = FakeHistorical(FakeTimeseries({"trades": parent_dbn}), symbology=FakeSymbology(table))

    # Act
    [file] = fetch_parent(settings, client, lines).files

    # Assert
    assert csv_symbols(file.csv_path) == ["ESH4", "ESM4", "ES.FUT", "ESH4", "ESM4"]
    assert [line for line in lines if "warning" in line] == [
        "ES.FUT trades 2024-03-04..2024-03-09: warning: instrument_id 17111 not resolved to a "
        "raw symbol (not in Databento's answer); those rows carry ES.FUT in the symbol column"
    ]


def test_fetch_given_symbols_valid_on_different_dates_maps_each_row_by_its_date(
    settings: Settings, lines: list[str], parent_dbn: Path
) -> None:
    # Arrange: 17077 names another contract from 2024-03-06; 5602 is answered only for
    # 2024-03-04, so the days after keep that symbol; 17111 has a gap on 2024-03-05 and an
    # interval starting after it, so its first symbol also covers the days before.
    table = {
        17077: [("2024-03-04", "2024-03-06", "ESH4"), ("2024-03-06", "2024-03-09", "ESH4X")],
        5602: [("2024-03-04", "2024-03-05", "ESM4")],
        17111: [("2024-03-06", "2024-03-09", "ESH4-ESM4")],
    }
    client = FakeHistorical(FakeTimeseries({"trades": parent_dbn}), symbology=FakeSymbology(table))

    # Act
    [file] = fetch_parent(settings, client, lines).files

    # Assert: rows of 2024-03-05, 03-05, 03-05, 03-06, 03-06
    assert csv_symbols(file.csv_path) == ["ESH4", "ESM4", "ESH4-ESM4", "ESH4X", "ESM4"]
    assert not [line for line in lines if "warning" in line]


def test_fetch_given_more_ids_than_one_symbology_request_takes_resolves_in_batches(
    settings: Settings, lines: list[str], parent_dbn: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange
    monkeypatch.setattr(fetch_module, "RESOLVE_BATCH", 2)
    client = FakeHistorical(FakeTimeseries({"trades": parent_dbn}))

    # Act
    [file] = fetch_parent(settings, client, lines).files

    # Assert
    assert [c["symbols"] for c in client.symbology.calls] == [["5602", "17077"], ["17111"]]
    assert csv_symbols(file.csv_path) == ["ESH4", "ESM4", "ESH4-ESM4", "ESH4", "ESM4"]


def test_fetch_given_instrument_id_request_writes_raw_symbol(
    settings: Settings, lines: list[str], tmp_path: Path
) -> None:
    # Arrange
    served = write_parent_trades(tmp_path / "ids.dbn.zst", "17077", "instrument_id")
    client = FakeHistorical(FakeTimeseries({"trades": served}))

    # Act
    [file] = fetch(
        settings,
        client,
        lines,
        symbols=["17077"],
        stype_in="instrument_id",
        start="2024-03-04",
        end="2024-03-09",
    ).files

    # Assert
    assert file.csv_path.name == "trades_17077_2024-03-04_2024-03-09.csv"
    assert csv_symbols(file.csv_path) == ["ESH4", "ESM4", "ESH4-ESM4", "ESH4", "ESM4"]


def test_fetch_given_kept_parent_dbn_without_csv_resolves_symbols_without_download(
    settings: Settings, lines: list[str], parent_dbn: Path
) -> None:
    # Arrange
    [first] = fetch_parent(
        settings, FakeHistorical(FakeTimeseries({"trades": parent_dbn})), lines
    ).files
    written = first.csv_path.read_bytes()
    first.csv_path.unlink()
    client = FakeHistorical(FakeTimeseries({"trades": parent_dbn}))

    # Act
    [file] = fetch_parent(settings, client, lines).files

    # Assert
    assert (file.status, file.records) == ("rebuilt", 5)
    assert client.timeseries.calls == []
    assert len(client.symbology.calls) == 1
    assert file.csv_path.read_bytes() == written
    assert csv_symbols(file.csv_path) == ["ESH4", "ESM4", "ESH4-ESM4", "ESH4", "ESM4"]


# --- partial files and retries ------------------------------------------------------------------


@needs_samples
def test_fetch_given_stream_breaking_on_every_attempt_leaves_no_file(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange
    broken = BentoError("Error streaming response: Connection reset by peer")
    client = FakeHistorical(FakeTimeseries(SAMPLES, errors=[broken] * 4, partial=True))

    # Act
    with pytest.raises(FetchError) as excinfo:
        fetch(settings, client, lines)

    # Assert
    assert str(excinfo.value) == (
        "Databento request for ESU4 trades 2024-07-01..2024-07-02 still failing after 4 "
        "attempts (connection error): try again later"
    )
    assert len(client.timeseries.calls) == 4
    assert all_files(settings.data_dir) == []
    assert cached_paths(settings, "ESU4", "trades", date(2024, 7, 1), date(2024, 7, 2)) is None


@needs_samples
def test_fetch_given_interrupt_mid_download_leaves_no_file(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange
    client = FakeHistorical(FakeTimeseries(SAMPLES, errors=[KeyboardInterrupt()], partial=True))

    # Act
    with pytest.raises(KeyboardInterrupt):
        fetch(settings, client, lines)

    # Assert
    assert all_files(settings.data_dir) == []


@needs_samples
@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (http_error(503, "Service unavailable"), "HTTP 503"),
        (http_error(429, "Too many requests"), "HTTP 429"),
        (http_error(504), "HTTP 504"),
        (ConnectionError("connection refused"), "connection error"),
        (BentoError("Error streaming response: timed out"), "connection error"),
    ],
)
def test_fetch_given_retryable_error_then_success_writes_one_good_file(
    settings: Settings, lines: list[str], error: BaseException, reason: str
) -> None:
    # Arrange
    client = FakeHistorical(FakeTimeseries(SAMPLES, errors=[error, None], partial=True))
    waits: list[float] = []

    # Act
    report = fetch_data(
        settings,
        client=client,
        echo=lines.append,
        sleep=waits.append,
        symbols=["ESU4"],
        schemas=["trades"],
        start="2024-07-01",
        end="2024-07-02",
    )

    # Assert
    assert waits == [1.0]
    assert f"ESU4 trades 2024-07-01..2024-07-02: retrying in 1s ({reason}), attempt 2 of 4" in lines
    csv = settings.data_dir / "trades_ESU4_2024-07-01_2024-07-02.csv"
    dbn = settings.data_dir / "raw" / "glbx-mdp3_ESU4_trades_2024-07-01_2024-07-02.dbn.zst"
    assert all_files(settings.data_dir) == sorted([csv, dbn])
    assert csv.read_bytes() == ESU4_TRADES_CSV.read_bytes()
    assert report.files[0].records == 120


@needs_samples
def test_fetch_given_repeated_5xx_backs_off_exponentially_and_honours_retry_after(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange
    errors: list[BaseException | None] = [
        http_error(500),
        http_error(502),
        http_error(429, headers={"Retry-After": "7"}),
        None,
    ]
    client = FakeHistorical(FakeTimeseries(SAMPLES, errors=errors))
    waits: list[float] = []

    # Act
    fetch_data(
        settings,
        client=client,
        echo=lines.append,
        sleep=waits.append,
        symbols=["ESU4"],
        schemas=["trades"],
        start="2024-07-01",
        end="2024-07-02",
    )

    # Assert
    assert waits == [1.0, 2.0, 7.0]


def test_fetch_given_cost_request_failing_transiently_retries_it(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange
    client = FakeHistorical(metadata=FakeMetadata(cost=50.0, errors=[http_error(503)]))

    # Act
    with pytest.raises(FetchError, match="above --max-cost"):
        fetch(settings, client, lines)

    # Assert
    assert (
        "the cost of ESU4 trades 2024-07-01..2024-07-02: retrying in 1s (HTTP 503), attempt 2 of 4"
    ) in lines


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (
            401,
            "auth_invalid_key",
            "Databento rejected the API key (HTTP 401) while requesting "
            "ESU4 trades 2024-07-01..2024-07-02: check DATABENTO_API_KEY (environment or .env) "
            "or --api-key",
        ),
        (
            403,
            "license_required",
            "Databento refused ESU4 trades 2024-07-01..2024-07-02 "
            "(HTTP 403): your API key's subscription or license does not cover GLBX.MDP3 for this "
            "request; check your plan at https://databento.com/portal",
        ),
        (
            422,
            "symbology_invalid_symbol\nThe symbol 'ESU4' is not valid for 2024-07-01",
            "Databento rejected ESU4 trades 2024-07-01..2024-07-02 (HTTP 422): "
            "symbology_invalid_symbol; The symbol 'ESU4' is not valid for 2024-07-01; check the "
            "symbol 'ESU4' (stype_in=raw_symbol) and the dates 2024-07-01..2024-07-02",
        ),
        (
            400,
            "bad request",
            "Databento rejected ESU4 trades 2024-07-01..2024-07-02 (HTTP 400): bad request",
        ),
    ],
)
def test_fetch_given_client_error_raises_one_line_message_without_retry(
    settings: Settings, lines: list[str], status: int, message: str, expected: str
) -> None:
    # Arrange
    client = FakeHistorical(FakeTimeseries(SAMPLES, errors=[http_error(status, message)]))
    waits: list[float] = []

    # Act
    with pytest.raises(FetchError) as excinfo:
        fetch_data(
            settings,
            client=client,
            echo=lines.append,
            sleep=waits.append,
            symbols=["ESU4"],
            schemas=["trades"],
            start="2024-07-01",
            end="2024-07-02",
        )

    # Assert
    assert str(excinfo.value) == expected
    assert waits == []
    assert len(client.timeseries.calls) == 1
    assert all_files(settings.data_dir) == []


@needs_samples
def test_fetch_given_empty_result_writes_nothing_and_says_market_may_be_closed(
    settings: Settings, lines: list[str], tmp_path: Path
) -> None:
    # Arrange: a DBN with the metadata of the ESU4 file and no records
    empty = tmp_path / "empty.trades.dbn.zst"
    header = databento.DBNStore.from_file(ESU4_TRADES_DBN).metadata.encode()
    empty.write_bytes(zstandard.ZstdCompressor().compress(header))
    client = FakeHistorical(FakeTimeseries({"trades": empty}))

    # Act
    with pytest.raises(FetchError) as excinfo:
        fetch(settings, client, lines, start="2024-07-06", end="2024-07-07")

    # Assert
    assert str(excinfo.value) == (
        "Databento returned no records for ESU4 trades 2024-07-06..2024-07-07: the market may "
        "have been closed (weekend or exchange holiday), the contract may not have traded, or "
        "the symbol may not exist in the dataset for these dates; check --symbol, --stype-in "
        "and --start/--end"
    )
    assert lines[-1].startswith(
        "ESU4 trades 2024-07-06..2024-07-07: no records, nothing "
        "written; the market may have been closed"
    )
    assert all_files(settings.data_dir) == []


def test_fetch_given_range_after_published_data_raises_before_pricing(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange
    client = FakeHistorical()

    # Act
    with pytest.raises(FetchError) as excinfo:
        fetch(settings, client, lines, start="2024-07-10", end="2024-07-12")

    # Assert
    assert str(excinfo.value) == (
        "no published GLBX.MDP3 data between 2024-07-10 and 2024-07-08: Databento has "
        "2017-05-21 00:00..2024-07-08 12:30 UTC; choose --start/--end inside it"
    )
    assert [name for name, _ in client.metadata.calls] == ["get_dataset_range"]


@needs_samples
def test_fetch_given_databento_warning_shows_it_as_a_line(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange
    class WarningTimeseries(FakeTimeseries):
        def get_range(self, *args: Any, **kwargs: Any) -> databento.DBNStore:
            warnings.warn(
                BentoWarning("The following symbols could not be resolved: ESZ9"), stacklevel=1
            )
            return super().get_range(*args, **kwargs)

    client = FakeHistorical(WarningTimeseries(SAMPLES))

    # Act
    fetch(settings, client, lines)

    # Assert
    assert "Databento warning: The following symbols could not be resolved: ESZ9" in lines


def test_fetch_given_start_before_dataset_begins_clamps_start(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange
    client = FakeHistorical(metadata=FakeMetadata(cost=99.0))

    # Act
    with pytest.raises(FetchError, match="above --max-cost"):
        fetch(settings, client, lines, start="2017-05-01", end="2017-05-23")

    # Assert
    assert (
        "start 2017-05-01 is before GLBX.MDP3 begins (2017-05-21): using start 2017-05-21" in lines
    )
    assert client.metadata.calls[1][1]["start"] == "2017-05-21"


# --- reuse --------------------------------------------------------------------------------------


@needs_samples
def test_fetch_given_complete_files_reuses_them_without_any_download(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange
    fetch(settings, FakeHistorical(), lines)
    client = FakeHistorical()

    # Act
    report = fetch(settings, client, lines)

    # Assert
    assert client.timeseries.calls == []
    assert [name for name, _ in client.metadata.calls] == ["get_dataset_range"]
    assert [(f.status, f.records, f.nbytes) for f in report.files] == [("reused", 120, 0)]
    assert lines[-1].startswith("ESU4 trades 2024-07-01..2024-07-02: reusing ")


@needs_samples
def test_fetch_given_refresh_downloads_again_over_complete_files(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange
    fetch(settings, FakeHistorical(), lines)
    client = FakeHistorical()

    # Act
    report = fetch(settings, client, lines, refresh=True)

    # Assert
    assert len(client.timeseries.calls) == 1
    assert report.files[0].status == "written"
    assert len(all_files(settings.data_dir)) == 2


@needs_samples
def test_fetch_given_leftover_part_file_does_not_trust_it(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange: what an earlier run killed mid-download left behind
    settings.data_dir.mkdir(parents=True)
    leftover = settings.data_dir / ".trades_ESU4_2024-07-01_2024-07-02.csv.0badc0de.part"
    leftover.write_text("ts_recv,ts_event\n2024-07-01T23:58")
    client = FakeHistorical()

    # Act
    report = fetch(settings, client, lines)

    # Assert
    assert len(client.timeseries.calls) == 1
    assert report.files[0].status == "written"
    assert report.files[0].csv_path.read_bytes() == ESU4_TRADES_CSV.read_bytes()


@needs_samples
def test_fetch_given_kept_dbn_without_csv_decodes_it_without_download(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange
    [first] = fetch(settings, FakeHistorical(), lines).files
    first.csv_path.unlink()
    client = FakeHistorical()

    # Act
    report = fetch(settings, client, lines)

    # Assert
    assert client.timeseries.calls == []
    assert [(f.status, f.records, f.cost) for f in report.files] == [("rebuilt", 120, 0.0)]
    assert first.csv_path.read_bytes() == ESU4_TRADES_CSV.read_bytes()


# --- validation before any request --------------------------------------------------------------


@pytest.mark.parametrize(
    "symbol",
    [
        "../x",
        "ES;drop",
        "",
        "ES FUT",
        "ES_FUT",
        "a/b",
        "..",
        "-ES",
        "ES.",
        "ES..FUT",
        "A" * 33,
        "ES\n",
    ],
)
def test_validate_symbol_given_unsafe_symbol_raises_config_error(symbol: str) -> None:
    with pytest.raises(ConfigError, match="invalid --symbol"):
        validate_symbol(symbol)


@pytest.mark.parametrize(
    "symbol", ["ES.FUT", "ES.c.0", "ES.v.0", "ES.n.0", "ESU4", "ESU5-ESZ5", "118", "MES.FUT"]
)
def test_validate_symbol_given_databento_symbol_accepts_it(symbol: str) -> None:
    assert validate_symbol(symbol) == symbol


@pytest.mark.parametrize("symbol", ["../x", "ES;drop", ""])
def test_cli_fetch_given_invalid_symbol_refuses_before_any_request(
    settings: Settings, factory: dict[str, Any], monkeypatch: pytest.MonkeyPatch, symbol: str
) -> None:
    # Arrange
    monkeypatch.setenv("DATABENTO_API_KEY", KEY)

    # Act
    result = run_cli(settings, "--symbol", "ES.FUT", "--symbol", symbol)

    # Assert
    assert result.exit_code == 1
    assert result.output == (
        f"Error: invalid --symbol {symbol!r}: use 1-32 letters/digits with inner '.' or '-', "
        f"e.g. ES.FUT, ES.c.0, ESU4\n"
    )
    assert factory["keys"] == []
    assert factory["client"].timeseries.calls == []
    assert factory["client"].metadata.calls == []
    assert not settings.data_dir.exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schemas": ["mbo"]}, "invalid --schema 'mbo': vcdwh fetches trades or ohlcv-1m"),
        ({"schemas": []}, "no --schema given: pass trades and/or ohlcv-1m"),
        ({"symbols": []}, "no --symbol given: pass at least one, e.g. --symbol ES.FUT"),
        (
            {"dataset": "glbx/../x"},
            "invalid --dataset 'glbx/../x': use a Databento dataset code such as GLBX.MDP3",
        ),
        (
            {"stype_in": "isin"},
            "invalid --stype-in 'isin': use one of raw_symbol, parent, continuous, instrument_id",
        ),
        (
            {"stype_in": "instrument_id"},
            "invalid --symbol 'ESU4' for --stype-in instrument_id: use a number",
        ),
        ({"start": "2024-13-01"}, "invalid --start '2024-13-01': use a date like 2024-07-01"),
        ({"end": "07/08/2024"}, "invalid --end '07/08/2024': use a date like 2024-07-01"),
        (
            {"start": "2024-07-08", "end": "2024-07-01"},
            "--start 2024-07-08 must be before --end 2024-07-01 (the end date is exclusive)",
        ),
        ({"days": 0}, "invalid --days 0: use a whole number from 1 to 3660"),
        ({"days": 3}, "give --days or both --start and --end, not all three"),
        ({"max_cost": -1.0}, "invalid --max-cost -1.0: use a number of USD >= 0"),
    ],
)
def test_fetch_given_invalid_option_raises_config_error_before_any_request(
    settings: Settings, lines: list[str], kwargs: dict[str, Any], message: str
) -> None:
    # Arrange
    client = FakeHistorical()

    # Act
    with pytest.raises(ConfigError) as excinfo:
        fetch(settings, client, lines, **kwargs)

    # Assert
    assert str(excinfo.value) == message
    assert client.metadata.calls == []
    assert client.timeseries.calls == []


# --- cost guard ---------------------------------------------------------------------------------


def test_fetch_given_cost_above_cap_writes_nothing_and_exits_1(
    settings: Settings, factory: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange
    monkeypatch.setenv("DATABENTO_API_KEY", KEY)
    factory["client"] = FakeHistorical(metadata=FakeMetadata(cost=3.5))

    # Act
    result = run_cli(settings, "--start", "2024-07-01", "--end", "2024-07-08")

    # Assert
    assert result.exit_code == 1
    assert result.output == (
        "ES.FUT: stype_in=parent inferred (every expiry and calendar spread of the product)\n"
        "ES.FUT trades 2024-07-01..2024-07-08: estimated cost $3.50\n"
        "ES.FUT ohlcv-1m 2024-07-01..2024-07-08: estimated cost $3.50\n"
        "estimated total: $7.00 for 2 request(s) (--max-cost $5.00)\n"
        "Error: estimated cost $7.00 is above --max-cost $5.00; nothing was downloaded. "
        "Re-run with --yes to accept it, or raise --max-cost, or fetch fewer symbols, schemas "
        "or days\n"
    )
    assert factory["client"].timeseries.calls == []
    assert all_files(settings.data_dir) == []


@needs_samples
def test_fetch_given_cost_above_cap_and_yes_downloads(
    settings: Settings, factory: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange
    monkeypatch.setenv("DATABENTO_API_KEY", KEY)
    factory["client"] = FakeHistorical(metadata=FakeMetadata(cost=3.5))

    # Act
    result = run_cli(
        settings, "--symbol", "ESU4", "--start", "2024-07-01", "--end", "2024-07-02", "--yes"
    )

    # Assert
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "done: 2 file(s) written, 0 reused, 180 records, 3,271 bytes downloaded, "
        "estimated cost $7.00"
    )
    assert len(factory["client"].timeseries.calls) == 2


@needs_samples
def test_fetch_given_cost_under_raised_cap_downloads(
    settings: Settings, factory: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange
    monkeypatch.setenv("DATABENTO_API_KEY", KEY)
    factory["client"] = FakeHistorical(metadata=FakeMetadata(cost=3.5))

    # Act
    result = run_cli(
        settings,
        "--symbol",
        "ESU4",
        "--schema",
        "trades",
        "--start",
        "2024-07-01",
        "--end",
        "2024-07-02",
        "--max-cost",
        "20",
    )

    # Assert
    assert result.exit_code == 0, result.output
    assert "estimated total: $3.50 for 1 request(s) (--max-cost $20.00)" in result.output


# --- the API key --------------------------------------------------------------------------------


def test_fetch_given_missing_key_exits_1_naming_env_var_and_dotenv(
    settings: Settings, factory: dict[str, Any], no_key_env: Path
) -> None:
    # Act
    result = run_cli(settings)

    # Assert
    assert result.exit_code == 1
    assert result.output == (
        "Error: no Databento API key: set DATABENTO_API_KEY in the environment or in .env in "
        "the working directory (cp .env.example .env), or pass --api-key\n"
    )
    assert result.output == f"Error: {MISSING_KEY_MESSAGE}\n"
    assert factory["keys"] == []
    assert all_files(settings.data_dir) == []


@needs_samples
def test_fetch_given_key_in_env_never_shows_it_in_output_or_files(
    settings: Settings,
    factory: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # Arrange
    monkeypatch.setenv("DATABENTO_API_KEY", KEY)

    # Act
    result = run_cli(settings, "--symbol", "ESU4", "--start", "2024-07-01", "--end", "2024-07-02")
    retry = run_cli(
        settings, "--symbol", "ESU4", "--start", "2024-07-01", "--end", "2024-07-02", "--refresh"
    )

    # Assert
    assert result.exit_code == 0, result.output
    assert retry.exit_code == 0, retry.output
    assert factory["keys"] == [KEY, KEY]
    assert KEY not in result.output + retry.output
    written = all_files(tmp_path)
    assert len(written) == 4  # two CSVs and two DBNs; no warehouse, no .env
    for path in written:
        assert KEY.encode() not in path.read_bytes(), path


@needs_samples
def test_fetch_given_key_only_in_dotenv_uses_it(
    settings: Settings, factory: dict[str, Any], no_key_env: Path
) -> None:
    # Arrange
    (no_key_env / ".env").write_text(f"# vcdwh\nDATABENTO_API_KEY={KEY}\n")

    # Act
    result = run_cli(
        settings,
        "--symbol",
        "ESU4",
        "--schema",
        "trades",
        "--start",
        "2024-07-01",
        "--end",
        "2024-07-02",
    )

    # Assert
    assert result.exit_code == 0, result.output
    assert factory["keys"] == [KEY]
    assert KEY not in result.output
    assert "DATABENTO_API_KEY" not in os.environ


def test_resolve_api_key_given_argument_env_and_dotenv_prefers_argument_then_env(
    no_key_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange
    (no_key_env / ".env").write_text("DATABENTO_API_KEY=db-from-dotenv\n")

    # Act / Assert
    assert resolve_api_key() == "db-from-dotenv"
    monkeypatch.setenv("DATABENTO_API_KEY", "db-from-env")
    assert resolve_api_key() == "db-from-env"
    assert resolve_api_key("db-from-option") == "db-from-option"
    assert resolve_api_key("   ") == "db-from-env"


def test_fetch_given_server_message_echoing_the_key_scrubs_it(
    settings: Settings, factory: dict[str, Any], no_key_env: Path
) -> None:
    # Arrange: the last line of defence, should an error ever carry the key
    factory["client"] = FakeHistorical(
        FakeTimeseries(SAMPLES, errors=[http_error(400, f"key {KEY} is malformed")])
    )

    # Act
    result = run_cli(
        settings,
        "--api-key",
        KEY,
        "--symbol",
        "ESU4",
        "--schema",
        "trades",
        "--start",
        "2024-07-01",
        "--end",
        "2024-07-02",
    )

    # Assert
    assert result.exit_code == 1
    assert KEY not in result.output
    assert result.output.splitlines()[-1] == (
        "Error: Databento rejected ESU4 trades 2024-07-01..2024-07-02 (HTTP 400): "
        "key *** is malformed"
    )
    assert factory["keys"] == [KEY]


def test_make_client_given_key_builds_databento_historical_without_network() -> None:
    # Act
    client = fetch_module.make_client(KEY)

    # Assert
    assert isinstance(client, databento.Historical)
    assert KEY not in repr(client)


# --- the real databento client over a faked HTTP layer ------------------------------------------


class FakeHttpResponse:
    """Just enough of ``requests.Response`` for the databento client."""

    def __init__(
        self,
        status: int = 200,
        json_body: Any = None,
        body: bytes = b"",
        break_stream: bool = False,
    ) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self._json = json_body
        self.content = json.dumps(json_body).encode() if json_body is not None else body
        self._body = body
        self._break = break_stream

    def __enter__(self) -> FakeHttpResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def json(self) -> Any:
        if self._json is None:
            raise requests.JSONDecodeError("no json", "", 0)
        return self._json

    def iter_content(self, chunk_size: int = 1) -> Iterator[bytes]:
        yield self._body[: len(self._body) // 2] if self._break else self._body
        if self._break:
            raise requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead")


def condition_answer(url: str, kwargs: dict[str, Any]) -> FakeHttpResponse | None:
    """The answer of the real client's GET metadata.get_dataset_condition (every day available)."""
    if not url.endswith("/metadata.get_dataset_condition"):
        return None
    params = dict(kwargs.get("params") or {})
    days = FakeMetadata().get_dataset_condition(
        params.get("dataset", "GLBX.MDP3"), params["start_date"], params["end_date"]
    )
    return FakeHttpResponse(json_body=days)


@needs_samples
def test_fetch_given_real_client_with_broken_stream_then_503_retries_into_one_good_file(
    settings: Settings, lines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: databento.Historical runs for real; only requests.get/post are faked
    streams = [
        FakeHttpResponse(body=ESU4_TRADES_DBN.read_bytes(), break_stream=True),
        FakeHttpResponse(status=503, json_body={"detail": "busy"}),
        FakeHttpResponse(body=ESU4_TRADES_DBN.read_bytes()),
    ]
    auths: list[Any] = []

    def fake_get(url: str, **kwargs: Any) -> FakeHttpResponse:
        auths.append(kwargs.get("auth"))
        answer = condition_answer(url, kwargs)
        if answer is not None:
            return answer
        assert url.endswith("/metadata.get_dataset_range"), url
        return FakeHttpResponse(
            json_body={"start": "2010-06-06T00:00:00.000000000Z", "end": RANGE_END}
        )

    def fake_post(url: str, **kwargs: Any) -> FakeHttpResponse:
        auths.append(kwargs.get("auth"))
        if url.endswith("/metadata.get_cost"):
            return FakeHttpResponse(json_body=0.12)
        if url.endswith("/metadata.get_billable_size"):
            return FakeHttpResponse(json_body=2153)
        assert url.endswith("/timeseries.get_range"), url
        assert kwargs["data"]["symbols"] == "ESU4"
        return streams.pop(0)

    monkeypatch.setattr(requests, "get", fake_get)
    monkeypatch.setattr(requests, "post", fake_post)
    waits: list[float] = []

    # Act
    report = fetch_data(
        settings,
        api_key=KEY,
        echo=lines.append,
        sleep=waits.append,
        symbols=["ESU4"],
        schemas=["trades"],
        start="2024-07-01",
        end="2024-07-02",
    )

    # Assert
    assert waits == [1.0, 2.0]
    assert (
        "ESU4 trades 2024-07-01..2024-07-02: retrying in 1s (connection error), attempt 2 of 4"
        in lines
    )
    assert "ESU4 trades 2024-07-01..2024-07-02: retrying in 2s (HTTP 503), attempt 3 of 4" in lines
    [file] = report.files
    assert file.csv_path.read_bytes() == ESU4_TRADES_CSV.read_bytes()
    assert all_files(settings.data_dir) == sorted([file.csv_path, file.dbn_path])
    assert {(a.username, a.password) for a in auths} == {(KEY, "")}
    assert KEY not in "\n".join(lines)


def test_fetch_given_real_client_and_parent_request_resolves_ids_through_symbology_endpoint(
    settings: Settings, lines: list[str], parent_dbn: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: databento.Historical runs for real; only requests.get/post are faked
    posts: list[tuple[str, dict[str, Any]]] = []

    def fake_get(url: str, **kwargs: Any) -> FakeHttpResponse:
        answer = condition_answer(url, kwargs)
        if answer is not None:
            return answer
        assert url.endswith("/metadata.get_dataset_range"), url
        return FakeHttpResponse(
            json_body={"start": "2010-06-06T00:00:00.000000000Z", "end": RANGE_END}
        )

    def fake_post(url: str, **kwargs: Any) -> FakeHttpResponse:
        posts.append((url.rsplit("/", 1)[1], dict(kwargs["data"])))
        if url.endswith("/metadata.get_cost"):
            return FakeHttpResponse(json_body=0.12)
        if url.endswith("/metadata.get_billable_size"):
            return FakeHttpResponse(json_body=2153)
        if url.endswith("/timeseries.get_range"):
            return FakeHttpResponse(body=parent_dbn.read_bytes())
        assert url.endswith("/symbology.resolve"), url
        return FakeHttpResponse(
            json_body=FakeSymbology().resolve(
                kwargs["data"]["dataset"],
                kwargs["data"]["symbols"].split(","),
                kwargs["data"]["stype_in"],
                kwargs["data"]["stype_out"],
                kwargs["data"]["start_date"],
                kwargs["data"]["end_date"],
            )
        )

    monkeypatch.setattr(requests, "get", fake_get)
    monkeypatch.setattr(requests, "post", fake_post)

    # Act
    report = fetch_data(
        settings,
        api_key=KEY,
        echo=lines.append,
        sleep=lambda s: None,
        symbols=["ES.FUT"],
        schemas=["trades"],
        start="2024-03-04",
        end="2024-03-09",
    )

    # Assert
    assert [name for name, _ in posts] == [
        "metadata.get_cost",
        "metadata.get_billable_size",
        "timeseries.get_range",
        "symbology.resolve",
    ]
    assert posts[3][1] == {
        "dataset": "GLBX.MDP3",
        "symbols": "5602,17077,17111",
        "stype_in": "instrument_id",
        "stype_out": "raw_symbol",
        "start_date": "2024-03-04",
        "end_date": "2024-03-09",
    }
    [file] = report.files
    assert csv_symbols(file.csv_path) == ["ESH4", "ESM4", "ESH4-ESM4", "ESH4", "ESM4"]
    assert file.dbn_path.read_bytes() == parent_dbn.read_bytes()


@pytest.mark.parametrize(
    ("status", "start"),
    [
        (401, "Databento rejected the API key (HTTP 401)"),
        (403, "Databento refused the available range of GLBX.MDP3 (HTTP 403)"),
    ],
)
def test_fetch_given_real_client_and_auth_failure_names_the_key_not_its_value(
    settings: Settings,
    lines: list[str],
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    start: str,
) -> None:
    # Arrange
    body = {"detail": {"case": "auth_failed", "message": "Authentication failed.", "docs": None}}
    monkeypatch.setattr(
        requests, "get", lambda url, **kwargs: FakeHttpResponse(status=status, json_body=body)
    )
    monkeypatch.setattr(requests, "post", lambda url, **kwargs: pytest.fail("no POST expected"))

    # Act
    with pytest.raises(FetchError) as excinfo:
        fetch_data(
            settings,
            api_key=KEY,
            echo=lines.append,
            sleep=lambda s: None,
            symbols=["ESU4"],
            schemas=["trades"],
            start="2024-07-01",
            end="2024-07-02",
        )

    # Assert
    assert str(excinfo.value).startswith(start)
    assert KEY not in str(excinfo.value)
    assert all_files(settings.data_dir) == []


# --- CLI wiring ---------------------------------------------------------------------------------


def test_cli_fetch_choices_match_library_constants() -> None:
    assert cli_module.FETCH_SCHEMAS == tuple(fetch_module.SCHEMAS)
    assert cli_module.FETCH_STYPES == fetch_module.STYPES


def test_cli_fetch_help_has_example_and_does_not_import_databento() -> None:
    # Arrange
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from vcdwh.cli import cli\n"
        "result = CliRunner().invoke(cli, ['fetch', '--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'Example:' in result.output, result.output\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('databento', 'pandas', 'dotenv'))\n"
        "assert not heavy, heavy\n"
    )

    # Act
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )

    # Assert
    assert done.returncode == 0, done.stderr


# --- live (opt-in) ------------------------------------------------------------------------------


def live_enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("--run-live", default=False)) or (
        os.environ.get("VCDWH_LIVE") == "1"
    )


@pytest.mark.live
def test_fetch_live_given_real_key_downloads_one_day_of_es_bars(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # Arrange
    if not os.environ.get("DATABENTO_API_KEY"):
        pytest.skip("live test: DATABENTO_API_KEY is not set")
    if not live_enabled(request.config):
        pytest.skip("live test: pass --run-live or set VCDWH_LIVE=1 (costs a few cents)")
    settings = Settings(data_dir=tmp_path / "Data", db_path=tmp_path / "Data" / "vcdwh.duckdb")
    lines: list[str] = []

    # Act
    report = fetch_data(
        settings,
        symbols=["ES.c.0"],
        schemas=["ohlcv-1m"],
        start="2024-07-01",
        end="2024-07-02",
        max_cost=0.5,
        echo=lines.append,
    )

    # Assert
    [file] = report.files
    assert file.records > 0
    assert file.csv_path.read_text().startswith("ts_event,rtype,publisher_id,instrument_id,")
    key = os.environ["DATABENTO_API_KEY"]
    assert key not in "\n".join(lines)
    for path in all_files(tmp_path):
        assert key.encode() not in path.read_bytes()


@needs_samples
def test_fetch_then_build_reproduces_golden_esu4_bars_and_keeps_key_out_of_warehouse(
    settings: Settings, factory: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: a key in the environment, the fake client serving the real ESU4 DBN files.
    monkeypatch.setenv("DATABENTO_API_KEY", KEY)
    fetched = run_cli(settings, "--symbol", "ESU4", "--start", "2024-07-01", "--end", "2024-07-02")
    assert fetched.exit_code == 0, fetched.output

    # Act
    built = CliRunner().invoke(cli_module.cli, ["--data-dir", str(settings.data_dir), "build"])
    bars = CliRunner().invoke(
        cli_module.cli,
        [
            "--data-dir",
            str(settings.data_dir),
            "sql",
            "--format",
            "csv",
            "select bar_start, symbol, open, high, low, close, volume, buy_volume, sell_volume, delta,"
            " cumulative_delta, trades from bars_1min order by bar_start",
        ],
    )

    # Assert: the golden table of ../shared/data/README.md; Data/raw/ is not loaded twice.
    assert built.exit_code == 0, built.output
    assert "2 file(s) loaded" in built.output
    assert bars.output.splitlines()[1:] == [
        "2024-07-01 23:58:00,ESU4,5528.750000000,5528.750000000,5528.500000000,5528.750000000,18,14,4,10,10,13",
        "2024-07-01 23:59:00,ESU4,5528.500000000,5528.750000000,5528.500000000,5528.750000000,23,12,11,1,11,15",
        "2024-07-02 00:00:00,ESU4,5529.000000000,5529.500000000,5528.750000000,5529.500000000,175,103,72,31,42,68",
        "2024-07-02 00:01:00,ESU4,5529.250000000,5529.500000000,5529.250000000,5529.250000000,37,13,24,-11,31,24",
    ]
    assert KEY.encode() not in settings.db_path.read_bytes()


# --- dataset condition and batch jobs -----------------------------------------------------------


@needs_samples
def test_fetch_given_degraded_pending_and_missing_days_reports_them_before_downloading(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange
    conditions = {"2024-07-02": "degraded", "2024-07-04": "missing", "2024-07-05": "pending"}
    client = FakeHistorical(metadata=FakeMetadata(conditions=conditions))

    # Act
    fetch(settings, client, lines, start="2024-07-01", end="2024-07-06")

    # Assert
    line = (
        "GLBX.MDP3 condition 2024-07-01..2024-07-05: degraded 2024-07-02; missing 2024-07-04; "
        "pending 2024-07-05 (degraded: may miss data; pending: not out yet; missing: none)"
    )
    assert line in lines
    assert lines.index(line) < next(i for i, x in enumerate(lines) if " records, " in x)
    [(_, asked)] = [c for c in client.metadata.calls if c[0] == "get_dataset_condition"]
    assert asked == {"dataset": "GLBX.MDP3", "start_date": "2024-07-01", "end_date": "2024-07-05"}


@needs_samples
def test_fetch_given_size_above_batch_threshold_downloads_a_verified_batch_job(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange: Databento prices the request at 5 GB
    client = FakeHistorical(metadata=FakeMetadata(size=5_000_000_000))

    # Act
    report = fetch(settings, client, lines)

    # Assert: the same files a stream gives, through submit -> poll -> download -> verify
    [file] = report.files
    assert file.csv_path.read_bytes() == ESU4_TRADES_CSV.read_bytes()
    assert file.dbn_path.read_bytes() == ESU4_TRADES_DBN.read_bytes()
    assert all_files(settings.data_dir) == sorted([file.csv_path, file.dbn_path])
    assert client.timeseries.calls == []
    [(_, submitted)] = [c for c in client.batch.calls if c[0] == "submit_job"]
    assert submitted == {
        "dataset": "GLBX.MDP3",
        "symbols": ["ESU4"],
        "schema": "trades",
        "start": "2024-07-01",
        "end": "2024-07-02",
        "encoding": "dbn",
        "compression": "zstd",
        "split_duration": "none",
        "stype_in": "raw_symbol",
    }
    label = "ESU4 trades 2024-07-01..2024-07-02"
    assert [x for x in lines if "batch" in x] == [
        f"{label}: 5,000,000,000 bytes, above --batch-above 1,073,741,824: downloading it as a "
        "batch job",
        f"{label}: batch job GLBX-20240701-ABCDEF submitted",
        f"{label}: batch job GLBX-20240701-ABCDEF queued",
        f"{label}: batch job GLBX-20240701-ABCDEF processing 40%",
        f"{label}: batch job GLBX-20240701-ABCDEF done 100%",
        f"{label}: batch job GLBX-20240701-ABCDEF downloaded and verified "
        "(glbx-mdp3-20240701-20240702.trades.dbn.zst)",
    ]
    assert (report.records, report.estimated_cost) == (120, 0.25)


@needs_samples
def test_fetch_given_batch_file_not_matching_its_hash_fails_and_leaves_no_file(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange
    client = FakeHistorical(
        metadata=FakeMetadata(size=5_000_000_000), batch=FakeBatch(SAMPLES, corrupt=True)
    )

    # Act
    with pytest.raises(FetchError) as excinfo:
        fetch(settings, client, lines)

    # Assert
    assert str(excinfo.value) == (
        "batch job GLBX-20240701-ABCDEF for ESU4 trades 2024-07-01..2024-07-02: "
        "glbx-mdp3-20240701-20240702.trades.dbn.zst does not match the size and SHA-256 "
        "Databento lists (a broken download); fetch again"
    )
    assert all_files(settings.data_dir) == []


@needs_samples
def test_fetch_given_expired_batch_job_fails_naming_it_and_leaves_no_file(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange
    batch = FakeBatch(SAMPLES, states=[("queued", None), ("expired", None)])
    client = FakeHistorical(metadata=FakeMetadata(size=5_000_000_000), batch=batch)

    # Act
    with pytest.raises(FetchError) as excinfo:
        fetch(settings, client, lines)

    # Assert
    assert str(excinfo.value) == (
        "batch job GLBX-20240701-ABCDEF for ESU4 trades 2024-07-01..2024-07-02 is expired; "
        "fetch again"
    )
    assert all_files(settings.data_dir) == []
    assert [name for name, _ in batch.calls].count("submit_job") == 1


@needs_samples
def test_fetch_given_batch_above_option_streams_below_it(
    settings: Settings, lines: list[str]
) -> None:
    # Arrange: 2,153 bytes is not above a 2,153-byte threshold
    client = FakeHistorical()

    # Act
    report = fetch(settings, client, lines, batch_above=2153)

    # Assert
    assert client.batch.calls == []
    assert len(client.timeseries.calls) == 1
    assert report.files[0].status == "written"


def test_fetch_given_negative_batch_above_fails_before_any_request(
    settings: Settings, lines: list[str]
) -> None:
    client = FakeHistorical()

    with pytest.raises(ConfigError) as excinfo:
        fetch(settings, client, lines, batch_above=-1)

    assert str(excinfo.value) == "invalid --batch-above -1: use a whole number of bytes >= 0"
    assert client.metadata.calls == []


@needs_samples
def test_cli_fetch_given_batch_above_small_downloads_through_a_batch_job(
    settings: Settings, factory: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: the job is polled without waiting between polls.
    monkeypatch.setenv("DATABENTO_API_KEY", KEY)
    monkeypatch.setattr(fetch_module, "BATCH_POLL_SECONDS", 0.0)

    # Act
    result = run_cli(
        settings,
        *("--symbol", "ESU4", "--schema", "trades", "--start", "2024-07-01"),
        *("--end", "2024-07-02", "--batch-above", "1000"),
    )

    # Assert
    assert result.exit_code == 0, result.output
    assert "batch job GLBX-20240701-ABCDEF downloaded and verified" in result.output
    assert factory["client"].timeseries.calls == []
    assert KEY not in result.output


# --- progress -----------------------------------------------------------------------------------


class RecordedProgress(Progress):
    """Keeps every phase and the units advanced in it."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, int | None, str]] = []
        self.advances: list[list[int]] = []

    def phase(self, label: str, total: int | None = None, unit: str = "") -> None:
        self.phases.append((label, total, unit))
        self.advances.append([])

    def advance(self, units: int = 1) -> None:
        self.advances[-1].append(units)


class HalfThenRest(FakeTimeseries):
    """Streams the file to ``path`` in two halves, the second once ``seen`` reports the first
    (a download the progress bar watches as it grows)."""

    def __init__(self, files: dict[str, Path], seen: Callable[[], int]) -> None:
        super().__init__(files)
        self.seen = seen

    def get_range(self, **kwargs: Any) -> databento.DBNStore:
        data = self.files[kwargs["schema"]].read_bytes()
        half = len(data) // 2
        with open(kwargs["path"], "x+b") as writer:
            writer.write(data[:half])
            writer.flush()
            deadline = time.monotonic() + 10
            while self.seen() < half and time.monotonic() < deadline:
                time.sleep(0.01)
            writer.write(data[half:])
        return databento.DBNStore.from_file(kwargs["path"])


def test_fetch_given_a_progress_counts_each_downloads_bytes_as_they_arrive(
    settings: Settings, lines: list[str], tmp_path: Path
) -> None:
    # Arrange: a stream that waits, half written, until the progress has counted that half
    served = write_parent_trades(tmp_path / "served.dbn.zst")
    progress = RecordedProgress()
    seen = lambda: sum(progress.advances[-1]) if progress.advances else 0  # noqa: E731
    client = FakeHistorical(HalfThenRest({"trades": served}, seen))

    # Act
    [file] = fetch_parent(settings, client, lines, progress=progress).files

    # Assert: one phase counted in bytes, the half first, the whole file in the end
    size = served.stat().st_size
    assert progress.phases == [("downloading ES.FUT trades 2024-03-04..2024-03-09", None, "bytes")]
    [advances] = progress.advances
    assert advances[0] == size // 2
    assert sum(advances) == size == file.dbn_path.stat().st_size


def test_fetch_given_a_batch_job_counts_its_download_against_the_listed_size(
    settings: Settings, lines: list[str], tmp_path: Path
) -> None:
    served = write_parent_trades(tmp_path / "served.dbn.zst")
    client = FakeHistorical(
        FakeTimeseries({"trades": served}),
        metadata=FakeMetadata(size=5_000_000_000),
        batch=FakeBatch({"trades": served}),
    )
    progress = RecordedProgress()

    fetch_parent(settings, client, lines, progress=progress)

    size = served.stat().st_size
    assert progress.phases == [("downloading ES.FUT trades 2024-03-04..2024-03-09", size, "bytes")]
    assert sum(progress.advances[0]) == size
