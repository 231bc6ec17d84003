"""Volume profile, value area, session VWAP and the developing levels on every bar table."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import Trade, ns, profile_tick, reference_value_area, write_pretty_csv
from vcdwh.build import build_warehouse
from vcdwh.cli import cli
from vcdwh.config import Settings
from vcdwh.marts.orderflow import FlowOverrides
from vcdwh.sample import generate_sample

T0 = ns("2024-03-07 23:00:00")  # a session open (17:00 CT), session_date 2024-03-08
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
CHICAGO = ZoneInfo("America/Chicago")
DOCS = Path(__file__).resolve().parent.parent / "docs" / "order-flow.md"


def _d(text: str) -> Decimal:
    return Decimal(text).quantize(Decimal("0.000000001"))


# --------------------------------------------------------------------------- an independent walk


def _session_date(ts: datetime) -> date:
    local = ts.astimezone(CHICAGO)
    return local.date() + timedelta(days=1) if local.hour >= 17 else local.date()


def _query(db: Path, sql: str, params: dict | None = None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or {}).fetchall()
    finally:
        con.close()


# --------------------------------------------------------------------------- crafted tape

# ESH4 (tick 0.25), one session. Volume by price: POC 101.00 (40); above it 101.25 (15),
# 101.50 (5), 101.75 (30); below it 100.75 (20), 100.50 (nothing), 100.25 (10), 100.00 (5).
CRAFTED = [
    Trade(T0 + 1 * SECOND, 101.00, 25, "B"),
    Trade(T0 + 2 * SECOND, 101.00, 15, "A"),
    Trade(T0 + 3 * SECOND, 101.25, 15, "B"),
    Trade(T0 + 4 * SECOND, 101.50, 5, "N"),
    Trade(T0 + 5 * SECOND, 100.75, 20, "A"),
    Trade(T0 + MINUTE + 1 * SECOND, 101.75, 30, "B"),
    Trade(T0 + MINUTE + 2 * SECOND, 100.25, 10, "A"),
    Trade(T0 + MINUTE + 3 * SECOND, 100.00, 5, "A"),
    # ESM4: a tie for the POC (10 at 200.00 and 200.25): the lower price wins
    Trade(T0 + 1 * SECOND, 200.00, 10, "B", instrument_id=2),
    Trade(T0 + 2 * SECOND, 200.25, 10, "A", instrument_id=2),
]
SYMBOLS = {1: "ESH4", 2: "ESM4"}


@pytest.fixture(name="crafted")
def fixture_crafted(settings, tmp_path) -> Settings:
    build_warehouse(settings, [write_pretty_csv(tmp_path / "t.csv", CRAFTED, SYMBOLS)], ["1min"])
    return settings


def test_profile_session_given_crafted_tape_sums_each_price_by_side(crafted, query):
    rows = query(
        "select price, volume, buy_volume, sell_volume, unknown_volume, delta, trades"
        " from profile_session where symbol = 'ESH4' order by price"
    )
    assert rows == [
        (_d("100.00"), 5, 0, 5, 0, -5, 1),
        (_d("100.25"), 10, 0, 10, 0, -10, 1),
        (_d("100.75"), 20, 0, 20, 0, -20, 1),
        (_d("101.00"), 40, 25, 15, 0, 10, 2),
        (_d("101.25"), 15, 15, 0, 0, 15, 1),
        (_d("101.50"), 5, 0, 0, 5, 0, 1),
        (_d("101.75"), 30, 30, 0, 0, 30, 1),
    ]


def test_value_area_given_crafted_tape_follows_the_two_level_rule(crafted, query):
    # 70 % of 125 is 87.5. Step 1: above 101.25+101.50 = 20 ties below 100.75+100.50 (missing,
    # 0) = 20: both are added (80). Step 2: above 101.75+102.00 = 30 beats below 100.25+100.00
    # = 15: area 110, done. VAL is 100.75: 100.50 is in the area but did not trade.
    rows = query(
        "select symbol, poc, vah, val, value_area_volume, volume, value_area_pct"
        " from profile_session_summary order by symbol"
    )
    assert rows == [
        ("ESH4", _d("101.00"), _d("101.75"), _d("100.75"), 110, 125, 70.0),
        # the tie goes to 200.00; the side below is exhausted, so the pair above is taken
        ("ESM4", _d("200.00"), _d("200.25"), _d("200.00"), 20, 20, 70.0),
    ]


def test_value_area_given_pct_100_takes_the_other_side_once_one_is_exhausted(crafted, query):
    # Step 3: nothing is left above 101.75, so the pair below (15) is taken: every level.
    build_warehouse(crafted, [], flow=FlowOverrides(value_area_pct=100))
    assert query(
        "select poc, vah, val, value_area_volume, value_area_pct from profile_session_summary"
        " where symbol = 'ESH4'"
    ) == [(_d("101.00"), _d("101.75"), _d("100.00"), 125, 100.0)]
    assert query("select value from build_settings where key = 'value_area_pct'") == [("100",)]


@pytest.mark.parametrize("mirrored", [False, True], ids=["poc-low", "poc-high"])
def test_value_area_given_pct_100_takes_the_longest_walk_to_every_level(
    settings, tmp_path, query, mirrored
):
    # 43 levels 0.25 apart. Volume 1 at each, the POC (100) at the second level, 2 at the far
    # end. Every pair on the long side (2) beats the single level on the short side (1): 20
    # steps of two levels, one onto the far end, and only then one onto the near end: 22 steps.
    volumes = [1, 100] + [1] * 40 + [2]
    if mirrored:
        volumes.reverse()
    trades = [
        Trade(T0 + (i + 1) * SECOND, 100.00 + 0.25 * i, size, "B") for i, size in enumerate(volumes)
    ]
    path = write_pretty_csv(tmp_path / "t.csv", trades, SYMBOLS)
    build_warehouse(settings, [path], ["1min"], flow=FlowOverrides(value_area_pct=100))
    poc = "100.25" if not mirrored else "110.25"
    assert query("select poc, vah, val, value_area_volume from profile_session_summary") == [
        (_d(poc), _d("110.50"), _d("100.00"), 143)
    ]


def test_value_area_given_small_pct_is_the_poc_alone(crafted, query):
    build_warehouse(crafted, [], flow=FlowOverrides(value_area_pct=30))  # 40 >= 37.5
    assert query(
        "select poc, vah, val, value_area_volume from profile_session_summary where symbol = 'ESH4'"
    ) == [(_d("101.00"), _d("101.00"), _d("101.00"), 40)]


def test_developing_levels_given_crafted_tape_use_the_trades_up_to_each_bar(crafted, query):
    rows = query(
        "select bar_start, session_poc, session_vah, session_val, session_vwap, session_vwap_sd"
        " from bars_1min where symbol = 'ESH4' order by bar_start"
    )
    first, second = rows
    # First minute: 101.00 (40), 101.25 (15), 101.50 (5), 100.75 (20); 70 % of 80 = 56.
    # Step 1: above 20 ties below 20 -> area 80. VWAP from those 80 lots.
    vwap1 = Fraction(
        101 * 40 + Fraction(10125, 100) * 15 + Fraction(1015, 10) * 5 + Fraction(10075, 100) * 20,
        80,
    )
    assert first[1:4] == (_d("101.00"), _d("101.50"), _d("100.75"))
    assert first[4] == pytest.approx(float(vwap1), rel=1e-12)
    # The second bar's levels are the session's.
    assert second[1:4] == (_d("101.00"), _d("101.75"), _d("100.75"))
    prices = {
        p: v
        for p, v in [
            (101.0, 40),
            (101.25, 15),
            (101.5, 5),
            (100.75, 20),
            (101.75, 30),
            (100.25, 10),
            (100.0, 5),
        ]
    }
    total = sum(prices.values())
    vwap = sum(Fraction(p) * v for p, v in prices.items()) / total
    var = sum(v * (Fraction(p) - vwap) ** 2 for p, v in prices.items()) / total
    assert second[4] == pytest.approx(float(vwap), rel=1e-12)
    assert second[5] == pytest.approx(float(var) ** 0.5, rel=1e-9)


@pytest.mark.parametrize("value", ["0", "100.5", "-3", "x"])
def test_build_given_value_area_pct_out_of_range_is_a_usage_error(settings, value):
    result = CliRunner().invoke(
        cli, ["--data-dir", str(settings.data_dir), "build", "--value-area-pct", value]
    )
    assert result.exit_code == 2
    assert "--value-area-pct" in result.output
    assert not settings.db_path.exists()


def test_value_area_pct_given_to_the_library_out_of_range_names_the_option():
    from vcdwh.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^--value-area-pct 0 must be a number from 1 to 100$"):
        FlowOverrides(value_area_pct=0).checked()


# --------------------------------------------------------------------------- generated sample


@pytest.fixture(name="sample", scope="module")
def fixture_sample(tmp_path_factory) -> tuple[Settings, list[tuple]]:
    """Two sample sessions built once, and their trades in trade order."""
    folder = tmp_path_factory.mktemp("sample")
    generate_sample(folder, days=3, start=date(2024, 3, 3), seed=11, trades_per_day=4000)
    settings = Settings(folder, folder / "w.duckdb")
    build_warehouse(settings)
    trades = _query(
        settings.db_path,
        "select symbol, ts_recv, price, size from trades order by ts_recv, sequence, position",
    )
    return settings, trades


def _profiles(trades: list[tuple]) -> dict[tuple[str, date], dict[Decimal, int]]:
    profiles: dict[tuple[str, date], dict[Decimal, int]] = defaultdict(lambda: defaultdict(int))
    for symbol, ts, price, size in trades:
        profiles[symbol, _session_date(ts.replace(tzinfo=ZoneInfo("UTC")))][price] += size
    return profiles


def test_profile_session_given_sample_equals_an_independent_sum(sample):
    settings, trades = sample
    expected = sorted(
        (symbol, day, price, volume)
        for (symbol, day), levels in _profiles(trades).items()
        for price, volume in levels.items()
    )
    rows = _query(
        settings.db_path,
        "select symbol, session_date, price, volume from profile_session order by all",
    )
    assert rows == expected


def test_profile_session_summary_given_sample_equals_an_independent_walk(sample):
    settings, trades = sample
    expected = []
    for (symbol, day), levels in sorted(_profiles(trades).items()):
        poc, vah, val, area = reference_value_area(levels, profile_tick(symbol, list(levels)), 70)
        expected.append((symbol, day, poc, vah, val, area, sum(levels.values())))
    rows = _query(
        settings.db_path,
        "select symbol, session_date, poc, vah, val, value_area_volume, volume"
        " from profile_session_summary order by symbol, session_date",
    )
    assert rows == expected
    assert len(rows) >= 6


@pytest.mark.parametrize(("relation", "minutes"), [("bars_1min", 1), ("bars_5min", 5)])
def test_bar_session_levels_given_sample_equal_an_independent_recomputation(
    sample, relation, minutes
):
    # Every bar: the session's trades up to the bar's end, recomputed here trade by trade.
    settings, trades = sample
    by_session: dict[tuple[str, date], list[tuple]] = defaultdict(list)
    for symbol, ts, price, size in trades:
        by_session[symbol, _session_date(ts.replace(tzinfo=ZoneInfo("UTC")))].append(
            (ts, price, size)
        )
    bars = _query(
        settings.db_path,
        f"select symbol, session_date, bar_start, session_poc, session_vah, session_val,"
        f" session_vwap, session_vwap_sd from {relation} order by symbol, bar_start",
    )
    checked = 0
    state: dict[tuple[str, date], dict] = {}
    for symbol, day, start, poc, vah, val, vwap, sd in bars:
        # the session's trades before the bar's end, accumulated in trade order
        key = (symbol, day)
        run = state.setdefault(key, {"next": 0, "levels": defaultdict(int), "sums": [0, 0, 0]})
        session_trades = by_session[key]
        end = start + timedelta(minutes=minutes)
        while run["next"] < len(session_trades) and session_trades[run["next"]][0] < end:
            _, price, size = session_trades[run["next"]]
            run["levels"][price] += size
            run["sums"][0] += size
            run["sums"][1] += size * price
            run["sums"][2] += size * price * price
            run["next"] += 1
        levels = run["levels"]
        # a root's tick, else the smallest gap between the prices traded so far
        want = reference_value_area(levels, profile_tick(symbol, list(levels)), 70)[:3]
        assert (poc, vah, val) == want, (symbol, start)
        volume, price_volume, price2_volume = (Fraction(x) for x in run["sums"])
        mean = price_volume / volume
        var = price2_volume / volume - mean * mean
        assert vwap == pytest.approx(float(mean), rel=1e-12), (symbol, start)
        assert sd == pytest.approx(float(var) ** 0.5, rel=1e-7, abs=1e-9), (symbol, start)
        checked += 1
    assert checked > 500


def test_bar_session_levels_given_data_cut_at_a_bar_end_are_the_same(sample, tmp_path):
    # No look-ahead: a warehouse holding only the trades up to a bar's end gives that bar the
    # same developing levels and VWAP as the warehouse holding the whole week.
    settings, _ = sample
    whole = _query(
        settings.db_path,
        "select bar_start from bars_5min where symbol = 'ESH4' order by bar_start",
    )
    cut_bar = whole[len(whole) // 2][0]
    end = cut_bar + timedelta(minutes=5)
    columns = "session_poc, session_vah, session_val, session_vwap, session_vwap_sd"
    cut_csv = tmp_path / "cut" / "trades_cut.csv"
    cut_csv.parent.mkdir()
    header_source = next(settings.data_dir.glob("trades_*.csv"))
    header, *rows = header_source.read_text().splitlines(keepends=True)
    stamps = [re.match(r"[^,]+", row).group(0) for row in rows]
    limit = end.strftime("%Y-%m-%dT%H:%M:%S")
    kept = [row for row, stamp in zip(rows, stamps, strict=True) if stamp[:19] < limit]
    cut_csv.write_text(header + "".join(kept))
    cut = Settings(tmp_path / "cut", tmp_path / "cut" / "w.duckdb")
    build_warehouse(cut)
    sql = f"select {columns} from bars_5min where symbol = 'ESH4' and bar_start = $bar"
    assert _query(cut.db_path, sql, {"bar": cut_bar}) == _query(
        settings.db_path, sql, {"bar": cut_bar}
    )
    assert _query(cut.db_path, "select max(bar_start) from bars_5min where symbol = 'ESH4'") == [
        (cut_bar,)
    ]


# --------------------------------------------------------------------------- anchored VWAP


def _doc_query(heading: str) -> str:
    text = DOCS.read_text()
    after = text[text.index(heading) :]
    return after.split("```sql\n", 1)[1].split("```", 1)[0]


def test_anchored_vwap_query_in_the_docs_given_crafted_tape_starts_at_the_anchor(crafted, query):
    # Anchored at T0 + 3 s: the first bar counts 101.25 x 15, 101.50 x 5 and 100.75 x 20 only.
    sql = _doc_query("### Anchored VWAP")
    anchor = datetime(2024, 3, 7, 23, 0, 3)
    rows = query(sql, {"symbol": "ESH4", "anchor": anchor})
    first = [(Fraction("101.25"), 15), (Fraction("101.5"), 5), (Fraction("100.75"), 20)]
    second = [*first, (Fraction("101.75"), 30), (Fraction("100.25"), 10), (Fraction("100"), 5)]
    assert [row[0] for row in rows] == [
        datetime(2024, 3, 7, 23, 0),
        datetime(2024, 3, 7, 23, 1),
    ]
    for row, prints in zip(rows, (first, second), strict=True):
        volume = sum(size for _, size in prints)
        mean = sum(price * size for price, size in prints) / volume
        var = sum(size * (price - mean) ** 2 for price, size in prints) / volume
        assert row[2] == pytest.approx(float(mean), rel=1e-12)
        assert row[3] == pytest.approx(float(var) ** 0.5, rel=1e-6)


def test_anchored_vwap_query_given_the_session_open_equals_the_bars_session_vwap(sample):
    settings, _ = sample
    sql = _doc_query("### Anchored VWAP")
    bars = _query(
        settings.db_path,
        "select bar_start, session_vwap, session_vwap_sd from bars_1min"
        " where symbol = 'ESH4' and session_date = '2024-03-05' order by bar_start",
    )
    opened = _query(
        settings.db_path, "select session_start from sessions where session_date = '2024-03-05'"
    )[0][0]
    anchored = _query(settings.db_path, sql, {"symbol": "ESH4", "anchor": opened})
    anchored = [row for row in anchored if row[0] < bars[-1][0] + timedelta(minutes=1)]
    assert len(anchored) == len(bars) > 100
    for (start, vwap, sd), (a_start, _, a_vwap, a_sd) in zip(bars, anchored, strict=True):
        assert start == a_start
        assert a_vwap == pytest.approx(vwap, rel=1e-12)
        assert a_sd == pytest.approx(sd, rel=1e-5, abs=1e-6)


# --------------------------------------------------------------------------- footprint per bar


@pytest.mark.parametrize(("relation", "minutes"), [("bars_1min", 1), ("bars_5min", 5)])
def test_bar_trade_counts_and_delta_since_extremes_given_sample_equal_a_recomputation(
    sample, relation, minutes
):
    settings, _ = sample
    trades = _query(
        settings.db_path,
        "select t.symbol, t.ts_recv, t.price, t.size, t.side, s.session_start"
        " from trades as t asof join sessions as s on t.ts_recv >= s.session_start"
        " order by t.ts_recv, t.sequence, t.position",
    )
    width = timedelta(minutes=minutes)
    bars: dict[tuple[str, datetime], list[tuple]] = defaultdict(list)
    for symbol, ts, price, size, side, opened in trades:
        start = opened + ((ts - opened) // width) * width
        bars[symbol, start].append(
            (price, size if side == "B" else -size if side == "A" else 0, side)
        )
    expected = {}
    for key, prints in bars.items():
        high = max(p for p, _, _ in prints)
        low = min(p for p, _, _ in prints)
        first_high = next(i for i, (p, _, _) in enumerate(prints) if p == high)
        first_low = next(i for i, (p, _, _) in enumerate(prints) if p == low)
        expected[key] = (
            sum(1 for *_, side in prints if side == "B"),
            sum(1 for *_, side in prints if side == "A"),
            sum(s for _, s, _ in prints[first_high + 1 :]),
            sum(s for _, s, _ in prints[first_low + 1 :]),
        )
    rows = _query(
        settings.db_path,
        f"select symbol, bar_start, buy_trades, sell_trades, delta_since_high, delta_since_low"
        f" from {relation}",
    )
    assert {(symbol, start): tuple(rest) for symbol, start, *rest in rows} == expected


def test_bar_imbalance_counts_given_sample_equal_the_footprint_levels(sample):
    settings, _ = sample
    levels = _query(
        settings.db_path,
        "select symbol, bar_start, price, level_size, buy_imbalance, sell_imbalance"
        " from footprint_1min order by symbol, bar_start, price",
    )
    by_bar: dict[tuple[str, datetime], list[tuple]] = defaultdict(list)
    for symbol, start, price, size, buy, sell in levels:
        by_bar[symbol, start].append((price, size, buy, sell))

    def longest(rows: list[tuple], flag: int) -> int:
        best = run = 0
        previous = None
        for price, size, *flags in rows:
            if not flags[flag]:
                run, previous = 0, None
                continue
            run = run + 1 if previous is not None and price - previous == size else 1
            best, previous = max(best, run), price
        return best

    expected = {
        key: (
            sum(1 for *_, buy, _ in rows if buy),
            sum(1 for *_, sell in rows if sell),
            longest(rows, 0),
            longest(rows, 1),
        )
        for key, rows in by_bar.items()
    }
    rows = _query(
        settings.db_path,
        "select symbol, bar_start, buy_imbalances, sell_imbalances, stacked_buy_imbalances,"
        " stacked_sell_imbalances from bars_1min",
    )
    assert {(symbol, start): tuple(rest) for symbol, start, *rest in rows} == expected
    assert any(stacked >= 2 for *_, stacked, _ in expected.values())


# --------------------------------------------------------------------------- statements


@given(
    cells=st.lists(st.integers(min_value=0, max_value=300), max_size=30),
    budget=st.integers(min_value=0, max_value=600),
)
def test_value_area_pieces_given_any_opens_hold_each_once_in_order_within_the_budget(cells, budget):
    from vcdwh.marts.barsets import value_area_pieces
    from vcdwh.warehouse.pieces import EPOCH

    opens = [(i + 1) * 3_600 * SECOND for i in range(len(cells))]
    pieces = value_area_pieces(list(zip(opens, cells, strict=True)), budget)
    at = [EPOCH + timedelta(microseconds=start // 1000) for start in opens]
    holders = [[p for p in pieces if p["from_ts"] <= t < p["to_ts"]] for t in at]
    assert all(len(h) == 1 for h in holders)
    assert all(a["to_ts"] <= b["from_ts"] for a, b in itertools.pairwise(pieces))
    for piece in pieces:
        inside = [
            c for t, c in zip(at, cells, strict=True) if piece["from_ts"] <= t < piece["to_ts"]
        ]
        assert len(inside) == 1 or sum(inside) <= budget


def test_value_area_given_sessions_packed_into_one_statement_equals_a_statement_each(
    tmp_path, monkeypatch
):
    # Arrange: three small sample sessions, once with every session in a statement of its own
    # (no cells allowed to share), once packed (the default).
    from vcdwh.marts import barsets

    generate_sample(tmp_path / "data", days=3, start=date(2024, 3, 3), seed=5, trades_per_day=200)
    pieces: list[int] = []
    packing = barsets.value_area_pieces
    monkeypatch.setattr(
        barsets, "value_area_pieces", lambda *a: pieces.append(len(r := packing(*a))) or r
    )
    monkeypatch.setattr(barsets, "VALUE_AREA_CELLS", 0)
    alone = Settings(tmp_path / "data", tmp_path / "alone.duckdb")
    build_warehouse(alone)
    monkeypatch.undo()
    monkeypatch.setattr(
        barsets, "value_area_pieces", lambda *a: pieces.append(len(r := packing(*a))) or r
    )
    packed = Settings(tmp_path / "data", tmp_path / "packed.duckdb")
    # Act
    build_warehouse(packed)
    # Assert: a statement per session open, then one for all; the same levels either way.
    assert pieces == [3, 1]
    for sql in (
        "select * from profile_session_summary order by all",
        "select symbol, bar_start, session_poc, session_vah, session_val from bars_1min"
        " order by all",
    ):
        rows = _query(alone.db_path, sql)
        assert len(rows) > 3 and rows == _query(packed.db_path, sql)
