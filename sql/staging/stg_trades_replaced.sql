-- stg_trades_replaced: the held trades a corrected file replaces (`vcdwh build --replace`): the
-- trades of earlier files ($file_id) on the file's instruments inside the file's time range.
-- The build deletes them, so the file's records take their place.
with staged as (
    select * from stg_trades
),

bounds as (
    select min(ts_recv) as lo, max(ts_recv) as hi from staged
),

final as (
    select trades.file_id, trades.position
    from trades, bounds
    where trades.file_id < $file_id
      and trades.instrument_id in (select instrument_id from staged)
      and trades.ts_recv between bounds.lo and bounds.hi
)

select * from final
