-- bars_<interval>_continuous: per futures root, the bars of the contract `rolls` picked for each
-- session (unadjusted prices), with that contract's symbol in `contract`. Every column is the
-- contract's own bar except the running ones: cumulative_delta (and the delta candles on it, and
-- large_cumulative_delta) continue across rolls as a running sum over the chosen bars in time
-- order; session_cumulative_delta and the session_delta_* candles reset at every session open,
-- and rth_cumulative_delta and the rth_delta_* candles at every RTH open, as the contract's own do. adj_open/high/low/close are the prices back-adjusted onto the
-- latest contract by `vcdwh build --adjust`: none (the real prices), difference (plus the gaps
-- of the later rolls, rolls.adjustment) or ratio (times their ratios, rolls.adjustment_ratio);
-- open/high/low/close stay the contract's real prices.
with bars as (
    select * from {{ bars }}
),

rolls as (
    select * from rolls
),

chosen as (
    select
        rolls.root,
        rolls.adjustment,
        rolls.adjustment_ratio,
        bars.symbol as contract,
        bars.* exclude (symbol)
    from bars
    join rolls
      on rolls.session_date = bars.session_date
     and rolls.instrument_id = bars.instrument_id
     and rolls.contract = bars.symbol
),

continued as (
    select
        *,
        sum(delta) over (
            partition by root order by bar_start
            rows between unbounded preceding and current row
        )::bigint as continuous_cumulative_delta
{% if large_lot %}
        ,
        sum(large_delta) over (
            partition by root order by bar_start
            rows between unbounded preceding and current row
        )::bigint as continuous_large_cumulative_delta
{% endif %}
    from chosen
),

final as (
    select
        bar_start,
        root,
        contract,
        instrument_id,
        session_date,
        open,
        high,
        low,
        close,
        volume,
        buy_volume,
        sell_volume,
        unknown_volume,
        delta,
        continuous_cumulative_delta as cumulative_delta,
        session_cumulative_delta,
        trades,
        -- shift the contract's own candles onto the continuous running delta
        delta_open + (continuous_cumulative_delta - cumulative_delta) as delta_open,
        delta_high + (continuous_cumulative_delta - cumulative_delta) as delta_high,
        delta_low + (continuous_cumulative_delta - cumulative_delta) as delta_low,
        continuous_cumulative_delta as delta_close,
        session_delta_open,
        session_delta_high,
        session_delta_low,
        session_delta_close,
        is_rth,
        rth_cumulative_delta,
        rth_delta_open,
        rth_delta_high,
        rth_delta_low,
        rth_delta_close,
        max_delta,
        min_delta,
        delta_pct,
        session_vwap,
        session_vwap_sd,
        session_poc,
        session_vah,
        session_val,
        buy_imbalances,
        sell_imbalances,
        stacked_buy_imbalances,
        stacked_sell_imbalances,
        buy_trades,
        sell_trades,
        avg_trade_size,
        delta_since_high,
        delta_since_low,
{% for price in ('open', 'high', 'low', 'close') %}
{% if adjust == 'difference' %}
        ({{ price }} + adjustment)::decimal(18, 9) as adj_{{ price }}{{ ',' if not loop.last }}
{% elif adjust == 'ratio' %}
        ({{ price }}::double * adjustment_ratio)::decimal(18, 9) as adj_{{ price }}{{ ',' if not loop.last }}
{% else %}
        {{ price }}::decimal(18, 9) as adj_{{ price }}{{ ',' if not loop.last }}
{% endif %}
{% endfor %}
{% if large_lot %}
        ,
        large_buy_volume,
        large_sell_volume,
        large_delta,
        continuous_large_cumulative_delta as large_cumulative_delta
{% endif %}
    from continued
)

select * from final
order by root, bar_start
