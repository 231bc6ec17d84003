-- int_event_flow: every trade of the build (in an incremental build, of the affected
-- instruments from the session their new trades start) with its session, effective side and
-- signed size (int_trade_flow: a session at a time with one_session, else placed by the as-of
-- join), numbered in trade order within its
-- instrument's session (trade_no from 1), with its price in nano units: what the tick, volume
-- and range bars are cut from.
with flow as (
{% filter indent(4, first=True) %}
{% include 'intermediate/int_trade_flow.sql' %}
{% endfilter %}
),

final as (
    select
        *,
        row_number() over (
            partition by instrument_id, symbol, session_date
            order by ts_ns, sequence, position
        ) as trade_no,
        (price::decimal(38, 9) * 1000000000)::bigint as price_nanos
    from flow
)

select * from final
