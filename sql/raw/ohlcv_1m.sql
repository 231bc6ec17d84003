-- ohlcv_1m: Databento's own 1-minute bars, one row per instrument, bar start and rtype.
create table if not exists ohlcv_1m (
    ts_event timestamp_ns not null,
    rtype utinyint not null,
    publisher_id usmallint,
    instrument_id uinteger not null,
    open decimal(18, 9) not null,
    high decimal(18, 9) not null,
    low decimal(18, 9) not null,
    close decimal(18, 9) not null,
    volume bigint not null,
    symbol varchar not null,
    file_id integer not null
)
