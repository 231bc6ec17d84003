-- report_session_profile: one instrument's ($instrument_id, $symbol) session volume profile
-- ($session_date) from profile_session, each price with the session's POC, VAH and VAL from
-- profile_session_summary and whether it lies in the value area.
with profile as (
    select * from profile_session
    where instrument_id = $instrument_id and symbol = $symbol and session_date = $session_date
),

summary as (
    select * from profile_session_summary
    where instrument_id = $instrument_id and symbol = $symbol and session_date = $session_date
),

final as (
    select
        profile.price::double as price,
        profile.volume,
        profile.buy_volume,
        profile.sell_volume,
        profile.delta,
        summary.poc::double as poc,
        summary.vah::double as vah,
        summary.val::double as val,
        summary.value_area_pct,
        profile.price between summary.val and summary.vah as in_value_area
    from profile
    join summary using (instrument_id, symbol, session_date)
)

select * from final
order by price
