-- event_flow_session: one session's trades of event_flow_history, the temporary table of
-- int_event_flow over every session at once that a build with the tick rule or the large-lot
-- filter writes (their windows run over an instrument's whole history).
with final as (
    select *
    from event_flow_history
    where session_start_ns = $session_start_ns
)

select * from final
