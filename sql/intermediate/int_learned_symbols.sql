-- int_learned_symbols: the symbol each instrument carries, learned from every load that named it:
-- the one named last (`symbology.last_ts`). Rows loaded without a symbol (a raw CSV) take it.
with symbology as (
    select * from symbology
),

final as (
    select instrument_id, arg_max(symbol, last_ts) as symbol
    from symbology
    group by instrument_id
)

select * from final
