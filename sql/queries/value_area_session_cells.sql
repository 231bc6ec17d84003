-- value_area_session_cells: per session open in int_level_grain, the cells of the developing
-- value area at most (each instrument's grains times its price levels, summed), in open order:
-- what developing_value_area packs sessions into statements by.
with per_instrument as (
    select
        session_start_ns,
        count(distinct grain_ns) * count(distinct price) as cells
    from int_level_grain
    group by session_start_ns, instrument_id, symbol
),

final as (
    select
        session_start_ns,
        sum(cells)::bigint as cells
    from per_instrument
    group by session_start_ns
)

select * from final
order by session_start_ns
