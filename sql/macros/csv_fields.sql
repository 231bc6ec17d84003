{#- Typed values of a Databento CSV's fields. Timestamps and raw-layout prices are read as text
    and converted here, leniently: a value that is not what Databento writes (a raw-layout price
    or timestamp that is not an integer, an ISO timestamp with an offset other than UTC, a date
    that does not exist or is beyond the nanosecond range, an id out of its type's range) becomes
    NULL, and `unreadable` names the first such field of a record (macros `given` and
    `with_unreadable`), so the build refuses it (or, with --on-bad-rows skip, rejects it) naming
    the field. A registered relation (decoded DBN records, a DataFrame) is typed as it comes. -#}
{% macro ts_value(column, source, ts_kind) -%}
{%- if source == 'csv' and ts_kind == 'iso' -%}
case
        when ends_with({{ column }}, 'Z')
            or not regexp_matches({{ column }}, '[+-][0-9]{2}:?[0-9]{2}$')
            or regexp_matches({{ column }}, '[+-]00:?00$')
            then try_cast({{ column }} as timestamp_ns)
    end
{%- elif source == 'csv' -%}
make_timestamp_ns(case
        when try_cast({{ column }} as bigint)::varchar = {{ column }}
            and try_cast({{ column }} as bigint)
                between -9223372036854775806 and 9223372036854775806
            then try_cast({{ column }} as bigint)
    end)
{%- elif ts_kind == 'iso' -%}
{{ column }}::timestamp_ns
{%- else -%}
make_timestamp_ns({{ column }}::bigint)
{%- endif -%}
{%- endmacro %}

{% macro price_value(column, source, px_kind) -%}
{%- if px_kind == 'decimal' -%}
{{ column }}::decimal(18, 9)
{%- elif source == 'csv' -%}
case
        when try_cast({{ column }} as bigint)::varchar = {{ column }}
            and {{ column }} <> '9223372036854775807'
            then try_cast(
                try_cast({{ column }} as bigint)::decimal(18, 0) * 0.000000001::decimal(18, 9)
                as decimal(18, 9)
            )
    end
{%- else -%}
case
        when {{ column }} = 9223372036854775807 then null
        else ({{ column }}::decimal(18, 0) * 0.000000001::decimal(18, 9))::decimal(18, 9)
    end
{%- endif -%}
{%- endmacro %}

{% macro int_value(column, type, source) -%}
{%- if source == 'csv' -%}
try_cast({{ column }} as {{ type }})
{%- else -%}
{{ column }}::{{ type }}
{%- endif -%}
{%- endmacro %}

{#- In `typed`: whether each converted field had text (CSV only), as `given_<column>`; an
    undefined raw price (9223372036854775807) is a missing price, not an unreadable one. -#}
{% macro given(values, source, px_kind) -%}
{%- if source == 'csv' -%}
{% for column, value in values %}
{% if px_kind == 'fixed' and column in ('price', 'open', 'high', 'low', 'close') %}
        coalesce({{ column }} <> '9223372036854775807', false) as given_{{ column }},
{% else %}
        {{ column }} is not null as given_{{ column }},
{% endif %}
{% endfor %}
{%- endif -%}
{%- endmacro %}

{#- In `final`: the typed record without the `given_` flags, and `unreadable`: the first field
    whose text is there but did not convert (NULL when all did). -#}
{% macro with_unreadable(values, source) -%}
{%- if source == 'csv' -%}
* exclude (
{%- for column, value in values %}given_{{ column }}{{ ", " if not loop.last }}{% endfor -%}
),
        case
{% for column, value in values %}
            when given_{{ column }} and {{ column }} is null then '{{ column }}'
{% endfor %}
        end as unreadable
{%- else -%}
*,
        null::varchar as unreadable
{%- endif -%}
{%- endmacro %}
