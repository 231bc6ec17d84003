-- futures_bars: the rows of sql/queries/signals.sql (the seed's signal rule, rendered as a
-- subquery) with each bar's high and low as doubles and the contract it traded: the `contract`
-- column of a continuous series (a root's bars_<interval>_continuous) when the bars relation has
-- one, else the symbol itself.
with signals as (
    {{ signals }}
),

bars as (
    select * from {{ bars }}
{% if continuous %}
    where root = $root
{% else %}
    where instrument_id = $instrument_id and symbol = $symbol
{% endif %}
),

final as (
    select
        signals.bar_start,
        signals.session_date,
        signals.open::double as open,
        signals.high::double as high,
        signals.low::double as low,
        signals.close::double as close,
        signals.signal_delta::double as signal_delta,
        signals.signal,
        bars.instrument_id,
        bars.{{ contract_column }}::varchar as contract
    from signals
    inner join bars on bars.bar_start = signals.bar_start
)

select * from final
order by bar_start
