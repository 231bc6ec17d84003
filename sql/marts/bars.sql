-- bars_<interval>: order-flow bars per instrument, bucketed on ts_recv as Databento's own OHLCV
-- bars are, anchored at the session open. Open/close follow trade order (ts_recv, sequence,
-- position in file). Side B is buy volume, A sell volume, N neither (unknown_volume, not in
-- delta; with --unknown-side tick-rule only what the tick test left unclassified).
-- cumulative_delta runs over all loaded data of the instrument; session_cumulative_delta
-- restarts at every CME Globex session open (17:00 America/Chicago).
-- Delta candles: the running cumulative delta trade by trade inside the bar. delta_open is the
-- value before the bar's first trade (the previous bar's close), delta_close after its last,
-- delta_high/low the extremes including the open; max_delta/min_delta are the extremes of the
-- bar's own running delta (starting from 0) after each of its trades. session_delta_* are the
-- same candles on session_cumulative_delta.
-- In an incremental build ($partial) the flow holds only the affected instruments from the
-- session their new trades start, and the running sums continue from the offsets before it.
with trade_flow as (
    select * from int_trade_flow
),

bucketed as (
    select
        *,
        session_start_ns
            + ((ts_ns - session_start_ns) // {{ interval_ns }}) * {{ interval_ns }} as bar_ns
    from trade_flow
),

aggregated as (
    select
        instrument_id,
        symbol,
        bar_ns,
        any_value(session_date) as session_date,
        arg_min(price, trade_order) as open,
        max(price) as high,
        min(price) as low,
        arg_max(price, trade_order) as close,
        sum(size)::bigint as volume,
        coalesce(sum(size) filter (where side = 'B'), 0)::bigint as buy_volume,
        coalesce(sum(size) filter (where side = 'A'), 0)::bigint as sell_volume,
        coalesce(sum(size) filter (where side = 'N'), 0)::bigint as unknown_volume,
        arg_min(run_delta - signed_size, trade_order) as delta_open,
        max(run_delta) as run_high,
        min(run_delta) as run_low,
        arg_max(run_delta, trade_order) as delta_close,
{% if large_lot %}
        coalesce(sum(size) filter (where side = 'B' and event_size >= $min_size{% if has_max_size %} and event_size <= $max_size{% endif %}), 0)::bigint
            as large_buy_volume,
        coalesce(sum(size) filter (where side = 'A' and event_size >= $min_size{% if has_max_size %} and event_size <= $max_size{% endif %}), 0)::bigint
            as large_sell_volume,
{% endif %}
{% if partial %}
        any_value(delta_offset) as delta_offset,
{% if large_lot %}
        any_value(large_offset) as large_offset,
{% endif %}
{% endif %}
        count(*)::bigint as trades
    from bucketed
    group by instrument_id, symbol, bar_ns
),

cumulated as (
    select
        *,
        buy_volume - sell_volume as delta,
        sum(buy_volume - sell_volume) over (
            partition by instrument_id, symbol
            order by bar_ns
            rows between unbounded preceding and current row
        )::bigint{% if partial %} + delta_offset{% endif %} as cumulative_delta,
        sum(buy_volume - sell_volume) over (
            partition by instrument_id, symbol, session_date
            order by bar_ns
            rows between unbounded preceding and current row
        )::bigint as session_cumulative_delta
{% if large_lot %}
        ,
        sum(large_buy_volume - large_sell_volume) over (
            partition by instrument_id, symbol
            order by bar_ns
            rows between unbounded preceding and current row
        )::bigint{% if partial %} + large_offset{% endif %} as large_cumulative_delta
{% endif %}
    from aggregated
),

final as (
    select
        make_timestamp_ns(bar_ns) as bar_start,
        symbol,
        instrument_id,
        session_date,
        open,
        high,
        low,
        close,
        volume,
        buy_volume,
        sell_volume,
        unknown_volume,
        delta,
        cumulative_delta,
        session_cumulative_delta,
        trades,
        delta_open,
        greatest(delta_open, run_high) as delta_high,
        least(delta_open, run_low) as delta_low,
        delta_close,
        -- the session candles are the same path shifted by the delta before the session opened
        delta_open - (cumulative_delta - session_cumulative_delta) as session_delta_open,
        greatest(delta_open, run_high) - (cumulative_delta - session_cumulative_delta)
            as session_delta_high,
        least(delta_open, run_low) - (cumulative_delta - session_cumulative_delta)
            as session_delta_low,
        delta_close - (cumulative_delta - session_cumulative_delta) as session_delta_close,
        run_high - delta_open as max_delta,
        run_low - delta_open as min_delta,
        delta / volume as delta_pct
{% if large_lot %}
        ,
        large_buy_volume,
        large_sell_volume,
        large_buy_volume - large_sell_volume as large_delta,
        large_cumulative_delta
{% endif %}
    from cumulated
)

select * from final
order by instrument_id, symbol, bar_start
