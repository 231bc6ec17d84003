-- sessions: the CME Globex session calendar over the loaded data. A session opens at
-- 17:00 America/Chicago (DST-correct) on the evening before its trade date (session_date,
-- Monday to Friday) and lasts until the next session opens. `holiday` and `early_close` come from
-- the exchange calendars in `calendar` (written by the build from pandas_market_calendars): a
-- holiday is a weekday none of them trades, an early close a day one of them closes early.
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

calendar as (
    select * from calendar
),

calendar_days as (
    select
        session_date,
        bool_or(early_close) as early_close
    from calendar
    group by session_date
),

calendar_known as (
    select count(*) > 0 as known
    from calendar
),

final as (
    select
        opened.session_date,
        opened.session_start,
        lead(opened.session_start) over (order by opened.session_start) as next_session_start,
        calendar_known.known and calendar_days.session_date is null as holiday,
        coalesce(calendar_days.early_close, false) as early_close
    from opened
    cross join calendar_known
    left join calendar_days using (session_date)
)

select * from final
