-- report_footprint_levels: the footprint levels of one instrument's ($instrument_id, $symbol)
-- bars in {{ footprint }} starting in [$first_bar, $last_bar], with the length of the run of
-- adjacent imbalanced levels (one level_size apart) each imbalanced level belongs to:
-- buy_run / sell_run (NULL on a level without that imbalance). A bar's longest run is its
-- stacked_buy_imbalances / stacked_sell_imbalances.
with levels as (
    select * from {{ footprint }}
    where instrument_id = $instrument_id and symbol = $symbol
      and bar_start >= $first_bar and bar_start <= $last_bar
),

neighbours as (
    select
        *,
        coalesce(
            lag(buy_imbalance) over by_price and price - lag(price) over by_price = level_size,
            false
        ) as buy_continues,
        coalesce(
            lag(sell_imbalance) over by_price and price - lag(price) over by_price = level_size,
            false
        ) as sell_continues
    from levels
    window by_price as (partition by bar_start order by price)
),

numbered as (
    select
        *,
        sum((buy_imbalance and not buy_continues)::int) over upwards as buy_run_id,
        sum((sell_imbalance and not sell_continues)::int) over upwards as sell_run_id
    from neighbours
    window upwards as (
        partition by bar_start order by price rows between unbounded preceding and current row
    )
),

final as (
    select
        bar_start::timestamp as bar_start,
        price::double as price,
        bid_volume,
        ask_volume,
        unknown_volume,
        volume,
        delta,
        poc,
        buy_imbalance,
        sell_imbalance,
        level_size::double as level_size,
        case when buy_imbalance then
            sum(buy_imbalance::int) over (partition by bar_start, buy_run_id)
        end as buy_run,
        case when sell_imbalance then
            sum(sell_imbalance::int) over (partition by bar_start, sell_run_id)
        end as sell_run
    from numbered
)

select * from final
order by bar_start, price
