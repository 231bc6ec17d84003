-- stg_ohlcv_1m_conflicts: the staged bars whose minute (instrument_id, ts_event, rtype) the
-- warehouse holds with another open, high, low, close or volume: each with its position, both
-- versions, the held bar's file and the first field that differs. Equal bars are simply held;
-- differing ones are never dropped or merged silently (`--replace` makes the file's win).
with staged as (
    select * from stg_ohlcv_1m
),

differing as (
    select
        staged.position,
        staged.instrument_id,
        staged.ts_event,
        staged.rtype,
        case
            when staged.open <> held.open then 'open'
            when staged.high <> held.high then 'high'
            when staged.low <> held.low then 'low'
            when staged.close <> held.close then 'close'
            else 'volume'
        end as field,
        staged.open,
        staged.high,
        staged.low,
        staged.close,
        staged.volume,
        held.open as held_open,
        held.high as held_high,
        held.low as held_low,
        held.close as held_close,
        held.volume as held_volume,
        held.file_id as held_file_id
    from staged
    inner join ohlcv_1m as held using (instrument_id, ts_event, rtype)
    where staged.open <> held.open
       or staged.high <> held.high
       or staged.low <> held.low
       or staged.close <> held.close
       or staged.volume <> held.volume
),

final as (
    select * from differing
    order by position
)

select * from final
