-- tape: the trades of one instrument with $from_ts <= ts_recv < $to_ts: ts_recv in nanoseconds,
-- the price as a double, and the sequence and position that order trades (trade order is
-- ts_recv, sequence, position: the order bars take their open and close from; the fills of one
-- aggressive order share ts_recv and sequence). Rows come in storage order, which is trade order
-- for trades loaded from one file: the reader checks that and sorts only when it is not, which
-- saves a sort of every block.
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
        sequence,
        position
    from trades
)

select * from final
