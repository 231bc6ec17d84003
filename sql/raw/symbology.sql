-- symbology: which symbol each instrument_id carried, and when (from files that name symbols).
create table if not exists symbology (
    instrument_id uinteger not null,
    symbol varchar not null,
    first_ts timestamp_ns not null,
    last_ts timestamp_ns not null
)
