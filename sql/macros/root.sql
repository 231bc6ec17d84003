{#- root(symbol): the product root of a futures symbol, as plain SQL that DuckDB 1.x also parses.
    The characters before the month code (one of FGHJKMNQUVXZ) and the 1-2 year digits at the
    end: ESH4 -> ES, MESM24 -> MES, SR3H4 -> SR3. A calendar spread (ESH4-ESM4) gets its first
    leg's root; a symbol without a month code (e.g. an instrument_id) gets UNKNOWN. -#}
{% macro root(symbol) -%}
coalesce(nullif(regexp_extract(split_part({{ symbol }}, '-', 1), '^([A-Z0-9]+)[FGHJKMNQUVXZ][0-9]{1,2}$', 1), ''), 'UNKNOWN')
{%- endmacro %}
