-- backtest_metrics: one row per run: the seed's metrics and the risk figures after them.
-- profit_factor is +inf with no losing trade and NULL with no trades. Signs: losses, drawdowns
-- and adverse excursions are <= 0; costs paid are >= 0. sharpe, sortino and calmar are NULL
-- below 20 sessions (vcdwh.backtest.stats.MIN_SESSIONS) or when undefined.
create table if not exists backtest_metrics (
    run_id integer primary key,
    initial_capital double not null,
    final_capital double not null,
    total_return_pct double not null,
    total_trades integer not null,
    winning_trades integer not null,
    losing_trades integer not null,
    win_rate_pct double not null,
    avg_win double not null,
    avg_loss double not null,
    profit_factor double,
    max_drawdown double not null,
    max_drawdown_pct double not null,
    sharpe double,
    expectancy double not null,
    exposure_pct double not null,
    avg_bars_held double not null,
    largest_win double not null,
    largest_loss double not null,
    buy_hold_return_pct double not null
)
;
-- Added with futures mode (NULL where undefined: tick figures in seed mode, ratios without data).
-- Durations in seconds; max_drawdown_duration_* is the longest time under a previous equity peak.
alter table backtest_metrics add column if not exists net_pnl double;
alter table backtest_metrics add column if not exists gross_pnl double;
alter table backtest_metrics add column if not exists commissions_paid double;
alter table backtest_metrics add column if not exists slippage_paid double;
alter table backtest_metrics add column if not exists net_pnl_ticks double;
alter table backtest_metrics add column if not exists avg_win_ticks double;
alter table backtest_metrics add column if not exists avg_loss_ticks double;
alter table backtest_metrics add column if not exists expectancy_ticks double;
alter table backtest_metrics add column if not exists max_drawdown_duration_bars bigint;
alter table backtest_metrics add column if not exists max_drawdown_duration_s double;
alter table backtest_metrics add column if not exists sortino double;
alter table backtest_metrics add column if not exists calmar double;
alter table backtest_metrics add column if not exists sqn double;
alter table backtest_metrics add column if not exists avg_trade_duration_s double;
alter table backtest_metrics add column if not exists avg_mae double;
alter table backtest_metrics add column if not exists avg_mfe double;
alter table backtest_metrics add column if not exists worst_mae double;
alter table backtest_metrics add column if not exists best_mfe double;
-- Added with ruin: true when the equity reached 0 and the run stopped trading there.
alter table backtest_metrics add column if not exists ruined boolean;
alter table backtest_metrics add column if not exists ruin_time timestamp_ns;
-- Added with one rule for the annualised ratios: the session returns they were taken on.
alter table backtest_metrics add column if not exists sessions integer;
-- Runs stored before it (sessions NULL) held avg_loss and avg_loss_ticks as positive magnitudes:
-- give them the sign every loss carries now.
update backtest_metrics
set
    avg_loss = -abs(avg_loss),
    avg_loss_ticks = -abs(avg_loss_ticks)
where sessions is null and (avg_loss > 0 or avg_loss_ticks > 0)
;
