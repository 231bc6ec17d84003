"""Synthetic sample data: Databento pretty layout, reconciliation, sessions, roll, determinism."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcdwh.errors import ConfigError
from vcdwh.instruments import (
    SPECS,
    contract_symbol,
    front_and_next,
    get_spec,
    parse_parent,
    third_friday,
)
from vcdwh.sample import (
    OHLCV_COLUMNS,
    TRADES_COLUMNS,
    SampleReport,
    generate_sample,
    session_bounds,
)

SHARED_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "databento" / "csv"

TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z"
PX = r"-?\d+\.\d{9}"
SYMBOL = r"[A-Z0-9]+(?:-[A-Z0-9]+)?"
TRADES_LINE = re.compile(rf"{TS},{TS},\d+,\d+,\d+,T,[ABN],\d+,{PX},\d+,\d+,-?\d+,\d+,{SYMBOL}")
OHLCV_LINE = re.compile(rf"{TS},3[2-5],\d+,\d+,{PX},{PX},{PX},{PX},\d+,{SYMBOL}")
SMALL = 2_000  # trades per session for the quick tests


def read_trades(path: Path) -> pd.DataFrame:
    """Read a trades file as text, plus exact integer prices (1e-9) and the file position."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame["px"] = frame["price"].str.replace(".", "", regex=False).astype("int64")
    frame["qty"] = frame["size"].astype("int64")
    frame["recv"] = pd.to_datetime(frame["ts_recv"])
    frame["event"] = pd.to_datetime(frame["ts_event"])
    frame["position"] = np.arange(len(frame))
    return frame


def read_ohlcv(path: Path) -> pd.DataFrame:
    """Read an ohlcv-1m file as text, plus exact integer prices (1e-9)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in ("open", "high", "low", "close"):
        frame[f"{column}_px"] = frame[column].str.replace(".", "", regex=False).astype("int64")
    return frame


def bars_from_trades(trades: pd.DataFrame) -> pd.DataFrame:
    """Recompute Databento's ohlcv-1m bars from trades: ts_recv minute, file order."""
    minute = trades["ts_recv"].str.slice(0, 16) + ":00.000000000Z"
    grouped = trades.assign(ts_event=minute).groupby(
        ["ts_event", "instrument_id", "symbol"], sort=False
    )
    bars = grouped.agg(
        open_px=("px", "first"),
        high_px=("px", "max"),
        low_px=("px", "min"),
        close_px=("px", "last"),
        volume=("qty", "sum"),
    ).reset_index()
    bars["id_num"] = bars["instrument_id"].astype("int64")
    return bars.sort_values(["ts_event", "id_num"], kind="stable").reset_index(drop=True)


def assert_reconciles(report: SampleReport) -> None:
    """The ohlcv file is exactly the bars of the trades file, row for row."""
    trades = read_trades(report.trades_path)
    ohlcv = read_ohlcv(report.ohlcv_path)
    expected = bars_from_trades(trades)
    assert len(trades) == report.trades
    assert len(ohlcv) == report.ohlcv_bars == len(expected)
    for column in ("ts_event", "instrument_id", "symbol"):
        assert ohlcv[column].tolist() == expected[column].tolist(), column
    for column in ("open_px", "high_px", "low_px", "close_px"):
        assert ohlcv[column].tolist() == expected[column].tolist(), column
    assert ohlcv["volume"].astype("int64").tolist() == expected["volume"].tolist()


def ct(stamps: pd.Series) -> pd.Series:
    """UTC timestamps in Chicago time."""
    return stamps.dt.tz_convert("America/Chicago")


def session_date(stamps: pd.Series) -> pd.Series:
    """CME trade date of UTC timestamps: sessions open 17:00 CT the day before."""
    return (ct(stamps) + pd.Timedelta(hours=7)).dt.date


@pytest.fixture(name="default_sample", scope="module")
def fixture_default_sample(tmp_path_factory: pytest.TempPathFactory) -> SampleReport:
    """The sample with every default argument (ES.FUT, 2024-03-03 for 7 days, 50k/session)."""
    return generate_sample(tmp_path_factory.mktemp("default") / "Data")


@pytest.fixture(name="default_trades", scope="module")
def fixture_default_trades(default_sample: SampleReport) -> pd.DataFrame:
    """The default sample's trades."""
    return read_trades(default_sample.trades_path)


@pytest.fixture(name="dst_sample", scope="module")
def fixture_dst_sample(tmp_path_factory: pytest.TempPathFactory) -> SampleReport:
    """A window across the 2024-03-10 US daylight-saving change."""
    return generate_sample(
        tmp_path_factory.mktemp("dst"), start=date(2024, 3, 7), trades_per_day=SMALL
    )


# --- layout -------------------------------------------------------------------------------------


def test_generate_sample_given_default_args_writes_databento_pretty_layout(
    default_sample: SampleReport,
) -> None:
    # Arrange
    trades_bytes = default_sample.trades_path.read_bytes()
    ohlcv_bytes = default_sample.ohlcv_path.read_bytes()
    # Act
    trades_lines = trades_bytes.decode("ascii").split("\n")
    ohlcv_lines = ohlcv_bytes.decode("ascii").split("\n")
    # Assert
    assert default_sample.trades_path.name == "trades_ES.FUT_2024-03-03_2024-03-10.csv"
    assert default_sample.ohlcv_path.name == "ohlcv_1m_ES.FUT_2024-03-03_2024-03-10.csv"
    assert sorted(p.name for p in default_sample.trades_path.parent.iterdir()) == sorted(
        [default_sample.trades_path.name, default_sample.ohlcv_path.name]
    )
    plain = default_sample.trades_path.parent.parent / "plain.txt"
    plain.touch()  # the folder's ordinary file mode under the current umask
    assert default_sample.trades_path.stat().st_mode == plain.stat().st_mode
    plain.unlink()
    assert b"\r" not in trades_bytes and b"\r" not in ohlcv_bytes
    assert trades_bytes.endswith(b"\n") and ohlcv_bytes.endswith(b"\n")
    assert trades_lines[0] == ",".join(TRADES_COLUMNS)
    assert ohlcv_lines[0] == ",".join(OHLCV_COLUMNS)
    assert trades_lines[-1] == "" and ohlcv_lines[-1] == ""
    assert len(trades_lines) - 2 == default_sample.trades == 250_000
    rng = np.random.default_rng(0)
    sample = [1, 2, 3, len(trades_lines) - 2, *rng.integers(1, len(trades_lines) - 1, 3000)]
    for i in sample:
        assert TRADES_LINE.fullmatch(trades_lines[i]), trades_lines[i]
    for line in ohlcv_lines[1:-1]:
        assert OHLCV_LINE.fullmatch(line), line


def test_generate_sample_given_default_args_fills_constant_columns_like_databento(
    default_trades: pd.DataFrame, default_sample: SampleReport
) -> None:
    # Arrange
    ohlcv = read_ohlcv(default_sample.ohlcv_path)
    # Act
    constants = {
        c: set(default_trades[c]) for c in ("rtype", "publisher_id", "action", "depth", "flags")
    }
    # Assert
    assert constants == {
        "rtype": {"0"},
        "publisher_id": {"1"},
        "action": {"T"},
        "depth": {"0"},
        "flags": {"0"},
    }
    assert set(ohlcv["rtype"]) == {"33"} and set(ohlcv["publisher_id"]) == {"1"}
    delta = default_trades["ts_in_delta"].astype("int64")
    assert delta.between(10_000, 25_000).all()


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("glbx-mdp3_ESU4_trades_2024-07-01T2358_2024-07-02T0002.pretty.csv", TRADES_LINE),
        ("glbx-mdp3_ESH4_trades_2023-12-25_DERIVED-from-mbo.pretty.csv", TRADES_LINE),
        ("glbx-mdp3_ESU4-NQU4_ohlcv-1m_2024-07-01T2340_2024-07-02T0010.pretty.csv", OHLCV_LINE),
    ],
)
def test_layout_patterns_given_real_databento_pretty_csv_match_every_line(
    name: str, pattern: re.Pattern[str]
) -> None:
    # Arrange
    path = SHARED_CSV / name
    if not path.is_file():
        pytest.skip(f"real Databento sample not found at {path}")
    # Act
    header, *lines = path.read_text().splitlines()
    # Assert: the patterns the generator is held to also describe Databento's own files
    assert header == ",".join(TRADES_COLUMNS if pattern is TRADES_LINE else OHLCV_COLUMNS)
    assert all(pattern.fullmatch(line) for line in lines)


# --- determinism --------------------------------------------------------------------------------


def test_generate_sample_given_same_seed_writes_identical_bytes(tmp_path: Path) -> None:
    # Act
    first = generate_sample(tmp_path / "a", seed=7, days=3, trades_per_day=SMALL)
    second = generate_sample(tmp_path / "b", seed=7, days=3, trades_per_day=SMALL)
    # Assert
    assert first.trades_path.read_bytes() == second.trades_path.read_bytes()
    assert first.ohlcv_path.read_bytes() == second.ohlcv_path.read_bytes()


def test_generate_sample_given_other_seed_writes_different_files(tmp_path: Path) -> None:
    # Act
    first = generate_sample(tmp_path / "a", seed=7, days=3, trades_per_day=SMALL)
    second = generate_sample(tmp_path / "b", seed=8, days=3, trades_per_day=SMALL)
    # Assert
    assert first.trades_path.read_bytes() != second.trades_path.read_bytes()
    assert first.ohlcv_path.read_bytes() != second.ohlcv_path.read_bytes()


def test_generate_sample_given_other_write_chunking_writes_identical_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange
    import vcdwh.sample as sample

    batched = generate_sample(tmp_path / "a", days=9, trades_per_day=SMALL)
    monkeypatch.setattr(sample, "FLUSH_ROWS", 1)  # write every session on its own
    # Act
    one_by_one = generate_sample(tmp_path / "b", days=9, trades_per_day=SMALL)
    # Assert
    assert batched.trades_path.read_bytes() == one_by_one.trades_path.read_bytes()
    assert batched.ohlcv_path.read_bytes() == one_by_one.ohlcv_path.read_bytes()


def test_generate_sample_given_longer_window_repeats_the_shared_sessions(
    tmp_path: Path,
) -> None:
    # Arrange: each session has its own generator seeded with (seed, trade date); both windows
    # end on a Saturday, so no session is cut short by the window
    short = generate_sample(tmp_path / "a", days=6, trades_per_day=SMALL)
    long = generate_sample(tmp_path / "b", days=13, trades_per_day=SMALL)
    # Act
    short_lines = short.trades_path.read_text().splitlines()
    long_lines = long.trades_path.read_text().splitlines()
    # Assert
    assert len(long_lines) > len(short_lines)
    assert long_lines[: len(short_lines)] == short_lines


# --- reconciliation -----------------------------------------------------------------------------


def test_generate_sample_given_default_args_ohlcv_reconciles_with_trades(
    default_sample: SampleReport,
) -> None:
    assert_reconciles(default_sample)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32),
    days=st.integers(1, 9),
    start=st.dates(date(2023, 1, 1), date(2026, 12, 31)),
    trades_per_day=st.integers(1, 400),
    root=st.sampled_from(sorted(SPECS)),
)
def test_generate_sample_given_any_arguments_files_reconcile(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    days: int,
    start: date,
    trades_per_day: int,
    root: str,
) -> None:
    # Act
    report = generate_sample(
        tmp_path_factory.mktemp("prop"),
        symbol=f"{root}.FUT",
        days=days,
        start=start,
        seed=seed,
        trades_per_day=trades_per_day,
    )
    # Assert
    assert_reconciles(report)
    if report.trades:
        trades = read_trades(report.trades_path)
        tick = int(get_spec(root).tick_size * 1_000_000_000)
        assert (trades["px"] % tick == 0).all()
        outright = ~trades["symbol"].str.contains("-")
        assert (trades.loc[outright, "px"] > 0).all()
        assert (trades["recv"].diff().dropna() >= pd.Timedelta(0)).all()


# --- prices and order flow ----------------------------------------------------------------------


@pytest.mark.parametrize("root", sorted(SPECS))
def test_generate_sample_given_root_prints_prices_on_its_tick_grid(
    tmp_path: Path, root: str
) -> None:
    # Act
    report = generate_sample(tmp_path, symbol=f"{root}.FUT", days=3, trades_per_day=SMALL)
    trades = read_trades(report.trades_path)
    # Assert
    tick = int(get_spec(root).tick_size * 1_000_000_000)
    assert (trades["px"] % tick == 0).all()
    outright = ~trades["symbol"].str.contains("-")
    assert (trades.loc[outright, "px"] > 0).all()
    assert set(report.instruments) == set(trades["symbol"])


def test_generate_sample_given_default_args_sweeps_walk_away_from_the_first_fill(
    default_trades: pd.DataFrame,
) -> None:
    # Arrange
    orders = default_trades.groupby("sequence", sort=False)
    # Act
    shape = orders.agg(
        fills=("px", "size"),
        recv=("ts_recv", "nunique"),
        event=("ts_event", "nunique"),
        instrument=("instrument_id", "nunique"),
        side=("side", "nunique"),
        first_side=("side", "first"),
        first=("position", "first"),
        last=("position", "last"),
    )
    steps = default_trades["px"].diff().where(default_trades["sequence"].duplicated())
    # Assert
    assert shape["fills"].between(1, 4).all()
    assert (shape[["recv", "event", "instrument", "side"]] == 1).all().all()
    assert (shape["last"] - shape["first"] + 1 == shape["fills"]).all()  # consecutive rows
    assert shape["fills"].gt(1).mean() > 0.2
    buys = default_trades["side"].eq("B")
    sells = default_trades["side"].eq("A")
    assert (steps[buys].dropna() >= 0).all() and (steps[buys].dropna() > 0).any()
    assert (steps[sells].dropna() <= 0).all() and (steps[sells].dropna() < 0).any()


def test_generate_sample_given_default_args_orders_file_by_ts_recv_then_sequence(
    default_trades: pd.DataFrame,
) -> None:
    # Act
    sequence = default_trades["sequence"].astype("int64")
    latency = default_trades["recv"] - default_trades["event"]
    # Assert
    assert default_trades["recv"].is_monotonic_increasing
    assert sequence.is_monotonic_increasing
    assert (
        default_trades.groupby("instrument_id")["event"]
        .apply(lambda s: s.is_monotonic_increasing)
        .all()
    )
    assert latency.between(pd.Timedelta(0), pd.Timedelta(milliseconds=1)).all()
    assert latency.median() > pd.Timedelta(microseconds=100)


def test_generate_sample_given_default_args_sides_are_mostly_b_and_a_with_few_n(
    default_trades: pd.DataFrame,
) -> None:
    # Act
    sides = default_trades["side"].value_counts()
    auction = default_trades[default_trades["side"] == "N"]
    # Assert: one opening print per outright and session (5 sessions x 2 outrights)
    assert set(sides.index) == {"A", "B", "N"}
    assert sides["N"] == 10
    assert 0.4 < sides["B"] / (sides["A"] + sides["B"]) < 0.6
    assert not auction["symbol"].str.contains("-").any()
    assert auction["qty"].min() >= 20 > default_trades["qty"].median()
    sizes = default_trades.loc[default_trades["side"] != "N", "qty"]
    assert sizes.between(1, 5).mean() > 0.95 and sizes.between(10, 100).any()


def test_generate_sample_given_default_args_order_flow_persists_and_moves_price(
    default_trades: pd.DataFrame,
) -> None:
    # Arrange: the front's 30-minute bars before the roll
    front = default_trades[
        (default_trades["symbol"] == "ESH4")
        & (session_date(default_trades["recv"]) < date(2024, 3, 7))
    ]
    orders = front.drop_duplicates("sequence")
    signed = front["qty"].where(front["side"] == "B", -front["qty"]).where(front["side"] != "N", 0)
    # Act
    same_side = (orders["side"] == orders["side"].shift()).mean()
    bars = (
        front.assign(delta=signed)
        .groupby(front["recv"].dt.floor("30min"))
        .agg(delta=("delta", "sum"), close=("px", "last"))
    )
    move = bars["close"].diff().iloc[1:]
    correlation = np.corrcoef(bars["delta"].iloc[1:], move)[0, 1]
    # Assert
    assert same_side > 0.6
    assert correlation > 0.4


# --- sessions -----------------------------------------------------------------------------------


def test_generate_sample_given_default_args_trades_only_inside_globex_sessions(
    default_trades: pd.DataFrame,
) -> None:
    # Act
    local = pd.concat([ct(default_trades["recv"]), ct(default_trades["event"])])
    # Assert
    assert not (local.dt.hour == 16).any()  # 16:00-17:00 CT daily halt
    assert not (local.dt.day_of_week == 5).any()  # Saturday
    sunday = local[local.dt.day_of_week == 6]
    friday = local[local.dt.day_of_week == 4]
    assert (sunday.dt.hour >= 17).all() and len(sunday) > 0
    assert (friday.dt.hour < 16).all()
    assert sorted(set(session_date(default_trades["recv"]))) == [
        date(2024, 3, d) for d in range(4, 9)
    ]


def test_generate_sample_given_default_args_opens_sunday_17_ct_with_auction_prints(
    default_trades: pd.DataFrame,
) -> None:
    # Act
    first = default_trades.head(2)
    # Assert: Sunday 2024-03-03 17:00 CST is 23:00 UTC
    assert first["ts_event"].str.startswith("2024-03-03T23:00:00.000").all()
    assert first["side"].tolist() == ["N", "N"]
    assert set(first["symbol"]) == {"ESH4", "ESM4"}


def test_generate_sample_given_dst_window_opens_23_utc_before_and_22_utc_after(
    dst_sample: SampleReport,
) -> None:
    # Arrange
    trades = read_trades(dst_sample.trades_path)
    # Act
    opens = trades[trades["side"] == "N"].groupby(session_date(trades["recv"]))["ts_event"].min()
    # Assert: the 03-07 session opened before the window, so it has no opening print
    assert {d: s[:16] for d, s in opens.items()} == {
        date(2024, 3, 8): "2024-03-07T23:00",
        date(2024, 3, 11): "2024-03-10T22:00",
        date(2024, 3, 12): "2024-03-11T22:00",
        date(2024, 3, 13): "2024-03-12T22:00",
        date(2024, 3, 14): "2024-03-13T22:00",
    }
    assert trades["ts_recv"].iloc[0] >= "2024-03-07T00:00"
    assert trades["ts_recv"].iloc[-1] < "2024-03-14T00:00"
    assert not (ct(trades["recv"]).dt.hour == 16).any()


def test_session_bounds_given_dst_change_keeps_17_ct_open() -> None:
    # Act
    winter = session_bounds(date(2024, 3, 8))
    summer = session_bounds(date(2024, 3, 11))
    # Assert
    assert [t.isoformat() for t in winter] == [
        "2024-03-07T23:00:00+00:00",
        "2024-03-08T22:00:00+00:00",
    ]
    assert [t.isoformat() for t in summer] == [
        "2024-03-10T22:00:00+00:00",
        "2024-03-11T21:00:00+00:00",
    ]
    with pytest.raises(ValueError, match="weekend"):
        session_bounds(date(2024, 3, 9))


# --- instruments and the roll -------------------------------------------------------------------


def test_generate_sample_given_default_args_switches_leader_at_the_roll_session(
    default_sample: SampleReport, default_trades: pd.DataFrame
) -> None:
    # Act
    volume = (
        default_trades.groupby([session_date(default_trades["recv"]), "symbol"])["qty"]
        .sum()
        .unstack()
    )
    leader = volume[["ESH4", "ESM4"]].idxmax(axis=1)
    # Assert
    assert default_sample.instruments == ("ESH4", "ESM4", "ESH4-ESM4")
    assert default_sample.roll_session == date(2024, 3, 7)
    assert leader.to_dict() == {
        date(2024, 3, 4): "ESH4",
        date(2024, 3, 5): "ESH4",
        date(2024, 3, 6): "ESH4",
        date(2024, 3, 7): "ESM4",
        date(2024, 3, 8): "ESM4",
    }
    share = volume.div(volume.sum(axis=1), axis=0)
    assert (share["ESH4-ESM4"] < 0.05).all()
    assert default_trades.groupby("symbol")["instrument_id"].nunique().eq(1).all()
    assert default_trades["instrument_id"].nunique() == 3


def test_generate_sample_given_default_args_prices_spread_as_front_minus_next(
    default_trades: pd.DataFrame,
) -> None:
    # Arrange
    minute = default_trades["recv"].dt.floor("1min")
    last = default_trades.groupby([minute, "symbol"])["px"].last().unstack().dropna()
    # Act
    implied = (last["ESH4"] - last["ESM4"]) / 1e9
    spread = last["ESH4-ESM4"] / 1e9
    # Assert
    assert spread.between(-70, -50).all()
    assert (spread - implied).abs().median() <= 1.0


def test_generate_sample_given_window_after_roll_has_no_switch(tmp_path: Path) -> None:
    # Act
    report = generate_sample(tmp_path, start=date(2024, 3, 10), days=5, trades_per_day=SMALL)
    trades = read_trades(report.trades_path)
    volume = trades.groupby([session_date(trades["recv"]), "symbol"])["qty"].sum().unstack()
    # Assert
    assert report.roll_session is None
    assert (volume["ESM4"] > 3 * volume["ESH4"].fillna(0)).all()


def test_generate_sample_given_window_past_expiry_moves_to_the_next_pair(tmp_path: Path) -> None:
    # Act: ESH4 expires 2024-03-15; the 03-15 session trades ESM4, ESU4 and their spread
    report = generate_sample(tmp_path, start=date(2024, 3, 14), days=2, trades_per_day=SMALL)
    trades = read_trades(report.trades_path)
    # Assert
    assert report.instruments == ("ESH4", "ESM4", "ESH4-ESM4", "ESU4", "ESM4-ESU4")
    last_session = trades[session_date(trades["recv"]) == date(2024, 3, 15)]
    assert set(last_session["symbol"]) == {"ESM4", "ESU4", "ESM4-ESU4"}
    assert_reconciles(report)


# --- arguments and files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"symbol": "ES"}, "--symbol 'ES' is not a parent symbol; expected ROOT.FUT, e.g. ES.FUT"),
        ({"symbol": "es.fut"}, "--symbol 'es.fut' is not a parent symbol"),
        ({"symbol": "ES.FUT; drop"}, "--symbol 'ES.FUT; drop' is not a parent symbol"),
        ({"symbol": "ZZ.FUT"}, "--symbol 'ZZ.FUT': unknown futures root 'ZZ'; known roots: CL, ES"),
        ({"days": 0}, "--days must be an integer in 1..3660, got 0"),
        ({"days": 3661}, "--days must be an integer in 1..3660, got 3661"),
        ({"trades_per_day": 0}, "--trades-per-day must be an integer >= 1, got 0"),
        ({"seed": -1}, "--seed must be an integer >= 0, got -1"),
    ],
)
def test_generate_sample_given_bad_argument_raises_config_error_naming_option(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        generate_sample(tmp_path / "Data", **kwargs)  # type: ignore[arg-type]
    assert str(excinfo.value).startswith(message)
    assert "\n" not in str(excinfo.value)
    assert not (tmp_path / "Data").exists()


def test_generate_sample_given_failure_midway_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: the third session blows up after two were written
    import vcdwh.sample as sample

    real = sample._simulate_session
    calls = {"n": 0}

    def flaky(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sample, "_simulate_session", flaky)
    # Act
    with pytest.raises(KeyboardInterrupt):
        generate_sample(tmp_path, trades_per_day=SMALL)
    # Assert
    assert list(tmp_path.iterdir()) == []


def test_generate_sample_given_existing_files_replaces_them(tmp_path: Path) -> None:
    # Arrange
    first = generate_sample(tmp_path, days=2, seed=1, trades_per_day=SMALL)
    # Act
    second = generate_sample(tmp_path, days=2, seed=2, trades_per_day=SMALL)
    # Assert
    assert first.trades_path == second.trades_path
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [second.trades_path.name, second.ohlcv_path.name]
    )
    assert_reconciles(second)


def test_generate_sample_given_data_dir_is_a_file_raises_config_error(tmp_path: Path) -> None:
    # Arrange
    not_a_folder = tmp_path / "Data"
    not_a_folder.write_text("x")
    # Act / Assert
    with pytest.raises(ConfigError, match=r"^--data-dir '.*Data' exists and is not a folder$"):
        generate_sample(not_a_folder)


# --- instruments module -------------------------------------------------------------------------


def test_get_spec_given_known_roots_returns_contract_specs() -> None:
    # Act
    es, gc, cl = get_spec("ES"), get_spec("GC"), get_spec("CL")
    # Assert
    assert (str(es.tick_size), str(es.multiplier), es.months) == ("0.25", "50", "HMUZ")
    assert (str(gc.tick_size), gc.months) == ("0.1", "GJMQVZ")
    assert (str(cl.tick_size), str(cl.multiplier), cl.months) == ("0.01", "1000", "FGHJKMNQUVXZ")
    assert [str(get_spec(r).multiplier) for r in ("NQ", "YM", "RTY", "MES", "MNQ")] == [
        "20",
        "5",
        "50",
        "5",
        "2",
    ]


def test_get_spec_given_unknown_root_raises_config_error_listing_roots() -> None:
    with pytest.raises(ConfigError, match=r"^unknown futures root 'XX'; known roots: CL, ES, GC"):
        get_spec("XX")


@pytest.mark.parametrize("symbol", ["ES", "ES.fut", "ESH4", ".FUT", "TOOLONG.FUT", "ES.FUT\n"])
def test_parse_parent_given_malformed_symbol_raises_config_error(symbol: str) -> None:
    with pytest.raises(ConfigError, match="--symbol"):
        parse_parent(symbol)


def test_contract_calendar_given_march_2024_matches_cme() -> None:
    # Act
    front, next_ = front_and_next("ES", date(2024, 3, 7))
    # Assert
    assert parse_parent("MNQ.FUT") == "MNQ"
    assert third_friday(2024, 3) == date(2024, 3, 15)
    assert third_friday(2024, 9) == date(2024, 9, 20)
    assert contract_symbol("ES", 2024, 3) == "ESH4"
    assert (front.symbol, next_.symbol, front.roll_date) == ("ESH4", "ESM4", date(2024, 3, 7))
    assert [c.symbol for c in front_and_next("ES", date(2024, 3, 15))] == ["ESM4", "ESU4"]
    assert [c.symbol for c in front_and_next("GC", date(2024, 12, 31))] == ["GCG5", "GCJ5"]
    assert [c.symbol for c in front_and_next("CL", date(2024, 3, 7))] == ["CLH4", "CLJ4"]
