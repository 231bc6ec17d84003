{#- The first two CTEs of int_bar_grain and int_level_grain: the flow's trades (a piece of a
    session's with session_bounds; int_trade_flow inlined for that piece with one_session), each
    with its grain, the start of the {{ grain_ns }}-ns bucket of its
    session that holds its ts_recv. -#}
with trade_flow as (
{% if one_session %}
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
        session_start_ns
            + ((ts_ns - session_start_ns) // {{ grain_ns }}) * {{ grain_ns }} as grain_ns
    from trade_flow
),
