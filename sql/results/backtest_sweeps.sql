-- backtest_sweeps: one row per `vcdwh sweep`: the grid it ran. Its runs are the backtest_runs rows
-- with the same sweep_id (one per combination, or two with --split: in_sample and out_of_sample).
create table if not exists backtest_sweeps (
    sweep_id varchar primary key,
    created_at timestamp not null,
    symbol varchar,
    thresholds double[] not null,
    frequencies varchar[] not null,
    resets varchar[] not null,
    side varchar not null,
    contracts integer,
    split double,
    by_metric varchar not null,
    runs integer not null
)
;
-- Added with SQL signals: the signal every run of the sweep used and the lists of its
-- parameters the grid crossed (JSON).
alter table backtest_sweeps add column if not exists signal varchar;
alter table backtest_sweeps add column if not exists signal_params varchar;
