-- stg_trades_held: the positions of the file's records that the warehouse already held before
-- this file ($file_id): equal on every identity column and on occurrence to a held trade in the
-- file's time range. A record that appears k times in a file is k trades, and a record held k
-- times is held once per occurrence, so overlapping files never count a trade twice and never
-- collapse identical fills. The build removes these records from the file's rows.
with staged as (
    select * from stg_trades
),

bounds as (
    select min(ts_recv) as lo, max(ts_recv) as hi from staged
),

-- a trade of another instrument is never the same trade
instruments as (
    select distinct instrument_id from staged
),

existing as (
    select {{ identity | join(', ') }}, occurrence
    from trades
    where ts_recv between (select lo from bounds) and (select hi from bounds)
      and file_id < $file_id
      and instrument_id in (select instrument_id from instruments)
),

final as (
    select staged.position
    from staged
    semi join existing using ({{ identity | join(', ') }}, occurrence)
)

select * from final
