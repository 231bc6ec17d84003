-- int_event_trades: the trades of int_event_flow, each with the number of its tick, volume or
-- range bar in its instrument's session (bar_index, from 1). Tick bars ({{ kind }} = t) are every
-- {{ size }} trade records in trade order; volume and range bars start at the trade numbers the
-- build's sequential pass wrote to event_bar_starts (vcdwh/marts/eventbars.py).
with flow as (
    select * from int_event_flow
),

{% if kind == 't' %}
final as (
    select *, (trade_no - 1) // {{ size }} + 1 as bar_index
    from flow
)
{% else %}
starts as (
    select * from event_bar_starts
),

final as (
    select flow.*, starts.bar_index
    from flow
    asof join starts
        on flow.instrument_id = starts.instrument_id
        and flow.symbol = starts.symbol
        and flow.session_date = starts.session_date
        and flow.trade_no >= starts.start_no
)
{% endif %}

select * from final
