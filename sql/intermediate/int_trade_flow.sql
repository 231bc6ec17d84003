-- int_trade_flow: every trade with its session, effective aggressor side and signed size, in
-- the columns that give trade order: (ts_ns, sequence, position in file), as for open/close.
-- int_bar_grain and int_level_grain aggregate it a piece of a session at a time: inlined with
-- one_session, where the piece's trades ($from_ts <= ts_recv < $to_ts) all belong to the session
-- given as $session_date / $session_start_ns, or, when the options below need windows over an
-- instrument's whole history, from a temporary table of every trade placed by the as-of join.
-- Side N stays unknown (`exclude`, the Databento truth) or, with `tick-rule`, takes the tick
-- test: uptick -> B, downtick -> A, zero tick -> the direction of the last price change; no
-- earlier price change -> stays N.
{% if large_lot %}
-- Large-lot: event_size is the size of the aggressor event, the prints of one instrument that
-- share ts_event and (effective) side, summed; only B and A events have one.
{% endif %}
{% if partial %}
-- Partial (an incremental build): only the instruments in `affected`, from the session where
-- their new trades start.
{% endif %}
with trades as (
{% if partial %}
    select trades.*
    from trades
    join affected using (instrument_id, symbol)
    where trades.ts_recv >= affected.from_start
{% else %}
    select * from trades
{% endif %}
{% if one_session %}
    {{ 'and' if partial else 'where' }} trades.ts_recv >= $from_ts and trades.ts_recv < $to_ts
{% endif %}
),

{% if not one_session %}
sessions as (
    select * from sessions
),

{% endif %}
located as (
    select
        trades.instrument_id,
        trades.symbol,
{% if one_session %}
        $session_date::date as session_date,
        $session_start_ns::bigint as session_start_ns,
{% else %}
        sessions.session_date,
        epoch_ns(sessions.session_start) as session_start_ns,
{% endif %}
        trades.ts_recv,
        epoch_ns(trades.ts_recv) as ts_ns,
{% if large_lot %}
        trades.ts_event,
{% endif %}
        trades.sequence,
        trades.position,
        trades.price,
        trades.size,
        trades.side as databento_side
    from trades
{% if not one_session %}
    asof join sessions on trades.ts_recv >= sessions.session_start
{% endif %}
),

{% if tick_rule %}
ticked as (
    select
        *,
        sign(
            price - lag(price) over (
                partition by instrument_id, symbol order by ts_ns, sequence, position
            )
        ) as tick
    from located
),

directed as (
    select
        *,
        last_value(nullif(tick, 0) ignore nulls) over (
            partition by instrument_id, symbol
            order by ts_ns, sequence, position
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

final as (
    select
        * exclude (databento_side{% if large_lot %}, ts_event{% endif %}),
        case side when 'B' then size when 'A' then -size else 0 end::bigint as signed_size
{% if large_lot %}
        ,
        case
            when side in ('B', 'A') then sum(size) over (
                partition by instrument_id, symbol, ts_event, side
            )
        end::bigint as event_size
{% endif %}
    from sided
)

select * from final
