{#- Whether a text value holds an ASCII control character (0-31 or 127, what RE2's [[:cntrl:]]
    matches): one `contains` per character, which DuckDB can evaluate once per distinct value of
    a dictionary-compressed column where a regular expression runs on every row. -#}
{% macro holds_control(column) -%}
(
{%- for code in range(32) | list + [127] -%}
contains({{ column }}, chr({{ code }})){{ " or " if not loop.last }}
{%- endfor -%}
)
{%- endmacro %}
