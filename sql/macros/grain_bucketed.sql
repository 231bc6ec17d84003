{#- The first two CTEs of int_bar_grain and int_level_grain: the flow's trades (a piece of a
    session's with session_bounds; int_trade_flow inlined for that piece with one_session; with
    from_flow, the trades of int_event_flow, numbered in trade order, which a build with tick,
    volume or range bars writes anyway), each with its grain, the start of the {{ grain_ns }}-ns
    bucket of its session that holds its ts_recv. -#}
with trade_flow as (
{% if event is defined and event %}
    select * from int_event_trades
{% elif from_flow is defined and from_flow %}
    select * from int_event_flow
{% elif one_session %}
{% filter indent(4, first=True) %}
{% include 'intermediate/int_trade_flow.sql' %}
{% endfilter %}
{% else %}
    select * from int_trade_flow
{% if session_bounds %}
    where ts_recv >= $from_ts and ts_recv < $to_ts
{% endif %}
{% endif %}
),

bucketed as (
    select
        *,
{% if event is defined and event %}
        -- tick, volume and range bars: the grain is the bar (its number after the session open)
        session_start_ns + bar_index as grain_ns
{% else %}
        session_start_ns
            + ((ts_ns - session_start_ns) // {{ grain_ns }}) * {{ grain_ns }} as grain_ns
{% endif %}
    from trade_flow
),
