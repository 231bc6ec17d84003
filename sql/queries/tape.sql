-- tape: the trades of one instrument between two times, in trade order (ts_recv, sequence,
-- position: the order bars take their open and close from), with the price as a double and a
-- number per aggressive order (the fills of one order share ts_recv and sequence).
with trades as (
    select * from trades
    where instrument_id = $instrument_id
      and ts_recv >= $from_ts
      and ts_recv < $to_ts
),

final as (
    select
        epoch_ns(ts_recv) as ts_ns,
        price::double as price,
        sequence
    from trades
    order by ts_recv, sequence, position
)

select * from final
