-- cvd_divergence: price makes a new $lookback-bar extreme that cumulative delta does not confirm.
-- Short (-1) when the close is above the highest close of the $lookback bars before it while the
-- cumulative delta is not above their highest cumulative delta (buyers did not follow); long (1)
-- when the close is below their lowest close while the cumulative delta is not below their
-- lowest. Nothing until $lookback earlier bars exist.
-- params: lookback=20
with bars as (
    select * from bars
),

windowed as (
    select
        bar_start,
        instrument_id,
        close,
        cumulative_delta,
        max(close) over previous as prior_high,
        min(close) over previous as prior_low,
        max(cumulative_delta) over previous as prior_cvd_high,
        min(cumulative_delta) over previous as prior_cvd_low,
        count(*) over previous as earlier
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
            when earlier < $lookback then 0
            when close > prior_high and cumulative_delta <= prior_cvd_high then -1
            when close < prior_low and cumulative_delta >= prior_cvd_low then 1
            else 0
        end as signal
    from windowed
)

select * from final
