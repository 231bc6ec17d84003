-- session_delta: the seed's rule on the session's cumulative delta (session_cumulative_delta,
-- restarting at each CME Globex session open): long above $threshold, short below -$threshold.
-- params: threshold=500
with bars as (
    select * from bars
),

final as (
    select
        bar_start,
        instrument_id,
        case
            when session_cumulative_delta > $threshold then 1
            when session_cumulative_delta < -$threshold then -1
            else 0
        end as signal
    from bars
)

select * from final
