-- int_event_flow: the trades of one session of the build (in an incremental build, of the
-- affected instruments from the session their new trades start), or with whole_history of every
-- session at once, each with its session's start and its signed size, whose sign is its
-- effective side (int_trade_flow: a session at a time with one_session, else placed by the as-of
-- join), numbered in trade order within its instrument's session (trade_no from 1), with the
-- session's running delta after it (session_running): what the tick, volume and range bars are
-- cut from, and the time grains of the same build aggregated from. Its rows are in no particular
-- order (ordering them would cost a sort): the sequential pass of volume and range bars places
-- each instrument's by trade_no.
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
{% if one_session %}
        -- one session's trades: its date is the same for all (a key that costs time to sort by)
        partition by instrument_id, symbol
{% else %}
        partition by instrument_id, symbol, session_date
{% endif %}
        order by ts_ns, sequence, position
        rows between unbounded preceding and current row
    )
)

select * from final
