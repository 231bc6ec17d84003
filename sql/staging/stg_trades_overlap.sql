-- stg_trades_overlap: one row, `overlaps`, true when trades of earlier files ($file_id) lie inside
-- the time range of the staged file ({{ stage }}). Only then are conflicts and held records
-- looked for.
with staged as (
    select * from {{ stage }}
),

bounds as (
    select min(ts_recv) as lo, max(ts_recv) as hi from staged
),

final as (
    select exists (
        select 1
        from trades, bounds
        where trades.file_id < $file_id
          and trades.ts_recv between bounds.lo and bounds.hi
    ) as overlaps
)

select * from final
