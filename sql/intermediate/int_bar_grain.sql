-- int_bar_grain: the finest bars of a build, per instrument and grain ({{ grain_ns }} ns: the
-- greatest common divisor of the intervals built), bucketed on ts_recv and anchored at the
-- session open. Every bars_<interval> is rolled up from these rows, because a bar of any built
-- interval is a whole number of consecutive grains of one session. Open/close follow trade
-- order; run_high/run_low are the extremes of the grain's own running delta (starting from 0)
-- after each of its trades, the one quantity that needs the trades in order. It is one pass
-- over the grain's signed sizes in trade order, folded into (running, high, low).
{% if session_bounds %}
-- Built a piece of a session at a time ($from_ts <= ts_recv < $to_ts, whole grains of about a
-- million trades), so a build sorts a bounded number of trades at once.
{% endif %}
{% include 'macros/grain_bucketed.sql' %}

aggregated as (
    select
        instrument_id,
        symbol,
        grain_ns,
        any_value(session_date) as session_date,
        any_value(session_start_ns) as session_start_ns,
        arg_min(price, (ts_ns, sequence, position)) as open,
        max(price) as high,
        min(price) as low,
        arg_max(price, (ts_ns, sequence, position)) as close,
        sum(size)::bigint as volume,
        coalesce(sum(size) filter (where side = 'B'), 0)::bigint as buy_volume,
        coalesce(sum(size) filter (where side = 'A'), 0)::bigint as sell_volume,
        coalesce(sum(size) filter (where side = 'N'), 0)::bigint as unknown_volume,
        list_reduce(
            list(signed_size order by ts_ns, sequence, position),
            lambda path, step: {
                'running': path.running + step,
                'high': greatest(path.high, path.running + step),
                'low': least(path.low, path.running + step)
            },
            {'running': 0::bigint, 'high': null::bigint, 'low': null::bigint}
        ) as path,
{% if large_lot %}
        coalesce(sum(size) filter (where side = 'B' and event_size >= $min_size{% if has_max_size %} and event_size <= $max_size{% endif %}), 0)::bigint
            as large_buy_volume,
        coalesce(sum(size) filter (where side = 'A' and event_size >= $min_size{% if has_max_size %} and event_size <= $max_size{% endif %}), 0)::bigint
            as large_sell_volume,
{% endif %}
        count(*) filter (where side = 'B')::bigint as buy_trades,
        count(*) filter (where side = 'A')::bigint as sell_trades,
        -- the delta after the trade that first printed the grain's high / low (so far, trade
        -- by trade: a new high restarts it at 0)
        list_reduce(
            list({'price': price, 'signed': signed_size} order by ts_ns, sequence, position),
            lambda extremes, trade: {
                'high': greatest(extremes.high, trade.price),
                'since_high': case
                    when extremes.high is null or trade.price > extremes.high then 0
                    else extremes.since_high + trade.signed
                end,
                'low': least(extremes.low, trade.price),
                'since_low': case
                    when extremes.low is null or trade.price < extremes.low then 0
                    else extremes.since_low + trade.signed
                end
            },
            {
                'high': null::decimal(18, 9),
                'since_high': 0::bigint,
                'low': null::decimal(18, 9),
                'since_low': 0::bigint
            }
        ) as extremes,
        -- for the session VWAP and its deviation (exact decimals)
        sum(size * price) as price_volume,
        sum(size * price * price) as price2_volume,
        count(*)::bigint as trades
    from bucketed
    group by instrument_id, symbol, grain_ns
),

final as (
    select
        * exclude (path, extremes),
        path.high as run_high,
        path.low as run_low,
        extremes.since_high as since_high,
        extremes.since_low as since_low
    from aggregated
)

select * from final
