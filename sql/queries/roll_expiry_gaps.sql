{% from 'macros/root.sql' import contract_root %}
-- roll_expiry_gaps: what `--roll-rule expiry-days:N` lacks in {{ bars }}: each outright without an
-- instrument_definitions record that has an expiration (reason `definition`, first column the
-- symbol), and each root without an exchange calendar in rth_hours (reason `calendar`, first
-- column the root).
with bars as (
    select * from {{ bars }}
),

definitions as (
    select * from instrument_definitions
),

rth_hours as (
    select * from rth_hours
),

outrights as (
    select distinct
        symbol,
        {{ contract_root('symbol') }} as root
    from bars
),

undefined as (
    select
        outrights.symbol as name,
        'definition' as reason
    from outrights
    where outrights.root is not null
      and not exists (
          select 1 from definitions
          where definitions.symbol = outrights.symbol and definitions.expiration is not null
      )
),

uncalendared as (
    select distinct
        outrights.root as name,
        'calendar' as reason
    from outrights
    where outrights.root is not null
      and not exists (select 1 from rth_hours where rth_hours.root = outrights.root)
),

final as (
    select * from undefined
    union all
    select * from uncalendared
)

select * from final
order by reason desc, name
