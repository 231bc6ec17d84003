-- delta_zscore: the bar's delta against the $lookback bars before it (not counting itself):
-- z = (delta - mean) / sample standard deviation. Long when z > $k, short when z < -$k; nothing
-- until $lookback earlier bars exist or when they do not vary.
-- params: lookback=20, k=2
with bars as (
    select * from bars
),

scored as (
    select
        bar_start,
        instrument_id,
        delta,
        avg(delta) over previous as mean_delta,
        stddev_samp(delta) over previous as sd_delta,
        count(delta) over previous as earlier
    from bars
    window previous as (
        order by bar_start rows between $lookback preceding and 1 preceding
    )
),

final as (
    select
        bar_start,
        instrument_id,
        case
            when earlier < $lookback or sd_delta is null or sd_delta = 0 then 0
            when (delta - mean_delta) / sd_delta > $k then 1
            when (delta - mean_delta) / sd_delta < -$k then -1
            else 0
        end as signal
    from scored
)

select * from final
