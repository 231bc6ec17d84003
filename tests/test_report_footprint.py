"""``vcdwh report --footprint``: a window's footprint and its session's profile and VWAP bands."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest
from click.testing import CliRunner

import vcdwh.report
from tests.helpers import Trade, ns, write_raw_csv
from tests.test_report import CHROMIUM, chromium, console_errors, values
from vcdwh.cli import cli
from vcdwh.report import write_footprint_report
from vcdwh.sample import generate_sample
from vcdwh.warehouse.db import connect_read_only
from vcdwh.warehouse.sqlrender import render

# The 14:00 5-minute bar of session 2024-03-08 (ESH4, tick 0.25, imbalance ratio 3):
#   price    bid x ask   buy imbalance (ask >= 3 x bid one below)   sell (bid >= 3 x ask one above)
#   5001.00    5 x 1     1 < 3 x 1: no                               5 >= 3 x 0: yes
#   5000.75    1 x 20    20 >= 3 x 4: yes                            no
#   5000.50    4 x 30    30 >= 3 x 3: yes                            no
#   5000.25    3 x 40    40 >= 3 x 10: yes (POC, 43 lots)            no
#   5000.00   10 x 0     no ask                                      10 < 3 x 40: no
# so one run of three stacked buy imbalances. The 14:10 bar: 5 sold at 5001.00.
BAR_14 = [
    (5000.00, 10, "A"),
    (5000.25, 3, "A"),
    (5000.25, 40, "B"),
    (5000.50, 4, "A"),
    (5000.50, 30, "B"),
    (5000.75, 1, "A"),
    (5000.75, 20, "B"),
    (5001.00, 5, "A"),
    (5001.00, 1, "B"),
]


def tape() -> list[Trade]:
    trades = [Trade(ns("2024-03-07 15:00:00"), 4990.0, 1000, "B")]  # the session before: busier
    trades += [Trade(ns("2024-03-08 01:00:00"), 4999.0, 60, "B")]
    trades += [Trade(ns("2024-03-08 01:00:01"), 4999.0, 40, "A")]  # 01:00 hour: 100 lots
    start = ns("2024-03-08 14:01:00")
    trades += [Trade(start + i, price, size, side) for i, (price, size, side) in enumerate(BAR_14)]
    trades += [Trade(ns("2024-03-08 14:12:00"), 5001.0, 5, "A")]  # 14:00 hour: 119 lots
    trades += [Trade(ns("2024-03-08 15:30:00"), 5002.0, 50, "B")]  # 15:00 hour: 50 lots
    return trades


def plotly_figures(page: str) -> list[tuple[list[dict], dict]]:
    """The (traces, layout) of every Plotly.newPlot call in the page, in page order."""
    decoder = json.JSONDecoder()
    figures, at = [], 0
    while (found := page.find("Plotly.newPlot(", at)) >= 0:
        rest = page[found + len("Plotly.newPlot(") :].lstrip()
        _, used = decoder.raw_decode(rest)
        rest = rest[used:].lstrip().lstrip(",").lstrip()
        traces, used = decoder.raw_decode(rest)
        rest = rest[used:].lstrip().lstrip(",").lstrip()
        layout, _ = decoder.raw_decode(rest)
        figures.append((traces, layout))
        at = found + 1
    return figures


def by_name(traces: list[dict]) -> dict[str, dict]:
    return {t["name"]: t for t in traces}


def points(trace: dict) -> list[tuple[float, float]]:
    return [
        (x, y)
        for x, y in zip(values(trace["x"]), values(trace["y"]), strict=True)
        if x is not None and not (isinstance(x, float) and math.isnan(x))
    ]


@pytest.fixture(name="tape_warehouse")
def fixture_tape_warehouse(build, settings):
    write_raw_csv(settings.data_dir / "trades_ESH4_2024-03-07_2024-03-08.csv", tape())
    build()
    return settings


def test_footprint_report_defaults_to_the_busiest_hour_of_the_latest_session(
    tape_warehouse, tmp_path
):
    written = write_footprint_report(tape_warehouse, tmp_path / "fp.html")
    # 14:00 (119 lots) beats 01:00 (100) and 15:00 (50); the earlier session's 1,000 do not count.
    assert written.summary == (
        "ESH4 5min footprint, 2 of 2 bar(s) from 2024-03-08 14:00:00, session 2024-03-08"
    )
    page = written.path.read_text()
    assert "(the busiest hour of session 2024-03-08)" in page
    assert "All 2 bar(s) of the window are drawn (at most 60)." in page


def test_footprint_report_draws_bid_x_ask_per_level_the_poc_and_the_imbalances(
    tape_warehouse, query, tmp_path
):
    out = tmp_path / "fp.html"
    write_footprint_report(
        tape_warehouse,
        out,
        symbol="ESH4",
        start=_utc("2024-03-08 14:00"),
        end=_utc("2024-03-08 15:00"),
    )
    (footprint, layout), _ = plotly_figures(out.read_text())
    traces = by_name(footprint)
    assert list(traces) == [
        "footprint",
        "POC",
        "buy imbalance",
        "sell imbalance",
        "stacked buy imbalances (3+ levels)",
        "stacked sell imbalances (3+ levels)",
    ]
    cells = traces["footprint"]
    grid = values(cells["y"])
    assert grid == [5000.0, 5000.25, 5000.5, 5000.75, 5001.0]  # one row per level, gaps kept
    assert values(cells["x"]) == [0, 1]
    assert layout["xaxis"]["ticktext"] == ["14:00", "14:10"]
    text = {(x, y): cells["text"][r][x] for r, y in enumerate(grid) for x in (0, 1)}
    assert [text[(0, price)] for price in grid] == ["10 x 0", "3 x 40", "4 x 30", "1 x 20", "5 x 1"]
    assert [text[(1, price)] for price in grid] == ["", "", "", "", "5 x 0"]
    z = cells["z"]
    assert [z[r][0] for r in range(5)] == [-10, 37, 26, 19, -4]
    assert z[0][1] is None and z[4][1] == -5
    # The POC boxes: one per bar, centred on its level (half a level above and below).
    boxes = points(traces["POC"])
    centres = [
        (round(sum(x for x, _ in box[:4]) / 4, 6), sum(y for _, y in box[:4]) / 4)
        for box in (boxes[:5], boxes[5:10])
    ]
    assert len(boxes) == 10 and centres == [(0, 5000.25), (1, 5001.0)]
    assert max(y for _, y in boxes[:5]) - min(y for _, y in boxes[:5]) == 0.25
    # Imbalances on their side of each cell; the stacked run drawn along its three levels.
    assert points(traces["buy imbalance"]) == [(0.4, 5000.25), (0.4, 5000.5), (0.4, 5000.75)]
    assert points(traces["sell imbalance"]) == [(-0.4, 5001.0), (0.6, 5001.0)]
    assert points(traces["stacked buy imbalances (3+ levels)"]) == [
        (0.48, 5000.125),
        (0.48, 5000.875),
    ]
    assert points(traces["stacked sell imbalances (3+ levels)"]) == []
    # The same facts as the warehouse holds them.
    assert query(
        "select stacked_buy_imbalances, stacked_sell_imbalances, buy_imbalances, sell_imbalances"
        " from bars_5min where bar_start = '2024-03-08 14:00:00'"
    ) == [(3, 1, 3, 1)]
    assert (
        query(
            "select price::double from footprint_5min where poc order by bar_start"
            " offset 2"  # the two bars before the window
        )[:2]
        == [(5000.25,), (5001.0,)]
    )


def test_footprint_report_draws_the_session_profile_value_area_and_vwap_bands(
    tape_warehouse, query, tmp_path
):
    out = tmp_path / "fp.html"
    write_footprint_report(tape_warehouse, out, start=_utc("2024-03-08 14:00"))
    _, (session, layout) = plotly_figures(out.read_text())
    traces = by_name(session)
    # Session 2024-03-08: 4999.00 100 lots is the POC; the value area (70 % of 269) climbs to
    # 5001.00: 100, +0 (4999.25/.50), +10, +77, +32 = 219.
    profile = traces["volume profile"]
    assert profile["orientation"] == "h" and profile["xaxis"] == "x2"
    assert list(zip(values(profile["y"]), values(profile["x"]), strict=True)) == [
        (4999.0, 100),
        (5000.0, 10),
        (5000.25, 43),
        (5000.5, 34),
        (5000.75, 21),
        (5001.0, 11),
        (5002.0, 50),
    ]
    assert query(
        "select poc::double, vah::double, val::double from profile_session_summary"
        " where session_date = '2024-03-08'"
    ) == [(4999.0, 5001.0, 4999.0)]
    lines = sorted({(s["y0"], s["yref"]) for s in layout["shapes"] if s["type"] == "line"})
    assert lines == [(4999.0, "y"), (4999.0, "y2"), (5001.0, "y"), (5001.0, "y2")]
    labels = {a["text"] for a in layout["annotations"]}
    assert {"POC 4999", "VAH 5001", "VAL 4999"} <= labels
    # The VWAP and its bands: the bars' session_vwap ± k x session_vwap_sd, bar by bar.
    stored = query(
        "select strftime(bar_start, '%Y-%m-%d %H:%M:%S'), session_vwap::double,"
        " session_vwap_sd::double from bars_5min where session_date = '2024-03-08'"
        " order by bar_start"
    )
    assert traces["price"]["x"] == [t for t, _, _ in stored]
    for k in (-2, -1, 0, 1, 2):
        band = traces["VWAP" if k == 0 else f"VWAP {k:+d} sd"]
        assert band["x"] == [t for t, _, _ in stored]
        assert values(band["y"]) == pytest.approx([v + k * sd for _, v, sd in stored])
    assert values(traces["VWAP +1 sd"]["y"])[-1] > values(traces["VWAP"]["y"])[-1]
    # The footprint window shaded on the price panel.
    window = [s for s in layout["shapes"] if s["type"] == "rect"]
    assert [(s["x0"], s["x1"]) for s in window] == [("2024-03-08 14:00:00", "2024-03-08 14:15:00")]


def test_footprint_report_draws_only_the_first_bars_and_says_so(
    tape_warehouse, tmp_path, monkeypatch
):
    monkeypatch.setattr(vcdwh.report, "FOOTPRINT_MAX_BARS", 1)
    written = write_footprint_report(
        tape_warehouse, tmp_path / "fp.html", frequency="1min", start=_utc("2024-03-08 14:00")
    )
    page = written.path.read_text()
    assert written.summary.startswith("ESH4 1min footprint, 1 of 2 bar(s) from 2024-03-08 14:01:00")
    assert "The window holds 2 bars; the first 1 are drawn (at most 1)" in page
    (footprint, _), _ = plotly_figures(page)
    assert values(by_name(footprint)["footprint"]["x"]) == [0]


def test_footprint_report_prints_no_cell_text_past_the_level_cap_and_says_so(
    tape_warehouse, tmp_path, monkeypatch
):
    monkeypatch.setattr(vcdwh.report, "FOOTPRINT_MAX_TEXT_LEVELS", 4)
    written = write_footprint_report(tape_warehouse, tmp_path / "fp.html")
    page = written.path.read_text()
    assert "The window spans more than 4 price levels: the cells show their bid x ask on hover" in (
        page
    )
    (footprint, _), _ = plotly_figures(page)
    cells = by_name(footprint)["footprint"]
    assert cells["texttemplate"] == "" and cells["text"][1][0] == "3 x 40"


def test_footprint_report_needs_the_profile_and_vwap_columns(tape_warehouse, tmp_path):
    # A warehouse whose bars lack them (as `vcdwh spark-bars` builds them) gets one line.
    with duckdb.connect(str(tape_warehouse.db_path)) as con:
        con.execute("alter table bars_5min drop column session_vwap")
    result = CliRunner().invoke(
        cli,
        [
            "--data-dir",
            str(tape_warehouse.data_dir),
            "report",
            "--footprint",
            "--out",
            str(tmp_path / "fp.html"),
        ],
    )
    assert result.exit_code == 1
    assert result.output == (
        "Error: bars_5min has no profile, VWAP and footprint columns (a `vcdwh spark-bars` "
        "build); run `vcdwh build` to add them\n"
    )
    assert not (tmp_path / "fp.html").exists()


def test_footprint_report_stacked_runs_are_the_bars_stacked_imbalance_counts(build, settings):
    # Over a synthetic week, each bar's longest run drawn equals the bars table's count.
    generate_sample(settings.data_dir, days=2, start=date(2024, 3, 4), seed=3, trades_per_day=3000)
    build(frequencies=["1min"])
    con = connect_read_only(settings.db_path)
    try:
        [(instrument_id, symbol)] = con.execute(
            "select instrument_id, symbol from bars_1min where not contains(symbol, '-')"
            " group by all order by sum(volume) desc limit 1"
        ).fetchall()
        levels = render("queries/report_footprint_levels.sql", footprint="footprint_1min")
        rows = con.execute(
            f"""
            with levels as ({levels}),
            runs as (
                select bar_start, max(buy_run) as buy, max(sell_run) as sell
                from levels group by bar_start
            )
            select
                count(*),
                count(*) filter (where coalesce(runs.buy, 0) = bars.stacked_buy_imbalances
                    and coalesce(runs.sell, 0) = bars.stacked_sell_imbalances),
                count(*) filter (where bars.stacked_buy_imbalances >= 3)
            from bars_1min as bars
            join runs on runs.bar_start = bars.bar_start::timestamp
            where bars.instrument_id = $instrument_id and bars.symbol = $symbol
            """,
            {
                "instrument_id": instrument_id,
                "symbol": symbol,
                "first_bar": datetime(2024, 3, 1),
                "last_bar": datetime(2024, 3, 9),
            },
        ).fetchall()
    finally:
        con.close()
    [(bars, equal, stacked)] = rows
    assert bars > 100 and equal == bars and stacked > 0


def _utc(text: str):
    from vcdwh.report import parse_timestamp

    return parse_timestamp(text, "--from")


def test_footprint_report_reads_iso_timestamps_in_utc_or_with_an_offset():
    assert str(_utc("2024-03-08T14:30:00Z")) == "2024-03-08 14:30:00"
    assert str(_utc("2024-03-08 08:30-06:00")) == "2024-03-08 14:30:00"
    assert str(_utc("2024-03-08")) == "2024-03-08 00:00:00"


def test_footprint_report_cli_errors_are_one_line_and_write_nothing(tape_warehouse, tmp_path):
    runner = CliRunner()
    out = tmp_path / "fp.html"
    base = ["--data-dir", str(tape_warehouse.data_dir), "report", "--out", str(out)]

    def run(*args: str):
        return runner.invoke(cli, [*base, *args])

    bad = run("--footprint", "--from", "yesterday")
    assert bad.exit_code == 2
    assert "Invalid value for '--from': --from 'yesterday' is not a timestamp; use ISO 8601" in (
        bad.output
    )
    assert run("--footprint", "-f", "7x").exit_code == 2
    alone = run("--from", "2024-03-08 14:00")
    assert alone.exit_code == 2 and "Error: --from needs --footprint" in alone.output
    both = run("1", "--footprint")
    assert both.exit_code == 2
    assert "Error: give --footprint, or a RUN_ID, --sweep or --walkforward" in both.output
    backwards = run("--footprint", "--from", "2024-03-08 15:00", "--to", "2024-03-08 14:00")
    assert backwards.exit_code == 1
    assert backwards.output == (
        "Error: --from 2024-03-08 15:00:00 must be before --to 2024-03-08 14:00:00; give a "
        "window of bar starts\n"
    )
    unknown = run("--footprint", "--symbol", "NQH4")
    assert unknown.exit_code == 1
    assert unknown.output == (
        "Error: --symbol 'NQH4' has no bars in bars_5min (a footprint is per contract); "
        "choose one of: ESH4\n"
    )
    empty = run("--footprint", "--from", "2024-03-08 16:00")
    assert empty.exit_code == 1
    assert empty.output == (
        "Error: no ESH4 5min bars start from 2024-03-08 16:00:00 to 2024-03-08 17:00:00; its "
        "bars run from 2024-03-07 15:00:00 to 2024-03-08 15:30:00 UTC\n"
    )
    unbuilt = run("--footprint", "-f", "15min")
    assert unbuilt.output == (
        "Error: bars_15min is not built; run `vcdwh build --frequency 15min` first\n"
    )
    assert not out.exists()
    ok = run("--footprint", "--symbol", "ESH4")
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith(f"wrote {out} (") and ok.output.endswith(
        "ESH4 5min footprint, 2 of 2 bar(s) from 2024-03-08 14:00:00, session 2024-03-08\n"
    )


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)"
)
def test_footprint_report_renders_in_headless_chromium_without_console_errors(
    tape_warehouse, tmp_path
):
    out = tmp_path / "fp.html"
    write_footprint_report(tape_warehouse, out)
    dom = chromium(out, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_errors(dom.stderr) == []
    # Both figures drawn: the footprint's heatmap with its cell text, the candles and the bars.
    assert dom.stdout.count('class="plot-container plotly"') == 2
    assert "3 x 40" in dom.stdout and "heatmaplayer" in dom.stdout
    assert 'class="trace bars"' in dom.stdout and "candlestick" in dom.stdout
    shot = tmp_path / "fp.png"
    picture = chromium(out, tmp_path, f"--screenshot={shot}", "--window-size=1400,1800")
    assert picture.returncode == 0, picture.stderr[-2000:]
    assert shot.stat().st_size > 20_000


def test_footprint_report_takes_a_window_with_an_offset_as_utc(tape_warehouse, tmp_path):
    chicago = timezone(timedelta(hours=-6))
    written = write_footprint_report(
        tape_warehouse,
        tmp_path / "fp.html",
        start=datetime(2024, 3, 8, 8, 5, tzinfo=chicago),
        end=datetime(2024, 3, 8, 8, 15, tzinfo=chicago),
    )
    assert written.summary == (
        "ESH4 5min footprint, 1 of 1 bar(s) from 2024-03-08 14:10:00, session 2024-03-08"
    )
