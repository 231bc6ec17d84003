-- stg_trades: one trades file (CSV in either Databento layout, or decoded DBN records),
-- typed exactly: nanosecond timestamps, 1e-9 fixed-point prices as decimal(18, 9), signed sizes,
-- and each record's 0-based position in its file (file order is trade order).
with source as (
{% include 'macros/read_databento_csv.sql' %}
),

typed as (
    select
{% for ts in ['ts_recv', 'ts_event'] %}
{% if ts_kind == 'iso' %}
        {{ ts }}::timestamp_ns as {{ ts }},
{% else %}
        make_timestamp_ns({{ ts }}::bigint) as {{ ts }},
{% endif %}
{% endfor %}
        rtype::utinyint as rtype,
        publisher_id::usmallint as publisher_id,
        instrument_id::ubigint as instrument_id,
        action::varchar as action,
        side::varchar as side,
        depth::utinyint as depth,
{% if px_kind == 'decimal' %}
        price::decimal(18, 9) as price,
{% else %}
        case
            when price = 9223372036854775807 then null
            else (price::decimal(18, 0) * 0.000000001::decimal(18, 9))::decimal(18, 9)
        end as price,
{% endif %}
        size::bigint as size,
        flags::utinyint as flags,
        ts_in_delta::integer as ts_in_delta,
        coalesce(sequence::ubigint, 0) as sequence,
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
