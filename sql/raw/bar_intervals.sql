-- bar_intervals: every bar interval built so far; each build refreshes all of them.
create table if not exists bar_intervals (
    name varchar primary key,
    seconds integer not null,
    relation varchar not null,
    built_at timestamp not null
)
