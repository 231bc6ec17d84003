-- stg_trades_missing: how many of the trades loaded from earlier versions of this file's path
-- ($earlier: their file_ids) the file (stg_trades, occurrences numbered) no longer holds, counting
-- occurrences, with the first of them. A re-download that only adds records misses none; a file
-- rewritten with other contents under the same name misses some, and the build refuses it
-- unless `--replace`.
with staged as (
    select * from stg_trades
),

earlier as (
    select *
    from trades
    where list_contains($earlier, file_id)
),

missing as (
    select *
    from earlier
    anti join staged using ({{ identity | join(', ') }}, occurrence)
),

first_missing as (
    select instrument_id, ts_recv, sequence, side, size, price
    from missing
    order by ts_recv, sequence, file_id, position
    limit 1
),

counts as (
    select
        (select count(*) from earlier) as held,
        (select count(*) from missing) as missing
),

final as (
    select counts.held, counts.missing, first_missing.*
    from counts
    left join first_missing on true
)

select * from final
