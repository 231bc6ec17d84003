{#- What int_bar_grain and int_level_grain read of a trade where int_event_flow (`numbered`) keeps
    less than the trades: no side column (the sign of signed_size is the side, as sizes are
    positive) and no session_date (a grain takes its session's, from sessions, by the session's
    start). -#}
{% macro side_is(side, numbered) -%}
{% if numbered %}signed_size {{ {'B': '>', 'A': '<', 'N': '='}[side] }} 0{% else %}side = '{{ side }}'{% endif %}
{%- endmacro %}
{#- The large-lot volume of one aggressor side: the size of its prints whose aggressor event's
    size (event_size) is at least $min_size and, with has_max_size, at most $max_size. -#}
{% macro large_lot_volume(side, numbered, has_max_size) -%}
coalesce(sum(size) filter (where {{ side_is(side, numbered) }} and event_size >= $min_size{% if has_max_size %} and event_size <= $max_size{% endif %}), 0)::bigint
{%- endmacro %}
{% macro dated(relation) -%}
select {{ relation }}.* replace (sessions.session_date as session_date)
    from {{ relation }}
    left join sessions on epoch_ns(sessions.session_start) = {{ relation }}.session_start_ns
{%- endmacro %}
