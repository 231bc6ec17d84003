-- session_hours: per futures root of rth_hours and CME session of `sessions`, the root's exchange
-- calendar for that trade date (holiday, early close, the Globex open and close) and its regular
-- trading hours (RTH) in UTC. rth_start/rth_end are the root's Chicago local RTH on session_date
-- converted to UTC for that date (DST-correct); an early close before rth_end ends the RTH then,
-- and a holiday, or an early close before rth_start, has no RTH (NULL).
with sessions as (
    select * from sessions
),

rth_hours as (
    select * from rth_hours
),

calendar as (
    select * from calendar
),

grid as (
    select
        rth_hours.root,
        rth_hours.calendar,
        sessions.session_date,
        timezone(
            'UTC', timezone('America/Chicago', sessions.session_date + rth_hours.rth_start)
        )::timestamp_ns as local_rth_start,
        timezone(
            'UTC', timezone('America/Chicago', sessions.session_date + rth_hours.rth_end)
        )::timestamp_ns as local_rth_end
    from rth_hours
    cross join sessions
),

located as (
    select
        grid.*,
        calendar.session_date is null as holiday,
        coalesce(calendar.early_close, false) as early_close,
        calendar.market_open as session_open,
        calendar.market_close as session_close,
        -- least() skips NULLs: a holiday (no calendar row) must leave no RTH
        case
            when calendar.session_date is not null
                then least(grid.local_rth_end, calendar.market_close)
        end as capped_rth_end
    from grid
    left join calendar
      on calendar.calendar = grid.calendar
     and calendar.session_date = grid.session_date
),

final as (
    select
        root,
        calendar,
        session_date,
        holiday,
        early_close,
        session_open,
        session_close,
        case when capped_rth_end > local_rth_start then local_rth_start end as rth_start,
        case when capped_rth_end > local_rth_start then capped_rth_end end as rth_end
    from located
)

select * from final
order by root, session_date
