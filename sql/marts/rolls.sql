{% from 'macros/root.sql' import contract_root %}
-- rolls: the contract a continuous series uses, one row per futures root and CME session: the
-- outright (no `-` in the symbol) with the most volume in that session. Ties go to the
-- alphabetically first symbol. `rolled` is true on the first session of a new contract
-- (`previous_contract` is the one before).
with bars as (
    select * from {{ bars }}
),

session_volume as (
    select
        session_date,
        instrument_id,
        symbol,
        sum(volume)::bigint as volume
    from bars
    group by session_date, instrument_id, symbol
),

-- materialized: the root is derived once per symbol, not pushed down to every trade
roots as materialized (
    select
        symbol,
        {{ contract_root('symbol') }}
            as root
    from (select distinct symbol from session_volume)
),

rooted as (
    select session_volume.*, roots.root
    from session_volume
    join roots using (symbol)
),

ranked as (
    select
        *,
        sum(volume) over (partition by root, session_date) as root_volume,
        row_number() over (
            partition by root, session_date order by volume desc, symbol, instrument_id
        ) as volume_rank
    from rooted
    where root is not null
),

chosen as (
    select
        root,
        session_date,
        symbol as contract,
        instrument_id,
        volume,
        root_volume::bigint as root_volume,
        lag(symbol) over (partition by root order by session_date) as previous_contract
    from ranked
    where volume_rank = 1
),

final as (
    select
        *,
        previous_contract is not null and previous_contract <> contract as rolled
    from chosen
)

select * from final
order by root, session_date
