-- check_minutes: trades reconciled with Databento's ohlcv_1m, one row per instrument and minute
-- that either has. The trades of a minute (bucketed on ts_recv, as Databento buckets its bars)
-- give open/close (first/last in trade order), high, low and volume. A minute is compared only
-- where both sources cover it: between the first and last trade minute of a trades file for that
-- instrument, and between the first and last bar of an ohlcv file. `problem` is NULL when the
-- minute reconciles or is not covered by both, else mismatch (O/H/L/C or volume differ),
-- ohlcv_without_trades (a bar with volume, no trade) or trades_without_ohlcv (trades, no bar).
with trades as (
    select * from trades
),

ohlcv as (
    select * from ohlcv_1m
),

sessions as (
    select * from sessions
),

trade_minutes as (
    select
        instrument_id,
        symbol,
        date_trunc('minute', ts_recv)::timestamp as minute,
        arg_min(price, (ts_recv, sequence, position)) as open,
        max(price) as high,
        min(price) as low,
        arg_max(price, (ts_recv, sequence, position)) as close,
        sum(size)::bigint as volume,
        count(*)::bigint as trades
    from trades
    group by instrument_id, symbol, minute
),

bar_minutes as (
    select
        instrument_id,
        symbol,
        ts_event::timestamp as minute,
        open,
        high,
        low,
        close,
        volume
    from ohlcv
),

trade_cover as (
    select
        instrument_id,
        date_trunc('minute', min(ts_recv))::timestamp as lo,
        date_trunc('minute', max(ts_recv))::timestamp as hi
    from trades
    group by instrument_id, file_id
),

bar_cover as (
    select
        instrument_id,
        min(ts_event)::timestamp as lo,
        max(ts_event)::timestamp as hi
    from ohlcv
    group by instrument_id, file_id
),

joined as (
    select
        coalesce(t.instrument_id, b.instrument_id) as instrument_id,
        coalesce(t.symbol, b.symbol) as symbol,
        coalesce(t.minute, b.minute) as minute,
        t.trades,
        t.open,
        t.high,
        t.low,
        t.close,
        t.volume,
        b.open as ohlcv_open,
        b.high as ohlcv_high,
        b.low as ohlcv_low,
        b.close as ohlcv_close,
        b.volume as ohlcv_volume
    from trade_minutes as t
    full outer join bar_minutes as b
      on b.instrument_id = t.instrument_id
     and b.minute = t.minute
),

covered as (
    select
        joined.*,
        exists (
            select 1 from trade_cover as c
            where c.instrument_id = joined.instrument_id and joined.minute between c.lo and c.hi
        ) as in_trades,
        exists (
            select 1 from bar_cover as c
            where c.instrument_id = joined.instrument_id and joined.minute between c.lo and c.hi
        ) as in_ohlcv
    from joined
),

judged as (
    select
        *,
        case
            when trades is not null and ohlcv_volume is not null
                and (
                    open <> ohlcv_open or high <> ohlcv_high or low <> ohlcv_low
                    or close <> ohlcv_close or volume <> ohlcv_volume
                )
                then 'mismatch'
            when trades is null and ohlcv_volume > 0 and in_trades
                then 'ohlcv_without_trades'
            when trades is not null and ohlcv_volume is null and in_ohlcv
                then 'trades_without_ohlcv'
        end as problem,
        trades is not null and ohlcv_volume is not null as compared
    from covered
),

final as (
    select
        judged.symbol,
        judged.instrument_id,
        sessions.session_date,
        judged.minute,
        judged.problem,
        judged.compared,
        judged.trades,
        judged.open,
        judged.high,
        judged.low,
        judged.close,
        judged.volume,
        judged.ohlcv_open,
        judged.ohlcv_high,
        judged.ohlcv_low,
        judged.ohlcv_close,
        judged.ohlcv_volume
    from judged
    asof left join sessions on judged.minute >= sessions.session_start
)

select * from final
