-- report_sweep_runs: every run of a sweep ($id) with the metrics its heatmaps show and the metric
-- it is ranked by ({{ metric }}), in run order.
with runs as (
    select * from backtest_runs
),

metrics as (
    select * from backtest_metrics
),

final as (
    select
        runs.run_id,
        runs.frequency,
        runs.reset,
        runs.threshold,
        coalesce(runs.segment, 'all') as segment,
        metrics.total_trades,
        metrics.net_pnl,
        metrics.win_rate_pct,
        metrics.profit_factor,
        metrics.sharpe,
        metrics.max_drawdown,
        metrics.sessions,
        metrics.{{ metric }} as metric_value
    from runs
    join metrics using (run_id)
    where runs.sweep_id = $id
)

select * from final
order by run_id
