-- backtest_summary: one row per backtest run for dashboards, its parameters next to its
-- metrics. Stable column names; plain SQL that DuckDB 1.x readers parse.
with runs as (
    select * from backtest_runs
),

metrics as (
    select * from backtest_metrics
),

final as (
    select
        runs.run_id,
        runs.created_at,
        runs.sweep_id,
        runs.symbol,
        runs.mode,
        runs.side,
        runs.frequency,
        runs.reset,
        runs.threshold,
        runs.position_size,
        runs.contracts,
        runs.data_start,
        runs.data_end,
        runs.bar_count,
        metrics.initial_capital,
        metrics.final_capital,
        metrics.net_pnl,
        metrics.total_return_pct,
        metrics.buy_hold_return_pct,
        metrics.total_trades,
        metrics.win_rate_pct,
        metrics.profit_factor,
        metrics.max_drawdown_pct,
        metrics.sharpe,
        metrics.expectancy,
        metrics.exposure_pct
    from runs
    inner join metrics on metrics.run_id = runs.run_id
)

select * from final
