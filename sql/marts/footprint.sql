{% from 'macros/root.sql' import contract_root %}
-- footprint_<interval>: one row per instrument, bar and exact price level: bid_volume (sell
-- aggressor, side A), ask_volume (buy aggressor, side B), unknown_volume (side N left
-- unclassified), delta = ask - bid, trades. Per bar the levels add up to the bar's buy, sell
-- and unknown volume.
-- poc: the level with the most volume in the bar; ties go to the lower price (one per bar).
-- Diagonal imbalances with ratio $imbalance_ratio and the root's tick (the smallest gap between
-- the bar's price levels for a root vcdwh does not know, and for calendar spreads):
--   buy_imbalance  at p: ask(p) > 0 and ask(p) >= ratio * bid(p - tick)
--   sell_imbalance at p: bid(p) > 0 and bid(p) >= ratio * ask(p + tick)
-- A missing neighbouring level counts as 0, so any volume against nothing is an imbalance.
-- Rolled up from int_level_grain (a bar is a whole number of its grains).
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

levels as (
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
        sum(trades)::bigint as trades
    from bucketed
    group by instrument_id, symbol, bar_ns, price
),

symbols as (
    select
        symbol,
        {{ contract_root('symbol') }}
            as root
    from levels
    group by symbol
),

neighboured as (
    select
        levels.*,
        root_ticks.tick_size as spec_tick,
        lag(price) over bar_levels as price_below,
        lag(bid_volume) over bar_levels as bid_below,
        lead(price) over bar_levels as price_above,
        lead(ask_volume) over bar_levels as ask_above,
        row_number() over (
            partition by levels.instrument_id, levels.symbol, bar_ns
            order by volume desc, price
        ) as volume_rank
    from levels
    join symbols using (symbol)
    left join root_ticks using (root)
    window bar_levels as (
        partition by levels.instrument_id, levels.symbol, bar_ns order by price
    )
),

gapped as (
    select
        *,
        min(price - price_below) over (partition by instrument_id, symbol, bar_ns) as smallest_gap
    from neighboured
),

flagged as (
    select
        *,
        coalesce(spec_tick, smallest_gap) as tick,
        case when price_below = price - coalesce(spec_tick, smallest_gap) then bid_below else 0 end
            as bid_diagonal,
        case when price_above = price + coalesce(spec_tick, smallest_gap) then ask_above else 0 end
            as ask_diagonal
    from gapped
),

final as (
    select
        make_timestamp_ns(bar_ns) as bar_start,
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
        ask_volume > 0 and ask_volume >= $imbalance_ratio * bid_diagonal as buy_imbalance,
        bid_volume > 0 and bid_volume >= $imbalance_ratio * ask_diagonal as sell_imbalance,
        tick as tick_size
    from flagged
)

select * from final
order by instrument_id, symbol, bar_start, price
