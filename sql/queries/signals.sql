-- signals: the seed rule over one instrument's bars (or one root's continuous bars), in time
-- order. BUY when the chosen cumulative delta is strictly above $threshold, SELL when strictly
-- below -$threshold.
with bars as (
    select * from {{ bars }}
),

selected as (
    select
        bar_start,
        session_date,
{% if continuous %}
        contract,
{% else %}
        symbol,
{% endif %}
        instrument_id,
        open,
        high,
        low,
        close,
        {{ delta_column }} as signal_delta
    from bars
{% if continuous %}
    where root = $root
{% else %}
    where instrument_id = $instrument_id and symbol = $symbol
{% endif %}
),

final as (
    select
        *,
        case
            when signal_delta > $threshold then 'BUY'
            when signal_delta < -$threshold then 'SELL'
        end as signal
    from selected
)

select * from final
order by bar_start
