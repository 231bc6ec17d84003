{% from 'macros/text_checks.sql' import holds_control %}
-- stg_ohlcv_1m_problems: the staged bars that break a rule (the first one, or
-- all of them when all_rows is set), with their positions and why.
with staged as (
    select * from stg_ohlcv_1m
),

checked as (
    select
        position,
        case
            when unreadable is not null then 'cannot read ' || unreadable
            when instrument_id is null then 'missing instrument_id'
            when open is null or high is null or low is null or close is null
                then 'missing price'
            when high < low or high < open or high < close or low > open or low > close
                then 'high/low do not bound open/close'
            when volume is null or volume < 0 then 'volume is missing or negative'
            when rtype is not null and rtype not in (32, 33, 34, 35)
                then 'rtype ' || rtype::varchar || ' is not an OHLCV record'
            when ts_event is null then 'missing timestamp'
            when ts_event < timestamp '1990-01-01' or ts_event > timestamp '2200-01-01'
                then 'ts_event ' || ts_event::varchar
                    || ' is out of range (1990-01-01 to 2200-01-01)'
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
