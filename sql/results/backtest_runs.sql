-- backtest_runs: one row per backtest run with every parameter and the data it ran on.
create table if not exists backtest_runs (
    run_id integer primary key,
    created_at timestamp not null,
    vcdwh_version varchar not null,
    symbol varchar not null,
    instrument_id uinteger not null,
    frequency varchar not null,
    bars_relation varchar not null,
    reset varchar not null,
    threshold double not null,
    position_size double not null,
    initial_capital double not null,
    data_start timestamp_ns,
    data_end timestamp_ns,
    bar_count bigint not null,
    sweep_id varchar
)
;
-- Added with futures mode and sweeps (kept as ALTERs so warehouses built before keep working):
-- mode 'seed' (fractional notional, long only) or 'futures' (whole contracts); the futures
-- parameters; the contract spec used and where it came from (the `source` of its `instruments`
-- row, 'vcdwh' when seeded, or 'definition' for a Databento definition record); segment 'in_sample'/'out_of_sample' for runs of a sweep with --split.
alter table backtest_runs add column if not exists mode varchar;
alter table backtest_runs add column if not exists side varchar;
alter table backtest_runs add column if not exists contracts integer;
alter table backtest_runs add column if not exists commission double;
alter table backtest_runs add column if not exists slippage_ticks double;
alter table backtest_runs add column if not exists flat_at_session_end boolean;
alter table backtest_runs add column if not exists tick_size double;
alter table backtest_runs add column if not exists multiplier double;
alter table backtest_runs add column if not exists spec_source varchar;
alter table backtest_runs add column if not exists segment varchar;
-- Added with SQL signals, execution on the trade tape and walk-forward: how positions were sized
-- ('seed': a fraction of capital; 'contracts': whole contracts), the signal (a built-in's name or
-- the file's path), its SQL text and bound parameters (JSON), the entry fill ('close' or
-- 'next-open'), the exits resolved on the tape (ticks from the entry fill; NULL: none), the time
-- stop in bars, how a target fills ('through' or 'touch'), and the walk-forward and fold a run
-- belongs to.
alter table backtest_runs add column if not exists sizing varchar;
alter table backtest_runs add column if not exists signal varchar;
alter table backtest_runs add column if not exists signal_sql varchar;
alter table backtest_runs add column if not exists signal_params varchar;
alter table backtest_runs add column if not exists entry varchar;
alter table backtest_runs add column if not exists stop_ticks double;
alter table backtest_runs add column if not exists target_ticks double;
alter table backtest_runs add column if not exists trail_ticks double;
alter table backtest_runs add column if not exists max_bars integer;
alter table backtest_runs add column if not exists target_fill varchar;
alter table backtest_runs add column if not exists walkforward_id varchar;
alter table backtest_runs add column if not exists fold integer;
-- Added with the CME calendar: the bars that may open a position (--hours all|rth|eth) and
-- whether positions are closed at the last RTH bar of each session (--flat-at-session-end rth).
alter table backtest_runs add column if not exists hours varchar;
alter table backtest_runs add column if not exists flat_at_rth_end boolean;
