-- bars_<interval>: order-flow bars per instrument, bucketed on ts_recv as Databento's own OHLCV
-- bars are, anchored at the session open. Open/close follow trade order (ts_recv, sequence,
-- position in file). Side B is buy volume, A sell volume, N neither (unknown_volume, not in
-- delta). cumulative_delta runs over all loaded data of the instrument; session_cumulative_delta
-- restarts at every CME Globex session open (17:00 America/Chicago).
with trades as (
    select * from trades
),

sessions as (
    select * from sessions
),

located as (
    select
        trades.instrument_id,
        trades.symbol,
        sessions.session_date,
        epoch_ns(sessions.session_start) as session_start_ns,
        epoch_ns(trades.ts_recv) as ts_ns,
        trades.sequence,
        trades.position,
        trades.price,
        trades.size,
        trades.side
    from trades
    asof join sessions on trades.ts_recv >= sessions.session_start
),

bucketed as (
    select
        *,
        session_start_ns
            + ((ts_ns - session_start_ns) // {{ interval_ns }}) * {{ interval_ns }} as bar_ns,
        (ts_ns::hugeint << 64) + (sequence::hugeint << 32) + position as trade_order
    from located
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
        count(*)::bigint as trades
    from bucketed
    group by instrument_id, symbol, bar_ns
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
        buy_volume - sell_volume as delta,
        sum(buy_volume - sell_volume) over (
            partition by instrument_id, symbol
            order by bar_ns
            rows between unbounded preceding and current row
        )::bigint as cumulative_delta,
        sum(buy_volume - sell_volume) over (
            partition by instrument_id, symbol, session_date
            order by bar_ns
            rows between unbounded preceding and current row
        )::bigint as session_cumulative_delta,
        trades
    from aggregated
)

select * from final
order by instrument_id, symbol, bar_start
