-- new_trades: the staged records that the warehouse does not hold yet.
-- Identity counts occurrences: a record that appears k times in a file is k trades, and a
-- record already held k times is not added again, so overlapping files never count a trade twice
-- and never collapse identical fills. Records that repeat in the file take their occurrence from
-- stg_trades_repeats; all others are occurrence 1. The comparison
-- with held records runs only when the file overlaps the time range already held ($overlap).
-- Symbols come from the file, else the file name ($file_symbol, single-instrument files only),
-- else earlier loads, else the instrument_id.
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

repeats as (
    select * from stg_trades_repeats
),

counted as (
    select
        staged.*,
        coalesce(repeats.occurrence, 1) as occurrence
    from staged
    left join repeats using (position)
),

{% if overlap %}
bounds as (
    select min(ts_recv) as lo, max(ts_recv) as hi from staged
),

existing as (
    select {{ identity | join(', ') }}, occurrence
    from trades
    where ts_recv between (select lo from bounds) and (select hi from bounds)
),

fresh as (
    select counted.*
    from counted
    anti join existing using ({{ identity | join(', ') }}, occurrence)
),
{% else %}
fresh as (
    select * from counted
),
{% endif %}

final as (
    select
        fresh.ts_recv,
        fresh.ts_event,
        fresh.rtype,
        fresh.publisher_id,
        fresh.instrument_id,
        fresh.action,
        fresh.side,
        fresh.depth,
        fresh.price,
        fresh.size,
        fresh.flags,
        fresh.ts_in_delta,
        fresh.sequence,
        coalesce(
            fresh.symbol,
            $file_symbol,
            known_symbols.symbol,
            fresh.instrument_id::varchar
        ) as symbol,
        fresh.occurrence,
        $file_id as file_id,
        fresh.position
    from fresh
    left join known_symbols using (instrument_id)
)

select * from final
