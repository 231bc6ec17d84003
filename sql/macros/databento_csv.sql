{#- Formatting of values as Databento's pretty CSV writes them: ISO-8601 nanosecond timestamps
    with Z, decimal prices. -#}
{% macro pretty_ts(column) -%}
strftime(make_timestamp_ns({{ column }}), '%Y-%m-%dT%H:%M:%S.%nZ')
{%- endmacro %}
{% macro pretty_price(column) -%}
cast(cast({{ column }} as decimal(18, 9)) as varchar)
{%- endmacro %}
