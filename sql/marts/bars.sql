{% from 'macros/root.sql' import root %}
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
-- is_rth: the bar starts within the regular trading hours of its root that session
-- (session_hours; a spread takes its first leg's root); rth_cumulative_delta and its candle
-- rth_delta_* restart at each RTH open and are NULL outside RTH.
-- Rolled up from int_bar_grain: a bar is the grains it covers, open/close from its first/last
-- grain, and its own running delta's extremes from each grain's extremes shifted by the delta
-- of the bar's grains before it.
-- Session VWAP and developing value area (CTEs `vwapped`, `developed`): session_vwap is
-- sum(price x size) / sum(size) over the session's trades up to the bar's end, session_vwap_sd
-- the volume-weighted standard deviation of those prices around it (sums of exact decimals,
-- shifted by the session's first price before the final division in double); session_poc,
-- session_vah and session_val are int_value_area_grain's at the bar's last grain.
-- Footprint columns (CTEs `imbalance_runs`, `developed`): buy_trades / sell_trades count records
-- of side B / A, avg_trade_size = volume / trades; delta_since_high / _low are the bar's delta
-- after the trade that first printed its high / low (that grain's own, plus the grains after
-- it); buy_imbalances / sell_imbalances count the bar's flagged levels in its footprint, and
-- stacked_* are the longest runs of adjacent flagged levels (one level_size apart).
-- The columns above come with `analytics` (every build; vcdwh spark-bars builds the rest).
-- Tick, volume and range bars (bars_<N>t, _<N>v, _<R>r; `event`): int_bar_grain holds one
-- grain per bar (interval 1 keeps it whole); bar_start / bar_end are the ts_recv of the bar's
-- first / last trade, bar_index its number in the session from 1, complete false on the
-- session's last bar; is_rth looks at bar_start; the developing value area is that of the
-- session's trades up to the bar's last trade (int_value_area_grain over the bars' grains).
-- In an incremental build ($partial) the grains hold only the affected instruments from the
-- session their new trades start, and the running sums continue from the offsets before it
-- (`affected`).
{% set event = event is defined and event %}
with grains as (
    select * from int_bar_grain
),

bucketed as (
    select
        *,
        session_start_ns
            + ((grain_ns - session_start_ns) // {{ interval_ns }}) * {{ interval_ns }} as bar_ns
    from grains
),

placed as (
    select
        *,
        max(high) over bar_grains as bar_high,
        min(low) over bar_grains as bar_low,
        coalesce(
            sum(buy_volume - sell_volume) over (
                partition by instrument_id, symbol, bar_ns
                order by grain_ns
                rows between 1 following and unbounded following
            ),
            0
        )::bigint as delta_after,
        coalesce(
            sum(buy_volume - sell_volume) over (
                partition by instrument_id, symbol, bar_ns
                order by grain_ns
                rows between unbounded preceding and 1 preceding
            ),
            0
        )::bigint as delta_before
    from bucketed
    window bar_grains as (partition by instrument_id, symbol, bar_ns)
),

aggregated as (
    select
        instrument_id,
        symbol,
        bar_ns,
        any_value(session_date) as session_date,
        arg_min(open, grain_ns) as open,
        max(high) as high,
        min(low) as low,
        arg_max(close, grain_ns) as close,
        sum(volume)::bigint as volume,
        sum(buy_volume)::bigint as buy_volume,
        sum(sell_volume)::bigint as sell_volume,
        sum(unknown_volume)::bigint as unknown_volume,
        max(delta_before + run_high)::bigint as max_delta,
        min(delta_before + run_low)::bigint as min_delta,
{% if large_lot %}
        sum(large_buy_volume)::bigint as large_buy_volume,
        sum(large_sell_volume)::bigint as large_sell_volume,
{% endif %}
        sum(trades)::bigint as trades,
{% if event %}
        min(first_ns) as first_ns,
        max(last_ns) as last_ns,
        any_value(session_start_ns) as session_start_ns,
{% endif %}
        max(grain_ns) as last_grain_ns
{% if analytics %}
        ,
        sum(buy_trades)::bigint as buy_trades,
        sum(sell_trades)::bigint as sell_trades,
        min_by(since_high + delta_after, grain_ns) filter (where high = bar_high)
            as delta_since_high,
        min_by(since_low + delta_after, grain_ns) filter (where low = bar_low)
            as delta_since_low
{% endif %}
    from placed
    group by instrument_id, symbol, bar_ns
),

{% if partial %}
offsets as (
    select instrument_id, symbol, delta_offset{% if large_lot %}, large_offset{% endif %}

    from affected
),

{% endif %}
cumulated as (
    select
        *,
        buy_volume - sell_volume as delta,
        sum(buy_volume - sell_volume) over (
            partition by instrument_id, symbol
            order by bar_ns
            rows between unbounded preceding and current row
        )::bigint{% if partial %} + coalesce(delta_offset, 0){% endif %} as cumulative_delta,
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
        )::bigint{% if partial %} + coalesce(large_offset, 0){% endif %} as large_cumulative_delta
{% endif %}
    from aggregated
{% if partial %}
    left join offsets using (instrument_id, symbol)
{% endif %}
),

candled as (
    select
        *,
        cumulative_delta - delta as delta_open,
        cumulative_delta - delta + greatest(0, max_delta) as delta_high,
        cumulative_delta - delta + least(0, min_delta) as delta_low,
        cumulative_delta as delta_close,
        -- the session candles are the same path shifted by the delta before the session opened
        cumulative_delta - session_cumulative_delta as session_offset
    from cumulated
),

session_hours as (
    select * from session_hours
),

-- regular trading hours: kept apart from the columns above
rth_flagged as (
    select
        candled.*,
        coalesce(
            candled.{{ 'first_ns' if event else 'bar_ns' }} >= epoch_ns(session_hours.rth_start)
            and candled.{{ 'first_ns' if event else 'bar_ns' }} < epoch_ns(session_hours.rth_end),
            false
        ) as is_rth
    from candled
    left join session_hours
      on session_hours.root = {{ root('candled.symbol') }}
     and session_hours.session_date = candled.session_date
),

rth_cumulated as (
    select
        *,
        case when is_rth then
            sum(delta) over (
                partition by instrument_id, symbol, session_date, is_rth
                order by bar_ns
                rows between unbounded preceding and current row
            )::bigint
        end as rth_cumulative_delta
    from rth_flagged
),

{% if analytics %}
level_moments as (
    -- sum(size x price) and sum(size x price^2) of each bar, from its price levels
    select
        instrument_id,
        symbol,
        session_start_ns
            + ((grain_ns - session_start_ns) // {{ interval_ns }}) * {{ interval_ns }} as bar_ns,
        sum(volume * price) as price_volume,
        sum(volume * price * price) as price2_volume
    from int_level_grain
    group by all
),

session_sums as (
    select
        *,
        first_value(open) over session_so_far as session_first_price,
        sum(volume) over session_so_far as s0,
        sum(price_volume) over session_so_far as s1,
        sum(price2_volume) over session_so_far as s2
    from rth_cumulated
    join level_moments using (instrument_id, symbol, bar_ns)
    window session_so_far as (
        partition by instrument_id, symbol, session_date
        order by bar_ns
        rows between unbounded preceding and current row
    )
),

vwapped as (
    select
        *,
        (s1 / s0)::double as session_vwap,
        -- moments about the session's first price r: m1 = sum(size (p - r)), m2 = sum(size (p - r)^2)
        (s1 - session_first_price * s0)::double as m1,
        (
            s2 - 2 * session_first_price * s1 + session_first_price * session_first_price * s0
        )::double as m2
    from session_sums
),

flagged_levels as (
    select footprint.instrument_id, footprint.symbol,
{% if event %}
        epoch_ns(sessions.session_start) + footprint.bar_index as bar_ns,
{% else %}
        epoch_ns(footprint.bar_start) as bar_ns,
{% endif %}
        footprint.price, footprint.level_size, footprint.buy_imbalance, footprint.sell_imbalance
    from {{ footprint }} as footprint
{% if event %}
    join sessions using (session_date)
{% endif %}
{% if partial %}
    join affected using (instrument_id, symbol)
    where footprint.bar_start >= affected.from_start
        and (footprint.buy_imbalance or footprint.sell_imbalance)
{% else %}
    where footprint.buy_imbalance or footprint.sell_imbalance
{% endif %}
),

islands as (
    -- a run of adjacent flagged levels: their index in level sizes minus their rank is constant
    select
        instrument_id,
        symbol,
        bar_ns,
        kind,
        coalesce(round(price / level_size), 0)::bigint - row_number() over (
            partition by instrument_id, symbol, bar_ns, kind order by price
        ) as island
    from flagged_levels
    cross join (select unnest(['buy', 'sell']) as kind) as kinds
    where (kind = 'buy' and buy_imbalance) or (kind = 'sell' and sell_imbalance)
),

imbalance_runs as (
    select
        instrument_id,
        symbol,
        bar_ns,
        sum(run_length) filter (where kind = 'buy')::bigint as buy_imbalances,
        sum(run_length) filter (where kind = 'sell')::bigint as sell_imbalances,
        max(run_length) filter (where kind = 'buy')::bigint as stacked_buy_imbalances,
        max(run_length) filter (where kind = 'sell')::bigint as stacked_sell_imbalances
    from (
        select instrument_id, symbol, bar_ns, kind, count(*) as run_length
        from islands
        group by instrument_id, symbol, bar_ns, kind, island
    )
    group by instrument_id, symbol, bar_ns
),

developed as (
    select
        vwapped.*,
        sqrt(greatest(m2 / s0 - (m1 / s0) * (m1 / s0), 0)) as session_vwap_sd,
        developing.poc as session_poc,
        developing.vah as session_vah,
        developing.val as session_val,
        coalesce(runs.buy_imbalances, 0) as buy_imbalances,
        coalesce(runs.sell_imbalances, 0) as sell_imbalances,
        coalesce(runs.stacked_buy_imbalances, 0) as stacked_buy_imbalances,
        coalesce(runs.stacked_sell_imbalances, 0) as stacked_sell_imbalances
    from vwapped
    left join int_value_area_grain as developing
        on developing.instrument_id = vwapped.instrument_id
        and developing.symbol = vwapped.symbol
        and developing.grain_ns = vwapped.last_grain_ns
    left join imbalance_runs as runs
        on runs.instrument_id = vwapped.instrument_id
        and runs.symbol = vwapped.symbol
        and runs.bar_ns = vwapped.bar_ns
),

{% endif %}
final as (
    select
        make_timestamp_ns({{ 'first_ns' if event else 'bar_ns' }}) as bar_start,
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
        delta_high,
        delta_low,
        delta_close,
        delta_open - session_offset as session_delta_open,
        delta_high - session_offset as session_delta_high,
        delta_low - session_offset as session_delta_low,
        delta_close - session_offset as session_delta_close,
        is_rth,
        rth_cumulative_delta,
        rth_cumulative_delta - delta as rth_delta_open,
        rth_cumulative_delta - delta + greatest(0, max_delta) as rth_delta_high,
        rth_cumulative_delta - delta + least(0, min_delta) as rth_delta_low,
        rth_cumulative_delta as rth_delta_close,
        max_delta,
        min_delta,
        delta / volume as delta_pct
{% if analytics %}
        ,
        session_vwap,
        session_vwap_sd,
        session_poc,
        session_vah,
        session_val,
        buy_imbalances,
        sell_imbalances,
        stacked_buy_imbalances,
        stacked_sell_imbalances,
        buy_trades,
        sell_trades,
        volume / trades as avg_trade_size,
        delta_since_high,
        delta_since_low
{% endif %}
{% if large_lot %}
        ,
        large_buy_volume,
        large_sell_volume,
        large_buy_volume - large_sell_volume as large_delta,
        large_cumulative_delta
{% endif %}
{% if event %}
        ,
        make_timestamp_ns(last_ns) as bar_end,
        bar_ns - session_start_ns as bar_index,
        bar_ns <> max(bar_ns) over (partition by instrument_id, symbol, session_date) as complete
{% endif %}
    from {{ 'developed' if analytics else 'rth_cumulated' }}
)

select * from final
order by instrument_id, symbol, bar_start{% if event %}, bar_index{% endif %}
