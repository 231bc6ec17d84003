-- backtest_walkforwards: one row per `vcdwh walkforward`: its grid, folds and summary. Its runs are
-- the backtest_runs rows with the same walkforward_id (per fold an in_sample and an
-- out_of_sample run).
create table if not exists backtest_walkforwards (
    walkforward_id varchar primary key,
    created_at timestamp not null,
    symbol varchar not null,
    signal varchar not null,
    grid varchar not null,
    train_sessions integer not null,
    test_sessions integer not null,
    anchored boolean not null,
    metric varchar not null,
    folds integer not null,
    combinations integer not null,
    efficiency double,
    parameter_changes integer not null,
    out_of_sample_net_pnl double not null
)
