{% from 'macros/root.sql' import root %}
-- daily_delta: one row per instrument and session for dashboards: the session's OHLC, volumes,
-- delta and the cumulative deltas at its last bar. Built from {{ bars }} (every bar lies in one
-- session, so any interval gives the same figures). Plain SQL that DuckDB 1.x readers parse.
with bars as (
    select * from {{ bars }}
),

sessions as (
    select
        symbol,
        instrument_id,
        session_date,
        min(bar_start) as first_bar_start,
        max(bar_start) as last_bar_start,
        arg_min(open, bar_start) as open,
        max(high) as high,
        min(low) as low,
        arg_max(close, bar_start) as close,
        sum(volume)::bigint as volume,
        sum(buy_volume)::bigint as buy_volume,
        sum(sell_volume)::bigint as sell_volume,
        sum(unknown_volume)::bigint as unknown_volume,
        sum(delta)::bigint as delta,
        arg_max(session_cumulative_delta, bar_start) as session_close_cumulative_delta,
        arg_max(cumulative_delta, bar_start) as close_cumulative_delta,
        sum(trades)::bigint as trades
    from bars
    group by symbol, instrument_id, session_date
),

final as (
    select
        {{ root('symbol') }} as root,
        symbol,
        instrument_id,
        contains(symbol, '-') as is_spread,
        session_date,
        first_bar_start,
        last_bar_start,
        open,
        high,
        low,
        close,
        volume,
        buy_volume,
        sell_volume,
        unknown_volume,
        delta,
        session_close_cumulative_delta,
        close_cumulative_delta,
        trades
    from sessions
)

select * from final
