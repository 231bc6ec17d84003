-- report_session_bars: one instrument's ($instrument_id, $symbol) bars of {{ bars }} in one
-- session ($session_date): OHLC and the session VWAP and its volume-weighted standard deviation
-- as of each bar's end, for the price panel and its bands.
with bars as (
    select * from {{ bars }}
    where instrument_id = $instrument_id and symbol = $symbol and session_date = $session_date
),

final as (
    select
        bar_start::timestamp as bar_start,
        open::double as open,
        high::double as high,
        low::double as low,
        close::double as close,
        volume,
        session_vwap::double as session_vwap,
        session_vwap_sd::double as session_vwap_sd
    from bars
)

select * from final
order by bar_start
