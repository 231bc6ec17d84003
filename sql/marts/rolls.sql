{% from 'macros/root.sql' import contract_root %}
-- rolls: the contract a continuous series uses, one row per futures root and CME session.
{% if expiry_days is none %}
-- Roll rule `volume`: the outright (no `-` in the symbol) with the most volume in that session;
-- ties go to the alphabetically first symbol.
{% else %}
-- Roll rule `expiry-days:{{ expiry_days }}`: the traded outright with the earliest expiration
-- (instrument_definitions) whose roll session is after this session; a contract's roll session is
-- the CME session {{ expiry_days }} trading day(s) of its root's calendar before the trade date of
-- its expiration. When every contract traded has rolled, the one expiring last.
{% endif %}
-- `rolled` is true on the first session of a new contract (`previous_contract` is the one
-- before). At a roll, roll_previous_close/roll_contract_close are the two contracts' closes at the
-- last bar before the roll session at which both traded (roll_gap = their difference, roll_ratio
-- their quotient; NULL when they never traded in the same bar: that roll is not adjusted), and
-- adjustment/adjustment_ratio what back-adjusts the session's prices onto the latest contract: the
-- sum of the gaps (the product of the ratios) of every later roll.
with bars as (
    select * from {{ bars }}
),

sessions as (
    select * from sessions
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
{% if expiry_days is not none %}

expirations as (
    select
        symbol,
        max(expiration) as expiration,
        -- the CME trade date of the expiration: its Chicago time, moved past the 17:00 open
        (max(timezone('America/Chicago', timezone('UTC', expiration))) + interval 7 hour)::date
            as expiry_date
    from instrument_definitions
    where expiration is not null
    group by symbol
),

trading_days as (
    select
        rth_hours.root,
        calendar.session_date,
        row_number() over (partition by rth_hours.root order by calendar.session_date) as day_number
    from rth_hours
    join calendar on calendar.calendar = rth_hours.calendar
),

expiry_numbers as (
    select
        expirations.symbol,
        rooted_symbols.root,
        expirations.expiration,
        (
            select max(trading_days.day_number) from trading_days
            where trading_days.root = rooted_symbols.root
              and trading_days.session_date <= expirations.expiry_date
        ) as expiry_number
    from expirations
    join (select distinct symbol, root from rooted) as rooted_symbols using (symbol)
),

roll_dates as (
    select
        expiry_numbers.symbol,
        expiry_numbers.expiration,
        trading_days.session_date as roll_date
    from expiry_numbers
    left join trading_days
      on trading_days.root = expiry_numbers.root
     and trading_days.day_number = expiry_numbers.expiry_number - {{ expiry_days }}
),

eligible as (
    select
        rooted.*,
        roll_dates.expiration,
        roll_dates.roll_date,
        roll_dates.roll_date > rooted.session_date as before_roll
    from rooted
    join roll_dates using (symbol)
),
{% endif %}

ranked as (
    select
        *,
        sum(volume) over (partition by root, session_date) as root_volume,
        row_number() over (
            partition by root, session_date
{% if expiry_days is none %}
            order by volume desc, symbol, instrument_id
{% else %}
            order by
                before_roll desc,
                case when before_roll then expiration end asc,
                expiration desc,
                symbol,
                instrument_id
{% endif %}
        ) as volume_rank
    from {{ 'rooted' if expiry_days is none else 'eligible' }}
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

flagged as (
    select
        *,
        previous_contract is not null and previous_contract <> contract as rolled
    from chosen
),

gaps as (
    select
        flagged.root,
        flagged.session_date,
        arg_max(old.close, old.bar_start) as roll_previous_close,
        arg_max(new.close, old.bar_start) as roll_contract_close
    from flagged
    join sessions on sessions.session_date = flagged.session_date
    join bars as old
      on old.symbol = flagged.previous_contract
     and old.bar_start < sessions.session_start
    join bars as new
      on new.symbol = flagged.contract
     and new.bar_start = old.bar_start
    where flagged.rolled
    group by flagged.root, flagged.session_date
),

gapped as (
    select
        flagged.*,
        gaps.roll_previous_close,
        gaps.roll_contract_close,
        gaps.roll_contract_close - gaps.roll_previous_close as roll_gap,
        case
            when gaps.roll_previous_close > 0
                then gaps.roll_contract_close::double / gaps.roll_previous_close::double
        end as roll_ratio
    from flagged
    left join gaps using (root, session_date)
),

final as (
    select
        *,
        coalesce(
            sum(roll_gap) over later_rolls, 0
        )::decimal(18, 9) as adjustment,
        coalesce(product(roll_ratio) over later_rolls, 1)::double as adjustment_ratio
    from gapped
    window later_rolls as (
        partition by root order by session_date
        rows between 1 following and unbounded following
    )
)

select * from final
order by root, session_date
