{% from 'macros/databento_csv.sql' import pretty_ts, pretty_price %}
-- sample_trades_csv: a chunk of simulated trades (`trades_chunk`: nanosecond times, prices,
-- instrument and side indexes) as the lines of a Databento pretty trades CSV, newline included.
with trades_chunk as (
    select * from trades_chunk
),

formatted as (
    select
        {{ pretty_ts('ts_recv') }} as ts_recv,
        {{ pretty_ts('ts_event') }} as ts_event,
        $rtype as rtype,
        $publisher_id as publisher_id,
        $ids[inst + 1] as instrument_id,
        'T' as action,
        $sides[side + 1] as side,
        0 as depth,
        {{ pretty_price('price') }} as price,
        size,
        0 as flags,
        ts_in_delta,
        sequence,
        $symbols[inst + 1] as symbol
    from trades_chunk
),

final as (
    select concat_ws(',', {{ columns | join(', ') }}) || chr(10) as line from formatted
)

select * from final
