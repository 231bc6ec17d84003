-- event_bar_bounds: where each tick, volume or range bar of one instrument ({{ bars }}, the rows
-- of $series_instrument_id / $series_symbol) starts on its trade tape, for exits resolved on the
-- tape. Bars can end and start inside one timestamp (one aggressive order's fills split between
-- two bars), so a bar's start is its bar_start and `start_rank`: how many of the trades at
-- bar_start belong to earlier bars. The bars of a session cut its trades in trade order, so the
-- bar's first trade is the session's trade number (trades of earlier bars) + 1; start_rank is
-- that number less the session's trades before bar_start. `trades_at_start` (the trades at
-- bar_start) and `session_trades` (the tape's trades over the session's bars) let the reader
-- check the bars against the tape. In time order.
with bars as (
    select session_date, bar_index, bar_start, bar_end, trades
    from {{ bars }}
    where instrument_id = $series_instrument_id and symbol = $series_symbol
),

tape_times as (
    -- every timestamp of the instrument's trades over the bars (all of them, as the tape reads
    -- them), and how many trades it has
    select ts_recv, count(*) as trades_at
    from trades
    where instrument_id = $series_instrument_id
        and ts_recv >= (select min(bar_start) from bars)
        and ts_recv <= (select max(bar_end) from bars)
    group by ts_recv
),

counted as (
    -- the tape's trades before each timestamp
    select
        ts_recv,
        trades_at,
        coalesce(
            sum(trades_at) over (
                order by ts_recv rows between unbounded preceding and 1 preceding
            ),
            0
        )::bigint as trades_before
    from tape_times
),

numbered as (
    select
        *,
        coalesce(
            sum(trades) over (
                partition by session_date
                order by bar_index
                rows between unbounded preceding and 1 preceding
            ),
            0
        )::bigint as session_before,
        first_value(bar_start) over session_bars as session_first,
        last_value(bar_end) over session_bars as session_last,
        sum(trades) over session_bars as session_bar_trades
    from bars
    window session_bars as (
        partition by session_date
        order by bar_index
        rows between unbounded preceding and unbounded following
    )
),

final as (
    select
        numbered.bar_start,
        numbered.bar_end,
        session_open.trades_before + numbered.session_before - at_start.trades_before
            as start_rank,
        at_start.trades_at as trades_at_start,
        session_close.trades_before + session_close.trades_at - session_open.trades_before
            as session_trades,
        numbered.session_bar_trades
    from numbered
    join counted as at_start on at_start.ts_recv = numbered.bar_start
    join counted as session_open on session_open.ts_recv = numbered.session_first
    join counted as session_close on session_close.ts_recv = numbered.session_last
)

select * from final
order by bar_start
