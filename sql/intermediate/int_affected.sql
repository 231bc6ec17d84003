-- int_affected: for an incremental build, each instrument that received trades in this build
-- (file_id >= $since_file_id), the open of the session where its new trades start (from_start)
-- and its running sums before that session, read from the bars already built: every bar from
-- from_start on is recomputed, every bar before it is kept.
with added as (
    select instrument_id, symbol, min(ts_recv) as first_ts
    from trades
    where file_id >= $since_file_id
    group by instrument_id, symbol
),

located as (
    select added.instrument_id, added.symbol, sessions.session_start as from_start
    from added
    asof join sessions on added.first_ts >= sessions.session_start
),

prior as (
    select
        bars.instrument_id,
        bars.symbol,
        max_by(bars.cumulative_delta, bars.bar_start) as delta_offset
{% if large_lot %}
        ,
        max_by(bars.large_cumulative_delta, bars.bar_start) as large_offset
{% endif %}
    from {{ bars }} as bars
    join located using (instrument_id, symbol)
    where bars.bar_start < located.from_start
    group by bars.instrument_id, bars.symbol
),

final as (
    select
        located.instrument_id,
        located.symbol,
        located.from_start,
        coalesce(prior.delta_offset, 0)::bigint as delta_offset
{% if large_lot %}
        ,
        coalesce(prior.large_offset, 0)::bigint as large_offset
{% endif %}
    from located
    left join prior using (instrument_id, symbol)
)

select * from final
