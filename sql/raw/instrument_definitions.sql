-- instrument_definitions: Databento definition records (schema definition, rtype 19), one row per
-- record loaded. They override the root defaults in `instruments` for the contract they name:
-- tick_size = min_price_increment, multiplier = unit_of_measure_qty (dollars per point).
create table if not exists instrument_definitions (
    ts_recv timestamp_ns not null,
    instrument_id uinteger not null,
    symbol varchar not null,
    root varchar not null,
    instrument_class varchar,
    tick_size decimal(18, 9) not null,
    multiplier decimal(18, 9) not null,
    currency varchar,
    exchange varchar,
    expiration timestamp_ns,
    file_id integer not null
)
