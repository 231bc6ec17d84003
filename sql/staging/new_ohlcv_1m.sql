-- new_ohlcv_1m: staged Databento bars the warehouse does not hold yet
-- (identity: instrument_id, bar start, rtype).
with staged as (
    select * from stg_ohlcv_1m
),

known_symbols as (
    select
        instrument_id,
        arg_max(symbol, last_ts) as symbol
    from symbology
    group by instrument_id
),

resolved as (
    select
        staged.* exclude (position),
        coalesce(
            staged.symbol,
            $file_symbol,
            known_symbols.symbol,
            staged.instrument_id::varchar
        ) as resolved_symbol
    from staged
    left join known_symbols using (instrument_id)
),

final as (
    select
        resolved.ts_event,
        resolved.rtype,
        resolved.publisher_id,
        resolved.instrument_id,
        resolved.open,
        resolved.high,
        resolved.low,
        resolved.close,
        resolved.volume,
        resolved.resolved_symbol as symbol,
        $file_id as file_id
    from resolved
    anti join ohlcv_1m using (instrument_id, ts_event, rtype)
)

select * from final
