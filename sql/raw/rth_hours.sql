-- rth_hours: regular trading hours (RTH) per futures root in America/Chicago local time, and the
-- exchange calendar (pandas_market_calendars name) that gives the root's holidays and early
-- closes. Seeded from vcdwh/instruments.py on every build; rows you edit (or set with
-- `vcdwh build --rth ROOT=HH:MM-HH:MM`) are kept.
create table if not exists rth_hours (
    root varchar primary key,
    calendar varchar not null,
    rth_start time not null,
    rth_end time not null,
    source varchar not null
)
