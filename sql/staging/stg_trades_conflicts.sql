-- stg_trades_conflicts: the first staged trade that contradicts trades already held.
-- A trade key (instrument_id, ts_recv, sequence) found both in the file and in the warehouse
-- must carry the same records there, counting occurrences, or one side must hold all of the
-- other's records (a file cut in the middle of an order's fills holds fewer). When each side
-- holds a record the other lacks (a different price, size or side for the same print), the
-- file changed what the exchange printed: a conflict, never merged silently.
-- The file's records are stg_trades (its rows of `trades`, $file_id); held ones are earlier files'.
with staged as (
    select * exclude (occurrence) from stg_trades
),

bounds as (
    select min(ts_recv) as lo, max(ts_recv) as hi from staged
),

-- a trade of another instrument is never the same trade
instruments as (
    select distinct instrument_id from staged
),

held as (
    select *
    from trades
    where ts_recv between (select lo from bounds) and (select hi from bounds)
      and file_id < $file_id
      and instrument_id in (select instrument_id from instruments)
),

shared_keys as (
    select distinct instrument_id, ts_recv, sequence
    from staged
    semi join held using (instrument_id, ts_recv, sequence)
),

staged_shared as (
    select
        staged.*,
        row_number() over (
            partition by {{ identity | join(', ') }}
            order by position
        ) as occurrence
    from staged
    semi join shared_keys using (instrument_id, ts_recv, sequence)
),

held_shared as (
    select *
    from held
    semi join shared_keys using (instrument_id, ts_recv, sequence)
),

only_staged as (
    select *
    from staged_shared
    anti join held_shared using ({{ identity | join(', ') }}, occurrence)
),

only_held as (
    select *
    from held_shared
    anti join staged_shared using ({{ identity | join(', ') }}, occurrence)
),

first_conflict as (
    select *
    from only_staged
    semi join only_held using (instrument_id, ts_recv, sequence)
    order by position
    limit 1
),

first_held as (
    select *
    from only_held
    qualify row_number() over (
        partition by instrument_id, ts_recv, sequence
        order by file_id, position
    ) = 1
),

final as (
    select
        first_conflict.position,
        first_conflict.instrument_id,
        first_conflict.ts_recv,
        first_conflict.sequence,
        first_conflict.side,
        first_conflict.size,
        first_conflict.price,
        first_held.side as held_side,
        first_held.size as held_size,
        first_held.price as held_price,
        first_held.file_id as held_file_id
    from first_conflict
    inner join first_held using (instrument_id, ts_recv, sequence)
)

select * from final
