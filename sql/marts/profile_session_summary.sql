-- profile_session_summary: per instrument and session, the point of control (poc: the price with
-- the most volume, ties to the lower price) and the value area (val .. vah) holding
-- value_area_pct % of the session's volume, as int_value_area_grain defines it: the developing
-- profile at the session's last grain, when all its trades are in.
with developing as (
    select * from int_value_area_grain
),

last_grains as (
    select
        instrument_id,
        symbol,
        session_date,
        arg_max(poc, grain_ns) as poc,
        arg_max(vah, grain_ns) as vah,
        arg_max(val, grain_ns) as val,
        arg_max(value_area_volume, grain_ns) as value_area_volume,
        arg_max(volume, grain_ns) as volume
    from developing
    group by instrument_id, symbol, session_date
),

final as (
    select
        session_date,
        symbol,
        instrument_id,
        poc,
        vah,
        val,
        value_area_volume,
        volume,
        $value_area_pct::double as value_area_pct
    from last_grains
)

select * from final
order by instrument_id, symbol, session_date
