-- stacked_imbalance: at least $levels consecutive price levels of the bar's footprint with a
-- diagonal buy imbalance (long, 1) or sell imbalance (short, -1); when both occur the longer stack
-- wins and a tie gives nothing. Levels are consecutive when no traded level lies between them.
-- The imbalances are the footprint's (`vcdwh build --imbalance-ratio`).
-- params: levels=3
with bars as (
    select * from bars
),

footprint as (
    select * from footprint
),

ordered as (
    select
        bar_start,
        price,
        buy_imbalance,
        sell_imbalance,
        row_number() over (partition by bar_start order by price) as level_no,
        row_number() over (partition by bar_start, buy_imbalance order by price) as buy_no,
        row_number() over (partition by bar_start, sell_imbalance order by price) as sell_no
    from footprint
),

stacks as (
    select
        bar_start,
        max(run_length) filter (where kind = 'buy') as buy_stack,
        max(run_length) filter (where kind = 'sell') as sell_stack
    from (
        select bar_start, 'buy' as kind, count(*) as run_length
        from ordered
        where buy_imbalance
        group by bar_start, level_no - buy_no
        union all
        select bar_start, 'sell' as kind, count(*) as run_length
        from ordered
        where sell_imbalance
        group by bar_start, level_no - sell_no
    )
    group by bar_start
),

final as (
    select
        bars.bar_start,
        bars.instrument_id,
        case
            when coalesce(stacks.buy_stack, 0) >= $levels
                and coalesce(stacks.buy_stack, 0) > coalesce(stacks.sell_stack, 0) then 1
            when coalesce(stacks.sell_stack, 0) >= $levels
                and coalesce(stacks.sell_stack, 0) > coalesce(stacks.buy_stack, 0) then -1
            else 0
        end as signal
    from bars
    left join stacks using (bar_start)
)

select * from final
