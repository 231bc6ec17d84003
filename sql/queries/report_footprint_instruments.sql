-- report_footprint_instruments: the instruments of {{ bars }} a footprint report can draw, with
-- their latest session, its volume and the span of their bars; the default is the first row (the
-- outright with the most volume in the latest session loaded).
with bars as (
    select * from {{ bars }}
),

per_session as (
    select symbol, instrument_id, session_date, sum(volume) as volume
    from bars
    group by symbol, instrument_id, session_date
),

latest as (
    select max(session_date) as session_date from bars
),

spans as (
    select
        symbol,
        instrument_id,
        max(session_date) as last_session,
        min(bar_start) as first_bar,
        max(bar_start) as last_bar
    from bars
    group by symbol, instrument_id
),

final as (
    select
        spans.symbol,
        spans.instrument_id,
        spans.last_session,
        spans.first_bar,
        spans.last_bar,
        coalesce(per_session.volume, 0) as latest_volume,
        contains(spans.symbol, '-') as is_spread
    from spans
    cross join latest
    left join per_session
        on per_session.symbol = spans.symbol
        and per_session.instrument_id = spans.instrument_id
        and per_session.session_date = latest.session_date
)

select * from final
order by is_spread, latest_volume desc, last_session desc, symbol, instrument_id
