{% from 'macros/root.sql' import root %}
-- check_sessions: what `vcdwh check` prints, one row per instrument and CME session. For the
-- sessions with data: trades and ohlcv_1m bars, the minutes compared and their problems (from
-- check_minutes), and the trades on a holiday of the root's calendar or outside its Globex hours
-- (ts_event before session_open or at/after session_close, from session_hours). For the sessions
-- between an instrument's first and last session with data that its calendar says traded but that
-- hold no trade and no bar: a row with `missing` true. Roots without a calendar (no row in
-- rth_hours) are reconciled but not checked against the calendar.
with minutes as (
{% include 'queries/check_minutes.sql' %}
),

trades as (
    select * from trades
),

sessions as (
    select * from sessions
),

session_hours as (
    select * from session_hours
),

placed_trades as (
    select
        trades.instrument_id,
        trades.symbol,
        trades.ts_event,
        sessions.session_date
    from trades
    asof join sessions on trades.ts_recv >= sessions.session_start
),

calendar_trades as (
    select
        placed_trades.instrument_id,
        placed_trades.symbol,
        placed_trades.session_date,
        count(*) filter (where session_hours.holiday)::bigint as trades_on_holiday,
        count(*) filter (
            where not session_hours.holiday
              and (
                  placed_trades.ts_event < session_hours.session_open
                  or placed_trades.ts_event >= session_hours.session_close
              )
        )::bigint as trades_outside_hours
    from placed_trades
    join session_hours
      on session_hours.root = {{ root('placed_trades.symbol') }}
     and session_hours.session_date = placed_trades.session_date
    group by placed_trades.instrument_id, placed_trades.symbol, placed_trades.session_date
),

per_session as (
    select
        symbol,
        instrument_id,
        session_date,
        coalesce(sum(trades), 0)::bigint as trades,
        count(ohlcv_volume)::bigint as ohlcv_bars,
        count(*) filter (where compared)::bigint as compared_minutes,
        count(*) filter (where problem = 'mismatch')::bigint as mismatched_minutes,
        count(*) filter (where problem = 'ohlcv_without_trades')::bigint as ohlcv_without_trades,
        count(*) filter (where problem = 'trades_without_ohlcv')::bigint as trades_without_ohlcv
    from minutes
    group by symbol, instrument_id, session_date
),

spans as (
    select
        symbol,
        instrument_id,
        {{ root('symbol') }} as root,
        min(session_date) as first_session,
        max(session_date) as last_session
    from per_session
    group by symbol, instrument_id
),

missing as (
    select
        spans.symbol,
        spans.instrument_id,
        session_hours.session_date
    from spans
    join session_hours
      on session_hours.root = spans.root
     and session_hours.session_date between spans.first_session and spans.last_session
    where not session_hours.holiday
    and not exists (
        select 1 from per_session
        where per_session.instrument_id = spans.instrument_id
          and per_session.symbol = spans.symbol
          and per_session.session_date = session_hours.session_date
    )
),

rows as (
    select
        per_session.*,
        false as missing
    from per_session
    union all by name
    select
        missing.*,
        0::bigint as trades,
        0::bigint as ohlcv_bars,
        0::bigint as compared_minutes,
        0::bigint as mismatched_minutes,
        0::bigint as ohlcv_without_trades,
        0::bigint as trades_without_ohlcv,
        true as missing
    from missing
),

final as (
    select
        rows.symbol,
        rows.instrument_id,
        rows.session_date,
        session_hours.holiday,
        rows.trades,
        rows.ohlcv_bars,
        rows.compared_minutes,
        rows.mismatched_minutes,
        rows.ohlcv_without_trades,
        rows.trades_without_ohlcv,
        coalesce(calendar_trades.trades_on_holiday, 0)::bigint as trades_on_holiday,
        coalesce(calendar_trades.trades_outside_hours, 0)::bigint as trades_outside_hours,
        rows.missing,
        (
            rows.mismatched_minutes + rows.ohlcv_without_trades + rows.trades_without_ohlcv
            + coalesce(calendar_trades.trades_on_holiday, 0)
            + coalesce(calendar_trades.trades_outside_hours, 0)
            + rows.missing::int
        )::bigint as discrepancies
    from rows
    left join session_hours
      on session_hours.root = {{ root('rows.symbol') }}
     and session_hours.session_date = rows.session_date
    left join calendar_trades
      on calendar_trades.instrument_id = rows.instrument_id
     and calendar_trades.symbol = rows.symbol
     and calendar_trades.session_date = rows.session_date
)

select * from final
order by symbol, instrument_id, session_date
