-- cumulative_delta: the seed's rule. Long (1) when the bar's cumulative delta is strictly above
-- $threshold, short (-1) when strictly below -$threshold, else nothing. With $reset = 'session'
-- the delta restarts at each CME session (session_cumulative_delta), with $reset = 'rth' at each
-- RTH open (rth_cumulative_delta: no signal outside RTH), else it runs over all data.
-- params: threshold=500
with bars as (
    select * from bars
),

reset_delta as (
    select
        bar_start,
        instrument_id,
        case $reset
            when 'session' then session_cumulative_delta
            when 'rth' then rth_cumulative_delta
            else cumulative_delta
        end as running_delta
    from bars
),

final as (
    select
        bar_start,
        instrument_id,
        case
            when running_delta > $threshold then 1
            when running_delta < -$threshold then -1
            else 0
        end as signal
    from reset_delta
)

select * from final
