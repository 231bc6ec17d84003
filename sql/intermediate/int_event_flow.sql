-- int_event_flow: the trades of one session of the build (in an incremental build, of the
-- affected instruments from the session their new trades start), or with whole_history of every
-- session at once, each with its session's start and its signed size, whose sign is its
-- effective side (int_trade_flow: a session at a time with one_session, else placed by the as-of
-- join), and the columns that give trade order (ts_ns, sequence, position). Its rows come in no
-- promised order, and none is asked for: a session's trades read in stored order are usually in
-- trade order already, which the build checks before it numbers them (numbered_flow in
-- vcdwh/marts/eventbars.py appends trade_no, from 1 within the instrument's session, and the
-- session's running delta after each trade, session_running, a sort only when the check
-- fails). What the tick, volume and range bars are cut from, and the time grains of the same
-- build aggregated from.
with flow as (
{% filter indent(4, first=True) %}
{% include 'intermediate/int_trade_flow.sql' %}
{% endfilter %}
),

final as (
    select
        -- the sign of signed_size stands for the side from here on, and session_start_ns for
        -- the session (its readers take its date from sessions)
        * exclude (ts_recv, side, session_date)
    from flow
)

select * from final
