-- sessions: the CME Globex session calendar over the loaded data. A session opens at
-- 17:00 America/Chicago (DST-correct) on the evening before its trade date (session_date,
-- Monday to Friday) and lasts until the next session opens.
with bounds as (
    select min(lo) as lo, max(hi) as hi
    from (
        select min(ts_recv) as lo, max(ts_recv) as hi from trades
        union all
        select min(ts_event) as lo, max(ts_event) as hi from ohlcv_1m
    )
),

days as (
    select unnest(generate_series(lo::date - 3, hi::date + 3, interval 1 day))::date as session_date
    from bounds
    where lo is not null
),

trading_days as (
    select session_date
    from days
    where isodow(session_date) <= 5
),

opened as (
    select
        session_date,
        timezone(
            'UTC',
            timezone('America/Chicago', (session_date - 1)::timestamp + interval 17 hour)
        )::timestamp_ns as session_start
    from trading_days
),

final as (
    select
        session_date,
        session_start,
        lead(session_start) over (order by session_start) as next_session_start
    from opened
)

select * from final
