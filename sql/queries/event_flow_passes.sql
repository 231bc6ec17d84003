-- event_flow_passes: what the sequential pass of volume and range bars reads of int_event_flow,
-- in the order it was written (session by session, each in trade order; a plain scan keeps the
-- insertion order, as int_event_trades' positional join does): trade_no (1 opens a session),
-- size, and the price, whose DECIMAL(18, 9) the pass reads as integer nano units (exact, so a
-- range is exact).
with final as (
    select trade_no, size, price
    from int_event_flow
)

select * from final
