-- int_level_grain: volume per instrument, grain ({{ grain_ns }} ns, as int_bar_grain) and exact
-- price level, by aggressor side: bid_volume (sell aggressor, side A), ask_volume (buy
-- aggressor, side B), unknown_volume (side N left unclassified). Every footprint_<interval> is
-- rolled up from these rows.
{% include 'macros/grain_bucketed.sql' %}

final as (
    select
        instrument_id,
        symbol,
        grain_ns,
        price,
        any_value(session_date) as session_date,
        any_value(session_start_ns) as session_start_ns,
        sum(size)::bigint as volume,
        coalesce(sum(size) filter (where side = 'A'), 0)::bigint as bid_volume,
        coalesce(sum(size) filter (where side = 'B'), 0)::bigint as ask_volume,
        coalesce(sum(size) filter (where side = 'N'), 0)::bigint as unknown_volume,
{% if event is defined and event %}
        min(ts_ns) as first_ns,
{% endif %}
        count(*)::bigint as trades
    from bucketed
    group by instrument_id, symbol, grain_ns, price
)

select * from final
