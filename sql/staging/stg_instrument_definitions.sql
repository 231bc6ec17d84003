-- stg_instrument_definitions: a DBN file's definition records ($file_id), typed: Databento's
-- fixed-point tick size and multiplier (units of 1e-9) become exact decimals, nanosecond
-- integers become timestamps. Records the warehouse already holds (same receive time,
-- instrument, symbol, tick size and multiplier) are left out, so loading them again adds nothing.
with records as (
    select * from definition_records
),

held as (
    select * from instrument_definitions
),

typed as (
    select
        make_timestamp_ns(ts_recv) as ts_recv,
        instrument_id::uinteger as instrument_id,
        symbol,
        root,
        instrument_class,
        (tick_units::decimal(38, 0) / 1000000000)::decimal(18, 9) as tick_size,
        (multiplier_units::decimal(38, 0) / 1000000000)::decimal(18, 9) as multiplier,
        currency,
        exchange,
        make_timestamp_ns(expiration::bigint) as expiration,
        $file_id as file_id
    from records
),

final as (
    select typed.*
    from typed
    anti join held using (ts_recv, instrument_id, symbol, tick_size, multiplier)
)

select * from final
