-- backtest_equity: the equity of a run at every bar's close (mark-to-market).
create table if not exists backtest_equity (
    run_id integer not null,
    bar_start timestamp_ns not null,
    equity double not null,
    in_position boolean not null
)
