{% from 'macros/series.sql' import series_rows %}
-- series_bars: the bars one backtest walks: one instrument's rows of {{ bars }} (or one root's
-- continuous series), in time order, with the contract each bar traded (the `contract` of a
-- continuous series, else the symbol itself) and its instrument_id (whose trades an exit on the
-- tape reads), and whether it is an RTH bar (--hours, --flat-at-session-end rth).
with bars as (
    select * from {{ bars }}
    where {{ series_rows(continuous) }}
),

final as (
    select
        bar_start,
        session_date,
        open::double as open,
        high::double as high,
        low::double as low,
        close::double as close,
        {{ 'contract' if continuous else 'symbol' }}::varchar as contract,
        instrument_id,
        is_rth
    from bars
)

select * from final
order by bar_start
