-- int_event_trades: the trades of int_event_flow, each with the number of its tick, volume or
-- range bar in its instrument's session (bar_index, from 1). Tick bars ({{ kind }} = t) are every
-- {{ size }} trade records in trade order. Volume and range bars depend on where the previous bar
-- ended: the build's sequential pass (vcdwh/marts/eventbars.py) reads a session's flow in trade
-- order and appends each trade's bar number to it (event_flow_numbered).
{% if kind == 't' %}
with final as (
    select *, (trade_no - 1) // {{ size }} + 1 as bar_index
    from int_event_flow
)
{% else %}
with final as (
    select * from event_flow_numbered
)
{% endif %}

select * from final
