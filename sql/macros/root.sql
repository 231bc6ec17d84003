{#- A futures symbol's root, as plain SQL that DuckDB 1.x also parses (vcdwh.instruments.contract_root
    applies the same rule in Python). The root is what stands before the CME month code (one of
    FGHJKMNQUVXZ) and the 1-2 year digits that end an outright: ESH4 -> ES, MESM24 -> MES,
    SR3H4 -> SR3.

    contract_root(symbol): the root of an outright; NULL for a calendar spread (a `-` in the symbol)
    and anything else.
    root(symbol): the root of an outright or of a spread's first leg (ESH4-ESM4 -> ES); UNKNOWN for
    a symbol without a month code (e.g. an instrument_id). -#}
{% macro outright_root(symbol) -%}
nullif(regexp_extract({{ symbol }}, '^([A-Z0-9]+)[FGHJKMNQUVXZ][0-9]{1,2}$', 1), '')
{%- endmacro %}
{% macro contract_root(symbol) -%}
case when {{ symbol }} not like '%-%' then {{ outright_root(symbol) }} end
{%- endmacro %}
{% macro root(symbol) -%}
coalesce({{ outright_root("split_part(" ~ symbol ~ ", '-', 1)") }}, 'UNKNOWN')
{%- endmacro %}
