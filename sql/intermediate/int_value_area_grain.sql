{% from 'macros/root.sql' import contract_root %}
{% from 'macros/value_area.sql' import pair_above, pair_below %}
{% macro above(hi) %}{{ pair_above('volumes', hi, 'step') }}{% endmacro %}
{% macro below(lo) %}{{ pair_below('volumes', lo, 'step') }}{% endmacro %}
-- int_value_area_grain: the developing volume profile of every session, per instrument and grain
-- (the finest bars of the build, as int_level_grain): from the session's trades up to the end of
-- that grain only, its point of control (poc: the price with the most volume, ties to the lower
-- price), value area (val .. vah) and volumes. A bar's developing levels are those of its last
-- grain, and a session's profile_session_summary is that of its last grain.
-- Levels are one tick apart: the root's tick (as the footprint), else the smallest gap between
-- the session's prices traded up to the grain. A level's index is its distance from the
-- session's lowest price in units of the smallest gap of the whole session (the grid the
-- developing ticks are whole multiples of); one list per grain holds the profile so far, from
-- the lowest to the highest level traded up to the grain (`first_idx` on).
-- The value area starts at the POC and grows, step by step, by the next two levels above or the
-- next two below (a missing level counts 0): the larger pair, both on a tie; a side with no
-- levels left counts 0, so the other side is taken. It stops as soon as its volume is at least
-- $value_area_pct % of the session's volume so far (a fold over the steps, `walked`).
-- Built a few sessions at a time: those opening at $from_ts <= session open < $to_ts.
with grain_levels as (
    select instrument_id, symbol, session_date, grain_ns, price, volume
    from int_level_grain
    where session_start_ns >= epoch_ns($from_ts::timestamp)
        and session_start_ns < epoch_ns($to_ts::timestamp)
),

root_ticks as (
    select unnest($roots) as root, unnest($tick_sizes)::decimal(18, 9) as tick_size
),

session_prices as (
    select instrument_id, symbol, session_date, price
    from grain_levels
    group by instrument_id, symbol, session_date, price
),

gaps as (
    select
        *,
        price - lag(price) over (
            partition by instrument_id, symbol, session_date order by price
        ) as gap
    from session_prices
),

symbols as (
    select
        symbol,
        {{ contract_root('symbol') }}
            as root
    from session_prices
    group by symbol
),

session_grids as (
    select
        gaps.instrument_id,
        gaps.symbol,
        gaps.session_date,
        min(gaps.price) as base,
        coalesce(any_value(root_ticks.tick_size), min(gaps.gap)) as tick,
        any_value(root_ticks.tick_size) is not null as known_tick
    from gaps
    join symbols using (symbol)
    left join root_ticks using (root)
    group by gaps.instrument_id, gaps.symbol, gaps.session_date
),

indexed as (
    select
        grain_levels.*,
        coalesce(round((grain_levels.price - session_grids.base) / session_grids.tick), 0)::bigint
            as idx
    from grain_levels
    join session_grids using (instrument_id, symbol, session_date)
),

sizes as (
    select
        indexed.instrument_id,
        indexed.symbol,
        indexed.session_date,
        max(indexed.idx) + 1 as levels,
        any_value(session_grids.known_tick) as known_tick
    from indexed
    join session_grids using (instrument_id, symbol, session_date)
    group by indexed.instrument_id, indexed.symbol, indexed.session_date
),

price_lists as (
    -- per session, the price of each level index (the lowest price rounded to it), NULL where
    -- nothing traded
    select
        sizes.instrument_id,
        sizes.symbol,
        sizes.session_date,
        list(level_prices.price order by grid.idx) as prices
    from sizes
    cross join lateral (select unnest(range(sizes.levels)) as idx) as grid
    left join (
        select instrument_id, symbol, session_date, idx, min(price) as price
        from indexed
        group by instrument_id, symbol, session_date, idx
    ) as level_prices
        on level_prices.instrument_id = sizes.instrument_id
        and level_prices.symbol = sizes.symbol
        and level_prices.session_date = sizes.session_date
        and level_prices.idx = grid.idx
    group by sizes.instrument_id, sizes.symbol, sizes.session_date
),

grain_volumes as (
    select
        instrument_id,
        symbol,
        session_date,
        grain_ns,
        idx,
        sum(volume)::bigint as volume,
        dense_rank() over (order by instrument_id, symbol, session_date) as session_id
    from indexed
    group by instrument_id, symbol, session_date, grain_ns, idx
),

grains as (
    -- the levels traded so far run from first_idx to last_idx
    select
        session_id,
        grain_ns,
        known_tick,
        min(min_idx) over so_far as first_idx,
        max(max_idx) over so_far as last_idx
    from (
        select
            session_id,
            grain_ns,
            any_value(known_tick) as known_tick,
            min(idx) as min_idx,
            max(idx) as max_idx
        from grain_volumes
        join sizes using (instrument_id, symbol, session_date)
        group by session_id, grain_ns
    )
    window so_far as (partition by session_id order by grain_ns rows unbounded preceding)
),

dense as (
    -- every level of the session's range so far at every grain (kind 1) with the volume traded
    -- there so far:
    -- the running sum over the level's traded volumes (kind 0) up to and including the grain
    select
        session_id,
        grain_ns,
        idx,
        kind,
        sum(volume) over (
            partition by session_id, idx
            order by grain_ns, kind
            rows between unbounded preceding and current row
        )::bigint as volume
    from (
        select session_id, grain_ns, idx, volume, 0 as kind from grain_volumes
        union all
        select
            session_id,
            grain_ns,
            unnest(range(first_idx, last_idx + 1)) as idx,
            0 as volume,
            1 as kind
        from grains
    )
),

profiles as (
    select
        sessions.instrument_id,
        sessions.symbol,
        sessions.session_date,
        dense.grain_ns,
        list(dense.volume order by dense.idx) as volumes,
        sum(dense.volume)::bigint as total,
        count(*)::bigint as levels,
        any_value(grains.first_idx) as first_idx,
        any_value(grains.known_tick) as known_tick
    from dense
    join grains using (session_id, grain_ns)
    join (
        select
            any_value(instrument_id) as instrument_id, any_value(symbol) as symbol,
            any_value(session_date) as session_date, session_id
        from grain_volumes
        group by session_id
    ) as sessions using (session_id)
    where dense.kind = 1
    group by sessions.instrument_id, sessions.symbol, sessions.session_date, dense.grain_ns
),

traded as (
    select
        *,
        list_filter(range(levels), lambda i: volumes[i + 1] > 0) as traded_levels
    from profiles
),

started as (
    select
        * exclude (traded_levels),
        -- one tick in level indexes: 1 for a root's tick; else the smallest gap between the
        -- session's prices traded so far (no look-ahead)
        case
            when known_tick then 1
            else coalesce(
                list_min(
                    list_transform(
                        range(1, len(traded_levels)),
                        lambda j: traded_levels[j + 1] - traded_levels[j]
                    )
                ),
                1
            )
        end as step,
        $value_area_pct * total as target,
        -- list_position finds the first, lowest, level of the highest volume (0-based here)
        list_position(volumes, list_max(volumes)) - 1 as poc_idx
    from traded
),

walked as (
    -- the walk: a state {lo, hi, area} that stays put once the area holds the target or covers
    -- every level. Each step that is not the last moves an end by 2 * step >= 2 levels, or
    -- onto its first or last level (once per end): levels // 2 + 2 steps cover levels - 1
    select
        *,
        list_reduce(
            range(levels // 2 + 2),
            lambda area, attempt: case
                when area.volume * 100 >= target or (area.lo = 0 and area.hi = levels - 1)
                    then area
                else {
                    'lo': case
                        when {{ below('area.lo') }} >= {{ above('area.hi') }}
                            then greatest(area.lo - 2 * step, 0)
                        else area.lo
                    end,
                    'hi': case
                        when {{ above('area.hi') }} >= {{ below('area.lo') }}
                            then least(area.hi + 2 * step, levels - 1)
                        else area.hi
                    end,
                    'volume': area.volume
                        + case
                            when {{ below('area.lo') }} >= {{ above('area.hi') }}
                                then {{ below('area.lo') }}
                            else 0
                        end
                        + case
                            when {{ above('area.hi') }} >= {{ below('area.lo') }}
                                then {{ above('area.hi') }}
                            else 0
                        end
                }
            end,
            {'lo': poc_idx, 'hi': poc_idx, 'volume': volumes[poc_idx + 1]::bigint}
        ) as area
    from started
),

settled as (
    select * exclude (area), area.lo, area.hi, area.volume as area
    from walked
),

final as (
    select
        settled.instrument_id,
        settled.symbol,
        settled.session_date,
        settled.grain_ns,
        price_lists.prices[settled.first_idx + settled.poc_idx + 1] as poc,
        list_max(
            list_transform(
                range(settled.lo, settled.hi + 1),
                lambda i: case
                    when settled.volumes[i + 1] > 0
                        then price_lists.prices[settled.first_idx + i + 1]
                end
            )
        ) as vah,
        list_min(
            list_transform(
                range(settled.lo, settled.hi + 1),
                lambda i: case
                    when settled.volumes[i + 1] > 0
                        then price_lists.prices[settled.first_idx + i + 1]
                end
            )
        ) as val,
        settled.area as value_area_volume,
        settled.total as volume
    from settled
    join price_lists using (instrument_id, symbol, session_date)
)

select * from final
