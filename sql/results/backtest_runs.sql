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
