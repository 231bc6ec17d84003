{% from 'macros/root.sql' import root %}
-- export/trades: every trade with its product root and CME session date, the partition columns
-- of the Parquet export. session_date comes from the same as-of rule as the bars: the last
-- session open at or before ts_recv.
with trades as (
    select * from trades
),

sessions as (
    select * from sessions
),

final as (
    select
        trades.*,
        {{ root('trades.symbol') }} as root,
        sessions.session_date
    from trades
    asof join sessions on trades.ts_recv >= sessions.session_start
)

select * from final
