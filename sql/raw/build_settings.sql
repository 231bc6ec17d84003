-- build_settings: the build options that change what the bars mean (unknown-side policy,
-- large-lot size filter, footprint imbalance ratio, value-area share), one row per key. A plain
-- `vcdwh build` keeps them; `set_at` is when the value last changed.
create table if not exists build_settings (
    key varchar primary key,
    value varchar not null,
    set_at timestamp not null
)
