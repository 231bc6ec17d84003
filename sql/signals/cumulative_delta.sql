-- cumulative_delta: the seed's rule. Long (1) when the bar's cumulative delta is strictly above
-- $threshold, short (-1) when strictly below -$threshold, else nothing. With $reset = 'session'
-- the delta restarts at each CME session (session_cumulative_delta), else it runs over all data.
-- params: threshold=500
with bars as (
    select * from bars
),

final as (
    select
        bar_start,
        instrument_id,
        case
            when (case when $reset = 'session' then session_cumulative_delta else cumulative_delta end)
                > $threshold then 1
            when (case when $reset = 'session' then session_cumulative_delta else cumulative_delta end)
                < -$threshold then -1
            else 0
        end as signal
    from bars
)

select * from final
