-- trades: every trade record loaded, one row per trade (identical rows are separate fills).
-- grain: the record's fields plus `occurrence` (its 1-based index among identical records),
-- so overlapping files add each trade once and never drop a repeated fill.
create table if not exists trades (
    ts_recv timestamp_ns not null,
    ts_event timestamp_ns not null,
    rtype utinyint,
    publisher_id usmallint,
    instrument_id uinteger not null,
    action varchar,
    side varchar not null,
    depth utinyint,
    price decimal(18, 9) not null,
    size bigint not null,
    flags utinyint,
    ts_in_delta integer,
    sequence ubigint not null,
    symbol varchar not null,
    occurrence uinteger not null,
    file_id integer not null,
    position bigint not null
)
