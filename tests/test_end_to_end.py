"""The README's main job: `vcdwh sample && vcdwh build && vcdwh backtest`, offline."""

from __future__ import annotations

from click.testing import CliRunner

from vcdwh.cli import cli


def test_sample_build_backtest_from_the_readme(settings, query):
    runner = CliRunner()
    base = ["--data-dir", str(settings.data_dir)]
    sample = runner.invoke(cli, [*base, "sample", "--trades-per-day", "4000"])
    assert sample.exit_code == 0, sample.output
    assert "ESH4, ESM4, ESH4-ESM4" in sample.output
    build = runner.invoke(cli, [*base, "build"])
    assert build.exit_code == 0, build.output
    assert "2 file(s) loaded" in build.output
    backtest = runner.invoke(cli, [*base, "backtest"])
    assert backtest.exit_code == 0, backtest.output
    assert "PERFORMANCE METRICS" in backtest.output
    assert backtest.output.startswith("run 1: ESH4 (most volume; choose with --symbol)")
    # The synthetic bars reconcile with the synthetic Databento ohlcv-1m bars, minute for minute.
    assert query(
        """
        select count(*) filter (where (b.open, b.high, b.low, b.close, b.volume)
                                       <> (o.open, o.high, o.low, o.close, o.volume)),
               count(*), (select count(*) from ohlcv_1m)
        from bars_1min b join ohlcv_1m o
          on o.instrument_id = b.instrument_id and o.ts_event = b.bar_start
        """
    ) == [
        (
            0,
            query("select count(*) from bars_1min")[0][0],
            query("select count(*) from bars_1min")[0][0],
        )
    ]
    # Sessions: the synthetic week holds five trade dates, Monday to Friday.
    assert query("select count(distinct session_date) from bars_1min where symbol = 'ESH4'") == [
        (5,)
    ]
    # Each instrument's cumulative delta ends at its total delta.
    assert query(
        "select count(*) from (select symbol, sum(delta) d, max_by(cumulative_delta, bar_start) c"
        " from bars_5min group by symbol) where d <> c"
    ) == [(0,)]
