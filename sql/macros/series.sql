{#- series_rows(continuous): the condition that selects one backtest series' rows of a bars
    relation: a root's continuous series ($series_root) or one instrument ($series_instrument_id,
    $series_symbol). -#}
{% macro series_rows(continuous) -%}
{% if continuous %}root = $series_root{% else %}instrument_id = $series_instrument_id and symbol = $series_symbol{% endif %}
{%- endmacro %}
