{% from 'macros/series.sql' import series_rows %}
-- signal_run: a signal's query (a built-in of sql/signals/ or a user's .sql file) over the bars
-- of one series: `bars` holds one instrument's rows of {{ bars }} (or one root's continuous
-- series), up to $series_until (NULL: all); `footprint` (when the query reads it) holds their
-- footprint levels. The query returns bar_start, instrument_id (or root) and signal per bar.
with bars as (
    select * from {{ bars }}
    where {{ series_rows(continuous) }}
      and ($series_until is null or bar_start <= $series_until)
),
{% if footprint %}

footprint as (
    select levels.*
    from {{ footprint }} as levels
    semi join bars
        on levels.instrument_id = bars.instrument_id
        and levels.bar_start = bars.bar_start
        and levels.symbol = bars.{{ 'contract' if continuous else 'symbol' }}
),
{% endif %}

signal as (
{{ query }}
),

final as (
    select * from signal
)

select * from final
