-- report_bars: the bars a stored run read, for its chart: OHLC, the delta it traded on
-- ({{ delta_column }}) and, when the bars have them, that delta's candles ({{ candle_prefix }}delta_*).
-- A root's continuous series is selected by its root; an instrument by id and symbol.
with bars as (
    select * from {{ bars }}
),

final as (
    select
        bar_start,
        open::double as open,
        high::double as high,
        low::double as low,
        close::double as close,
        {{ delta_column }}::double as delta
        {%- for column in candle_columns %},
        {{ candle_prefix }}{{ column }}::double as {{ column }}
        {%- endfor %}
    from bars
    where {% if continuous %}root = $symbol{% else %}instrument_id = $instrument_id and symbol = $symbol{% endif %}
      and bar_start between $start and $end
)

select * from final
order by bar_start
