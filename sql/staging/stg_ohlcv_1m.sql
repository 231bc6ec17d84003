-- stg_ohlcv_1m: one ohlcv-1m file (CSV in either Databento layout, or decoded DBN records), typed.
with source as (
{% include 'macros/read_databento_csv.sql' %}
),

typed as (
    select
{% if ts_kind == 'iso' %}
        ts_event::timestamp_ns as ts_event,
{% else %}
        make_timestamp_ns(ts_event::bigint) as ts_event,
{% endif %}
        rtype::utinyint as rtype,
        publisher_id::usmallint as publisher_id,
        instrument_id::ubigint as instrument_id,
{% for px in ['open', 'high', 'low', 'close'] %}
{% if px_kind == 'decimal' %}
        {{ px }}::decimal(18, 9) as {{ px }},
{% else %}
        ({{ px }}::decimal(18, 0) * 0.000000001::decimal(18, 9))::decimal(18, 9) as {{ px }},
{% endif %}
{% endfor %}
        volume::bigint as volume,
{% if has_symbol %}
        nullif(trim(symbol::varchar), '') as symbol,
{% else %}
        null::varchar as symbol,
{% endif %}
        position::bigint as position
    from source
),

final as (
    select * from typed
)

select * from final
