-- new_trades: the staged records that the warehouse does not hold yet.
-- Identity counts occurrences: a record that appears k times in a file is k trades, and a
-- record already held k times is not added again, so overlapping files never count a trade twice
-- and never collapse identical fills. Symbols come from the file, else the file name
-- ($file_symbol, single-instrument files only), else earlier loads, else the instrument_id.
with staged as (
    select * from stg_trades
),

known_symbols as (
    select
        instrument_id,
        arg_max(symbol, last_ts) as symbol
    from symbology
    group by instrument_id
),

resolved as (
    select
        staged.* replace (
            coalesce(
                staged.symbol,
                $file_symbol,
                known_symbols.symbol,
                staged.instrument_id::varchar
            ) as symbol
        )
    from staged
    left join known_symbols using (instrument_id)
),

counted as (
    select
        *,
        row_number() over (
            partition by {{ identity | join(', ') }}
            order by position
        ) as occurrence
    from resolved
),

bounds as (
    select min(ts_recv) as lo, max(ts_recv) as hi from staged
),

existing as (
    select {{ identity | join(', ') }}, occurrence
    from trades
    where ts_recv between (select lo from bounds) and (select hi from bounds)
),

final as (
    select
        counted.ts_recv,
        counted.ts_event,
        counted.rtype,
        counted.publisher_id,
        counted.instrument_id,
        counted.action,
        counted.side,
        counted.depth,
        counted.price,
        counted.size,
        counted.flags,
        counted.ts_in_delta,
        counted.sequence,
        counted.symbol,
        counted.occurrence,
        $file_id as file_id,
        counted.position
    from counted
    anti join existing using ({{ identity | join(', ') }}, occurrence)
)

select * from final
