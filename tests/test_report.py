"""``vcdwh report``: the data in the HTML, and the page rendering in headless Chromium."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import ESH4_DERIVED
from tests.test_futures import crafted
from vcdwh.backtest.params import BacktestParams
from vcdwh.backtest.run import run_backtest
from vcdwh.backtest.sweep import SweepSpec, run_sweep
from vcdwh.backtest.text import METRIC_LABELS, TRADE_LABELS, format_money, metric_rows
from vcdwh.cli import cli
from vcdwh.report import write_report

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def plotly_figure(page: str) -> tuple[list[dict], dict]:
    """The traces and layout passed to Plotly.newPlot in the page."""
    start = page.index("Plotly.newPlot(")
    decoder = json.JSONDecoder()
    rest = page[start + len("Plotly.newPlot(") :]
    _, used = decoder.raw_decode(rest.lstrip())
    rest = rest.lstrip()[used:].lstrip().lstrip(",").lstrip()
    traces, used = decoder.raw_decode(rest)
    rest = rest[used:].lstrip().lstrip(",").lstrip()
    layout, _ = decoder.raw_decode(rest)
    return traces, layout


def values(array):
    """A trace array: a plain JSON list, or plotly's typed-array encoding."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(
            base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"])
        ).tolist()
    return array


@pytest.fixture(name="crafted_run")
def fixture_crafted_run(build, settings):
    # cum delta 600 B, 700 B, -800 S, -900 S, 1100 B, 1200 B, 1250: long, short, long.
    closes = [
        (600, 5000.0),
        (100, 5002.0),
        (-1500, 4998.0),
        (-100, 4995.0),
        (2000, 4990.0),
        (100, 4992.0),
        (50, 4996.0),
    ]
    crafted(settings.data_dir, "ESH4", closes)
    build()
    return run_backtest(
        settings, BacktestParams(threshold=500, contracts=1, side="both", slippage_ticks=1)
    )


@pytest.fixture(name="esh4_run")
def fixture_esh4_run(shared, build, settings):
    build([shared / "derived" / f"{ESH4_DERIVED}.dbn.zst"])
    return run_backtest(
        settings, BacktestParams(threshold=100, contracts=1, side="both", slippage_ticks=1)
    )


def test_report_of_a_run_holds_the_bars_trades_and_panels(crafted_run, settings, query, tmp_path):
    out = tmp_path / "report.html"
    written = write_report(settings, out)
    page = out.read_text()
    assert written.summary == f"run {crafted_run.run_id}, 7 bars, 3 trade(s)"
    # Self-contained: plotly.js is inline; no external script or stylesheet.
    assert not re.search(r"<script[^>]+src=", page) and "<link" not in page
    assert "plotly.js v" in page or "plotly.js" in page
    traces, _ = plotly_figure(page)
    assert [(t["type"], t["name"]) for t in traces] == [
        ("candlestick", "price"),
        ("scatter", "entries"),
        ("scatter", "exits"),
        ("candlestick", "cumulative delta"),
        ("scatter", "equity"),
        ("scatter", "drawdown"),
    ]
    price = traces[0]
    first, last = query(
        "select (min_by(open, bar_start)::double, min(bar_start)::varchar),"
        " (max_by(close, bar_start)::double, max(bar_start)::varchar) from bars_1min"
    )[0]
    assert (values(price["open"])[0], price["x"][0]) == (first[0], first[1])
    assert (values(price["close"])[-1], price["x"][-1]) == (last[0], last[1])
    assert len(price["x"]) == 7
    trades = query(
        "select entry_time::varchar, entry_price, exit_time::varchar, exit_price,"
        " direction from backtest_trades order by trade_no"
    )
    assert [t[4] for t in trades] == ["long", "short", "long"]
    entries, exits = traces[1], traces[2]
    assert list(zip(entries["x"], values(entries["y"]), strict=True)) == [
        (t[0], t[1]) for t in trades
    ]
    assert list(zip(exits["x"], values(exits["y"]), strict=True)) == [(t[2], t[3]) for t in trades]
    assert values(entries["marker"]["symbol"]) == [
        "triangle-up" if t[4] == "long" else "triangle-down" for t in trades
    ]
    equity = query("select equity from backtest_equity order by bar_start")
    assert values(traces[4]["y"]) == pytest.approx([e for (e,) in equity])
    assert min(values(traces[5]["y"])) <= 0 and max(values(traces[5]["y"])) == 0
    # The trade table lists every trade; the metrics table the stored metrics.
    table = page[page.index('<table id="trades">') :]
    assert table.count("<tr>") == len(trades) + 1
    assert '<table id="metrics">' in page and "<td>Net P&amp;L</td>" not in page
    assert '<td class="text">Net P&amp;L</td>' in page and ">net_pnl<" not in page


def test_report_labels_and_formats_metrics_and_trades_as_the_cli_does(
    crafted_run, settings, query, tmp_path
):
    from vcdwh.backtest.text import format_run

    out = tmp_path / "report.html"
    write_report(settings, out)
    page = out.read_text()
    metrics = page[page.index('<table id="metrics">') : page.index("</table>")]
    # Every stored metric under its CLI label with the CLI's text; no raw key anywhere.
    stored = crafted_run.metrics
    for label, text in metric_rows(stored):
        assert f'<td class="text">{html.escape(label)}</td><td>{html.escape(text)}</td>' in metrics
    for key in METRIC_LABELS:
        assert f">{key}<" not in page
    printed = format_run(crafted_run, False)
    duration = next(line for line in printed.splitlines() if line.startswith("Avg Trade Duration"))
    assert duration.split(":", 1)[1].strip() == "0h 01m"
    assert '<td class="text">Avg Trade Duration</td><td>0h 01m</td>' in metrics
    assert '<td class="text">Average Loss</td><td>-$' in metrics
    # Trades: labelled columns, times to the second, money as the metrics print it.
    trades = page[page.index('<table id="trades">') :]
    for label in ("Entry Time", "Exit Time", "Net P&amp;L", "Exit Reason"):
        assert f"<th>{label}</th>" in trades
    for key in TRADE_LABELS:
        assert f">{key}<" not in trades
    for entry, pnl in query(
        "select strftime(entry_time, '%Y-%m-%d %H:%M:%S'), pnl from backtest_trades"
    ):
        assert f"<td>{entry}</td>" in trades
        assert f"<td>{html.escape(format_money(pnl))}</td>" in trades


def test_report_keeps_the_threshold_lines_in_view_on_a_delta_far_from_them(
    build, settings, tmp_path
):
    # Cumulative delta 12,000 → 15,000, all above the threshold: the -500 line is far off it.
    crafted(
        settings.data_dir,
        "ESH4",
        [(12_000, 5000.0), (1_000, 5001.0), (2_000, 5002.0), (-1_000, 5001.0), (500, 5003.0)],
    )
    build()
    run_backtest(settings, BacktestParams(threshold=500, contracts=1))
    out = tmp_path / "far.html"
    write_report(settings, out)
    _, layout = plotly_figure(out.read_text())
    lines = [s for s in layout["shapes"] if s["type"] == "line"]
    assert sorted((s["y0"], s["y1"], s["yref"]) for s in lines) == [
        (-500, -500, "y2"),
        (500, 500, "y2"),
    ]
    assert all(s["xref"] == "x2 domain" and (s["x0"], s["x1"]) == (0, 1) for s in lines)
    low, high = layout["yaxis2"]["range"]
    assert low < -500 and high > 15_000
    assert {"+500", "-500"} <= {a["text"] for a in layout["annotations"]}


def test_report_draws_the_bars_delta_candles(esh4_run, settings, query, tmp_path):
    out = tmp_path / "candles.html"
    write_report(settings, out, run_id=esh4_run.run_id)
    traces, _ = plotly_figure(out.read_text())
    delta = traces[3]
    assert (delta["type"], delta["name"]) == ("candlestick", "cumulative delta")
    candles = query(
        "select delta_open, delta_high, delta_low, delta_close from bars_1min order by bar_start"
    )
    assert list(
        zip(
            values(delta["open"]),
            values(delta["high"]),
            values(delta["low"]),
            values(delta["close"]),
            strict=True,
        )
    ) == [tuple(c) for c in candles]
    assert values(delta["close"])[-1] == 796  # cumulative delta at 23:59 (README golden)


def test_report_of_a_sweep_draws_one_heatmap_per_reset_and_segment(esh4_run, settings, tmp_path):
    result = run_sweep(
        settings,
        SweepSpec(
            (100.0, 300.0, 500.0), ("1min", "5min"), ("none", "session"), split=0.7, by="net_pnl"
        ),
    )
    out = tmp_path / "sweep.html"
    written = write_report(settings, out, sweep_id=result.sweep_id, by="sharpe")
    assert written.summary == f"sweep {result.sweep_id}, 24 run(s), heatmap of sharpe"
    # Without a run id the report shows the latest run outside sweeps, not a sweep's last segment.
    plain = write_report(settings, tmp_path / "plain.html")
    assert plain.summary.startswith(f"run {esh4_run.run_id}, ")
    page = out.read_text()
    traces, _ = plotly_figure(page)
    assert [t["type"] for t in traces] == ["heatmap"] * 4
    assert [t["name"] for t in traces] == [
        "in_sample none",
        "in_sample session",
        "out_of_sample none",
        "out_of_sample session",
    ]
    assert traces[0]["x"] == ["100", "300", "500"] and traces[0]["y"] == ["1min", "5min"]
    assert page[page.index('<table id="runs">') :].count("<tr>") == 25
    # Labelled columns; the annualised ratios' n/a explained once under the table.
    runs = page[page.index('<table id="runs">') :]
    assert "<th>Sharpe Ratio</th>" in runs and "<th>Net P&amp;L</th>" in runs
    assert ">sharpe<" not in runs and ">net_pnl<" not in runs
    assert '<p class="note">n/a: sharpe, sortino and calmar are annualised' in runs


def test_report_cli_errors_name_the_fix(esh4_run, settings, tmp_path):
    runner = CliRunner()
    base = ["--data-dir", str(settings.data_dir), "report", "--out", str(tmp_path / "x.html")]
    missing = runner.invoke(cli, [*base, "99"])
    assert missing.output == "Error: run 99 is not in backtest_runs; choose a run id up to 1\n"
    sweep = runner.invoke(cli, [*base, "--sweep", "sweep-9"])
    assert sweep.output == (
        "Error: sweep 'sweep-9' is not in backtest_sweeps; run `vcdwh sweep` first\n"
    )
    both = runner.invoke(cli, [*base, "1", "--sweep", "sweep-1"])
    assert both.output == "Error: give a RUN_ID or --sweep SWEEP_ID, not both\n"
    assert not (tmp_path / "x.html").exists()
    ok = runner.invoke(cli, [*base, "1"])
    assert ok.exit_code == 0 and ok.output.startswith(f"wrote {tmp_path / 'x.html'} (")


def chromium(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=15000",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def console_errors(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if "CONSOLE" in line and ("rror" in line or "Uncaught" in line)
    ]


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)"
)
def test_report_renders_in_headless_chromium_without_console_errors(esh4_run, settings, tmp_path):
    out = tmp_path / "report.html"
    write_report(settings, out)
    dom = chromium(out, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    # plotly draws each subplot grid into .main-svg elements; 6 traces in 4 panels.
    assert dom.stdout.count('class="main-svg"') >= 2
    assert dom.stdout.count('class="trace candlestick"') + dom.stdout.count("candlestick") >= 1
    assert console_errors(dom.stderr) == []
    shot = tmp_path / "report.png"
    picture = chromium(out, tmp_path, f"--screenshot={shot}", "--window-size=1400,1800")
    assert picture.returncode == 0, picture.stderr[-2000:]
    assert shot.stat().st_size > 20_000
    # The check above can fail: a page with a console error is caught.
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>console.error('boom'); nope();</script></body></html>")
    assert console_errors(chromium(broken, tmp_path, "--dump-dom").stderr) != []


MEASURE = """<script>
window.addEventListener("load", () => {
  const table = document.getElementById("%s");
  document.body.dataset.measure = JSON.stringify({
    window: window.innerWidth,
    page: document.documentElement.scrollWidth,
    right: table.getBoundingClientRect().right,
    box: table.parentElement.clientWidth,
    table: table.offsetWidth,
  });
});
</script>"""


def measured(page: Path, table_id: str, tmp_path: Path) -> dict:
    """Widths in a 1,400 x 900 window: the window, the page, the table and its box."""
    probe = page.with_name(f"measure-{page.name}")
    probe.write_text(page.read_text().replace("</body>", MEASURE % table_id + "</body>"))
    dom = chromium(probe, tmp_path, "--dump-dom", "--window-size=1400,900")
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'data-measure="([^"]*)"', dom.stdout)
    assert found, dom.stdout[-2000:]
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)"
)
def test_report_trades_table_fits_a_1400_px_window(build, settings, tmp_path):
    # Both sides, slippage and large moves: every trade column holds a wide value.
    crafted(
        settings.data_dir,
        "ESH4",
        [
            (600, 5000.0),
            (-1500, 5210.25),
            (2000, 4790.75),
            (-2500, 5230.5),
            (2600, 4650.25),
            (100, 4655.0),
        ],
    )
    build()
    run_backtest(
        settings, BacktestParams(threshold=500, contracts=25, side="both", slippage_ticks=2)
    )
    out = tmp_path / "report.html"
    write_report(settings, out)
    widths = measured(out, "trades", tmp_path)
    assert widths["window"] == 1400
    assert widths["page"] <= widths["window"], widths
    assert widths["table"] <= widths["box"] and widths["right"] <= widths["window"], widths
    # The check can fail: a table wider than the window is caught.
    wide = tmp_path / "wide.html"
    cells = "".join(f"<td>{'9' * 40}</td>" for _ in range(17))
    wide.write_text(
        f'<html><body><div><table id="trades"><tr>{cells}</tr></table></div></body></html>'
    )
    too_wide = measured(wide, "trades", tmp_path)
    assert too_wide["page"] > 1400
