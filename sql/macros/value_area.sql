{#- The value-area walk's pairs, as SQL expressions over a 1-based list of level volumes whose
    level index (0-based) runs from the session's lowest price in grid units; `step` grid units
    make one tick. A level past either end counts 0. -#}
{% macro pair_above(volumes, hi, step) -%}
(coalesce({{ volumes }}[{{ hi }} + {{ step }} + 1], 0)
    + coalesce({{ volumes }}[{{ hi }} + 2 * {{ step }} + 1], 0))
{%- endmacro %}
{% macro pair_below(volumes, lo, step) -%}
(case when {{ lo }} - {{ step }} >= 0 then {{ volumes }}[{{ lo }} - {{ step }} + 1] else 0 end
    + case
        when {{ lo }} - 2 * {{ step }} >= 0 then {{ volumes }}[{{ lo }} - 2 * {{ step }} + 1]
        else 0
    end)
{%- endmacro %}
