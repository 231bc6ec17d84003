"""Download Databento futures data into the seed's file layout, safely.

:func:`fetch_data` is the library behind ``vcdwh fetch``. For each symbol and schema it makes one
``timeseries.get_range`` request with the official ``databento`` client and writes two files:

- the DBN exactly as received,
  ``<data-dir>/raw/glbx-mdp3_ES.FUT_trades_2024-07-01_2024-07-08.dbn.zst``;
- the seed-named CSV in Databento's pretty layout (``DBNStore.to_csv`` defaults),
  ``<data-dir>/trades_ES.FUT_2024-07-01_2024-07-08.csv`` or ``ohlcv_1m_ES.FUT_….csv``.

The CSV's ``symbol`` column always holds the real contract (``ESH4``, ``ESM4``, ``ESH4-ESM4``).
Databento's own mapping labels every row of a parent (``ES.FUT``), continuous (``ES.c.0``) or
instrument-id request with the *requested* symbol, which would merge all expiries and spreads
into one instrument. For those requests the instrument ids in the data are resolved with
``symbology.resolve`` (``instrument_id`` → ``raw_symbol``, over the request's dates) and the CSV
is written by Databento's transcoder with that map, so the layout is unchanged and each row
takes the symbol valid on its UTC date. Ids Databento cannot resolve keep the requested symbol,
with a one-line warning naming them.

Safety rules, in the order they apply:

1. Everything is validated before any request: symbols against a strict pattern (they end up in
   requests and file names), schemas, dataset code, ``stype_in`` and dates.
2. The API key comes from the argument, else ``DATABENTO_API_KEY`` in the environment, else a
   ``.env`` file in the working directory. It is never printed, logged or written; as a last
   defence every message is scrubbed of it.
3. The end date is clamped to the range Databento has published (``metadata.get_dataset_range``),
   so "the last 7 days" does not fail on data that is not out yet.
4. ``metadata.get_cost`` prices every request first; above ``max_cost`` nothing is downloaded
   unless ``assume_yes``.
4b. Before downloading, ``metadata.get_dataset_condition`` is asked about the requested days and
   every day that is not ``available`` (``degraded``, ``pending``, ``missing``) is reported.
4c. A request whose ``metadata.get_billable_size`` is above ``batch_above`` bytes (default
   :data:`DEFAULT_BATCH_ABOVE_BYTES`, 1 GiB) is not streamed: it becomes a batch job
   (``batch.submit_job``, one DBN file), polled with ``batch.list_jobs`` (its state and progress
   are printed), downloaded with ``batch.download`` and verified against ``batch.list_files``
   (size and SHA-256) before it is decoded and renamed like a streamed file.
5. Files are written under a hidden temporary name (``.<name>.<random>.part``) and renamed when
   complete, so an interrupted or failed download leaves nothing that :func:`cached_paths` would
   trust. Complete files are reused unless ``refresh``.
6. Connection errors, HTTP 408/429 and 5xx are retried with exponential backoff; other errors
   become one-line :class:`~vcdwh.errors.FetchError` messages that say what to fix.

``databento`` (and with it pandas) is imported only when a real client is made, so importing this
module is cheap and a test can inject a fake client.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from vcdwh.config import Settings
from vcdwh.datafiles import SEED_PREFIXES, dbn_file_name, seed_file_name
from vcdwh.errors import ConfigError, FetchError, VcdwhError
from vcdwh.instruments import CONTINUOUS_SYMBOL_RE, PARENT_SYMBOL_RE
from vcdwh.progress import NO_PROGRESS, Progress

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_BATCH_ABOVE_BYTES",
    "DEFAULT_DATASET",
    "DEFAULT_DAYS",
    "DEFAULT_MAX_COST",
    "DEFAULT_SCHEMAS",
    "DEFAULT_SYMBOLS",
    "MISSING_KEY_MESSAGE",
    "SCHEMAS",
    "STYPES",
    "FetchReport",
    "FetchedFile",
    "cached_paths",
    "csv_path",
    "dbn_path",
    "fetch_data",
    "infer_stype",
    "make_client",
    "resolve_api_key",
    "validate_symbol",
]

API_KEY_ENV = "DATABENTO_API_KEY"
DEFAULT_SYMBOLS: tuple[str, ...] = ("ES.FUT",)
DEFAULT_SCHEMAS: tuple[str, ...] = ("trades", "ohlcv-1m")
DEFAULT_DATASET = "GLBX.MDP3"
DEFAULT_DAYS = 7
DEFAULT_MAX_COST = 5.0
#: Schemas vcdwh fetches, mapped to the prefix of the seed's CSV file name.
SCHEMAS = SEED_PREFIXES
#: Input symbologies accepted by ``stype_in``.
STYPES: tuple[str, ...] = ("raw_symbol", "parent", "continuous", "instrument_id")
RAW_DIRNAME = "raw"
MAX_ATTEMPTS = 4
BACKOFF_SECONDS = 1.0
MAX_RETRY_AFTER_SECONDS = 60.0
MAX_DAYS = 3660
DEFAULT_BATCH_ABOVE_BYTES = 1 << 30
"""Requests larger than this (Databento's billable size, 1 GiB) are downloaded as a batch job: a
stream that large is slow to restart when it breaks, a batch file is prepared server-side, then
downloaded and checked against its SHA-256."""
BATCH_POLL_SECONDS = 15.0
PROGRESS_POLL_SECONDS = 0.25
"""How often a download's bytes on disk are counted for its progress bar."""
BATCH_TIMEOUT_SECONDS = 6 * 3600.0
#: Instrument ids per ``symbology.resolve`` request (Databento's limit is 2,000).
RESOLVE_BATCH = 2000
#: Records per chunk when collecting the instrument ids of a DBN.
ID_SCAN_ROWS = 1_000_000
#: Unresolved ids listed in the warning line before "and N more".
WARN_IDS = 10

MISSING_KEY_MESSAGE = (
    f"no Databento API key: set {API_KEY_ENV} in the environment or in .env in the working "
    f"directory (cp .env.example .env), or pass --api-key"
)
EMPTY_HINT = (
    "the market may have been closed (weekend or exchange holiday), the contract may not have "
    "traded, or the symbol may not exist in the dataset for these dates"
)

# Symbols go into requests and file names: letters/digits, with inner '.' and '-' only
# (ES.FUT, ES.c.0, ESU4, ESU5-ESZ5, 118). No '_' (the file-name separator), no '/', no spaces.
_SYMBOL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.\-]{0,30}[A-Za-z0-9])?")
_INSTRUMENT_ID_RE = re.compile(r"[0-9]+")
_DATASET_RE = re.compile(r"[A-Z][A-Z0-9]{1,15}\.[A-Z][A-Z0-9]{1,15}")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIMESTAMP_RE = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[T ](?P<h>[0-9]{2}):(?P<m>[0-9]{2})(?::(?P<s>[0-9]{2})(?:\.(?P<frac>[0-9]+))?)?)?"
    r"(?:Z|\+00:00)?"
)
_STYPE_NOTES = {
    "parent": "every expiry and calendar spread of the product",
    "continuous": "one contract at a time, rolled by Databento",
    "raw_symbol": "exactly this contract",
    "instrument_id": "a numeric Databento instrument id",
}
_RETRYABLE_STATUSES = frozenset({408, 429})

T = TypeVar("T")
Echo = Callable[[str], object]
Status = Literal["written", "reused", "rebuilt"]
#: instrument_id → [(first day, day after the last, raw symbol), ...], as Databento's transcoder
#: takes it (``symbol_interval_map``).
SymbolMap = dict[int, list[tuple[date, date, str]]]
#: Builds the symbol map of a decoded ``DBNStore`` (None: keep Databento's own mapping).
SymbolMapper = Callable[[Any], SymbolMap | None]


class HistoricalClient(Protocol):
    """What :func:`fetch_data` needs from ``databento.Historical`` (tests pass a fake)."""

    timeseries: Any
    metadata: Any
    symbology: Any
    batch: Any


@dataclass(frozen=True)
class FetchedFile:
    """One request's outcome: the seed-named CSV and the DBN it was decoded from.

    Attributes
    ----------
    symbol, schema, stype_in : str
        The request as sent to Databento.
    start, end : datetime.date
        Inclusive start and exclusive end of the request (the dates in the file names).
    csv_path : pathlib.Path
        The seed-named CSV (Databento pretty layout).
    dbn_path : pathlib.Path or None
        The DBN as received, under ``<data-dir>/raw/`` (None if it was deleted since).
    records : int
        Data rows in the CSV.
    nbytes : int
        Bytes downloaded from Databento for this file (0 when reused or rebuilt).
    seconds : float
        Wall time of the download and decode.
    cost : float
        Databento's cost estimate in USD (0 when nothing was downloaded).
    status : {"written", "reused", "rebuilt"}
        Downloaded now; complete files from an earlier run; CSV re-decoded from the kept DBN.
    """

    symbol: str
    schema: str
    stype_in: str
    start: date
    end: date
    csv_path: Path
    dbn_path: Path | None
    records: int
    nbytes: int
    seconds: float
    cost: float
    status: Status


@dataclass
class FetchReport:
    """What :func:`fetch_data` did.

    Attributes
    ----------
    dataset : str
        The Databento dataset code.
    start, end : datetime.date
        The date range after clamping to the published data (end exclusive).
    files : list of FetchedFile
        Every CSV written, rebuilt or reused, in request order.
    empty : list of str
        Requests that returned no records (nothing was written for them).
    estimated_cost : float
        Sum of Databento's cost estimates for the requests that were downloaded, in USD.
    """

    dataset: str
    start: date
    end: date
    files: list[FetchedFile] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    estimated_cost: float = 0.0

    @property
    def written(self) -> list[FetchedFile]:
        """Files downloaded (or re-decoded from a kept DBN) by this run."""
        return [f for f in self.files if f.status != "reused"]

    @property
    def reused(self) -> list[FetchedFile]:
        """Complete files from an earlier run that were reused."""
        return [f for f in self.files if f.status == "reused"]

    @property
    def records(self) -> int:
        """Data rows over all CSVs in the report."""
        return sum(f.records for f in self.files)

    @property
    def nbytes(self) -> int:
        """Bytes downloaded from Databento by this run."""
        return sum(f.nbytes for f in self.files)

    def summary(self) -> str:
        """Return a one-line summary for the CLI."""
        return (
            f"done: {len(self.written)} file(s) written, {len(self.reused)} reused, "
            f"{self.records:,} records, {self.nbytes:,} bytes downloaded, "
            f"estimated cost ${self.estimated_cost:.2f}"
        )


@dataclass(frozen=True)
class _Request:
    symbol: str
    schema: str
    stype_in: str
    start: date
    end: date
    csv_path: Path
    dbn_path: Path

    @property
    def label(self) -> str:
        return f"{self.symbol} {self.schema} {self.start}..{self.end}"

    def query(self, dataset: str) -> dict[str, Any]:
        """What every Databento call about this request is given: dataset, range, symbol."""
        return {
            "dataset": dataset,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "symbols": [self.symbol],
            "schema": self.schema,
            "stype_in": self.stype_in,
        }


# --- validation ---------------------------------------------------------------------------------


def validate_symbol(symbol: object) -> str:
    """Check a symbol against the strict pattern used for requests and file names.

    Parameters
    ----------
    symbol : object
        The user's symbol, e.g. ``"ES.FUT"``, ``"ES.c.0"``, ``"ESU4"`` or ``"ESU5-ESZ5"``.

    Returns
    -------
    str
        The symbol, unchanged.

    Raises
    ------
    ConfigError
        If it is not a string of 1-32 letters, digits and inner ``.``/``-`` (no ``..``).
    """
    if not isinstance(symbol, str) or not _SYMBOL_RE.fullmatch(symbol) or ".." in symbol:
        raise ConfigError(
            f"invalid --symbol {symbol!r}: use 1-32 letters/digits with inner '.' or '-', "
            f"e.g. ES.FUT, ES.c.0, ESU4"
        )
    return symbol


def infer_stype(symbol: str) -> str:
    """Infer Databento's ``stype_in`` from the shape of a symbol.

    Parameters
    ----------
    symbol : str
        A validated symbol.

    Returns
    -------
    str
        ``"parent"`` for ``ES.FUT`` / ``ES.OPT``, ``"continuous"`` for ``ES.c.0``, ``ES.v.0`` and
        ``ES.n.0``, otherwise ``"raw_symbol"``.
    """
    if PARENT_SYMBOL_RE.fullmatch(symbol):
        return "parent"
    if CONTINUOUS_SYMBOL_RE.fullmatch(symbol):
        return "continuous"
    return "raw_symbol"


def _validate_symbols(symbols: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(symbols, str):
        symbols = (symbols,)
    checked = tuple(dict.fromkeys(validate_symbol(s) for s in symbols))
    if not checked:
        raise ConfigError("no --symbol given: pass at least one, e.g. --symbol ES.FUT")
    return checked


def _validate_schemas(schemas: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(schemas, str):
        schemas = (schemas,)
    checked = tuple(dict.fromkeys(schemas))
    if not checked:
        raise ConfigError("no --schema given: pass trades and/or ohlcv-1m")
    for schema in checked:
        if schema not in SCHEMAS:
            raise ConfigError(f"invalid --schema {schema!r}: vcdwh fetches {' or '.join(SCHEMAS)}")
    return checked


def _validate_dataset(dataset: object) -> str:
    if not isinstance(dataset, str) or not _DATASET_RE.fullmatch(dataset):
        raise ConfigError(
            f"invalid --dataset {dataset!r}: use a Databento dataset code such as GLBX.MDP3"
        )
    return dataset


def _validate_stype(stype_in: object, symbols: Sequence[str]) -> str | None:
    if stype_in is None:
        return None
    if stype_in not in STYPES:
        raise ConfigError(f"invalid --stype-in {stype_in!r}: use one of {', '.join(STYPES)}")
    if stype_in == "instrument_id":
        for symbol in symbols:
            if not _INSTRUMENT_ID_RE.fullmatch(symbol):
                raise ConfigError(
                    f"invalid --symbol {symbol!r} for --stype-in instrument_id: use a number"
                )
    return str(stype_in)


def _parse_date(value: object, param: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        raise ConfigError(f"--{param} must be a date like 2024-07-01, not a datetime")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE_RE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"invalid --{param} {value!r}: use a date like 2024-07-01")


def _requested_range(
    start: object, end: object, days: int | None, today: date
) -> tuple[date, date, bool]:
    """Return (start, end, start_given) before clamping; end is exclusive."""
    start_d = _parse_date(start, "start")
    end_d = _parse_date(end, "end")
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
            raise ConfigError(f"invalid --days {days!r}: use a whole number from 1 to {MAX_DAYS}")
        if start_d is not None and end_d is not None:
            raise ConfigError("give --days or both --start and --end, not all three")
    span = timedelta(days=days if days is not None else DEFAULT_DAYS)
    if end_d is None:
        end_d = today if start_d is None else max(today, start_d + timedelta(days=1))
    if start_d is None:
        start_d = end_d - span
    if start_d >= end_d:
        raise ConfigError(
            f"--start {start_d} must be before --end {end_d} (the end date is exclusive)"
        )
    return start_d, end_d, start is not None


# --- files --------------------------------------------------------------------------------------


def csv_path(settings: Settings, symbol: str, schema: str, start: date, end: date) -> Path:
    """Return the seed-named CSV path, e.g. ``Data/trades_ES.FUT_2024-07-01_2024-07-08.csv``.

    Parameters
    ----------
    settings : Settings
        Where the data directory is.
    symbol : str
        A symbol (validated here).
    schema : {"trades", "ohlcv-1m"}
        The Databento schema.
    start, end : datetime.date
        Inclusive start and exclusive end of the request.

    Returns
    -------
    pathlib.Path
    """
    validate_symbol(symbol)
    name = seed_file_name(_validate_schemas(schema)[0], symbol, start, end)
    return Path(settings.data_dir) / name


def dbn_path(
    settings: Settings,
    symbol: str,
    schema: str,
    start: date,
    end: date,
    dataset: str = DEFAULT_DATASET,
) -> Path:
    """Return the raw DBN path under ``<data-dir>/raw/``.

    For example ``Data/raw/glbx-mdp3_ES.FUT_trades_2024-07-01_2024-07-08.dbn.zst``.

    Parameters
    ----------
    settings : Settings
        Where the data directory is.
    symbol : str
        A symbol (validated here).
    schema : {"trades", "ohlcv-1m"}
        The Databento schema.
    start, end : datetime.date
        Inclusive start and exclusive end of the request.
    dataset : str, default "GLBX.MDP3"
        The Databento dataset code.

    Returns
    -------
    pathlib.Path
    """
    validate_symbol(symbol)
    schema = _validate_schemas(schema)[0]
    name = dbn_file_name(_validate_dataset(dataset), symbol, schema, start, end)
    return Path(settings.data_dir) / RAW_DIRNAME / name


def cached_paths(
    settings: Settings,
    symbol: str,
    schema: str,
    start: date,
    end: date,
    dataset: str = DEFAULT_DATASET,
) -> tuple[Path, Path | None] | None:
    """Return the complete files of an earlier fetch of this request, if there are any.

    Only final names are looked at. Downloads in progress, and those that were interrupted,
    live under hidden ``.<name>.<random>.part`` names and are never trusted.

    Parameters
    ----------
    settings : Settings
        Where the data directory is.
    symbol : str
        A symbol (validated here).
    schema : {"trades", "ohlcv-1m"}
        The Databento schema.
    start, end : datetime.date
        Inclusive start and exclusive end of the request.
    dataset : str, default "GLBX.MDP3"
        The Databento dataset code.

    Returns
    -------
    tuple of (pathlib.Path, pathlib.Path or None), or None
        ``(csv, dbn)`` when the CSV exists (``dbn`` is None if the raw file is gone);
        None when there is no complete CSV.
    """
    csv = csv_path(settings, symbol, schema, start, end)
    if not csv.is_file():
        return None
    dbn = dbn_path(settings, symbol, schema, start, end, dataset)
    return csv, (dbn if dbn.is_file() else None)


def _part_path(final: Path) -> Path:
    """A hidden, unique temporary name next to ``final`` that no glob for data files matches."""
    return final.with_name(f".{final.name}.{secrets.token_hex(4)}.part")


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _count_records(csv: Path) -> int:
    newlines = 0
    with open(csv, "rb") as handle:
        while chunk := handle.read(1 << 20):
            newlines += chunk.count(b"\n")
    return max(newlines - 1, 0)


# --- key and client -----------------------------------------------------------------------------


def resolve_api_key(api_key: str | None = None, *, cwd: Path | None = None) -> str:
    """Find the Databento API key: argument, else environment, else ``.env`` in ``cwd``.

    ``.env`` is read with python-dotenv without changing ``os.environ``.

    Parameters
    ----------
    api_key : str, optional
        An explicit key (``--api-key``).
    cwd : pathlib.Path, optional
        Folder holding ``.env``; the working directory by default.

    Returns
    -------
    str
        The key, stripped of surrounding blanks.

    Raises
    ------
    ConfigError
        If no non-blank key is found; the message names ``DATABENTO_API_KEY`` and ``.env``.
    """
    candidates: list[str | None] = [api_key, os.environ.get(API_KEY_ENV)]
    env_file = (cwd or Path.cwd()) / ".env"
    if env_file.is_file():
        from dotenv import dotenv_values

        candidates.append(dotenv_values(env_file).get(API_KEY_ENV))
    for candidate in candidates:
        if candidate and candidate.strip():
            return candidate.strip()
    raise ConfigError(MISSING_KEY_MESSAGE)


def make_client(key: str) -> HistoricalClient:
    """Make the real ``databento.Historical`` client (the only place databento is imported).

    Parameters
    ----------
    key : str
        The Databento API key.

    Returns
    -------
    databento.Historical

    Raises
    ------
    ConfigError
        If the client refuses the key (the key itself is not repeated).
    """
    import databento

    try:
        return databento.Historical(key)
    except ValueError:
        raise ConfigError(
            f"Databento did not accept the API key: check {API_KEY_ENV} (environment or .env)"
        ) from None


def _scrub(text: str, hidden: Sequence[str]) -> str:
    for secret in hidden:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


# --- errors and retries -------------------------------------------------------------------------


def _http_status(exc: BaseException) -> int | None:
    status = getattr(exc, "http_status", None)
    return status if isinstance(status, int) else None


def _transient_reason(exc: BaseException) -> str | None:
    """Return why ``exc`` is worth retrying ("HTTP 503", "connection error"), or None."""
    status = _http_status(exc)
    if status is not None:
        if status in _RETRYABLE_STATUSES or 500 <= status <= 599:
            return f"HTTP {status}"
        return None
    if isinstance(exc, ConnectionError | TimeoutError):
        return "connection error"
    try:
        import requests
    except ImportError:  # pragma: no cover - requests comes with databento
        requests = None  # type: ignore[assignment]
    if requests is not None and isinstance(
        exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout
    ):
        return "connection error"
    try:
        from databento.common.error import BentoError
    except ImportError:  # pragma: no cover - databento is a dependency
        return None
    if isinstance(exc, BentoError):
        # The client raises a bare BentoError when the stream breaks mid-download.
        return "connection error"
    return None


def _retry_delay(exc: BaseException, attempt: int) -> float:
    headers = getattr(exc, "headers", None) or {}
    try:
        retry_after = float(headers.get("Retry-After", headers.get("retry-after")))  # type: ignore[arg-type]
    except (TypeError, ValueError, AttributeError):
        retry_after = None
    if retry_after is not None and retry_after >= 0:
        return min(retry_after, MAX_RETRY_AFTER_SECONDS)
    return BACKOFF_SECONDS * 2 ** (attempt - 1)


def _server_detail(exc: BaseException) -> str:
    message: Any = getattr(exc, "message", None)
    if isinstance(message, dict):
        message = message.get("message") or message.get("case") or str(message)
    if not message:
        body = getattr(exc, "http_body", None)
        message = body if isinstance(body, str) else ""
    text = " ".join(str(message).replace("\n", "; ").split())
    return (text[:297] + "...") if len(text) > 300 else (text or "no detail from the server")


def _error_for(exc: BaseException, what: str, req: _Request | None, dataset: str) -> VcdwhError:
    """Turn a non-retryable client error into a one-line FetchError."""
    status = _http_status(exc)
    detail = _server_detail(exc)
    if status == 401:
        return FetchError(
            f"Databento rejected the API key (HTTP 401) while requesting {what}: check "
            f"{API_KEY_ENV} (environment or .env) or --api-key"
        )
    if status == 403:
        return FetchError(
            f"Databento refused {what} (HTTP 403): your API key's subscription or license does "
            f"not cover {dataset} for this request; check your plan at https://databento.com/portal"
        )
    if status == 422:
        if req is not None:
            return FetchError(
                f"Databento rejected {what} (HTTP 422): {detail}; check the symbol "
                f"{req.symbol!r} (stype_in={req.stype_in}) and the dates {req.start}..{req.end}"
            )
        return FetchError(f"Databento rejected {what} (HTTP 422): {detail}")
    if status is not None:
        return FetchError(f"Databento rejected {what} (HTTP {status}): {detail}")
    first_line = (str(exc).splitlines() or [""])[0]
    return FetchError(f"Databento request for {what} failed: {type(exc).__name__}: {first_line}")


def _is_databento_error(exc: BaseException) -> bool:
    if _http_status(exc) is not None:
        return True
    module = type(exc).__module__ or ""
    return module.startswith(("databento", "requests", "urllib3"))


def _with_retries(
    call: Callable[[], T],
    *,
    what: str,
    req: _Request | None,
    dataset: str,
    say: Echo,
    sleep: Callable[[float], object],
    attempts: int = MAX_ATTEMPTS,
) -> T:
    """Run ``call``; retry transient failures with backoff; map the rest to FetchError."""
    for attempt in range(1, attempts + 1):
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = call()
            _report_warnings(caught, say)
            return result
        except VcdwhError:
            raise
        except Exception as exc:
            reason = _transient_reason(exc)
            if reason is None:
                if _is_databento_error(exc):
                    raise _error_for(exc, what, req, dataset) from exc
                raise
            if attempt == attempts:
                raise FetchError(
                    f"Databento request for {what} still failing after {attempts} attempts "
                    f"({reason}): try again later"
                ) from exc
            delay = _retry_delay(exc, attempt)
            say(f"{what}: retrying in {delay:g}s ({reason}), attempt {attempt + 1} of {attempts}")
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _report_warnings(caught: list[warnings.WarningMessage], say: Echo) -> None:
    for item in caught:
        if type(item.message).__module__.startswith("databento"):
            say(f"Databento warning: {' '.join(str(item.message).split())}")
        else:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)


# --- dates --------------------------------------------------------------------------------------


def _parse_timestamp(value: object) -> datetime:
    match = _TIMESTAMP_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise FetchError(f"unexpected dataset range from Databento: {value!r}")
    day = date.fromisoformat(match["date"])
    return datetime(
        day.year,
        day.month,
        day.day,
        int(match["h"] or 0),
        int(match["m"] or 0),
        int(match["s"] or 0),
        int((match["frac"] or "0")[:6].ljust(6, "0")),
        tzinfo=UTC,
    )


def _available_range(payload: Any, schemas: Sequence[str]) -> tuple[datetime, datetime]:
    """Latest start and earliest end over the requested schemas (or the dataset)."""
    if not isinstance(payload, dict):
        raise FetchError(f"unexpected dataset range from Databento: {payload!r}")
    per_schema = payload.get("schema") if isinstance(payload.get("schema"), dict) else {}
    starts, ends = [], []
    for schema in schemas:
        item = per_schema.get(schema) if per_schema else None
        source = item if isinstance(item, dict) and "end" in item else payload
        starts.append(_parse_timestamp(source.get("start")))
        ends.append(_parse_timestamp(source.get("end")))
    return max(starts), min(ends)


def _clamp(
    start: date,
    end: date,
    start_given: bool,
    span: timedelta,
    available: tuple[datetime, datetime],
    dataset: str,
    say: Echo,
) -> tuple[date, date]:
    first, last = available
    # Whole days only (file names are dates): the last usable exclusive end is the day the
    # published data reaches; the first usable start is the first whole day.
    last_day = last.date()
    first_day = first.date() + (
        timedelta(days=1) if first.time() != datetime.min.time() else timedelta(0)
    )
    if end > last_day:
        say(
            f"end {end} is past the data Databento has published for {dataset} "
            f"(up to {last:%Y-%m-%d %H:%M} UTC): using end {last_day}"
        )
        end = last_day
        if not start_given:
            start = end - span
    if start < first_day:
        say(f"start {start} is before {dataset} begins ({first_day}): using start {first_day}")
        start = first_day
    if start >= end:
        raise FetchError(
            f"no published {dataset} data between {start} and {end}: Databento has "
            f"{first:%Y-%m-%d %H:%M}..{last:%Y-%m-%d %H:%M} UTC; choose --start/--end inside it"
        )
    return start, end


# --- the fetch ----------------------------------------------------------------------------------


def fetch_data(
    settings: Settings,
    *,
    symbols: Iterable[str] | str = DEFAULT_SYMBOLS,
    schemas: Iterable[str] | str = DEFAULT_SCHEMAS,
    start: date | str | None = None,
    end: date | str | None = None,
    days: int | None = None,
    dataset: str = DEFAULT_DATASET,
    stype_in: str | None = None,
    max_cost: float = DEFAULT_MAX_COST,
    assume_yes: bool = False,
    refresh: bool = False,
    api_key: str | None = None,
    client: HistoricalClient | None = None,
    echo: Echo = print,
    sleep: Callable[[float], object] = time.sleep,
    today: date | None = None,
    batch_above: int = DEFAULT_BATCH_ABOVE_BYTES,
    progress: Progress = NO_PROGRESS,
) -> FetchReport:
    """Download Databento data for each symbol and schema into the seed's files.

        Parameters
        ----------
        settings : Settings
            ``settings.data_dir`` receives the CSVs; the DBNs go to ``<data_dir>/raw/``.
        symbols : iterable of str or str, default ("ES.FUT",)
            Symbols; each is checked by :func:`validate_symbol` and its ``stype_in`` inferred by
            :func:`infer_stype` unless ``stype_in`` is given.
        schemas : iterable of str or str, default ("trades", "ohlcv-1m")
            Any of ``"trades"`` and ``"ohlcv-1m"``.
        start, end : datetime.date or str (YYYY-MM-DD), optional
            Inclusive start and exclusive end. Without ``start`` the range is the ``days`` before
            ``end``; without ``end`` it ends today (UTC). The end is clamped to the published data.
        days : int, optional
            Length of the range when ``start`` or ``end`` is missing (default 7, the seed's
            ``days_back``). Not allowed together with both ``start`` and ``end``.
        dataset : str, default "GLBX.MDP3"
            Databento dataset code.
        stype_in : {"raw_symbol", "parent", "continuous", "instrument_id"}, optional
            Overrides the inferred symbology for every symbol.
        max_cost : float, default 5.0
            Largest total cost estimate (USD) downloaded without ``assume_yes``.
        assume_yes : bool, default False
            Download even when the estimate is above ``max_cost``.
        refresh : bool, default False
            Download again even when complete files exist.
        api_key : str, optional
            Databento API key; else ``DATABENTO_API_KEY`` from the environment, else ``./.env``.
            Ignored when ``client`` is given.
        client : HistoricalClient, optional
            A ready client (tests inject a fake); by default :func:`make_client` makes
            ``databento.Historical(key)``.
        echo : callable, default print
            Receives each progress line (already scrubbed of the key).
        sleep : callable, default time.sleep
            Waits between retries.
        today : datetime.date, optional
            "Today" in UTC, for reproducible defaults.
        batch_above : int, default DEFAULT_BATCH_ABOVE_BYTES (1 GiB)
            A request whose billable size is above this many bytes is downloaded as a batch job
            instead of one streaming request.
        progress : Progress, default NO_PROGRESS
            Receives a phase per download and the bytes received (of the file's size when
            Databento lists it, for a batch job).

        Returns
        -------
        FetchReport

        Raises
        ------
        ConfigError
            Invalid symbol, schema, dataset, stype or dates, or no API key; raised before any
            request.
        FetchError
            Cost above ``max_cost``, a Databento error, or no records at all.

        Examples
        --------
        >>> from vcdwh.config import Settings
    from vcdwh.datafiles import SEED_PREFIXES, dbn_file_name, seed_file_name
        >>> report = fetch_data(Settings.resolve(), symbols=["ES.c.0"], schemas=["trades"],
        ...                     start="2024-07-01", end="2024-07-08")  # doctest: +SKIP
    """
    hidden: list[str] = [api_key] if api_key else []

    def say(message: str) -> None:
        echo(_scrub(message, hidden))

    try:
        symbols_t = _validate_symbols(symbols)
        schemas_t = _validate_schemas(schemas)
        dataset = _validate_dataset(dataset)
        stype_override = _validate_stype(stype_in, symbols_t)
        if (
            isinstance(max_cost, bool)
            or not isinstance(max_cost, int | float)
            or not (max_cost >= 0)
        ):
            raise ConfigError(f"invalid --max-cost {max_cost!r}: use a number of USD >= 0")
        if isinstance(batch_above, bool) or not isinstance(batch_above, int) or batch_above < 0:
            raise ConfigError(
                f"invalid --batch-above {batch_above!r}: use a whole number of bytes >= 0"
            )
        today = today or datetime.now(UTC).date()
        start_d, end_d, start_given = _requested_range(start, end, days, today)
        span = timedelta(days=days or DEFAULT_DAYS)

        if client is None:
            key = resolve_api_key(api_key)
            hidden.append(key)
            client = make_client(key)

        with contextlib.closing(progress):
            return _fetch(
                settings,
                client,
                symbols_t,
                schemas_t,
                dataset,
                stype_override,
                start_d,
                end_d,
                start_given,
                span,
                float(max_cost),
                assume_yes,
                refresh,
                say,
                sleep,
                batch_above,
                progress,
            )
    except VcdwhError as exc:
        message = str(exc)
        scrubbed = _scrub(message, hidden)
        if scrubbed != message:
            raise type(exc)(scrubbed) from None
        raise


def _fetch(
    settings: Settings,
    client: HistoricalClient,
    symbols: tuple[str, ...],
    schemas: tuple[str, ...],
    dataset: str,
    stype_override: str | None,
    start: date,
    end: date,
    start_given: bool,
    span: timedelta,
    max_cost: float,
    assume_yes: bool,
    refresh: bool,
    say: Echo,
    sleep: Callable[[float], object],
    batch_above: int = DEFAULT_BATCH_ABOVE_BYTES,
    progress: Progress = NO_PROGRESS,
) -> FetchReport:
    def retrying(call: Callable[[], T], what: str, req: _Request | None) -> T:
        return _with_retries(call, what=what, req=req, dataset=dataset, say=say, sleep=sleep)

    def mapper(req: _Request) -> SymbolMapper | None:
        if req.stype_in == "raw_symbol":
            return None  # Databento's mapping already gives the contract
        return lambda store: _raw_symbol_map(client, store, req, dataset, retrying, say)

    payload = retrying(
        lambda: client.metadata.get_dataset_range(dataset=dataset),
        f"the available range of {dataset}",
        None,
    )
    start, end = _clamp(
        start, end, start_given, span, _available_range(payload, schemas), dataset, say
    )
    report = FetchReport(dataset=dataset, start=start, end=end)

    requests: list[_Request] = []
    for symbol in symbols:
        stype = stype_override or infer_stype(symbol)
        source = "from --stype-in" if stype_override else "inferred"
        say(f"{symbol}: stype_in={stype} {source} ({_STYPE_NOTES[stype]})")
        for schema in schemas:
            requests.append(
                _Request(
                    symbol=symbol,
                    schema=schema,
                    stype_in=stype,
                    start=start,
                    end=end,
                    csv_path=csv_path(settings, symbol, schema, start, end),
                    dbn_path=dbn_path(settings, symbol, schema, start, end, dataset),
                )
            )

    # Reuse complete files; re-decode a kept DBN whose CSV is missing (no download, no cost).
    results: dict[_Request, FetchedFile] = {}
    pending: list[_Request] = []
    for req in requests:
        cached = (
            None if refresh else cached_paths(settings, req.symbol, req.schema, start, end, dataset)
        )
        if cached is not None:
            csv, dbn = cached
            results[req] = _fetched(req, csv, dbn, _count_records(csv), 0, 0.0, 0.0, "reused")
            say(f"{req.label}: reusing {csv} (--refresh downloads again)")
        elif not refresh and req.dbn_path.is_file():
            results[req] = _rebuild_csv(req, say, mapper(req))
        else:
            pending.append(req)

    costs: dict[_Request, float] = {}
    for req in pending:
        cost = retrying(
            functools.partial(
                client.metadata.get_cost,
                **req.query(dataset),
            ),
            f"the cost of {req.label}",
            req,
        )
        costs[req] = float(cost)
        say(f"{req.label}: estimated cost ${costs[req]:.2f}")
    total = sum(costs.values())
    if pending:
        say(
            f"estimated total: ${total:.2f} for {len(pending)} request(s) "
            f"(--max-cost ${max_cost:.2f})"
        )
    if total > max_cost and not assume_yes:
        raise FetchError(
            f"estimated cost ${total:.2f} is above --max-cost ${max_cost:.2f}; nothing was "
            f"downloaded. Re-run with --yes to accept it, or raise --max-cost, or fetch fewer "
            f"symbols, schemas or days"
        )

    if pending:
        conditions = retrying(
            functools.partial(
                client.metadata.get_dataset_condition,
                dataset=dataset,
                start_date=start.isoformat(),
                end_date=(end - timedelta(days=1)).isoformat(),
            ),
            f"the condition of {dataset}",
            None,
        )
        say(_condition_line(dataset, start, end, conditions))
    batched: set[_Request] = set()
    for req in pending:
        size = retrying(
            functools.partial(
                client.metadata.get_billable_size,
                **req.query(dataset),
            ),
            f"the size of {req.label}",
            req,
        )
        if int(size) > batch_above:
            batched.add(req)
            say(
                f"{req.label}: {int(size):,} bytes, above --batch-above {batch_above:,}: "
                "downloading it as a batch job"
            )

    for req in pending:
        began = time.monotonic()

        def download(req: _Request = req) -> tuple[int, int]:
            return _download(client, req, dataset, mapper(req), progress=progress)

        if req in batched:
            # Not retried as a whole: that would submit (and pay for) a second job. Each call
            # after the submission is retried on its own.
            fetcher = functools.partial(
                _batch_fetch, client, req, dataset, say, sleep, retrying, progress
            )
            records, nbytes = _download(client, req, dataset, mapper(req), fetcher)
        else:
            records, nbytes = retrying(download, req.label, req)

        seconds = time.monotonic() - began
        if records == 0:
            report.empty.append(req.label)
            say(f"{req.label}: no records, nothing written; {EMPTY_HINT}")
            continue
        report.estimated_cost += costs[req]
        results[req] = _fetched(
            req, req.csv_path, req.dbn_path, records, nbytes, seconds, costs[req], "written"
        )
        say(f"{req.label}: {records:,} records, {nbytes:,} bytes, {seconds:.1f}s -> {req.csv_path}")

    report.files = [results[req] for req in requests if req in results]
    if not report.files:
        raise FetchError(
            f"Databento returned no records for {', '.join(report.empty)}: {EMPTY_HINT}; "
            f"check --symbol, --stype-in and --start/--end"
        )
    return report


def _fetched(
    req: _Request,
    csv: Path,
    dbn: Path | None,
    records: int,
    nbytes: int,
    seconds: float,
    cost: float,
    status: Status,
) -> FetchedFile:
    return FetchedFile(
        symbol=req.symbol,
        schema=req.schema,
        stype_in=req.stype_in,
        start=req.start,
        end=req.end,
        csv_path=csv,
        dbn_path=dbn,
        records=records,
        nbytes=nbytes,
        seconds=seconds,
        cost=cost,
        status=status,
    )


@contextlib.contextmanager
def _received_bytes(
    progress: Progress, label: str, target: Path, total: int | None = None
) -> Iterator[None]:
    """While the block runs, tell ``progress`` every :data:`PROGRESS_POLL_SECONDS` how many more
    bytes a download has written to ``target`` (a file, or a folder it writes into), and once
    more when it ends."""
    progress.phase(label, total, unit="bytes")
    counted = 0
    done = threading.Event()

    def report() -> None:
        nonlocal counted
        now = _size(target)
        if now > counted:
            progress.advance(now - counted)
            counted = now

    def poll() -> None:
        while not done.wait(PROGRESS_POLL_SECONDS):
            report()

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        report()


def _size(path: Path) -> int:
    """Bytes in a file, or in every file under a folder; 0 while it does not exist."""
    try:
        if path.is_dir():
            return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return path.stat().st_size
    except OSError:  # created or removed meanwhile
        return 0


def _download(
    client: HistoricalClient,
    req: _Request,
    dataset: str,
    mapper: SymbolMapper | None,
    fetcher: Callable[[Path], Any] | None = None,
    progress: Progress = NO_PROGRESS,
) -> tuple[int, int]:
    """One request into hidden temporary files, renamed only when complete and non-empty.

    Returns (records, bytes received). On any failure, including KeyboardInterrupt, the
    temporary files are removed and nothing is left under a final name. ``mapper`` (for
    non-raw symbologies) supplies the raw symbols written to the CSV. ``fetcher`` (a batch job,
    :func:`_batch_fetch`) puts the DBN at the temporary path and returns its store instead of
    the streaming request.
    """
    req.dbn_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dbn = _part_path(req.dbn_path)
    tmp_csv = _part_path(req.csv_path)
    try:
        try:
            if fetcher is not None:
                store = fetcher(tmp_dbn)
            else:
                with _received_bytes(progress, f"downloading {req.label}", tmp_dbn):
                    store = client.timeseries.get_range(**req.query(dataset), path=tmp_dbn)
        except ValueError as exc:  # e.g. an empty body: the client cannot open a 0-byte file
            raise FetchError(f"Databento sent no usable data for {req.label}: {exc}") from exc
        try:
            if not tmp_dbn.exists():
                store.to_file(tmp_dbn)  # a client that kept the data in memory
            _write_csv(store, tmp_csv, mapper(store) if mapper else None)
        except OSError as exc:
            raise FetchError(f"could not write {req.csv_path}: {exc.strerror or exc}") from exc
        except (ValueError, RuntimeError) as exc:
            raise FetchError(f"could not decode the Databento data for {req.label}: {exc}") from exc
        records = _count_records(tmp_csv)
        nbytes = tmp_dbn.stat().st_size
        if records:
            _fsync(tmp_dbn)
            _fsync(tmp_csv)
            os.replace(tmp_dbn, req.dbn_path)
            os.replace(tmp_csv, req.csv_path)
        return records, nbytes
    finally:
        tmp_dbn.unlink(missing_ok=True)
        tmp_csv.unlink(missing_ok=True)


def _condition_line(dataset: str, start: date, end: date, conditions: Any) -> str:
    """One line on Databento's condition of the requested days (end exclusive)."""
    days = f"{start}..{end - timedelta(days=1)}"
    problems: dict[str, list[str]] = {}
    for entry in conditions or []:
        condition = str(entry.get("condition", "unknown"))
        if condition != "available":
            problems.setdefault(condition, []).append(str(entry.get("date")))
    if not problems:
        return f"{dataset} condition {days}: available every day"
    detail = "; ".join(f"{name} {', '.join(dates)}" for name, dates in sorted(problems.items()))
    return (
        f"{dataset} condition {days}: {detail} (degraded: may miss data; pending: not out yet; "
        "missing: none)"
    )


def _batch_fetch(
    client: HistoricalClient,
    req: _Request,
    dataset: str,
    say: Echo,
    sleep: Callable[[float], object],
    retrying: Callable[..., Any],
    progress: Progress,
    tmp_dbn: Path,
) -> Any:
    """Submit a batch job for one request, wait for it, download and verify its DBN file.

    The file is moved to ``tmp_dbn`` and its store returned. The job's working folder (a hidden
    ``.batch-*.part`` folder beside the DBN) is removed whatever happens.

    Raises
    ------
    FetchError
        The job expired or failed, did not finish within :data:`BATCH_TIMEOUT_SECONDS`, or its
        file does not match the size and SHA-256 Databento lists.
    """
    import hashlib
    import shutil

    import databento

    job = client.batch.submit_job(
        **req.query(dataset), encoding="dbn", compression="zstd", split_duration="none"
    )
    job_id = str(job["id"])
    say(f"{req.label}: batch job {job_id} submitted")
    waited = 0.0
    while True:
        state, percent = retrying(
            lambda: _job_state(client, job_id), f"the state of batch job {job_id}", req
        )
        say(
            f"{req.label}: batch job {job_id} {state}"
            + (f" {percent}%" if percent is not None else "")
        )
        if state == "done":
            break
        if state in ("expired", "failed"):
            raise FetchError(f"batch job {job_id} for {req.label} is {state}; fetch again")
        if waited >= BATCH_TIMEOUT_SECONDS:
            raise FetchError(
                f"batch job {job_id} for {req.label} is still {state} after "
                f"{BATCH_TIMEOUT_SECONDS / 3600:.0f} h; fetch again later (the job is kept)"
            )
        sleep(BATCH_POLL_SECONDS)
        waited += BATCH_POLL_SECONDS
    files = retrying(
        lambda: client.batch.list_files(job_id), f"the files of batch job {job_id}", req
    )
    listed = {
        str(f["filename"]): f for f in files if str(f["filename"]).endswith((".dbn.zst", ".dbn"))
    }
    if len(listed) != 1:
        raise FetchError(
            f"batch job {job_id} for {req.label} lists {len(listed)} DBN files, expected one"
        )
    [(name, entry)] = listed.items()
    folder = req.dbn_path.parent / f".batch-{secrets.token_hex(6)}.part"
    try:
        with _received_bytes(progress, f"downloading {req.label}", folder, int(entry["size"])):
            paths = retrying(
                lambda: client.batch.download(job_id, output_dir=folder, filename_to_download=name),
                f"the file of batch job {job_id}",
                req,
            )
        [path] = [Path(p) for p in paths if Path(p).name == name]
        expected_hash = str(entry.get("hash", "")).removeprefix("sha256:")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if path.stat().st_size != int(entry["size"]) or digest != expected_hash:
            raise FetchError(
                f"batch job {job_id} for {req.label}: {name} does not match the size and "
                "SHA-256 Databento lists (a broken download); fetch again"
            )
        os.replace(path, tmp_dbn)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    say(f"{req.label}: batch job {job_id} downloaded and verified ({name})")
    return databento.DBNStore.from_file(tmp_dbn)


def _job_state(client: HistoricalClient, job_id: str) -> tuple[str, int | None]:
    """The state (queued, processing, done, expired) and progress (percent or None) of a job."""
    for job in client.batch.list_jobs(states="queued,processing,done,expired"):
        if str(job.get("id")) == job_id:
            progress = job.get("progress")
            return str(job.get("state")), None if progress is None else int(progress)
    raise FetchError(f"batch job {job_id} is not among Databento's jobs; fetch again")


def _rebuild_csv(req: _Request, say: Echo, mapper: SymbolMapper | None) -> FetchedFile:
    """Decode a kept, complete DBN into its missing CSV (no data request, no cost)."""
    import databento

    began = time.monotonic()
    tmp_csv = _part_path(req.csv_path)
    try:
        try:
            store = databento.DBNStore.from_file(req.dbn_path)
            _write_csv(store, tmp_csv, mapper(store) if mapper else None)
        except (OSError, ValueError, RuntimeError) as exc:
            raise FetchError(
                f"could not decode {req.dbn_path}: {exc}; delete it or pass --refresh"
            ) from exc
        records = _count_records(tmp_csv)
        _fsync(tmp_csv)
        os.replace(tmp_csv, req.csv_path)
    finally:
        tmp_csv.unlink(missing_ok=True)
    seconds = time.monotonic() - began
    say(
        f"{req.label}: {records:,} records decoded from {req.dbn_path} (no download) "
        f"-> {req.csv_path}"
    )
    return _fetched(req, req.csv_path, req.dbn_path, records, 0, seconds, 0.0, "rebuilt")


# --- raw symbols for parent / continuous / instrument-id requests ------------------------------


def _write_csv(store: Any, path: Path, symbol_map: SymbolMap | None) -> None:
    """Write ``store`` as Databento's pretty CSV, its ``symbol`` column from ``symbol_map``.

    Without a map this is ``DBNStore.to_csv`` with its defaults. With one, the same Databento
    transcoder runs (same columns and formatting, decoded in Rust, no pass per row in Python)
    with ``symbol_interval_map`` in place of the metadata's mapping; each record takes the
    symbol of the interval holding its index timestamp's UTC date.
    """
    if symbol_map is None:
        store.to_csv(path, pretty_px=True, pretty_ts=True, map_symbols=True)
        return
    import databento_dbn
    from databento.common.error import BentoWarning

    if store.schema is None:
        raise ValueError("a schema must be specified for mixed DBN data")
    with open(path, "wb") as output:
        transcoder = databento_dbn.Transcoder(
            file=output,
            # databento_dbn's stubs type the enum members as str.
            encoding=databento_dbn.Encoding.CSV,  # type: ignore[arg-type]
            compression=databento_dbn.Compression.NONE,  # type: ignore[arg-type]
            pretty_px=True,
            pretty_ts=True,
            map_symbols=True,
            has_metadata=True,
            symbol_interval_map=symbol_map,
            schema=store.schema,
        )
        reader = store.reader
        while chunk := reader.read(1 << 16):
            transcoder.write(chunk)
        if transcoder.buffer():
            warnings.warn(
                BentoWarning("DBN file is truncated or contains an incomplete record"), stacklevel=2
            )
        transcoder.flush()


def _instrument_ids(store: Any) -> list[int]:
    """The distinct instrument ids of a DBN, read in chunks of :data:`ID_SCAN_ROWS` records."""
    import numpy as np

    ids: set[int] = set()
    for chunk in store.to_ndarray(count=ID_SCAN_ROWS):
        ids.update(np.unique(chunk["instrument_id"]).tolist())
    return sorted(ids)


def _resolve_day(value: object) -> date:
    text = str(value)[:10]
    if not _DATE_RE.fullmatch(text):
        raise ValueError(f"unexpected date {value!r} in Databento's symbology answer")
    return date.fromisoformat(text)


def _resolved_intervals(answer: Any) -> SymbolMap:
    """Parse a ``symbology.resolve`` answer: ``result`` maps each id to ``{d0, d1, s}`` items."""
    table = answer.get("result") if isinstance(answer, dict) else None
    if not isinstance(table, dict):
        raise ValueError(f"unexpected symbology answer from Databento: {str(answer)[:80]!r}")
    resolved: SymbolMap = {}
    for key, entries in table.items():
        try:
            instrument_id = int(key)
        except (TypeError, ValueError):
            continue
        for entry in entries or ():
            symbol = entry.get("s") if isinstance(entry, dict) else None
            if symbol:
                resolved.setdefault(instrument_id, []).append(
                    (_resolve_day(entry.get("d0")), _resolve_day(entry.get("d1")), str(symbol))
                )
    return resolved


def _cover(
    intervals: Sequence[tuple[date, date, str]], first: date, last: date
) -> list[tuple[date, date, str]]:
    """Make one id's intervals cover ``[first, last)`` without gaps or overlaps.

    Days the answer leaves out take the symbol valid before them (before the first interval:
    the first symbol); where intervals overlap the earlier one wins. Empty input stays empty.
    """
    merged: list[list[Any]] = []
    for start, end, symbol in sorted(intervals):
        if merged:
            previous = merged[-1]
            previous[1] = max(previous[1], start)  # a gap: the earlier symbol runs on
            start = previous[1]
        if end > start:
            merged.append([start, end, symbol])
    if merged:
        merged[0][0] = min(merged[0][0], first)
        merged[-1][1] = max(merged[-1][1], last)
    return [(start, end, symbol) for start, end, symbol in merged]


def _raw_symbol_map(
    client: HistoricalClient,
    store: Any,
    req: _Request,
    dataset: str,
    retrying: Callable[[Callable[[], Any], str, _Request | None], Any],
    say: Echo,
) -> SymbolMap | None:
    """Resolve the instrument ids in ``store`` to raw symbols over the request's dates.

    Ids that cannot be resolved (the request failed after its retries, or the answer lacks
    them) map to the requested symbol, and one warning line names them.
    """
    ids = _instrument_ids(store)
    if not ids:
        return None
    resolved: SymbolMap = {}
    reason = "not in Databento's answer"
    try:
        for offset in range(0, len(ids), RESOLVE_BATCH):
            batch = [str(i) for i in ids[offset : offset + RESOLVE_BATCH]]
            answer = retrying(
                functools.partial(
                    client.symbology.resolve,
                    dataset=dataset,
                    symbols=batch,
                    stype_in="instrument_id",
                    stype_out="raw_symbol",
                    start_date=req.start.isoformat(),
                    end_date=req.end.isoformat(),
                ),
                f"the raw symbols of {req.label}",
                req,
            )
            resolved.update(_resolved_intervals(answer))
    except Exception as exc:  # the CSV is still written, with the fallback and a warning
        reason = (
            str(exc)
            if isinstance(exc, VcdwhError)
            else (f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}")
        )
    # One day of slack past the exclusive end, for a record stamped on the end date.
    first, last = req.start, req.end + timedelta(days=1)
    symbol_map: SymbolMap = {}
    missing: list[int] = []
    for instrument_id in ids:
        intervals = _cover(resolved.get(instrument_id, ()), first, last)
        if not intervals:
            missing.append(instrument_id)
            intervals = [(first, last, req.symbol)]
        symbol_map[instrument_id] = intervals
    if missing:
        shown = ", ".join(str(i) for i in missing[:WARN_IDS])
        more = f" and {len(missing) - WARN_IDS} more" if len(missing) > WARN_IDS else ""
        say(
            f"{req.label}: warning: instrument_id {shown}{more} not resolved to a raw symbol "
            f"({reason}); those rows carry {req.symbol} in the symbol column"
        )
    return symbol_map
