-- report_busiest_hour: the clock hour (UTC) with the most volume in one instrument's latest
-- session ($instrument_id, $symbol) of {{ bars }}; a bar counts in the hour it starts in, and a
-- tie goes to the earlier hour.
with bars as (
    select * from {{ bars }}
    where instrument_id = $instrument_id and symbol = $symbol
),

latest as (
    select * from bars
    where session_date = (select max(session_date) from bars)
),

hours as (
    select
        date_trunc('hour', bar_start)::timestamp as hour_start,
        any_value(session_date) as session_date,
        sum(volume) as volume
    from latest
    group by 1
),

final as (
    select
        hour_start,
        hour_start + interval 1 hour as hour_end,
        session_date,
        volume
    from hours
    order by volume desc, hour_start
    limit 1
)

select * from final
