{% from 'macros/root.sql' import contract_root %}
-- footprint_<interval>: one row per instrument, bar and price level: bid_volume (sell
-- aggressor, side A), ask_volume (buy aggressor, side B), unknown_volume (side N left
-- unclassified), delta = ask - bid, trades. Per bar the levels add up to the bar's buy, sell
-- and unknown volume.
-- poc: the level with the most volume in the bar; ties go to the lower price (one per bar).
-- Diagonal imbalances with ratio $imbalance_ratio and the root's tick (the smallest gap between
-- the bar's price levels for a root vcdwh does not know, and for calendar spreads):
--   buy_imbalance  at p: ask(p) > 0 and ask(p) >= ratio * bid(p - tick)
--   sell_imbalance at p: bid(p) > 0 and bid(p) >= ratio * ask(p + tick)
-- A missing neighbouring level counts as 0, so any volume against nothing is an imbalance.
-- An imbalance also needs its own side's volume >= $imbalance_min_volume.
-- Levels: the exact prices; with $ticks_per_level K > 1, floor(price / (K x tick)) x K x tick,
-- and the diagonal neighbours are one level (K ticks) away (level_size).
-- Rolled up from int_level_grain (a bar is a whole number of its grains).
-- Tick, volume and range bars (footprint_<N>t, _<N>v, _<R>r; `event`): each grain is one bar;
-- bar_start is the ts_recv of the bar's first trade and bar_index its number in the session.
{% set event = event is defined and event %}
with grain_levels as (
    select * from int_level_grain
),

root_ticks as (
    select unnest($roots) as root, unnest($tick_sizes)::decimal(18, 9) as tick_size
),

bucketed as (
    select
        *,
        session_start_ns
            + ((grain_ns - session_start_ns) // {{ interval_ns }}) * {{ interval_ns }} as bar_ns
    from grain_levels
),

exact_levels as (
    select
        instrument_id,
        symbol,
        bar_ns,
        any_value(session_date) as session_date,
        price,
        sum(volume)::bigint as volume,
        sum(bid_volume)::bigint as bid_volume,
        sum(ask_volume)::bigint as ask_volume,
        sum(unknown_volume)::bigint as unknown_volume,
{% if event %}
        min(first_ns) as first_ns,
        any_value(session_start_ns) as session_start_ns,
{% endif %}
        sum(trades)::bigint as trades
    from bucketed
    group by instrument_id, symbol, bar_ns, price
),

symbols as (
    select
        symbol,
        {{ contract_root('symbol') }}
            as root
    from exact_levels
    group by symbol
),

ticked as (
    -- the tick: the root's, else the smallest gap between the bar's exact prices
    select
        exact_levels.*,
        coalesce(
            root_ticks.tick_size,
            min(price - price_below) over (partition by instrument_id, symbol, bar_ns)
        ) as tick
    from (
        select
            *,
            lag(price) over (partition by instrument_id, symbol, bar_ns order by price)
                as price_below
        from exact_levels
    ) as exact_levels
    join symbols using (symbol)
    left join root_ticks using (root)
),

levels as (
    select
        instrument_id,
        symbol,
        bar_ns,
        any_value(session_date) as session_date,
{% if ticks_per_level > 1 %}
        -- floor(price / level) x level in exact nano units (// truncates toward zero)
        coalesce(
            (
                (price_nanos // level_nanos - (price_nanos % level_nanos < 0)::bigint)
                    * level_nanos
            )::decimal(38, 0) * 0.000000001::decimal(10, 9),
            price
        )::decimal(18, 9) as price,
{% else %}
        price,
{% endif %}
        any_value(tick) as tick,
        any_value(tick) * {{ ticks_per_level }} as level_size,
        sum(volume)::bigint as volume,
        sum(bid_volume)::bigint as bid_volume,
        sum(ask_volume)::bigint as ask_volume,
        sum(unknown_volume)::bigint as unknown_volume,
{% if event %}
        min(first_ns) as first_ns,
        any_value(session_start_ns) as session_start_ns,
{% endif %}
        sum(trades)::bigint as trades
    from (
        select
            *,
            (price::decimal(38, 9) * 1000000000)::bigint as price_nanos,
            ({{ ticks_per_level }} * tick::decimal(38, 9) * 1000000000)::bigint as level_nanos
        from ticked
    )
    group by all
),

neighboured as (
    select
        *,
        lag(price) over bar_levels as price_below,
        lag(bid_volume) over bar_levels as bid_below,
        lead(price) over bar_levels as price_above,
        lead(ask_volume) over bar_levels as ask_above,
        row_number() over (
            partition by instrument_id, symbol, bar_ns order by volume desc, price
        ) as volume_rank
    from levels
    window bar_levels as (partition by instrument_id, symbol, bar_ns order by price)
),

flagged as (
    select
        *,
        case when price_below = price - level_size then bid_below else 0 end as bid_diagonal,
        case when price_above = price + level_size then ask_above else 0 end as ask_diagonal
    from neighboured
),

final as (
    select
{% if event %}
        make_timestamp_ns(min(first_ns) over (partition by instrument_id, symbol, bar_ns))
            as bar_start,
{% else %}
        make_timestamp_ns(bar_ns) as bar_start,
{% endif %}
        symbol,
        instrument_id,
        session_date,
        price,
        volume,
        bid_volume,
        ask_volume,
        unknown_volume,
        ask_volume - bid_volume as delta,
        trades,
        volume_rank = 1 as poc,
        ask_volume > 0
            and ask_volume >= $imbalance_ratio * bid_diagonal
            and ask_volume >= $imbalance_min_volume as buy_imbalance,
        bid_volume > 0
            and bid_volume >= $imbalance_ratio * ask_diagonal
            and bid_volume >= $imbalance_min_volume as sell_imbalance,
        tick as tick_size,
        level_size
{% if event %}
        ,
        bar_ns - session_start_ns as bar_index
{% endif %}
    from flagged
)

select * from final
order by instrument_id, symbol, bar_start{% if event %}, bar_index{% endif %}, price
