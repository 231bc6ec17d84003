{% from 'macros/grain_flow.sql' import dated, side_is %}
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
-- From int_event_flow (its trades numbered in trade order, trade_no): the same quantities come
-- from the session's running delta after each trade (session_running) less its value before the
-- grain's first trade, by plain aggregates: no list of a grain's trades is built and folded. The
-- flow keeps neither side nor session_date: the sign of signed_size is the side (sizes are
-- positive), and a grain's session_date comes from its session's start (dated).
{% endif %}
{% include 'macros/grain_bucketed.sql' %}

aggregated as (
    select
        instrument_id,
        symbol,
        grain_ns,
{% if numbered %}
        null::date as session_date,
{% else %}
        any_value(session_date) as session_date,
{% endif %}
        any_value(session_start_ns) as session_start_ns,
{% set listed = analytics and not numbered %}
{% if listed %}
        -- the first and last price of the grain's trades in order (trades, below)
        null::decimal(18, 9) as open,
        max(price) as high,
        min(price) as low,
        null::decimal(18, 9) as close,
{% else %}
{% set trade_order = 'trade_no' if numbered else '(ts_ns, sequence, position)' %}
        arg_min(price, {{ trade_order }}) as open,
        max(price) as high,
        min(price) as low,
        arg_max(price, {{ trade_order }}) as close,
{% endif %}
        sum(size)::bigint as volume,
        coalesce(sum(size) filter (where {{ side_is('B', numbered) }}), 0)::bigint as buy_volume,
        coalesce(sum(size) filter (where {{ side_is('A', numbered) }}), 0)::bigint as sell_volume,
        coalesce(sum(size) filter (where {{ side_is('N', numbered) }}), 0)::bigint as unknown_volume,
{% if numbered %}
        {
            'running': sum(signed_size)::bigint,
            'high': max(session_running) - arg_min(session_running - signed_size, trade_no),
            'low': min(session_running) - arg_min(session_running - signed_size, trade_no),
            -- the first trade at the highest price: the greatest (price, -trade_no)
            'at_top': arg_max(session_running, (price, -trade_no))
                - arg_min(session_running - signed_size, trade_no),
            'at_bottom': arg_min(session_running, (price, trade_no))
                - arg_min(session_running - signed_size, trade_no)
        } as path,
{% elif analytics %}
        -- the grain's trades in trade order, walked below
        list({'price': price, 'signed': signed_size} order by ts_ns, sequence, position)
            as trades_in_order,
{% else %}
        {{ delta_path('list(signed_size order by ts_ns, sequence, position)') }} as path,
{% endif %}
{% if large_lot %}
        coalesce(sum(size) filter (where {{ side_is('B', numbered) }} and event_size >= $min_size{% if has_max_size %} and event_size <= $max_size{% endif %}), 0)::bigint
            as large_buy_volume,
        coalesce(sum(size) filter (where {{ side_is('A', numbered) }} and event_size >= $min_size{% if has_max_size %} and event_size <= $max_size{% endif %}), 0)::bigint
            as large_sell_volume,
{% endif %}
{% if analytics %}
        count(*) filter (where {{ side_is('B', numbered) }})::bigint as buy_trades,
        count(*) filter (where {{ side_is('A', numbered) }})::bigint as sell_trades,
{% endif %}
{% if event %}
        min(ts_ns) as first_ns,
        max(ts_ns) as last_ns,
{% endif %}
        count(*)::bigint as trades
    from bucketed
    group by instrument_id, symbol, grain_ns
),

{% if listed %}
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
{% if numbered %}
dated as (
    {{ dated('aggregated') }}
),

{% endif %}
final as (
    select
        * exclude (path),
        path.high as run_high,
        path.low as run_low
{% if analytics %}
        ,
        -- the grain's delta after the trade that first printed its high / low
        path.running - path.at_top as since_high,
        path.running - path.at_bottom as since_low
{% endif %}
    from {{ 'dated' if numbered else 'aggregated' }}
)
{% endif %}

select * from final
