-- stg_trades_repeats: the staged records that repeat an earlier record of the file, each with its
-- occurrence: its 1-based index among the records equal to it on every identity column, in
-- file order (2 and up). Records missing here are the first of their kind (occurrence 1).
-- Only records whose hash repeats are numbered; equal hashes of different records only bring
-- those records to the numbering, which is exact.
{% if bounded %}
-- Filled one UTC day of ts_recv at a time ($from_ts <= ts_recv < $to_ts): equal records share
-- ts_recv, so each day is numbered on its own, exactly, in a small hash table.
{% endif %}
with staged as (
    select * from stg_trades
{% if bounded %}
    where ts_recv >= $from_ts and ts_recv < $to_ts
{% endif %}
),

repeated_hashes as (
    select hash({{ identity | join(', ') }}) as record_hash
    from staged
    group by record_hash
    having count(*) > 1
),

candidates as (
    select *
    from staged
    where hash({{ identity | join(', ') }}) in (select record_hash from repeated_hashes)
),

numbered as (
    select
        position,
        row_number() over (
            partition by {{ identity | join(', ') }}
            order by position
        ) as occurrence
    from candidates
),

final as (
    select * from numbered
    where occurrence > 1
)

select * from final
