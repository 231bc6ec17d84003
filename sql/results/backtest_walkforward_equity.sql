-- backtest_walkforward_equity: the stitched out-of-sample equity of a walk-forward at every bar's
-- close of its test sessions: each fold's test run's P&L chained from the initial capital.
create table if not exists backtest_walkforward_equity (
    walkforward_id varchar not null,
    bar_start timestamp_ns not null,
    equity double not null
)
