"""Order-flow fidelity: delta candles, unknown-side policy, large-lot delta, footprint, build settings."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import jinja2
import pandas as pd
import pytest
from click.testing import CliRunner

from tests.conftest import ESH4_DERIVED
from tests.helpers import Trade, ns, write_pretty_csv, write_raw_csv
from vcdwh.build import build_warehouse
from vcdwh.cli import cli
from vcdwh.errors import ConfigError
from vcdwh.instruments import contract_root
from vcdwh.marts.orderflow import FlowOptions, FlowOverrides
from vcdwh.warehouse.sqlrender import sql_root

T0 = ns("2024-03-07 23:00:00")  # a session open (17:00 CT)
SECOND = 1_000_000_000
CANDLES = (
    "delta_open, delta_high, delta_low, delta_close, session_delta_open, session_delta_high, "
    "session_delta_low, session_delta_close, max_delta, min_delta"
)


def invoke(settings, *args):
    return CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), *args])


# --------------------------------------------------------------------------- real ESH4 session


@pytest.fixture(name="esh4", scope="module")
def fixture_esh4(tmp_path_factory):
    """The real ESH4 derived session built once, and the trades in file order (pandas)."""
    from tests.conftest import DATABENTO

    if not DATABENTO.is_dir():
        pytest.skip(f"real Databento samples not found at {DATABENTO}")
    import databento

    path = DATABENTO / "derived" / f"{ESH4_DERIVED}.dbn.zst"
    folder = tmp_path_factory.mktemp("esh4")
    from vcdwh.config import Settings

    settings = Settings(folder, folder / "w.duckdb")
    build_warehouse(settings, [path])
    records = databento.DBNStore.from_file(path).to_ndarray()
    trades = pd.DataFrame(
        {
            "ts_recv": pd.to_datetime(records["ts_recv"].astype("int64"), unit="ns", utc=True),
            "sequence": records["sequence"].astype("int64"),
            "price": records["price"].astype("int64") / 1e9,
            "size": records["size"].astype("int64"),
            "side": records["side"].astype(str),
        }
    )
    return settings, trades


def _query(settings, sql, params=None):
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        return con.execute(sql, params or {}).fetchall()
    finally:
        con.close()


def _pandas_candles(trades: pd.DataFrame, interval: str = "1min") -> pd.DataFrame:
    """Delta candles per bar, independently: file order, stable sort on (ts_recv, sequence)."""
    df = trades.assign(position=range(len(trades)))
    df = df.sort_values(["ts_recv", "sequence", "position"], kind="stable")
    size = df["size"].astype("int64")
    df["signed"] = size.where(df["side"] == "B", 0) - size.where(df["side"] == "A", 0)
    df["run"] = df["signed"].cumsum()
    df["minute"] = df["ts_recv"].dt.floor(interval)
    df["in_bar"] = df.groupby("minute")["signed"].cumsum()
    bars = df.groupby("minute").agg(
        close=("run", "last"),
        run_high=("run", "max"),
        run_low=("run", "min"),
        first_run=("run", "first"),
        first_signed=("signed", "first"),
        max_delta=("in_bar", "max"),
        min_delta=("in_bar", "min"),
    )
    bars["open"] = bars["first_run"] - bars["first_signed"]
    bars["high"] = bars[["open", "run_high"]].max(axis=1)
    bars["low"] = bars[["open", "run_low"]].min(axis=1)
    return bars


def test_delta_candles_given_esh4_session_match_hand_computation(esh4):
    # Arrange
    settings, trades = esh4
    expected = _pandas_candles(trades)
    # Act
    rows = _query(settings, f"select {CANDLES} from bars_1min order by bar_start limit 3")
    # Assert: checked by hand from the trades. 23:00 opens with the 44-lot N auction print
    # (no delta), buyers push the running delta to +118, it ends at +102 (README: delta +102);
    # 23:01 (+146) runs from 102 up to 250 and closes at 248; 23:02 (-45) never trades above
    # its open 248 (max_delta -1) and closes at 203.
    assert rows == [
        (0, 118, -4, 102, 0, 118, -4, 102, 118, -4),
        (102, 250, 76, 248, 102, 250, 76, 248, 148, -26),
        (248, 248, 195, 203, 248, 248, 195, 203, -1, -53),
    ]
    for row, (_, bar) in zip(rows, expected.head(3).iterrows(), strict=True):
        assert row[:4] == (bar["open"], bar["high"], bar["low"], bar["close"])
        assert row[8:] == (bar["max_delta"], bar["min_delta"])


def test_delta_candles_given_esh4_session_match_pandas_for_every_bar(esh4):
    settings, trades = esh4
    expected = _pandas_candles(trades)
    rows = _query(
        settings,
        "select delta_open, delta_high, delta_low, delta_close, max_delta,"
        " min_delta, delta_pct, delta, volume from bars_1min order by bar_start",
    )
    assert len(rows) == len(expected) == 60
    for row, (_, bar) in zip(rows, expected.iterrows(), strict=True):
        assert row[:6] == (
            bar["open"],
            bar["high"],
            bar["low"],
            bar["close"],
            bar["max_delta"],
            bar["min_delta"],
        )
        assert row[6] == row[7] / row[8]


@pytest.mark.parametrize("interval", ["30s", "90s", "5min"])
def test_delta_candles_given_intervals_sharing_a_finer_grain_match_pandas(esh4, tmp_path, interval):
    # Arrange: 30s, 90s and 5min are rolled up from 30-second grains.
    from tests.conftest import DATABENTO
    from vcdwh.config import Settings

    _, trades = esh4
    settings = Settings(tmp_path, tmp_path / "w.duckdb")
    path = DATABENTO / "derived" / f"{ESH4_DERIVED}.dbn.zst"
    build_warehouse(settings, [path], frequencies=["30s", "90s", "5min"])
    expected = _pandas_candles(trades, interval)
    # Act
    rows = _query(
        settings,
        "select delta_open, delta_high, delta_low, delta_close, max_delta,"
        f" min_delta from bars_{interval} order by bar_start",
    )
    # Assert
    assert len(rows) == len(expected)
    for row, (_, bar) in zip(rows, expected.iterrows(), strict=True):
        assert row == (
            bar["open"],
            bar["high"],
            bar["low"],
            bar["close"],
            bar["max_delta"],
            bar["min_delta"],
        )


def test_marts_given_a_finer_grain_equal_those_built_alone(esh4, tmp_path):
    # Arrange: one build rolls 5min up from 30s grains, the other builds 5min alone.
    from tests.conftest import DATABENTO
    from vcdwh.config import Settings

    path = DATABENTO / "derived" / f"{ESH4_DERIVED}.dbn.zst"
    together = Settings(tmp_path / "a", tmp_path / "a.duckdb")
    alone = Settings(tmp_path / "b", tmp_path / "b.duckdb")
    build_warehouse(together, [path], frequencies=["30s", "1min", "5min"])
    build_warehouse(alone, [path], frequencies=["5min"])
    # Act / Assert
    for relation in ("bars_5min", "footprint_5min"):
        rows = _query(together, f"select * from {relation} order by all")
        assert rows and rows == _query(alone, f"select * from {relation} order by all")


def test_footprint_given_esh4_session_sums_to_the_bars(esh4):
    settings, _ = esh4
    assert _query(
        settings,
        """
        select count(*) from bars_1min b join (
            select bar_start, sum(ask_volume) ask, sum(bid_volume) bid, sum(unknown_volume) unk,
                   sum(trades) n, count(*) filter (where poc) pocs
            from footprint_1min group by bar_start
        ) f using (bar_start)
        where f.ask = b.buy_volume and f.bid = b.sell_volume and f.unk = b.unknown_volume
          and f.n = b.trades and f.pocs = 1
    """,
    ) == [(60,)]


def test_footprint_given_esh4_2300_bar_pins_levels_and_poc(esh4):
    settings, trades = esh4
    bar = trades[trades["ts_recv"] < pd.Timestamp("2023-12-25 23:01", tz="UTC")]
    by_price = bar.groupby("price")["size"].sum()
    rows = _query(
        settings,
        "select price, volume, bid_volume, ask_volume, poc from footprint_1min"
        " where bar_start = '2023-12-25 23:00:00' order by price",
    )
    assert [(float(p), v) for p, v, *_ in rows] == list(by_price.astype(int).items())
    # Two levels share the most volume, 56 lots: 4801.50 and 4802.25; the lower price is the POC.
    assert [(p, v, b, a) for p, v, b, a, poc in rows if poc] == [
        (Decimal("4801.500000000"), 56, 35, 21)
    ]
    assert sorted(v for _, v, *_ in rows)[-2:] == [56, 56]
    # The opening auction print (44 lots, side N) sits at 4800.25 with 3 bid and 8 ask lots.
    assert rows[0][:4] == (Decimal("4800.250000000"), 55, 3, 8)


# --------------------------------------------------------------------------- footprint imbalances


def test_footprint_given_crafted_levels_flags_diagonal_imbalances(settings, tmp_path, query):
    # Arrange: one 1-minute bar of ESH4 (tick 0.25), ratio 3 (the default).
    trades = [
        Trade(T0 + 1 * SECOND, 100.00, 10, "A"),
        Trade(T0 + 2 * SECOND, 100.25, 30, "B"),
        Trade(T0 + 3 * SECOND, 100.25, 9, "A"),
        Trade(T0 + 4 * SECOND, 100.50, 26, "B"),
        Trade(T0 + 5 * SECOND, 100.50, 40, "A"),
        Trade(T0 + 6 * SECOND, 101.00, 2, "B"),
    ]
    path = write_pretty_csv(tmp_path / "fp.csv", trades, {1: "ESH4"})
    # Act
    build_warehouse(settings, [path], ["1min"])
    rows = query(
        "select price, bid_volume, ask_volume, buy_imbalance, sell_imbalance, poc,"
        " tick_size from footprint_1min order by price"
    )
    # Assert
    assert rows == [
        # 100.00: bid 10 vs ask 30 one tick up: 10 < 90, no sell imbalance
        (Decimal("100.000000000"), 10, 0, False, False, False, Decimal("0.25")),
        # 100.25: ask 30 >= 3 x bid 10 below; bid 9 < 3 x ask 26 above
        (Decimal("100.250000000"), 9, 30, True, False, False, Decimal("0.25")),
        # 100.50: ask 26 < 3 x 9 = 27; bid 40 vs no ask at 100.75 -> sell imbalance
        (Decimal("100.500000000"), 40, 26, False, True, True, Decimal("0.25")),
        # 101.00: ask 2 vs no bid at 100.75 (one tick below, not the next level 100.50)
        (Decimal("101.000000000"), 0, 2, True, False, False, Decimal("0.25")),
    ]
    # A higher ratio removes the 100.25 flag (30 < 4 x 10); the setting is stored.
    build_warehouse(settings, [], flow=FlowOverrides(imbalance_ratio=4.0))
    assert query("select buy_imbalance from footprint_1min where price = 100.25") == [(False,)]
    assert query("select value from build_settings where key = 'imbalance_ratio'") == [("4.0",)]


def test_footprint_given_unknown_root_uses_smallest_gap_in_the_bar(settings, tmp_path, query):
    # Symbol "1" has no root: the tick is the smallest gap between the bar's levels (0.5).
    trades = [
        Trade(T0 + SECOND, 100.0, 10, "A"),
        Trade(T0 + 2 * SECOND, 100.5, 30, "B"),
        Trade(T0 + 3 * SECOND, 101.5, 5, "B"),
    ]
    build_warehouse(settings, [write_raw_csv(tmp_path / "t.csv", trades)], ["1min"])
    assert query("select price, tick_size, buy_imbalance from footprint_1min order by price") == [
        (Decimal("100.000000000"), Decimal("0.500000000"), False),
        (Decimal("100.500000000"), Decimal("0.500000000"), True),
        (Decimal("101.500000000"), Decimal("0.500000000"), True),  # nothing at 101.0
    ]


# --------------------------------------------------------------------------- unknown side


TICK_SEQUENCE = [
    # price, side, expected side under tick-rule
    (100.00, "N", "N"),  # first trade of the instrument: no prior price, stays unknown
    (100.00, "N", "N"),  # zero tick, no price change yet: still unknown
    (100.25, "B", "B"),  # real sides are never changed
    (100.25, "N", "B"),  # zero tick after an uptick -> buy
    (100.00, "N", "A"),  # downtick -> sell
    (100.00, "B", "B"),
    (100.00, "N", "A"),  # zero tick: the last price change was down, whatever the last side
    (100.50, "N", "B"),  # uptick
    (100.25, "A", "A"),
    (100.25, "N", "A"),  # zero tick after a downtick
]


@pytest.mark.parametrize("policy", ["exclude", "tick-rule"])
def test_unknown_side_given_crafted_ticks_classifies_side_n(settings, tmp_path, query, policy):
    # Arrange: one trade per second (sizes 1, 2, 4, ... make every trade's side visible).
    trades = [
        Trade(T0 + i * SECOND, price, 2**i, side)
        for i, (price, side, _) in enumerate(TICK_SEQUENCE)
    ]
    path = write_raw_csv(tmp_path / "ticks.csv", trades)
    # Act
    build_warehouse(settings, [path], ["1s"], flow=FlowOverrides(unknown_side=policy))
    rows = query("select buy_volume, sell_volume, unknown_volume from bars_1s order by bar_start")
    # Assert
    expected = [exp if policy == "tick-rule" else side for _, side, exp in TICK_SEQUENCE]
    assert rows == [
        (2**i if s == "B" else 0, 2**i if s == "A" else 0, 2**i if s == "N" else 0)
        for i, s in enumerate(expected)
    ]
    assert query("select value from build_settings where key = 'unknown_side'") == [(policy,)]


def test_unknown_side_given_esh4_auction_print_under_tick_rule_stays_unknown(esh4, tmp_path):
    # The 23:00:00 auction uncross is the instrument's first trade: no prior price.
    settings, _ = esh4
    from vcdwh.config import Settings

    other = Settings(tmp_path, tmp_path / "tick.duckdb")
    path = _query(settings, "select path from loaded_files")[0][0]
    build_warehouse(other, [path], flow=FlowOverrides(unknown_side="tick-rule"))
    assert _query(
        other,
        "select unknown_volume, buy_volume, sell_volume from bars_1min order by bar_start limit 1",
    ) == [(44, 329, 227)]


# --------------------------------------------------------------------------- large lots


def test_large_lot_given_split_prints_sums_the_aggressor_event(settings, tmp_path, query):
    # Arrange: one 30-lot buy printed as 10+10+10 (same ts_event), a lone 10-lot buy,
    # a 25-lot sell printed as 20+5, and a 40-lot sell (above --max-size 35).
    t1, t2, t3, t4 = (T0 + k * SECOND for k in (1, 2, 3, 4))
    trades = [
        Trade(t1, 100.00, 10, "B", sequence=7),
        Trade(t1, 100.25, 10, "B", sequence=7),
        Trade(t1, 100.50, 10, "B", sequence=7),
        Trade(t2, 100.50, 10, "B", sequence=8),
        Trade(t3, 100.25, 20, "A", sequence=9),
        Trade(t3, 100.00, 5, "A", sequence=9),
        Trade(t4 + 60 * SECOND, 100.00, 40, "A", sequence=10),
    ]
    path = write_raw_csv(tmp_path / "split.csv", trades)
    # Act
    build_warehouse(settings, [path], ["1min"], flow=FlowOverrides(min_size=25, max_size=35))
    rows = query(
        "select buy_volume, sell_volume, large_buy_volume, large_sell_volume, large_delta,"
        " large_cumulative_delta from bars_1min order by bar_start"
    )
    # Assert: 30 counts (10+10+10), the lone 10 does not, 20+5 = 25 counts, 40 > 35 does not.
    assert rows == [(40, 25, 30, 25, 5, 5), (0, 40, 0, 0, 0, 5)]
    # A plain build keeps the stored filter; --min-size 0 turns the columns off.
    build_warehouse(settings, [])
    assert query("select large_buy_volume from bars_1min order by bar_start") == [(30,), (0,)]
    build_warehouse(settings, [], flow=FlowOverrides(min_size=0))
    columns = [
        c
        for (c,) in query("select column_name from duckdb_columns() where table_name = 'bars_1min'")
    ]
    assert "large_delta" not in columns
    assert query("select key, value from build_settings where key like '%_size' order by key") == [
        ("max_size", "off"),
        ("min_size", "off"),
    ]


# --------------------------------------------------------------------------- build settings


def test_build_settings_given_options_are_kept_and_listed(settings, tmp_path):
    write_raw_csv(
        settings.data_dir / "trades_ESH4_2024-03-07_2024-03-08.csv",
        [Trade(T0 + SECOND, 100.0, 5, "N"), Trade(T0 + 2 * SECOND, 100.25, 3, "N")],
    )
    first = invoke(settings, "build", "--unknown-side", "tick-rule", "--min-size", "3")
    assert first.exit_code == 0, first.output
    assert (
        "settings: unknown_side=tick-rule  min_size=3  max_size=off  imbalance_ratio=3.0"
        in first.output
    )
    again = invoke(settings, "build")
    assert "settings: unknown_side=tick-rule  min_size=3" in again.output
    listed = invoke(settings, "list").output
    assert "build settings:" in listed
    assert [
        line.split()[:2]
        for line in listed.splitlines()
        if line.startswith("  unknown_side") or line.startswith("  min_size")
    ] == [["min_size", "3"], ["unknown_side", "tick-rule"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--max-size", "5"],
            "Error: --max-size 5 needs --min-size: the large-lot filter is off; "
            "give --min-size N too\n",
        ),
        (
            ["--min-size", "10", "--max-size", "5"],
            "Error: --max-size 5 is below --min-size 10; raise it, or pass --max-size 0 for no upper bound\n",
        ),
    ],
)
def test_build_settings_given_bad_combination_changes_nothing(settings, tmp_path, args, message):
    from tests.conftest import snapshot

    write_raw_csv(
        settings.data_dir / "trades_ESH4_2024-03-07_2024-03-08.csv",
        [Trade(T0 + SECOND, 100.0, 5, "B")],
    )
    assert invoke(settings, "build").exit_code == 0
    before = snapshot(settings.db_path)
    result = invoke(settings, "build", *args)
    assert result.exit_code == 1
    assert result.output == message
    assert snapshot(settings.db_path) == before


@pytest.mark.parametrize(
    ("option", "value"),
    [("--imbalance-ratio", "0.5"), ("--min-size", "-1"), ("--unknown-side", "guess")],
)
def test_build_given_out_of_range_option_is_a_usage_error(settings, option, value):
    result = invoke(settings, "build", option, value)
    assert result.exit_code == 2
    assert not settings.db_path.exists()


def test_flow_overrides_given_bad_values_name_the_option():
    with pytest.raises(ConfigError, match=r"^--imbalance-ratio nan must be a number ≥ 1$"):
        FlowOverrides(imbalance_ratio=float("nan")).checked()
    with pytest.raises(ConfigError, match=r"^--min-size -2 must be a whole number ≥ 0"):
        FlowOverrides(min_size=-2).checked()
    assert FlowOverrides(min_size=0).apply(FlowOptions(min_size=5, max_size=9)) == FlowOptions()


# --------------------------------------------------------------------------- roots


@pytest.mark.parametrize(
    ("symbol", "root"),
    [
        ("ESH4", "ES"),
        ("MESM4", "MES"),
        ("NQZ24", "NQ"),
        ("6EH4", "6E"),
        ("M2KU4", "M2K"),
        ("ZNH4", "ZN"),
        ("CLF5", "CL"),
        ("ESH4-ESM4", None),
        ("ES.FUT", None),
        ("1", None),
        ("ESH", None),
        ("ESH444", None),
        ("esh4", None),
        ("ESA4", None),
    ],
)
def test_contract_root_given_symbol_matches_python_and_sql(symbol, root):
    assert contract_root(symbol) == root
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(sql_root())))
    macro = "{% from 'macros/root.sql' import contract_root %}{{ contract_root('$symbol') }}"
    sql = env.from_string(macro).render()
    assert duckdb.connect().execute(f"select {sql}", {"symbol": symbol}).fetchone()[0] == root


def test_build_given_sessions_cut_into_small_pieces_equals_one_piece_per_session(
    shared, tmp_path, monkeypatch
):
    # Arrange: the real ESH4 hour, once with its session in pieces of ~100 trades (grains and
    # repeat numbering), once whole.
    from vcdwh.config import Settings
    from vcdwh.load import settle
    from vcdwh.marts import bars
    from vcdwh.warehouse import pieces as pieces_module

    path = shared / "derived" / f"{ESH4_DERIVED}.dbn.zst"
    whole = Settings(tmp_path / "a", tmp_path / "a.duckdb")
    cut = Settings(tmp_path / "b", tmp_path / "b.duckdb")
    build_warehouse(whole, [path], frequencies=["30s", "1min", "5min"])
    pieces = []
    sized = pieces_module.sized_ranges
    monkeypatch.setattr(pieces_module, "RANGE_ROWS", 100)
    for module in (settle, bars):
        monkeypatch.setattr(
            module, "sized_ranges", lambda *a, **k: pieces.append(r := sized(*a, **k)) or r
        )
    # Act
    build_warehouse(cut, [path], frequencies=["30s", "1min", "5min"])
    # Assert: both passes really ran in many pieces, and nothing changed.
    assert len(pieces) == 2 and all(len(p) > 10 for p in pieces)
    for relation in ("trades", "bars_30s", "bars_5min", "footprint_1min"):
        rows = _query(whole, f"select * from {relation} order by all")
        assert rows and rows == _query(cut, f"select * from {relation} order by all")
    assert _query(cut, "select count(*) from trades where occurrence > 1")[0][0] > 0


# --------------------------------------------------------------------------- footprint per bar


def test_bars_given_crafted_footprint_count_imbalances_trades_and_delta_since_extremes(
    settings, tmp_path, query
):
    # The tape of the imbalance test above: buy imbalances at 100.25 and 101.00 (not adjacent),
    # a sell imbalance at 100.50.
    trades = [
        Trade(T0 + 1 * SECOND, 100.00, 10, "A"),
        Trade(T0 + 2 * SECOND, 100.25, 30, "B"),
        Trade(T0 + 3 * SECOND, 100.25, 9, "A"),
        Trade(T0 + 4 * SECOND, 100.50, 26, "B"),
        Trade(T0 + 5 * SECOND, 100.50, 40, "A"),
        Trade(T0 + 6 * SECOND, 101.00, 2, "B"),
    ]
    build_warehouse(
        settings, [write_pretty_csv(tmp_path / "fp.csv", trades, {1: "ESH4"})], ["1min"]
    )
    assert query(
        "select buy_imbalances, sell_imbalances, stacked_buy_imbalances, stacked_sell_imbalances,"
        " buy_trades, sell_trades, avg_trade_size, delta_since_high, delta_since_low"
        " from bars_1min"
    ) == [
        # the high printed last: nothing after it; after the low (the first trade): 30-9+26-40+2
        (2, 1, 1, 1, 3, 3, 19.5, 0, 9)
    ]


STACKED = [
    Trade(T0 + 1 * SECOND, 100.00, 10, "B"),
    Trade(T0 + 2 * SECOND, 100.25, 10, "B"),
    Trade(T0 + 3 * SECOND, 100.50, 10, "B"),
    Trade(T0 + 4 * SECOND, 101.00, 5, "B"),
]


@pytest.mark.parametrize(
    ("flow", "levels", "counts"),
    [
        # asks against no bids: every level is a buy imbalance; 100.00-100.50 are a stack of 3
        (FlowOverrides(), ["100.00", "100.25", "100.50", "101.00"], (4, 3)),
        # 101.00 (5 lots) is below the floor of 6
        (FlowOverrides(imbalance_min_volume=6), ["100.00", "100.25", "100.50", "101.00"], (3, 3)),
        # two ticks a level: 100.00 (20), 100.50 (10), 101.00 (5), adjacent 0.50 apart
        (FlowOverrides(ticks_per_level=2), ["100.00", "100.50", "101.00"], (3, 3)),
    ],
)
def test_footprint_options_given_stacked_asks_change_levels_and_stacks(
    settings, tmp_path, query, flow, levels, counts
):
    path = write_pretty_csv(tmp_path / "s.csv", STACKED, {1: "ESH4"})
    build_warehouse(settings, [path], ["1min"], flow=flow)
    assert [
        f"{price:.2f}" for (price,) in query("select price from footprint_1min order by price")
    ] == levels
    assert query("select sum(volume) from footprint_1min") == [(35,)]
    assert query("select buy_imbalances, stacked_buy_imbalances from bars_1min") == [counts]


def test_delta_since_high_given_a_bar_of_several_grains_starts_after_the_first_print(
    settings, tmp_path, query
):
    minute = 60 * SECOND
    trades = [
        Trade(T0 + 1 * SECOND, 100.00, 5, "B"),
        Trade(T0 + minute + SECOND, 102.00, 3, "A"),  # first print of the high
        Trade(T0 + minute + 2 * SECOND, 101.00, 4, "B"),
        Trade(T0 + 2 * minute + SECOND, 102.00, 7, "B"),  # the high again: not the first
        Trade(T0 + 3 * minute + SECOND, 101.00, 2, "A"),
    ]
    path = write_pretty_csv(tmp_path / "h.csv", trades, {1: "ESH4"})
    build_warehouse(settings, [path], ["1min", "5min"])
    # after 102.00 x A3: +4 +7 -2; after the low (the first trade): -3 +4 +7 -2
    assert query("select delta_since_high, delta_since_low from bars_5min") == [(9, 6)]
    assert query("select delta_since_high, delta_since_low from bars_1min order by bar_start") == [
        (0, 0),
        (4, 0),  # the low (101.00) is the minute's last trade
        (0, 0),
        (0, 0),
    ]


@pytest.mark.parametrize(
    ("option", "value"), [("--ticks-per-level", "0"), ("--imbalance-min-volume", "-1")]
)
def test_build_given_bad_footprint_option_is_a_usage_error(settings, option, value):
    result = invoke(settings, "build", option, value)
    assert result.exit_code == 2
    assert option in result.output
