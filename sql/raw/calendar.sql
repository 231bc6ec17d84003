-- calendar: the CME Globex trading days of each exchange calendar named in rth_hours, written by
-- every build from pandas_market_calendars for the dates loaded (plus a few days either side). One
-- row per calendar and trading day with the session's open and close in UTC; a weekday without a
-- row is a holiday of that calendar.
create table if not exists calendar (
    calendar varchar not null,
    session_date date not null,
    market_open timestamp_ns not null,
    market_close timestamp_ns not null,
    early_close boolean not null,
    primary key (calendar, session_date)
)
