-- int_event_flow: the trades of one session of the build (in an incremental build, of the
-- affected instruments from the session their new trades start), or with whole_history of every
-- session at once, each with its session's start and its signed size, whose sign is its
-- effective side (int_trade_flow: a session at a time with one_session, else placed by the as-of
-- join), numbered in trade order within its instrument's session (trade_no from 1), with the
-- session's running delta after it (session_running): what the tick, volume and range bars are
-- cut from, and the time grains of the same build aggregated from. With volume or range bars
-- ($in_order) in that order (instrument, session, trade_no), which their sequential pass reads;
-- tick bars need no order (ordering costs a sort).
with flow as (
{% filter indent(4, first=True) %}
{% include 'intermediate/int_trade_flow.sql' %}
{% endfilter %}
),

final as (
    select
        -- trade_no stands for the trade order from here on; the sign of signed_size for the
        -- side, and session_start_ns for the session (its readers take its date from sessions)
        * exclude (ts_recv, sequence, position, side, session_date),
        row_number() over session_order as trade_no,
        sum(signed_size) over session_order::bigint as session_running
    from flow
    window session_order as (
        partition by instrument_id, symbol, session_date
        order by ts_ns, sequence, position
        rows between unbounded preceding and current row
    )
)

select * from final
{% if in_order %}
order by instrument_id, symbol, session_start_ns, trade_no
{% endif %}
