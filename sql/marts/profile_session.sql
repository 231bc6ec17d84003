-- profile_session: the volume profile of every session, one row per instrument, session and exact
-- price: volume by aggressor side (buy = side B, sell = side A, unknown = side N left
-- unclassified), delta = buy - sell, trade records. Summed from int_level_grain, so the levels of
-- a session add up to its bars.
with grain_levels as (
    select * from int_level_grain
),

final as (
    select
        session_date,
        symbol,
        instrument_id,
        price,
        sum(volume)::bigint as volume,
        sum(ask_volume)::bigint as buy_volume,
        sum(bid_volume)::bigint as sell_volume,
        sum(unknown_volume)::bigint as unknown_volume,
        sum(ask_volume - bid_volume)::bigint as delta,
        sum(trades)::bigint as trades
    from grain_levels
    group by session_date, symbol, instrument_id, price
)

select * from final
order by instrument_id, symbol, session_date, price
