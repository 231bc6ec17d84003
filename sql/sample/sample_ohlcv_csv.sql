{% from 'macros/databento_csv.sql' import pretty_ts, pretty_price %}
-- sample_ohlcv_csv: a chunk of 1-minute bars of the simulated trades (`ohlcv_chunk`) as the lines
-- of a Databento pretty ohlcv-1m CSV, newline included.
with ohlcv_chunk as (
    select * from ohlcv_chunk
),

formatted as (
    select
        {{ pretty_ts('ts_event') }} as ts_event,
        $rtype as rtype,
        $publisher_id as publisher_id,
        $ids[inst + 1] as instrument_id,
        {{ pretty_price('open') }} as open,
        {{ pretty_price('high') }} as high,
        {{ pretty_price('low') }} as low,
        {{ pretty_price('close') }} as close,
        volume,
        $symbols[inst + 1] as symbol
    from ohlcv_chunk
),

final as (
    select concat_ws(',', {{ columns | join(', ') }}) || chr(10) as line from formatted
)

select * from final
