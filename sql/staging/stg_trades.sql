-- stg_trades: one trades file (CSV in either Databento layout, or decoded DBN records),
-- typed exactly: nanosecond timestamps, 1e-9 fixed-point prices as decimal(18, 9), signed sizes,
-- and each record's 0-based position in its file (file order is trade order). `unreadable`
-- names a field whose text did not convert to its type (macros/csv_fields.sql).
{% from 'macros/csv_fields.sql' import ts_value, price_value, int_value, given, with_unreadable %}
{% set values = [
    ('ts_recv', ts_value('ts_recv', source, ts_kind)),
    ('ts_event', ts_value('ts_event', source, ts_kind)),
    ('rtype', int_value('rtype', 'utinyint', source)),
    ('publisher_id', int_value('publisher_id', 'usmallint', source)),
    ('instrument_id', int_value('instrument_id', 'ubigint', source)),
    ('depth', int_value('depth', 'utinyint', source)),
    ('price', price_value('price', source, px_kind)),
    ('flags', int_value('flags', 'utinyint', source)),
    ('ts_in_delta', int_value('ts_in_delta', 'integer', source)),
] %}
{% set value = dict(values) %}
with source as (
{% include 'macros/read_databento_csv.sql' %}
),

typed as (
    select
        {{ value['ts_recv'] }} as ts_recv,
        {{ value['ts_event'] }} as ts_event,
        {{ value['rtype'] }} as rtype,
        {{ value['publisher_id'] }} as publisher_id,
        {{ value['instrument_id'] }} as instrument_id,
        action::varchar as action,
        side::varchar as side,
        {{ value['depth'] }} as depth,
        {{ value['price'] }} as price,
        size::bigint as size,
        {{ value['flags'] }} as flags,
        {{ value['ts_in_delta'] }} as ts_in_delta,
        coalesce(sequence::ubigint, 0) as sequence,
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
