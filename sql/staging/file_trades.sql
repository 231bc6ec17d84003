-- file_trades: one trades file's records in the columns of `trades`, as a build adds them: each
-- is occurrence 1 and, without a symbol in the file, carries its instrument_id as its symbol
-- until the build resolves both (repeated records, the file name, earlier loads), and checks
-- and de-duplicates them against the trades already held. A record with a field that did not
-- convert stops the statement (the build then finds and names its line).
with staged as (
{% if from_stage %}
    select * from stg_trades
{% else %}
{% filter indent(4, first=True) %}
{% include 'staging/stg_trades.sql' %}
{% endfilter %}
{% endif %}
),

final as (
    select
        ts_recv,
        ts_event,
        rtype,
        publisher_id,
        instrument_id,
        action,
        side,
        depth,
        price,
        size,
        flags,
        ts_in_delta,
        sequence,
        coalesce(symbol, instrument_id::varchar) as symbol,
        1::uinteger as occurrence,
        $file_id::integer as file_id,
        case
            when unreadable is not null then error('cannot read the field ' || unreadable)
            else position
        end as position
    from staged
)

select * from final
