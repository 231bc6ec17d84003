{% from 'macros/text_checks.sql' import holds_control %}
-- stg_control_symbols: a staged symbol that holds control characters (one row at most; none for
-- a clean file), checked on its own so the record rules (stg_*_problems) can leave that rule
-- out when no symbol breaks it.
with staged as (
    select symbol from {{ stage }}
),

final as (
    select symbol
    from staged
    where {{ holds_control('symbol') }}
    limit 1
)

select * from final
