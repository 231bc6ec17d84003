{% from 'macros/grain_flow.sql' import dated, large_lot_volume, side_is %}
-- int_level_grain: volume per instrument, grain ({{ grain_ns }} ns, as int_bar_grain) and exact
-- price level, by aggressor side: bid_volume (sell aggressor, side A), ask_volume (buy
-- aggressor, side B), unknown_volume (side N left unclassified). Every footprint_<interval> is
-- rolled up from these rows.
{% set numbered = (event is defined and event) or (from_flow is defined and from_flow) %}
{% if numbered %}
-- From int_event_flow, which keeps neither side nor session_date: the sign of signed_size is the
-- side (sizes are positive), and a grain's session_date comes from its session's start (final).
-- Each row also carries what int_bar_grain rolls its trade-order quantities up from: the first
-- and last trade_no at the price in the grain, the session's running delta after the first of
-- them (running_at_first) and its signed size, the extremes of the running delta after each of
-- them, the buy and sell records{% if large_lot %}, and the large-lot buy and sell volume{% endif %}.
{% endif %}
{% include 'macros/grain_bucketed.sql' %}

levels as (
    select
        instrument_id,
        symbol,
        grain_ns,
        price,
{% if numbered %}
        null::date as session_date,
{% else %}
        any_value(session_date) as session_date,
{% endif %}
        any_value(session_start_ns) as session_start_ns,
        sum(size)::bigint as volume,
        coalesce(sum(size) filter (where {{ side_is('A', numbered) }}), 0)::bigint as bid_volume,
        coalesce(sum(size) filter (where {{ side_is('B', numbered) }}), 0)::bigint as ask_volume,
        coalesce(sum(size) filter (where {{ side_is('N', numbered) }}), 0)::bigint as unknown_volume,
{% if numbered %}
        min(trade_no) as first_no,
        max(trade_no) as last_no,
        arg_min(session_running, trade_no) as running_at_first,
        arg_min(signed_size, trade_no) as first_signed,
        max(session_running) as running_high,
        min(session_running) as running_low,
        count(*) filter (where {{ side_is('B', true) }})::bigint as buy_trades,
        count(*) filter (where {{ side_is('A', true) }})::bigint as sell_trades,
{% if large_lot %}
        {{ large_lot_volume('B', true, has_max_size) }} as large_buy_volume,
        {{ large_lot_volume('A', true, has_max_size) }} as large_sell_volume,
{% endif %}
{% endif %}
{% if event is defined and event %}
        min(ts_ns) as first_ns,
        max(ts_ns) as last_ns,
{% endif %}
        count(*)::bigint as trades
    from bucketed
    group by instrument_id, symbol, grain_ns, price
),

final as (
{% if numbered %}
    {{ dated('levels') }}
{% else %}
    select * from levels
{% endif %}
)

select * from final
