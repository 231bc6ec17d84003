-- stg_ohlcv_1m: one ohlcv-1m file (CSV in either Databento layout, or decoded DBN records), typed.
-- `unreadable` names a field whose text did not convert to its type (macros/csv_fields.sql).
{% from 'macros/csv_fields.sql' import ts_value, price_value, int_value, given, with_unreadable %}
{% set values = [
    ('ts_event', ts_value('ts_event', source, ts_kind)),
    ('rtype', int_value('rtype', 'utinyint', source)),
    ('publisher_id', int_value('publisher_id', 'usmallint', source)),
    ('instrument_id', int_value('instrument_id', 'ubigint', source)),
    ('open', price_value('open', source, px_kind)),
    ('high', price_value('high', source, px_kind)),
    ('low', price_value('low', source, px_kind)),
    ('close', price_value('close', source, px_kind)),
] %}
{% set value = dict(values) %}
with source as (
{% include 'macros/read_databento_csv.sql' %}
),

typed as (
    select
        {{ value['ts_event'] }} as ts_event,
        {{ value['rtype'] }} as rtype,
        {{ value['publisher_id'] }} as publisher_id,
        {{ value['instrument_id'] }} as instrument_id,
{% for px in ['open', 'high', 'low', 'close'] %}
        {{ value[px] }} as {{ px }},
{% endfor %}
        volume::bigint as volume,
{% if has_symbol %}
        nullif(trim(symbol::varchar), '') as symbol,
{% else %}
        null::varchar as symbol,
{% endif %}
{{ given(values, source, px_kind) }}
        position::bigint as position
    from source
),

final as (
    select
        {{ with_unreadable(values, source) }}
    from typed
)

select * from final
