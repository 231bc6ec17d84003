-- backtest_trades: one row per round trip of a run.
create table if not exists backtest_trades (
    run_id integer not null,
    trade_no integer not null,
    direction varchar not null,
    entry_time timestamp_ns not null,
    entry_price double not null,
    exit_time timestamp_ns not null,
    exit_price double not null,
    quantity double not null,
    pnl double not null,
    return_pct double not null,
    bars_held integer not null,
    exit_reason varchar not null
)
