-- stg_ohlcv_1m_missing: how many of the bars loaded from earlier versions of this file's path
-- ($earlier: their file_ids) the file (stg_ohlcv_1m) no longer holds as they were (absent, or
-- another open, high, low, close or volume), with the first of them and its value now (null when
-- the file lacks the minute). A re-download that only adds bars misses none.
with staged as (
    select * from stg_ohlcv_1m
),

earlier as (
    select *
    from ohlcv_1m
    where list_contains($earlier, file_id)
),

missing as (
    select *
    from earlier
    anti join staged using (instrument_id, ts_event, rtype, open, high, low, close, volume)
),

first_missing as (
    select
        missing.instrument_id,
        missing.ts_event,
        missing.open,
        missing.high,
        missing.low,
        missing.close,
        missing.volume,
        staged.open as now_open,
        staged.high as now_high,
        staged.low as now_low,
        staged.close as now_close,
        staged.volume as now_volume,
        staged.position is not null as still_there
    from missing
    left join staged using (instrument_id, ts_event, rtype)
    order by missing.ts_event, missing.instrument_id, missing.rtype, staged.position
    limit 1
),

counts as (
    select
        (select count(*) from earlier) as held,
        (select count(*) from missing) as missing
),

final as (
    select counts.held, counts.missing, first_missing.*
    from counts
    left join first_missing on true
)

select * from final
