-- instruments: contract specification per futures root, seeded from vcdwh/instruments.py on every
-- build and backtest (rows you edit are kept). tick_size in price points, multiplier in dollars
-- per point per contract, commission_per_side the default all-in cost per contract per side in
-- futures mode. Databento definition records in instrument_definitions override tick size and
-- multiplier for the contracts they describe.
create table if not exists instruments (
    root varchar primary key,
    tick_size decimal(18, 9) not null,
    multiplier decimal(18, 9) not null,
    commission_per_side double not null,
    exchange varchar not null,
    source varchar not null
)
