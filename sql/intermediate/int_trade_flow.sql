-- int_trade_flow: every trade with its session, trade order, effective aggressor side and the
-- running cumulative delta of its instrument after the trade. Materialised once per build as a
-- temporary table that the bars, footprint and rolls marts aggregate; it is not kept.
-- Trade order is (ts_recv, sequence, position in file), as for open/close. The running delta
-- is one window pass per instrument in that order. Side N stays unknown (`exclude`, the
-- Databento truth) or, with `tick-rule`, takes the tick test: uptick -> B, downtick -> A, zero
-- tick -> the direction of the last price change; no earlier price change -> stays N.
{% if large_lot %}
-- Large-lot: event_size is the size of the aggressor event, the prints of one instrument that
-- share ts_event and (effective) side, summed; only B and A events have one.
{% endif %}
{% if partial %}
-- Partial (an incremental build): only the instruments in `affected`, from the session where
-- their new trades start; the running delta continues from delta_offset, the instrument's
-- cumulative delta before that session.
{% endif %}
with trades as (
{% if partial %}
    select trades.*, affected.delta_offset{% if large_lot %}, affected.large_offset{% endif %}

    from trades
    join affected using (instrument_id, symbol)
    where trades.ts_recv >= affected.from_start
{% else %}
    select * from trades
{% endif %}
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
{% if large_lot %}
        trades.ts_event,
{% endif %}
        (epoch_ns(trades.ts_recv)::hugeint << 64)
            + (trades.sequence::hugeint << 32)
            + trades.position as trade_order,
        trades.price,
        trades.size,
{% if partial %}
        trades.delta_offset,
{% if large_lot %}
        trades.large_offset,
{% endif %}
{% endif %}
        trades.side as databento_side
    from trades
    asof join sessions on trades.ts_recv >= sessions.session_start
),

{% if tick_rule %}
ticked as (
    select
        *,
        sign(
            price - lag(price) over (
                partition by instrument_id, symbol order by trade_order
            )
        ) as tick
    from located
),

directed as (
    select
        *,
        last_value(nullif(tick, 0) ignore nulls) over (
            partition by instrument_id, symbol
            order by trade_order
            rows between unbounded preceding and current row
        ) as tick_direction
    from ticked
),

sided as (
    select
        * exclude (tick, tick_direction),
        case
            when databento_side <> 'N' then databento_side
            when tick_direction > 0 then 'B'
            when tick_direction < 0 then 'A'
            else 'N'
        end as side
    from directed
),
{% else %}
sided as (
    select *, databento_side as side
    from located
),
{% endif %}

signed as (
    select
        *,
        case side when 'B' then size when 'A' then -size else 0 end::bigint as signed_size
    from sided
),

final as (
    select
        * exclude (databento_side),
        sum(signed_size) over (
            partition by instrument_id, symbol
            order by trade_order
            rows between unbounded preceding and current row
        )::bigint{% if partial %} + delta_offset{% endif %} as run_delta
{% if large_lot %}
        ,
        case
            when side in ('B', 'A') then sum(size) over (
                partition by instrument_id, symbol, ts_event, side
            )
        end::bigint as event_size
{% endif %}
    from signed
)

select * from final
