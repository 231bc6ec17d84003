-- tape: the trades of one instrument with $from_ns <= ts_recv < $to_ns (nanoseconds since the
-- epoch), in trade order (ts_recv, sequence, position: the order bars take their open and close
-- from), with the price as a double and the sequence (the fills of one aggressive order share
-- ts_recv and sequence).
with trades as (
    select * from trades
    where instrument_id = $instrument_id
      and ts_recv >= make_timestamp_ns($from_ns)
      and ts_recv < make_timestamp_ns($to_ns)
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
