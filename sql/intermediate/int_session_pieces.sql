-- int_session_pieces: the sessions a build aggregates, each with the end of its trades: the next
-- session's start, or just after the last trade for the last session. Only sessions that end
-- after the first trade to aggregate (the affected start of an incremental build, else the first
-- trade) are listed, in time order; the build cuts each into pieces of whole grains.
with sessions as (
    select * from sessions
),

last_trade as (
    select max(ts_recv) as ts_recv from trades
),

first_trade as (
    {% if partial %}
    select min(from_start) as ts_recv from affected
    {% else %}
    select min(ts_recv) as ts_recv from trades
    {% endif %}
),

bounded as (
    select
        sessions.session_start,
        coalesce(sessions.next_session_start, last_trade.ts_recv + interval 1 second)
            as session_end,
        sessions.session_date,
        epoch_ns(sessions.session_start) as session_start_ns
    from sessions, last_trade
    where sessions.session_start <= last_trade.ts_recv
),

final as (
    select session_start, session_end, session_date, session_start_ns
    from bounded
    where session_end > (select ts_recv from first_trade)
)

select * from final
order by session_start
