-- report_footprint_bars: the first $max_bars bars of one instrument ($instrument_id, $symbol)
-- in {{ bars }} starting in [$start, $end), with their order-flow figures, and how many bars the
-- window holds (window_bars) so the page can say when it draws only the first ones.
with bars as (
    select * from {{ bars }}
    where instrument_id = $instrument_id and symbol = $symbol
      and bar_start >= $start and bar_start < $end
),

final as (
    select
        bar_start::timestamp as bar_start,
        session_date,
        open::double as open,
        high::double as high,
        low::double as low,
        close::double as close,
        volume,
        delta,
        buy_imbalances,
        sell_imbalances,
        stacked_buy_imbalances,
        stacked_sell_imbalances,
        count(*) over () as window_bars
    from bars
)

select * from final
order by bar_start
limit $max_bars
