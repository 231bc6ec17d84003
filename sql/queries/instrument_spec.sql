{% from 'macros/root.sql' import root %}
-- instrument_spec: the contract specification of $symbol: its latest Databento definition record
-- if one is loaded, else the row of its root in `instruments` (a root followed by a CME month code
-- and year, e.g. ESH4, or a calendar spread ESH4-ESM4, or the bare root of a continuous series).
-- A definition of a root missing from `instruments` takes $default_commission.
with definitions as (
    select * from instrument_definitions
),

instruments as (
    select * from instruments
),

from_definition as (
    select
        1 as priority,
        definitions.root,
        definitions.tick_size,
        definitions.multiplier,
        coalesce(instruments.commission_per_side, $default_commission) as commission_per_side,
        'definition' as source
    from definitions
    left join instruments on instruments.root = definitions.root
    where definitions.symbol = $symbol
    qualify row_number() over (order by definitions.ts_recv desc, definitions.file_id desc) = 1
),

from_root as (
    select
        2 as priority,
        root,
        tick_size,
        multiplier,
        commission_per_side,
        source
    from instruments
    where root in ($symbol, {{ root('$symbol') }})
    qualify row_number() over (order by length(root) desc) = 1
),

final as (
    select * from from_definition
    union all
    select * from from_root
)

select * from final
order by priority
limit 1
