-- int_event_trades: the trades of int_event_flow, each with the number of its tick, volume or
-- range bar in its instrument's session (bar_index, from 1). Tick bars ({{ kind }} = t) are every
-- {{ size }} trade records in trade order; the numbers of volume and range bars come from the
-- build's sequential pass (event_bar_numbers, one row per trade in the flow's order, paired by
-- position; vcdwh/marts/eventbars.py).
{% if kind == 't' %}
with final as (
    select *, (trade_no - 1) // {{ size }} + 1 as bar_index
    from int_event_flow
)
{% else %}
with numbers as (
    select * from event_bar_numbers
),

final as (
    select int_event_flow.*, numbers.bar_index
    from int_event_flow
    positional join numbers
)
{% endif %}

select * from final
