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
;
-- Futures mode: entry/exit_price are fills (close ± slippage); pnl is net of commission and
-- slippage; gross_pnl is at the bar closes; pnl_ticks is net P&L per contract in ticks; mae/mfe
-- are the worst/best excursion from the entry fill while open (bar high/low), in dollars (mae ≤ 0,
-- mfe ≥ 0) and ticks. Seed runs fill gross_pnl = pnl, commission = slippage = 0, the rest NULL.
alter table backtest_trades add column if not exists contract varchar;
alter table backtest_trades add column if not exists gross_pnl double;
alter table backtest_trades add column if not exists commission double;
alter table backtest_trades add column if not exists slippage double;
alter table backtest_trades add column if not exists pnl_ticks double;
alter table backtest_trades add column if not exists mae double;
alter table backtest_trades add column if not exists mfe double;
alter table backtest_trades add column if not exists mae_ticks double;
alter table backtest_trades add column if not exists mfe_ticks double;
