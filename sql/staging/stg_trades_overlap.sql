-- stg_trades_overlap: one row, `overlaps`, true when trades of earlier files ($file_id) of the
-- staged file's instruments lie inside its time range ({{ stage }}). Only then are conflicts and
-- held records looked for (a trade of another instrument can be neither).
with staged as (
    select * from {{ stage }}
),

bounds as (
    select min(ts_recv) as lo, max(ts_recv) as hi from staged
),

instruments as (
    select distinct instrument_id from staged
),

final as (
    select exists (
        select 1
        from trades, bounds
        where trades.file_id < $file_id
          and trades.ts_recv between bounds.lo and bounds.hi
          and trades.instrument_id in (select instrument_id from instruments)
    ) as overlaps
)

select * from final
