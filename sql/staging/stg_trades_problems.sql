{% from 'macros/text_checks.sql' import holds_control %}
-- stg_trades_problems: the staged records that break a rule (the first one, or
-- all of them when all_rows is set), with their positions and why. The timestamp range is the
-- one vcdwh/load/stage.py checks in a CSV's text.
with staged as (
    select * from stg_trades
),

checked as (
    select
        position,
        case
            when unreadable is not null then 'cannot read ' || unreadable
            when side is null or side not in ('A', 'B', 'N')
                then 'unknown side code ' || coalesce('''' || side || '''', 'NULL')
                    || ' (expected A, B or N)'
            when price is null then 'missing price'
            when price <= 0 and coalesce(symbol, '') not like '%-%'
                then 'non-positive price ' || price::varchar || ' for an outright'
            when size is null then 'missing size'
            when size <= 0 then 'size ' || size::varchar || ' is not positive'
            when size > 4294967295 then 'size ' || size::varchar || ' overflows 32 bits'
            when instrument_id is null then 'missing instrument_id'
            when instrument_id > 4294967295
                then 'instrument_id ' || instrument_id::varchar || ' overflows 32 bits'
            when action is not null and action <> 'T'
                then 'action ''' || action || ''' is not a trade (expected T)'
            when ts_recv is null or ts_event is null then 'missing timestamp'
{% for ts in ['ts_recv', 'ts_event'] %}
            when {{ ts }} < timestamp '1990-01-01' or {{ ts }} > timestamp '2200-01-01'
                then '{{ ts }} ' || {{ ts }}::varchar
                    || ' is out of range (1990-01-01 to 2200-01-01)'
{% endfor %}
{% if not (clean_symbols is defined and clean_symbols) %}
            when {{ holds_control('symbol') }} then 'symbol holds control characters'
{% endif %}
        end as problem
    from staged
),

final as (
    select position, problem
    from checked
    where problem is not null
    order by position
{% if not all_rows %}
    limit 1
{% endif %}
)

select * from final
