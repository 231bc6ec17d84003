{% from 'macros/grain_flow.sql' import large_lot_volume %}
-- int_bar_grain: the finest bars of a build, per instrument and grain ({{ grain_ns }} ns: the
-- greatest common divisor of the intervals built), bucketed on ts_recv and anchored at the
-- session open. Every bars_<interval> is rolled up from these rows, because a bar of any built
-- interval is a whole number of consecutive grains of one session. Open/close follow trade
-- order; run_high/run_low are the extremes of the grain's own running delta (starting from 0)
-- after each of its trades, and the delta after the trade that first printed the grain's high /
-- low (since_high, since_low): the quantities that need the trades in order, one pass over the
-- grain's trades in trade order.
{% if session_bounds %}
-- Built a piece of a session at a time ($from_ts <= ts_recv < $to_ts, whole grains of about a
-- million trades), so a build sorts a bounded number of trades at once.
{% endif %}
{#- The running delta of a grain's signed sizes in trade order, and its extremes: one step per
    trade. -#}
{% macro delta_path(signed_sizes) -%}
list_reduce(
            {{ signed_sizes }},
            lambda path, step: {
                'running': path.running + step,
                'high': greatest(path.high, path.running + step),
                'low': least(path.low, path.running + step)
            },
            {'running': 0::bigint, 'high': null::bigint, 'low': null::bigint}
        )
{%- endmacro %}
{% set event = event is defined and event %}
{% set numbered = event or (from_flow is defined and from_flow) %}
{% if event %}
-- Tick, volume and range bars (`event`): the grain is the bar.
{% endif %}
{% if numbered %}
-- From int_event_flow (its trades numbered in trade order, trade_no), by way of int_level_grain,
-- which holds per grain and price what these quantities need: its first and last trade_no, the
-- session's running delta (session_running) after its first trade and that trade's signed size,
-- the extremes of session_running. A grain rolls those cells up, with nothing to sort: open and
-- close at its first and last trade_no; run_high/run_low the extremes less the running delta
-- before its first trade; the first trade at its high / low is the first of that price's cell.
with cells as (
    select * from int_level_grain
),

aggregated as (
    select
        instrument_id,
        symbol,
        grain_ns,
        any_value(session_date) as session_date,
        any_value(session_start_ns) as session_start_ns,
        arg_min(price, first_no) as open,
        max(price) as high,
        min(price) as low,
        arg_max(price, last_no) as close,
        sum(volume)::bigint as volume,
        sum(ask_volume)::bigint as buy_volume,
        sum(bid_volume)::bigint as sell_volume,
        sum(unknown_volume)::bigint as unknown_volume,
        -- the session's running delta before the grain's first trade
        arg_min(running_at_first - first_signed, first_no) as running_before,
        max(running_high) as running_high,
        min(running_low) as running_low,
        -- after the first trade at the highest / lowest price (one cell per price)
        arg_max(running_at_first, price) as running_at_top,
        arg_min(running_at_first, price) as running_at_bottom,
{% if large_lot %}
        sum(large_buy_volume)::bigint as large_buy_volume,
        sum(large_sell_volume)::bigint as large_sell_volume,
{% endif %}
        sum(buy_trades)::bigint as buy_trades,
        sum(sell_trades)::bigint as sell_trades,
{% if event %}
        min(first_ns) as first_ns,
        max(last_ns) as last_ns,
{% endif %}
        sum(trades)::bigint as trades
    from cells
    group by instrument_id, symbol, grain_ns
),

final as (
    select
        * exclude (
            running_before, running_high, running_low, running_at_top, running_at_bottom
        ),
        running_high - running_before as run_high,
        running_low - running_before as run_low,
        -- the grain's delta after the trade that first printed its high / low
        buy_volume - sell_volume - (running_at_top - running_before) as since_high,
        buy_volume - sell_volume - (running_at_bottom - running_before) as since_low
    from aggregated
)
{% else %}
{% include 'macros/grain_bucketed.sql' %}

aggregated as (
    select
        instrument_id,
        symbol,
        grain_ns,
        any_value(session_date) as session_date,
        any_value(session_start_ns) as session_start_ns,
{% if analytics %}
        -- the first and last price of the grain's trades in order (trades, below)
        null::decimal(18, 9) as open,
        max(price) as high,
        min(price) as low,
        null::decimal(18, 9) as close,
{% else %}
        arg_min(price, (ts_ns, sequence, position)) as open,
        max(price) as high,
        min(price) as low,
        arg_max(price, (ts_ns, sequence, position)) as close,
{% endif %}
        sum(size)::bigint as volume,
        coalesce(sum(size) filter (where side = 'B'), 0)::bigint as buy_volume,
        coalesce(sum(size) filter (where side = 'A'), 0)::bigint as sell_volume,
        coalesce(sum(size) filter (where side = 'N'), 0)::bigint as unknown_volume,
{% if analytics %}
        -- the grain's trades in trade order, walked below
        list({'price': price, 'signed': signed_size} order by ts_ns, sequence, position)
            as trades_in_order,
{% else %}
        {{ delta_path('list(signed_size order by ts_ns, sequence, position)') }} as path,
{% endif %}
{% if large_lot %}
        {{ large_lot_volume('B', false, has_max_size) }} as large_buy_volume,
        {{ large_lot_volume('A', false, has_max_size) }} as large_sell_volume,
{% endif %}
{% if analytics %}
        count(*) filter (where side = 'B')::bigint as buy_trades,
        count(*) filter (where side = 'A')::bigint as sell_trades,
{% endif %}
        count(*)::bigint as trades
    from bucketed
    group by instrument_id, symbol, grain_ns
),

{% if analytics %}
walked as (
    select
        * exclude (trades_in_order)
            replace (trades_in_order[1].price as open, trades_in_order[-1].price as close),
        list_transform(trades_in_order, lambda trade: trade.signed) as signed,
        list_transform(trades_in_order, lambda trade: trade.price) as prices
    from aggregated
),

pathed as (
    select
        * exclude (signed, prices),
        -- the running delta and its extremes, one step per trade
        {{ delta_path('signed') }} as path,
        -- the running delta just after the trade that first printed the high / low
        list_sum(list_slice(signed, 1, list_position(prices, high)))::bigint as at_top,
        list_sum(list_slice(signed, 1, list_position(prices, low)))::bigint as at_bottom
    from walked
),

final as (
    select
        * exclude (path, at_top, at_bottom),
        path.high as run_high,
        path.low as run_low,
        -- the grain's delta after the trade that first printed its high / low
        path.running - at_top as since_high,
        path.running - at_bottom as since_low
    from pathed
)
{% else %}
final as (
    select
        * exclude (path),
        path.high as run_high,
        path.low as run_low
    from aggregated
)
{% endif %}
{% endif %}

select * from final
