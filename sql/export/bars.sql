{% from 'macros/root.sql' import root %}
-- export/bars: one bars table with its product root, for the Parquet export (partitioned by
-- root and session_date).
with bars as (
    select * from {{ bars }}
),

final as (
    select
        *,
        {{ root('symbol') }} as root
    from bars
)

select * from final
