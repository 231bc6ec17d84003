-- event_flow_passes: what the sequential pass of volume and range bars reads of int_event_flow,
-- in the order it was written (session by session, each in trade order): trade_no (1 opens a
-- session), size, and the price in nano units (integers, so a range is exact).
with final as (
    select
        rowid as written,
        trade_no,
        size,
        (price::decimal(38, 9) * 1000000000)::bigint as price_nanos
    from int_event_flow
)

select * exclude (written) from final
order by written
