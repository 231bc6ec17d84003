-- ratio_nonpositive: prices `--adjust ratio` cannot use: the first bar of a contract `rolls` chose
-- (in {{ bars }}) with a low at or below zero, or a roll whose gap closes are not positive.
with bars as (
    select * from {{ bars }}
),

rolls as (
    select * from rolls
),

chosen_bars as (
    select
        bars.symbol as contract,
        bars.bar_start,
        bars.low as price
    from bars
    join rolls
      on rolls.session_date = bars.session_date
     and rolls.instrument_id = bars.instrument_id
     and rolls.contract = bars.symbol
    where bars.low <= 0
),

roll_closes as (
    select
        case when roll_previous_close <= 0 then previous_contract else contract end as contract,
        null::timestamp_ns as bar_start,
        least(roll_previous_close, roll_contract_close) as price
    from rolls
    where roll_previous_close <= 0 or roll_contract_close <= 0
),

final as (
    select * from chosen_bars
    union all
    select * from roll_closes
)

select * from final
order by bar_start nulls last, contract
limit 1
