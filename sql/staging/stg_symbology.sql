-- stg_symbology: what a file says of its instruments' symbols: one row per instrument and symbol
-- it names, with the first and last time ({{ ts }}) it names it. Rows without a symbol (a raw CSV
-- names only the instrument_id) say nothing.
with staged as (
    select * from {{ stage }}
),

final as (
    select instrument_id, symbol, min({{ ts }}) as first_ts, max({{ ts }}) as last_ts
    from staged
    where symbol is not null and symbol <> instrument_id::varchar
    group by instrument_id, symbol
)

select * from final
