-- backtest_walkforward_folds: one row per fold of a walk-forward: its training and test sessions,
-- the combination chosen on the training sessions and its two runs.
create table if not exists backtest_walkforward_folds (
    walkforward_id varchar not null,
    fold integer not null,
    train_start date not null,
    train_end date not null,
    test_start date not null,
    test_end date not null,
    chosen_params varchar not null,
    in_sample_run_id integer not null,
    out_of_sample_run_id integer not null,
    in_sample_metric double,
    out_of_sample_metric double,
    note varchar
)
